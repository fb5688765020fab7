"""The shared HTTP layer: retries by classification, honours reset times, stops on fatal errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from adpilot.platforms._http import PlatformHttp, RetryPolicy
from adpilot.platforms.errors import AccountFatal, PlatformError, RateLimited, ReduceData, RetryableError


def classify(response: httpx.Response) -> PlatformError | None:
    if response.status_code == 200:
        return None
    if response.status_code == 429:
        return RateLimited("test", "slow down", retry_after=float(response.headers.get("retry-after", 1)))
    if response.status_code == 500:
        return RetryableError("test", "boom")
    if response.status_code == 413:
        return ReduceData("test", "too much")
    return AccountFatal("test", "token revoked", code=190)


def make(statuses: list[int], **kw: object) -> tuple[PlatformHttp, list[float], list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = queue.pop(0)
        return httpx.Response(status, headers={"retry-after": "7"} if status == 429 else {}, json={})

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://p.test")
    http = PlatformHttp("test", client, classify, sleep=fake_sleep, **kw)  # type: ignore[arg-type]
    return http, waits, seen


def test_retries_server_errors_then_succeeds() -> None:
    http, waits, seen = make([500, 500, 200])
    response = asyncio.run(http.request("GET", "/x"))
    assert response.status_code == 200
    assert len(seen) == 3 and len(waits) == 2 and waits[1] > waits[0] * 1.2
    assert (http.stats.requests, http.stats.retries, http.stats.throttled) == (3, 2, 0)


def test_rate_limits_wait_what_the_platform_says() -> None:
    http, waits, _ = make([429, 200])
    asyncio.run(http.request("GET", "/x"))
    assert waits == [7.0] and http.stats.throttled == 1 and http.stats.waited_seconds == 7.0


def test_fatal_errors_are_not_retried() -> None:
    http, waits, seen = make([401])
    with pytest.raises(AccountFatal, match="token revoked"):
        asyncio.run(http.request("GET", "/x"))
    assert len(seen) == 1 and waits == []


def test_reduce_data_goes_back_to_the_caller() -> None:
    http, waits, _ = make([413])
    with pytest.raises(ReduceData):
        asyncio.run(http.request("GET", "/x"))
    assert waits == [] and http.stats.reduced == 1


def test_gives_up_after_max_attempts() -> None:
    http, waits, seen = make([500] * 3, policy=RetryPolicy(max_attempts=3, base_delay=0.1))
    with pytest.raises(RetryableError):
        asyncio.run(http.request("GET", "/x"))
    assert len(seen) == 3 and len(waits) == 2


def test_each_attempt_is_signed_afresh() -> None:
    counter = iter(range(100))

    def sign(request: httpx.Request) -> httpx.Request:
        request.headers["x-sig"] = str(next(counter))
        return request

    http, _, seen = make([500, 200], sign=sign)
    asyncio.run(http.request("GET", "/x"))
    assert [r.headers["x-sig"] for r in seen] == ["0", "1"]


def test_jitter_stays_within_bounds() -> None:
    http, _, _ = make([])
    delays = [http.backoff(3) for _ in range(200)]
    assert min(delays) >= 8 * 0.75 and max(delays) <= 8 * 1.25
