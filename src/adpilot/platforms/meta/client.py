"""Meta Graph client: authentication, error classification, cursor paging, async report jobs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import orjson

from adpilot.platforms._http import PlatformHttp, RetryPolicy, decode_json
from adpilot.platforms.errors import (
    AccountFatal,
    MalformedPage,
    PlatformError,
    RateLimited,
    ReduceData,
    RequestInvalid,
    RetryableError,
    SkippableError,
)
from adpilot.platforms.meta import settings as S
from adpilot.ports.platform import PageSink, RawPage

SECRET_PARAMS = frozenset({"access_token", "appsecret_proof"})


def _regain_seconds(headers: httpx.Headers) -> float | None:
    """How long Meta asks us to wait, from its usage headers (minutes in BUC, seconds in account usage)."""
    waits: list[float] = []
    buc = headers.get("x-business-use-case-usage")
    if buc:
        try:
            for entries in orjson.loads(buc).values():
                for e in entries:
                    waits.append(float(e.get("estimated_time_to_regain_access", 0)) * 60)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            pass
    account = headers.get("x-ad-account-usage")
    if account:
        try:
            doc = orjson.loads(account)
            if float(doc.get("acc_id_util_pct", 0)) >= 100:
                waits.append(float(doc.get("reset_time_duration", 0)))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            pass
    positive = [w for w in waits if w > 0]
    return max(positive) if positive else None


def classify(response: httpx.Response) -> PlatformError | None:
    """Meta's error body (sometimes with HTTP 200) and status to the shared taxonomy."""
    try:
        body = decode_json(response)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if error is None:
        if response.status_code >= 500 or body is None:
            return RetryableError("meta", f"HTTP {response.status_code} without a JSON body")
        if response.status_code >= 400:
            return RequestInvalid("meta", f"HTTP {response.status_code}")
        return None
    code = int(error.get("code") or 0)
    subcode = error.get("error_subcode")
    message = str(error.get("message", ""))
    if code in S.TOKEN_CODES:
        return AccountFatal(
            "meta", f"the access token is no longer valid ({message}); reconnect the account", code=code
        )
    if code in S.PERMISSION_CODES:
        return AccountFatal("meta", f"permission missing ({message})", code=code)
    if code in S.RATE_LIMIT_CODES:
        return RateLimited("meta", message, code=code, retry_after=_regain_seconds(response.headers))
    if S.REDUCE_DATA_MESSAGE in message.lower() or subcode == S.TOO_MANY_ROWS_SUBCODE:
        return ReduceData("meta", message, code=code)
    if code in S.TRANSIENT_CODES or error.get("is_transient") or response.status_code >= 500:
        return RetryableError("meta", message, code=code)
    if code == 100 and subcode == 33:
        return SkippableError("meta", message, code=code)
    return RequestInvalid("meta", message, code=code)


def classify_download(response: httpx.Response) -> PlatformError | None:
    """A file from Meta's CDN (an ad image): no Graph error body, only HTTP statuses."""
    status = response.status_code
    if status < 400:
        return None
    if status == 429:
        return RateLimited("meta", "HTTP 429 from the image host", code=status)
    if status >= 500:
        return RetryableError("meta", f"HTTP {status} from the image host", code=status)
    return SkippableError("meta", f"HTTP {status} from the image host", code=status)


class MetaClient:
    def __init__(
        self,
        base_url: str,
        credentials: dict[str, str],
        client: httpx.AsyncClient,
        *,
        version: str = S.API_VERSION,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_interval: float = 2.0,
        max_polls: int = 60,
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/{version}"
        self._token = credentials["access_token"]
        secret = credentials.get("app_secret")
        self._proof = hmac.new(secret.encode(), self._token.encode(), hashlib.sha256).hexdigest() if secret else None
        self.http = PlatformHttp("meta", client, classify, policy=policy, sleep=sleep)
        # Image files come from a CDN: no token goes there, and its answers are not Graph answers.
        self.files = PlatformHttp("meta", client, classify_download, policy=policy, sleep=sleep)
        self.files.stats = self.http.stats
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def _auth(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {k: (orjson.dumps(v).decode() if isinstance(v, list | dict | bool) else v) for k, v in params.items()}
        out["access_token"] = self._token
        if self._proof:
            out["appsecret_proof"] = self._proof
        return out

    @staticmethod
    def _public(method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """The request as the lake keeps it: never with the token."""
        return {"method": method, "path": path, "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS}}

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        response = await self.http.request("GET", f"{self.root}/{path}", params=self._auth(params))
        return decode_json(response)

    async def post(self, path: str, data: dict[str, Any], files: dict[str, Any] | None = None) -> Any:
        response = await self.http.request("POST", f"{self.root}/{path}", data=self._auth(data), files=files)
        return decode_json(response)

    async def download(self, url: str) -> bytes:
        """A file (an ad image) by its URL, without credentials."""
        response = await self.files.request("GET", url)
        return response.content

    async def pages(
        self, path: str, params: dict[str, Any], *, stream: str, day: date, sink: PageSink
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of an edge, following ``after`` while ``paging.next`` is present (as the SDK does).

        "Reduce the amount of data" halves the page size and asks again for the same page.
        """
        query = dict(params)
        limit = int(query.pop("limit", S.PAGE_LIMIT))
        after: str | None = None
        while True:
            call = {**query, "limit": limit, **({"after": after} if after else {})}
            try:
                body = await self.get(path, call)
            except ReduceData:
                if limit <= S.MIN_PAGE_LIMIT:
                    raise
                limit = max(S.MIN_PAGE_LIMIT, limit // 2)
                continue
            sink(RawPage(stream, day, self._public("GET", path, call), 200, body))
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise MalformedPage(
                    "meta", "data: expected a list", stream=stream, body=body, request=self._public("GET", path, call)
                )
            yield data
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return

    async def run_report(self, account_id: str, params: dict[str, Any]) -> str | None:
        """Start an async insights job and wait for it; the run id when completed, None if it failed or stalled."""
        started = await self.post(f"{account_id}/insights", params)
        run_id = str(started.get("report_run_id") or started.get("id"))
        interval = self.poll_interval
        for _ in range(self.max_polls):
            status = await self.get(run_id, {"fields": "async_status,async_percent_completion"})
            state = status.get("async_status")
            if state == "Job Completed":
                return run_id
            if state in ("Job Failed", "Job Skipped"):
                return None
            await self.sleep(interval)
            interval = min(interval * 1.5, 60.0)
        return None
