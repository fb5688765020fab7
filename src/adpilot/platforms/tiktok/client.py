"""TikTok Business API client: authentication, error classification, page/page_size paging, report tasks.

TikTok answers application errors with HTTP 200 and a non-zero ``code`` in the envelope; only a request that
never reached the API (wrong path, missing trailing slash, gateway trouble) is an HTTP error. There are no
rate-limit headers: throttling (40100/40133) waits by backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import orjson

from adpilot.platforms._http import PlatformHttp, RetryPolicy, decode_json
from adpilot.platforms.errors import (
    AccountFatal,
    MalformedPage,
    PlatformError,
    RateLimited,
    RequestInvalid,
    RetryableError,
    SkippableError,
)
from adpilot.platforms.tiktok import mapping
from adpilot.platforms.tiktok import settings as S
from adpilot.ports.platform import PageSink, RawPage

PLATFORM = "tiktok"
RowKey = Callable[[dict[str, Any]], Hashable | None]


def _json_body(response: httpx.Response) -> Any:
    """The decoded body when it looks like JSON, else None (a downloaded report file, a gateway text)."""
    if response.content.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return decode_json(response)
    except ValueError:
        return None


def classify(response: httpx.Response) -> PlatformError | None:
    """TikTok's envelope code (with HTTP 200) and HTTP status to the shared taxonomy."""
    status = response.status_code
    if status == 429:
        return RateLimited(PLATFORM, "HTTP 429 Too Many Requests", code=status)
    if status >= 500:
        return RetryableError(PLATFORM, f"HTTP {status}", code=status)
    if status >= 400:
        hint = " (TikTok paths must end with a slash)" if status == 404 else ""
        return RequestInvalid(PLATFORM, f"HTTP {status}: {response.text[:200].strip()}{hint}", code=status)
    body = _json_body(response)
    if body is None:
        if "json" in response.headers.get("content-type", ""):
            return RetryableError(PLATFORM, f"HTTP {status} with an unreadable JSON body")
        return None  # not an API answer (a report file); the caller reads it
    if not isinstance(body, dict) or "code" not in body:
        return None  # the caller checks the envelope and reports the malformed page
    try:
        code = int(body["code"])
    except (TypeError, ValueError):
        return RetryableError(PLATFORM, f"envelope code {body['code']!r} is not a number")
    if code in S.OK_CODES:
        return None
    message = str(body.get("message", ""))
    if code in S.RATE_LIMIT_CODES:
        return RateLimited(PLATFORM, message, code=code)  # no reset headers: the backoff decides the wait
    if code in S.RETRYABLE_CODES:
        return RetryableError(PLATFORM, message, code=code)
    if code in S.TOKEN_CODES:
        return AccountFatal(
            PLATFORM, f"the access token is missing, expired or revoked ({message}); reconnect the account", code=code
        )
    if code in S.PERMISSION_CODES:
        return AccountFatal(
            PLATFORM,
            f"no permission for this advertiser ({message}); reconnect the account with a user who manages it",
            code=code,
        )
    if code in S.NOT_FOUND_CODES:
        return SkippableError(PLATFORM, message, code=code)
    return RequestInvalid(PLATFORM, message, code=code)


def encode_query(params: dict[str, Any]) -> dict[str, str]:
    """GET parameters as TikTok reads them: lists and objects JSON-encoded, booleans lower-case."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | dict | tuple):
            out[key] = orjson.dumps(value).decode()
        else:
            out[key] = str(value)
    return out


def _fallback_key(row: dict[str, Any]) -> Hashable:
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


class TikTokClient:
    def __init__(
        self,
        base_url: str,
        credentials: dict[str, str],
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_interval: float = 2.0,
        max_polls: int = S.MAX_POLLS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.root = f"{self.base_url}{S.API_PREFIX}"
        self._token = credentials.get("access_token", "")
        self.http = PlatformHttp(PLATFORM, client, classify, policy=policy, sleep=sleep)
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def url(self, path: str) -> str:
        return f"{self.root}/{path.strip('/')}/"

    def _headers(self) -> dict[str, str]:
        if not self._token:
            raise AccountFatal(PLATFORM, "no access token is stored for this connection; reconnect the account")
        return {S.TOKEN_HEADER: self._token}

    @staticmethod
    def _public(method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """The request as the lake keeps it (the token travels in a header and is never recorded)."""
        return {"method": method, "path": path, "params": params}

    @staticmethod
    def _data(body: Any, stream: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return mapping.envelope(body)
        except mapping.MappingError as exc:
            raise MalformedPage(PLATFORM, str(exc), stream=stream, body=body, request=request) from None

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, self.url(path), headers=self._headers(), **kwargs)
        return _json_body(response)

    async def get_body(self, path: str, params: dict[str, Any]) -> Any:
        return await self._call("GET", path, params=encode_query(params))

    async def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GET (lists and objects in ``params`` are JSON-encoded)."""
        body = await self.get_body(path, params)
        return self._data(body, path, self._public("GET", path, params))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a POST with a JSON body."""
        answer = await self._call("POST", path, json=body)
        return self._data(answer, path, self._public("POST", path, body))

    async def post_form(self, path: str, form: dict[str, str], files: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a multipart POST (uploads)."""
        answer = await self._call("POST", path, data=form, files=files)
        return self._data(answer, path, self._public("POST", path, form))

    async def download_file(self, url: str) -> bytes:
        """A file (an ad image) by its URL; the token goes only to TikTok's own API host."""
        full = urljoin(self.base_url + "/", url)
        same_host = urlsplit(full)[:2] == urlsplit(self.base_url)[:2]
        response = await self.http.request("GET", full, headers=self._headers() if same_host else None)
        return response.content

    # -- paging ---------------------------------------------------------------------------------------------------
    async def _page(
        self, path: str, call: dict[str, Any], stream: str, day: date, sink: PageSink
    ) -> tuple[list[dict[str, Any]], mapping.PageInfo]:
        body = await self.get_body(path, call)
        request = self._public("GET", path, call)
        sink(RawPage(stream, day, request, 200, body))
        try:
            data = mapping.envelope(body)
            return mapping.page_list(data), mapping.page_info(data)
        except mapping.MappingError as exc:
            raise MalformedPage(PLATFORM, str(exc), stream=stream, body=body, request=request) from None

    async def collect(
        self,
        path: str,
        params: dict[str, Any],
        *,
        stream: str,
        day: date,
        sink: PageSink,
        key: RowKey,
    ) -> list[dict[str, Any]]:
        """Every row of a paged list, ``page`` 1 … ``page_info.total_page``, each page to ``sink`` as received.

        Rows are keyed by ``key``: a page served twice collapses onto itself. While fewer distinct rows have
        arrived than ``page_info.total_number`` announces, the pages that came back short or repeated another
        page are fetched again (every page, after a round that brought nothing new), so a short page never loses
        rows; ``MAX_PAGE_ROUNDS`` rounds in a row without a new row make the listing malformed.
        """
        size = int(params.get("page_size", S.PAGE_SIZE))
        latest: dict[int, list[Hashable]] = {}  # the keys of each page's latest answer
        rows: dict[Hashable, dict[str, Any]] = {}  # every row seen, by key (the latest answer wins)
        info: mapping.PageInfo | None = None
        pending = [1]
        idle = 0
        while True:
            before = len(rows)
            while pending:
                number = pending.pop(0)
                got, info = await self._page(path, {**params, "page": number, "page_size": size}, stream, day, sink)
                keys: list[Hashable] = []
                for row in got:
                    k = key(row)
                    k = _fallback_key(row) if k is None else k
                    keys.append(k)
                    rows[k] = row
                latest[number] = keys
                pending.extend(p for p in range(1, info.total_page + 1) if p not in latest and p not in pending)
            assert info is not None
            if len(rows) >= info.total_number:
                return list(rows.values())
            idle = 0 if len(rows) > before else idle + 1
            if idle >= S.MAX_PAGE_ROUNDS:
                raise MalformedPage(
                    PLATFORM,
                    f"page_info.total_number: {info.total_number} rows announced, {len(rows)} received "
                    f"after {S.MAX_PAGE_ROUNDS} rounds of re-fetching without a new row",
                    stream=stream,
                    body={"received": len(rows), "page_info": repr(info)},
                    request=self._public("GET", path, params),
                )
            # the suspects first; when that brought nothing new, every page again
            suspects = sorted(self._suspects(latest, info)) if idle == 0 else []
            pending = suspects or list(range(1, info.total_page + 1))

    @staticmethod
    def _suspects(latest: dict[int, list[Hashable]], info: mapping.PageInfo) -> set[int]:
        """Pages whose latest answer was short, or shared rows with another page (one repeats the other)."""
        suspects: set[int] = set()
        owner: dict[Hashable, int] = {}
        for number in sorted(latest):
            if number > info.total_page:
                continue
            keys = latest[number]
            if len(set(keys)) < info.expected_rows(number):
                suspects.add(number)
            for k in keys:
                other = owner.setdefault(k, number)
                if other != number:
                    suspects.update({number, other})
        return suspects

    # -- asynchronous report tasks ----------------------------------------------------------------------------------
    async def run_task(self, params: dict[str, Any], *, stream: str, day: date, sink: PageSink) -> str | None:
        """Create a report task, poll it, download its CSV; the file's text, or None if it failed or stalled."""
        created = await self.post("report/task/create/", {**params, "output_format": "CSV"})
        task_id = created.get("task_id")
        if not task_id:
            return None
        query = {"advertiser_id": params["advertiser_id"], "task_id": str(task_id)}
        interval = self.poll_interval
        for _ in range(self.max_polls):
            status = str((await self.get("report/task/check/", query)).get("status", ""))
            if status == "SUCCESS":
                return await self._download(query, stream=stream, day=day, sink=sink)
            if status in ("FAILED", "CANCELED"):
                return None
            await self.sleep(interval)
            interval = min(interval * 1.5, S.MAX_POLL_INTERVAL)
        return None  # stalled: the caller falls back

    async def _download(self, query: dict[str, Any], *, stream: str, day: date, sink: PageSink) -> str | None:
        data = await self.get("report/task/download/", query)
        link = data.get("download_url")
        if not isinstance(link, str) or not link:
            return None
        url = urljoin(self.base_url + "/", link)
        # The link is pre-signed; the token goes only to TikTok's own API host, never to a file host.
        same_host = urlsplit(url)[:2] == urlsplit(self.base_url)[:2]
        response = await self.http.request("GET", url, headers=self._headers() if same_host else None)
        parts = urlsplit(url)
        request = {
            "method": "GET",
            "path": "report/task/download/",
            "params": query,
            "file": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),  # never the signature
        }
        sink(RawPage(stream, day, request, response.status_code, response.text))
        return response.text
