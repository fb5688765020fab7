"""X Ads API client: OAuth 1.0a signing, error classification, cursor paging, asynchronous stats jobs.

Every request is signed (HMAC-SHA1, by oauthlib) over its method, its URL and every query parameter;
as the official SDK does, all parameters of GET, PUT, POST and DELETE travel in the query string (the
only bodies are JSON card definitions and multipart media, which OAuth 1.0a does not sign). Signing
happens on each attempt, so every retry carries a fresh nonce and timestamp. HTTP status is X's error
channel: 401/403 end the account, 429 waits for the reset the headers give, 5xx retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]

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
from adpilot.platforms.x import settings as S
from adpilot.ports.platform import PageSink, RawPage

PLATFORM = "x"
CREDENTIALS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


# -- errors --------------------------------------------------------------------------------------------
def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The ``errors`` of an X error body (``{"errors":[{code,message,parameter}],"request":{}}``), if any."""
    try:
        body = decode_json(response)
    except ValueError:
        return []  # some X errors are HTML: the status says it all
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until the exhausted rate-limit window resets (epoch-second ``*-reset`` headers).

    Of the per-account and per-user windows, the ones reporting ``remaining: 0`` are the binding ones
    (the latest of their resets); when neither says so, the account window's reset is preferred.
    """
    resets: list[float] = []
    for name in S.RESET_HEADERS:
        reset = _number(headers.get(name))
        remaining = _number(headers.get(name.replace("-reset", "-remaining")))
        if reset is not None and remaining == 0:
            resets.append(reset)
    if not resets:
        found = [r for r in (_number(headers.get(n)) for n in S.RESET_HEADERS) if r is not None]
        resets = found[:1]
    if not resets:
        return None
    return max(S.MIN_RETRY_AFTER, max(resets) - now)


def _retry_after(headers: httpx.Headers, now: float) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return max(S.MIN_RETRY_AFTER, seconds)


def classify(response: httpx.Response, *, now: float | None = None) -> PlatformError | None:
    """X's HTTP status (and ``errors[].code``) to the shared taxonomy."""
    status = response.status_code
    if status < 400:
        return None
    clock = time.time() if now is None else now
    errors = _errors(response)
    first = errors[0] if errors else {}
    code = str(first.get("code") or "") or None
    message = str(first.get("message") or f"HTTP {status}")
    parameter = first.get("parameter") or first.get("attribute")
    if status == 401:
        return AccountFatal(
            PLATFORM, f"X refused the credentials ({message}); reconnect the account (adpilot connect x)", code=code
        )
    if status == 403 and code in S.FATAL_403_CODES:
        return AccountFatal(
            PLATFORM, f"no access to this ad account ({message}); reconnect it with a user who can manage it", code=code
        )
    if status == 429:
        return RateLimited(PLATFORM, message, code=code, retry_after=rate_limit_wait(response.headers, clock))
    if status >= 500:
        wait = _retry_after(response.headers, clock) if status == 503 else None
        return RetryableError(PLATFORM, message, code=code or status, retry_after=wait)
    if status == 404:
        return SkippableError(PLATFORM, message, code=code or status)
    if parameter:
        return RequestInvalid(PLATFORM, f"{parameter}: {message}", code=code)
    return RequestInvalid(PLATFORM, message, code=code or status)


# -- the client ----------------------------------------------------------------------------------------
@dataclass
class Job:
    """One asynchronous stats job: its parameters and, once known, its id and result."""

    params: dict[str, str]
    job_id: str | None = None
    status: str = "NEW"
    url: str | None = None
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def upload_root(base_url: str) -> str:
    """Where ``/1.1/media/upload.json`` lives for this API base (upload.twitter.com for the real API)."""
    base = base_url.rstrip("/")
    return S.UPLOAD_BASE_URLS.get(base, base)


class XClient:
    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        client: httpx.AsyncClient,
        *,
        version: str = S.API_VERSION,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_interval: float = 2.0,
        max_polls: int = S.MAX_POLLS,
    ) -> None:
        missing = [k for k in CREDENTIALS if not credentials.get(k)]
        if missing:
            raise AccountFatal(PLATFORM, f"credentials lack {', '.join(missing)}; reconnect the account")
        self.base = base_url.rstrip("/")
        self.root = f"{self.base}/{version}"
        self.version = version
        self.upload_root = upload_root(base_url)
        self._keys = {k: credentials[k] for k in CREDENTIALS}
        self.http = PlatformHttp(PLATFORM, client, classify, policy=policy, sleep=sleep, sign=self.sign)
        # Media files come from X's media host: plain GETs, never signed with the account's keys.
        self.files = PlatformHttp(PLATFORM, client, classify, policy=policy, sleep=sleep)
        self.files.stats = self.http.stats
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    @property
    def user_id(self) -> str:
        """The user behind the access token (X access tokens are ``<user id>-<random>``)."""
        return self._keys["access_token"].split("-", 1)[0]

    def sign(self, request: httpx.Request) -> httpx.Request:
        """OAuth 1.0a HMAC-SHA1 over the method, the URL and its query: a fresh nonce and timestamp each call."""
        signer = OAuth1Client(
            self._keys["consumer_key"],
            client_secret=self._keys["consumer_secret"],
            resource_owner_key=self._keys["access_token"],
            resource_owner_secret=self._keys["access_token_secret"],
        )
        _, headers, _ = signer.sign(str(request.url), request.method)
        request.headers["Authorization"] = headers["Authorization"]
        return request

    def public(self, method: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The request as the lake keeps it: path and parameters, never a key, token or signature."""
        return {"method": method, "path": f"/{self.version}/{path}", "params": dict(params)}

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> Any:
        response = await self.http.request(
            method, url or f"{self.root}/{path}", params=dict(params or {}) or None, json=json, files=files
        )
        try:
            return decode_json(response)
        except ValueError:
            raise MalformedPage(
                PLATFORM,
                f"HTTP {response.status_code}: the body is not JSON",
                stream="response",
                body=response.text[:2000],
                request=self.public(method, path, params or {}),
            ) from None

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.call("GET", path, params)

    async def put(self, path: str, params: Mapping[str, Any]) -> Any:
        return await self.call("PUT", path, params)

    async def post(self, path: str, params: Mapping[str, Any] | None = None, *, json: Any = None) -> Any:
        return await self.call("POST", path, params, json=json)

    async def data(self, path: str, params: Mapping[str, Any] | None = None, *, stream: str) -> dict[str, Any]:
        """The ``data`` object of a single-object response."""
        body = await self.get(path, params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise MalformedPage(
                PLATFORM, "data: expected an object", stream=stream, body=body, request=self.public("GET", path, {})
            )
        return data

    async def pages(
        self, path: str, params: Mapping[str, Any], *, stream: str, day: date, sink: PageSink | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a list: ``count`` rows at a time, re-sending the query with ``cursor`` until
        ``next_cursor`` is null. Each page goes to ``sink`` as received, before anyone maps it."""
        cursor: str | None = None
        repeats = 0
        for _ in range(S.MAX_PAGES):
            call = {"count": S.PAGE_COUNT, **params, **({"cursor": cursor} if cursor else {})}
            body = await self.get(path, call)
            request = self.public("GET", path, call)
            if sink is not None:
                sink(RawPage(stream, day, request, 200, body))
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise MalformedPage(PLATFORM, "data: expected a list", stream=stream, body=body, request=request)
            yield [row for row in data if isinstance(row, dict)]
            following = body.get("next_cursor")
            if following in (None, ""):
                return
            if not isinstance(following, str):
                raise MalformedPage(
                    PLATFORM, "next_cursor: expected a string or null", stream=stream, body=body, request=request
                )
            repeats = repeats + 1 if following == cursor else 0
            if repeats >= S.MAX_SAME_CURSOR:
                raise MalformedPage(
                    PLATFORM, f"next_cursor: {following} keeps coming back", stream=stream, body=body, request=request
                )
            cursor = following
        raise MalformedPage(
            PLATFORM, f"more than {S.MAX_PAGES} pages", stream=stream, body=None, request=self.public("GET", path, {})
        )

    async def rows(
        self, path: str, params: Mapping[str, Any], *, stream: str, day: date, sink: PageSink | None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for page in self.pages(path, params, stream=stream, day=day, sink=sink):
            out.extend(page)
        return out

    # -- media -------------------------------------------------------------------------------------------
    async def upload(self, data: bytes, name: str, mime: str) -> dict[str, Any]:
        """``POST /1.1/media/upload.json`` (multipart ``media``; ``media_category`` in the query)."""
        body = await self.call(
            "POST",
            "media/upload.json",
            {"media_category": S.MEDIA_CATEGORY},
            files={"media": (name, data, mime)},
            url=f"{self.upload_root}{S.UPLOAD_PATH}",
        )
        if not isinstance(body, dict):
            raise RequestInvalid(PLATFORM, "media upload: the answer is not a JSON object")
        return body

    # -- asynchronous stats jobs ------------------------------------------------------------------------
    async def run_jobs(self, account_id: str, jobs: list[Job]) -> None:
        """Run the jobs in waves that respect X's limit on concurrent jobs per account."""
        for start in range(0, len(jobs), S.MAX_CONCURRENT_JOBS):
            await self._run_wave(account_id, jobs[start : start + S.MAX_CONCURRENT_JOBS])

    async def _run_wave(self, account_id: str, jobs: list[Job]) -> None:
        """Create the jobs, poll them together (several ``job_ids`` per poll) until each one succeeds,
        fails or stalls past ``max_polls``; a job's ``status`` and ``url`` tell which."""
        path = f"stats/jobs/accounts/{account_id}"
        for job in jobs:
            body = await self.post(path, job.params)
            data = body.get("data") if isinstance(body, dict) else None
            ident = (data.get("id_str") or data.get("id")) if isinstance(data, dict) else None
            if not isinstance(ident, str | int) or isinstance(ident, bool):
                raise MalformedPage(
                    PLATFORM, "data.id: the job has no id", stream="stats_jobs", body=body,
                    request=self.public("POST", path, job.params),
                )  # fmt: skip
            job.job_id, job.status, job.polls = str(ident), "PROCESSING", 0
        interval = self.poll_interval
        while True:
            waiting = {j.job_id: j for j in jobs if j.status not in (S.JOB_DONE, *S.JOB_FAILED, "STALLED")}
            if not waiting:
                return
            ids = [i for i in waiting if i is not None]
            for start in range(0, len(ids), S.MAX_FILTER_IDS):
                chunk = ids[start : start + S.MAX_FILTER_IDS]
                params = {"job_ids": ",".join(chunk)}
                seen = await self.rows(path, params, stream="stats_jobs", day=date.today(), sink=None)
                for row in seen:
                    polled = waiting.get(str(row.get("id_str") or row.get("id")))
                    if polled is None:
                        continue
                    state = str(row.get("status") or "")
                    url = row.get("url")
                    if state == S.JOB_DONE and isinstance(url, str) and url:
                        polled.status, polled.url = S.JOB_DONE, url
                    elif state in S.JOB_FAILED:
                        polled.status = state
            for job in waiting.values():
                job.polls += 1
                if job.status not in (S.JOB_DONE, *S.JOB_FAILED) and job.polls >= self.max_polls:
                    job.status = "STALLED"
                    await self.cancel_job(account_id, job)
            if any(j.status not in (S.JOB_DONE, *S.JOB_FAILED, "STALLED") for j in jobs):
                await self.sleep(interval)
                interval = min(interval * 1.5, S.MAX_POLL_INTERVAL)

    async def cancel_job(self, account_id: str, job: Job) -> None:
        """Best effort: a stalled job should not hold one of the account's concurrent job slots."""
        with contextlib.suppress(SkippableError, RequestInvalid):
            await self.call("DELETE", f"stats/jobs/accounts/{account_id}/{job.job_id}")

    async def download_file(self, url: str) -> bytes:
        """A media file (an ad image) by its URL, unsigned."""
        response = await self.files.request("GET", url)
        return response.content

    async def download(self, url: str) -> Any:
        """The job's result file: an OAuth-signed GET of ``url``, gunzipped, JSON (the sync stats shape)."""
        response = await self.http.request("GET", url)
        raw = response.content
        try:
            if raw[:2] == b"\x1f\x8b":  # else already decoded (served with Content-Encoding: gzip)
                raw = gzip.decompress(raw)
            return orjson.loads(raw)
        except (OSError, EOFError, zlib.error, orjson.JSONDecodeError):
            raise MalformedPage(
                PLATFORM,
                "the stats job file is neither gzip JSON nor JSON",
                stream="stats",
                body=None,
                request={"method": "GET", "url": urlsplit(url)._replace(query="").geturl()},
            ) from None
