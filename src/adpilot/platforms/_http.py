"""The HTTP layer every platform client shares: bounded concurrency, retries with jittered backoff that
honour the platform's reset times, and counters for the sync summary.

One concurrency model for the whole project: asyncio with ``httpx.AsyncClient``. Tests and the demo pass
a client whose transport is the in-process sandbox (``httpx.ASGITransport``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from adpilot.platforms.errors import PlatformError, RateLimited, ReduceData, RetryableError

Classifier = Callable[[httpx.Response], PlatformError | None]
_UNDECODED = object()


def decode_json(response: httpx.Response) -> Any:
    """The JSON body, decoded once (orjson) and shared by the classifier and the caller; ValueError if not JSON."""
    cached = getattr(response, "_adpilot_json", _UNDECODED)
    if cached is _UNDECODED:
        cached = orjson.loads(response.content)
        response._adpilot_json = cached  # type: ignore[attr-defined]
    return cached


Signer = Callable[[httpx.Request], httpx.Request]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Delays grow base × 2^attempt up to ``max_delay``, ± ``jitter`` of themselves."""

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 120.0
    jitter: float = 0.25
    max_wait: float = 3600.0  # the longest single wait a platform may ask for before we give up


@dataclass
class CallStats:
    """What the sync summary reports per account and stream."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    waited_seconds: float = 0.0
    reduced: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, other: CallStats) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.throttled += other.throttled
        self.waited_seconds += other.waited_seconds
        self.reduced += other.reduced
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v


class PlatformHttp:
    """Sends requests for one account connection; retries what the classifier calls retryable."""

    def __init__(
        self,
        platform: str,
        client: httpx.AsyncClient,
        classify: Classifier,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 4,
        sign: Signer | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.platform = platform
        self.client = client
        self.classify = classify
        self.policy = policy or RetryPolicy()
        self.sign = sign
        self.sleep = sleep
        self.rng = rng or random.Random(0)
        self.stats = CallStats()
        self._gate = asyncio.Semaphore(concurrency)

    def backoff(self, attempt: int) -> float:
        p = self.policy
        delay = min(p.max_delay, p.base_delay * float(2**attempt))
        return max(0.0, delay * (1 + self.rng.uniform(-p.jitter, p.jitter)))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The first successful response; raises the classified error when retrying cannot help."""
        attempt = 0
        while True:
            request = self.client.build_request(
                method, url, params=params, data=data, json=json, files=files, headers=headers
            )
            if self.sign is not None:
                request = self.sign(request)  # a fresh nonce and timestamp on every attempt
            error: PlatformError | None
            async with self._gate:
                self.stats.requests += 1
                try:
                    response = await self.client.send(request)
                except httpx.TimeoutException as exc:
                    error = RetryableError(self.platform, f"timed out ({type(exc).__name__})")
                except httpx.TransportError as exc:
                    error = RetryableError(self.platform, f"connection failed ({type(exc).__name__}: {exc})")
                else:
                    error = self.classify(response)
                    if error is None:
                        return response
            name = type(error).__name__
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
            if isinstance(error, ReduceData):
                self.stats.reduced += 1
                raise error  # the caller asks for less; retrying the same request cannot help
            if not isinstance(error, RetryableError) or attempt + 1 >= self.policy.max_attempts:
                raise error
            wait = error.retry_after if error.retry_after is not None else self.backoff(attempt)
            if isinstance(error, RateLimited):
                self.stats.throttled += 1
                wait = max(wait, self.backoff(0))
            if wait > self.policy.max_wait:
                raise error
            self.stats.retries += 1
            self.stats.waited_seconds += wait
            await self.sleep(wait)
            attempt += 1
