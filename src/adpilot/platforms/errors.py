"""One error taxonomy for all three platforms, named by what the sync does next.

* PlatformError (adpilot.errors.AdpilotError)
  * RetryableError: try again after a backoff (server errors, timeouts, "try again later").
    * RateLimited: wait until the platform's reset time, then retry (Meta 4/17/613/80000-80014,
      X HTTP 429, TikTok 40100/40133).
    * ReduceData: ask for less: halve the page size or split the report (Meta code 1).
  * SkippableError: this object or page cannot be read; record it and go on (not found, malformed).
  * AccountFatal: this account cannot continue (expired or revoked token, missing permission); other
    accounts keep syncing. The message says what the user should do.
  * RequestInvalid: adpilot sent something the platform refuses; a bug or a bad setting: abort.

Each platform's client maps its native signals (Meta error codes and usage headers, X status codes
and rate-limit headers, TikTok codes inside HTTP 200 bodies) to these, in one place per platform.
"""

from __future__ import annotations

from enum import StrEnum

from adpilot.errors import AdpilotError


class Disposition(StrEnum):
    RETRY = "retry"
    SKIP = "skip"
    ABORT = "abort"


class PlatformError(AdpilotError):
    disposition = Disposition.ABORT

    def __init__(self, platform: str, message: str, *, code: str | int | None = None) -> None:
        super().__init__(f"{platform}: {message}" + (f" (code {code})" if code is not None else ""))
        self.platform = platform
        self.code = code
        self.detail = message


class RetryableError(PlatformError):
    disposition = Disposition.RETRY

    def __init__(
        self, platform: str, message: str, *, code: str | int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(platform, message, code=code)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """Throttled; ``retry_after`` is how long the platform asks us to wait (seconds), when it says."""


class ReduceData(RetryableError):
    """The platform wants a smaller request: fewer rows per page or a shorter report window."""


class SkippableError(PlatformError):
    disposition = Disposition.SKIP


class MalformedPage(SkippableError):
    """A page that cannot be mapped (missing or mistyped fields). It is quarantined with the reason;
    the window it belongs to is left as it was and retried on the next run."""

    def __init__(self, platform: str, message: str, *, stream: str, body: object, request: dict[str, object]) -> None:
        super().__init__(platform, message)
        self.stream = stream
        self.body = body
        self.request = request


class AccountFatal(PlatformError):
    """Stops one account's sync (token expired or revoked, permission missing); others go on."""

    disposition = Disposition.ABORT


class RequestInvalid(PlatformError):
    disposition = Disposition.ABORT
