"""The X wire layer: OAuth 1.0a (HMAC-SHA1), the sandbox 3-legged flow, errors, parameters, rate limits,
paging, and the request pipeline every X endpoint goes through.

Every X request is signed by the client over the method, the URL as it called it (scheme, host, port,
path) and every query, form and ``oauth_*`` parameter; the sandbox recomputes the signature with the
secrets it issued. JSON and multipart bodies are not part of the signature (RFC 5849 §3.4.1.3.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adpilot_sandbox.auth import AuthError, Token
from adpilot_sandbox.entities import Account
from adpilot_sandbox.http import json_response
from adpilot_sandbox.market import SandboxError
from adpilot_sandbox.sandbox import Sandbox

TIMESTAMP_SKEW = 300  # seconds either side of the wall clock


# -- errors --------------------------------------------------------------------------------------------
class XError(Exception):
    """An error the X surface answers in its wire format: HTTP status + ``{"errors":[...]}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}

    def body(self, params: dict[str, Any]) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            err["parameter"] = self.parameter
        return {"errors": [err], "request": {"params": params}}


def invalid(parameter: str, message: str) -> XError:
    return XError(400, "INVALID_PARAMETER", message, parameter)


def missing(parameter: str) -> XError:
    return invalid(parameter, f'"{parameter}" is a required parameter')


def unauthorized(message: str = "This request is not properly authenticated") -> XError:
    return XError(401, "UNAUTHORIZED_ACCESS", message)


def error_response(exc: XError, params: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    merged = {**(headers or {}), **exc.headers}
    # authentication failures echo no parameters: the request was not accepted at all
    echo = {} if exc.status == 401 else params
    return json_response(exc.body(echo), exc.status, merged)


# -- parameters ----------------------------------------------------------------------------------------
@dataclass
class Params:
    """Query (and urlencoded form) parameters; a repeated key is joined with commas, as X reads lists."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> Params:
        values: dict[str, str] = {}
        for key, value in pairs:
            values[key] = f"{values[key]},{value}" if key in values else value
        return cls(values)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid(name, f'Expected a boolean ("true" or "false") for {name}, got "{value}"')

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            n = int(value)
        except ValueError:
            raise invalid(name, f'Expected an integer for {name}, got "{value}"') from None
        if (low is not None and n < low) or (high is not None and n > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise invalid(name, f"{name} must be {bounds}, got {n}")
        return n

    def id_list(self, name: str, limit: int = 200) -> list[str] | None:
        value = self.get(name)
        if value is None:
            return None
        ids = [v.strip() for v in value.split(",") if v.strip()]
        if len(ids) > limit:
            raise invalid(name, f"At most {limit} values may be given for {name}, got {len(ids)}")
        return ids

    def enum(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if value.upper() not in allowed:
            raise invalid(name, f'Expected {name} to be one of {", ".join(allowed)}, got "{value}"')
        return value.upper()

    def echo(self, **path: str) -> dict[str, Any]:
        out: dict[str, Any] = dict(path)
        for key, value in self.values.items():
            out[key] = value.split(",") if key.endswith(("_ids", "_keys", "metric_groups")) else value
        return out


# -- OAuth 1.0a ----------------------------------------------------------------------------------------
def pct(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires (unreserved: ALPHA DIGIT - . _ ~)."""
    return quote(value, safe="-._~")


def parse_authorization(header: str | None) -> dict[str, str]:
    """The ``oauth_*`` parameters of an ``Authorization: OAuth k="v", ...`` header (values decoded)."""
    if not header or not header[:6].lower() == "oauth ":
        raise unauthorized()
    out: dict[str, str] = {}
    for part in header[6:].split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise unauthorized("Malformed OAuth header")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[unquote(key.strip())] = unquote(value)
    return out


def base_string_uri(request: Request) -> str:
    """Scheme, host, port and path exactly as the client addressed them; default ports dropped."""
    scheme = request.url.scheme.lower()
    host = request.headers.get("host") or request.url.netloc
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    path = path.split("?", 1)[0] or "/"
    parts = urlsplit(f"{scheme}://{host}")
    netloc = (parts.hostname or "").lower()
    if parts.port is not None and (scheme, parts.port) not in (("http", 80), ("https", 443)):
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((scheme, netloc, path, "", ""))


def signature(method: str, uri: str, params: list[tuple[str, str]], consumer_secret: str, token_secret: str) -> str:
    encoded = sorted((pct(k), pct(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    base = "&".join((pct(method.upper()), pct(uri), pct(normalized)))
    key = f"{pct(consumer_secret)}&{pct(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def signed_pairs(request: Request) -> list[tuple[str, str]]:
    """The request's query pairs plus its urlencoded form pairs (the parameters a signature covers)."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        pairs += parse_qsl(body, keep_blank_values=True)
    return pairs


async def verify(sandbox: Sandbox, request: Request, *, request_token_flow: str | None = None) -> dict[str, str]:
    """Check the OAuth 1.0a signature of ``request``; returns its oauth_* parameters or raises 401.

    ``request_token_flow``: None for the Ads API (an access token is required), ``"request_token"``
    (consumer key only) or ``"access_token"`` (a request token of the flow).
    """
    auth = sandbox.auth
    oauth = parse_authorization(request.headers.get("authorization"))
    for name in ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_timestamp"):
        if not oauth.get(name):
            raise unauthorized(f"Missing {name} in the OAuth header")
    if oauth.get("oauth_signature_method", "HMAC-SHA1") != "HMAC-SHA1":
        raise unauthorized("Only HMAC-SHA1 signatures are accepted")
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise unauthorized("oauth_version must be 1.0")
    token_value = oauth.get("oauth_token", "")
    try:
        if request_token_flow == "request_token":
            if oauth["oauth_consumer_key"] != auth.x_consumer_key:
                raise AuthError("invalid", "unknown consumer key")
            consumer_secret, token_secret = auth.x_consumer_secret, ""
        else:
            if not token_value:
                raise AuthError("missing", "no oauth_token in the OAuth header")
            is_request_token = token_value in auth.codes
            if is_request_token != (request_token_flow == "access_token"):
                raise AuthError("invalid", "the token is not valid for this endpoint")
            if is_request_token and auth.codes[token_value].get("platform") != "x":
                raise AuthError("invalid", "unknown request token")
            consumer_secret, token_secret = auth.x_secrets(oauth["oauth_consumer_key"], token_value)
    except AuthError as exc:
        raise unauthorized(f"This request is not properly authenticated: {exc.message}") from None
    pairs = await signed_pairs(request)
    pairs += [(k, v) for k, v in oauth.items() if k.startswith("oauth_") and k != "oauth_signature"]
    expected = signature(request.method, base_string_uri(request), pairs, consumer_secret, token_secret)
    if not hmac.compare_digest(expected, oauth["oauth_signature"]):
        raise unauthorized("This request is not properly authenticated: the signature does not match")
    try:
        stamp = int(oauth["oauth_timestamp"])
    except ValueError:
        raise unauthorized("oauth_timestamp is not an integer") from None
    if abs(stamp - time.time()) > TIMESTAMP_SKEW:
        raise unauthorized("Timestamp out of bounds: oauth_timestamp is too far from the server's clock")
    if not auth.fresh_nonce(oauth["oauth_nonce"], oauth["oauth_timestamp"]):
        raise unauthorized("Nonce already used: each request needs a fresh oauth_nonce")
    return oauth


def access_token(sandbox: Sandbox, oauth: dict[str, str]) -> Token:
    """The (not revoked) access token a verified request was signed with."""
    try:
        return sandbox.auth.check("x", oauth.get("oauth_token"), sandbox.market.now)
    except AuthError as exc:
        raise unauthorized(f"This request is not properly authenticated: {exc.message}") from None


# -- the 3-legged flow, sandbox form: authorization is granted without a login page --------------------
def _form(values: dict[str, str], status: int = 200) -> Response:
    return Response(urlencode(values), status_code=status, media_type="application/x-www-form-urlencoded")


def oauth_routes(sandbox: Sandbox) -> list[Route]:
    auth = sandbox.auth

    async def guarded(request: Request, flow: str) -> dict[str, str] | Response:
        sandbox.before_request("x")
        await sandbox.latency("x")
        try:
            return await verify(sandbox, request, request_token_flow=flow)
        except XError as exc:
            return error_response(exc, {})

    async def request_token(request: Request) -> Response:
        oauth = await guarded(request, "request_token")
        if isinstance(oauth, Response):
            return oauth
        callback = oauth.get("oauth_callback") or dict(await signed_pairs(request)).get("oauth_callback")
        if not callback:
            return error_response(missing("oauth_callback"), {})
        if callback != "oob" and urlsplit(callback).scheme not in ("http", "https"):
            return error_response(invalid("oauth_callback", "oauth_callback must be an http(s) URL or oob"), {})
        secret = secrets.token_hex(20)
        token = auth.issue_code("x", secret=secret, callback=callback, kind="request_token", verifier=None)
        return _form({"oauth_token": token, "oauth_token_secret": secret, "oauth_callback_confirmed": "true"})

    async def authorize(request: Request) -> Response:
        sandbox.before_request("x")
        token = request.query_params.get("oauth_token", "")
        data = auth.codes.get(token)
        if data is None or data.get("platform") != "x" or data.get("kind") != "request_token":
            return error_response(unauthorized("Invalid or expired request token"), {})
        verifier = secrets.token_hex(16)
        data["verifier"] = verifier
        callback = str(data["callback"])
        if callback == "oob":
            return Response(f"PIN: {verifier}\n", media_type="text/plain")
        parts = urlsplit(callback)
        query = "&".join(q for q in (parts.query, urlencode({"oauth_token": token, "oauth_verifier": verifier})) if q)
        return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), status_code=302)

    async def access_token_endpoint(request: Request) -> Response:
        oauth = await guarded(request, "access_token")
        if isinstance(oauth, Response):
            return oauth
        verifier = oauth.get("oauth_verifier") or dict(await signed_pairs(request)).get("oauth_verifier")
        token = oauth["oauth_token"]
        data = auth.codes.get(token, {})
        if not verifier or verifier != data.get("verifier"):
            return error_response(unauthorized("Invalid oauth_verifier"), {})
        auth.take_code("x", token)
        minted = auth.mint("x", lifetime=None, now=sandbox.market.now, kind="user", secret=True)
        user_id = minted.value.split("-", 1)[0]
        return _form(
            {
                "oauth_token": minted.value,
                "oauth_token_secret": minted.secret or "",
                "user_id": user_id,
                "screen_name": "sandbox_advertiser",
            }
        )

    return [
        Route("/oauth/request_token", request_token, methods=["POST"]),
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/authenticate", authorize, methods=["GET"]),
        Route("/oauth/access_token", access_token_endpoint, methods=["POST"]),
    ]


# -- rate limits (wall-clock windows: the SDK sleeps until x-rate-limit-reset) ---------------------------
@dataclass
class Window:
    reset: float
    used: int = 0


@dataclass
class RateLimiter:
    """Fixed windows per (token, endpoint) and, for account-scoped reads, per (account, endpoint)."""

    enabled: bool = True
    windows: dict[tuple[str, ...], Window] = field(default_factory=dict)

    def _take(self, key: tuple[str, ...], limit: int, seconds: int, now: float) -> tuple[Window, bool]:
        window = self.windows.get(key)
        if window is None or now >= window.reset:
            window = self.windows[key] = Window(reset=float(int(now) + seconds))
        window.used += 1
        return window, window.used <= limit

    def hit(
        self,
        token: str,
        family: str,
        limit: tuple[int, int],
        account: tuple[str, tuple[int, int]] | None = None,
        *,
        throttled: bool = False,
    ) -> dict[str, str]:
        """Count one request; returns the rate-limit headers, or raises a 429 carrying them."""
        now = time.time()
        headers: dict[str, str] = {}
        ok = True
        scopes: list[tuple[str, tuple[str, ...], tuple[int, int]]] = [("x-rate-limit", (token, family), limit)]
        if account is not None:
            scopes.append(("x-account-rate-limit", (account[0], family), account[1]))
        for prefix, key, (cap, seconds) in scopes:
            window, fits = self._take(key, cap, seconds, now)
            ok = ok and (fits or not self.enabled)
            remaining = 0 if throttled else max(cap - window.used, 0)
            headers[f"{prefix}-limit"] = str(cap)
            headers[f"{prefix}-remaining"] = str(remaining)
            headers[f"{prefix}-reset"] = str(int(window.reset))
        if throttled or not ok:
            raise XError(429, "TOO_MANY_REQUESTS", "Rate limit exceeded", headers=headers)
        return headers


# -- paging --------------------------------------------------------------------------------------------
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_cursor(offset: int) -> str:
    n, out = offset * 7 + 3, ""
    while n:
        n, r = divmod(n, 36)
        out = _B36[r] + out
    return f"c-{out}"


def decode_cursor(cursor: str) -> int:
    try:
        if not cursor.startswith("c-"):
            raise ValueError(cursor)
        n = int(cursor[2:], 36)
    except ValueError:
        raise invalid("cursor", f'The cursor "{cursor}" is not valid') from None
    if n < 3 or (n - 3) % 7:
        raise invalid("cursor", f'The cursor "{cursor}" is not valid')
    return (n - 3) // 7


def paginate(
    sandbox: Sandbox, ctx: Ctx, items: list[dict[str, Any]], data_type: str, *, drafts: bool = False
) -> Response:
    """Filter deleted (and draft) rows, sort, and serve one page with ``next_cursor`` (faults apply)."""
    p = ctx.params
    if not p.boolean("with_deleted"):
        items = [i for i in items if not i.get("deleted")]
    if drafts and not p.boolean("with_draft"):
        items = [i for i in items if i.get("entity_status") != "DRAFT"]
    q = p.get("q")
    if q is not None:
        items = [i for i in items if q.casefold() in str(i.get("name") or "").casefold()]
    sort_by = p.get("sort_by")
    if sort_by is not None:
        key, _, direction = sort_by.partition("-")
        if direction not in ("asc", "desc") or (items and key not in items[0]):
            raise invalid("sort_by", f'sort_by must look like "created_at-asc" or "name-desc", got "{sort_by}"')
        items = sorted(items, key=lambda i: (i.get(key) is None, str(i.get(key))), reverse=direction == "desc")
    count = p.integer("count", low=1, high=1000) or 200
    with_total = p.boolean("with_total_count")
    cursor = p.get("cursor")
    if with_total and cursor is not None:
        message = "with_total_count and cursor are exclusive parameters"
        raise XError(400, "EXCLUSIVE_PARAMETERS", message, "with_total_count")
    offset = decode_cursor(cursor) if cursor is not None else 0
    truncate = sandbox.faults.decide("x", "truncate")
    repeat = sandbox.faults.decide("x", "repeat")
    if repeat and offset > 0:
        offset = max(0, offset - count)  # the previous page again, with its own next_cursor
    rows = items[offset : offset + count]
    if truncate and len(rows) > 1:
        rows = rows[: len(rows) // 2]  # a short page whose cursor still leads on
    end = offset + len(rows)
    extra: dict[str, Any] = {
        "data_type": data_type,
        "next_cursor": encode_cursor(end) if end < len(items) else None,
    }
    if with_total:
        extra["total_count"] = len(items)
    return ctx.ok(rows, **extra)


# -- the request pipeline: count, authenticate, limit, inject faults, answer natively ---------------------
# (limit, window seconds): sync stats 250 / 15 min per user, everything else per minute
LIMIT_STATS = (250, 900)
LIMIT_READ = (1000, 60)
LIMIT_ACCOUNT_READ = (500, 60)
LIMIT_WRITE = (300, 60)
LIMIT_JOBS = (100, 60)
# market field names -> X parameter names, for errors raised by the market
_FIELD = {
    "daily_budget": "daily_budget_amount_local_micro", "bid_amount": "bid_amount_local_micro",
    "status": "entity_status", "adset_id": "line_item_id", "creative_id": "tweet_ids", "bytes": "media",
    "image": "media_key",
}  # fmt: skip
_SANDBOX_STATUS = {
    "not_found": (404, "NOT_FOUND"), "invalid": (400, "INVALID_PARAMETER"),
    "rate_limited": (429, "TOO_MANY_REQUESTS"), "permission": (403, "UNAUTHORIZED_ACCESS"),
}  # fmt: skip


@dataclass
class Ctx:
    """One authenticated request: its parameters, token, API version and account (if in the path)."""

    request: Request
    params: Params
    token: Token
    version: str
    account: Account | None

    @property
    def path(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.request.path_params.items()}

    @property
    def entity_id(self) -> str:
        """The object id in the path (the path parameter after the account)."""
        return next(v for k, v in self.path.items() if k != "account_id")

    @property
    def acc(self) -> Account:
        assert self.account is not None
        return self.account

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def echo(self) -> dict[str, Any]:
        return self.params.echo(**self.path)

    def ok(self, data: Any, status: int = 200, **extra: Any) -> Response:
        return json_response({"request": {"params": self.echo()}, "data": data, **extra}, status)


Handler = Callable[[Ctx], Awaitable[Response]]


def account_for(sandbox: Sandbox, token: Token, account_id: str) -> Account:
    acc = sandbox.market.accounts.get(("x", account_id))
    if acc is None or (token.accounts and account_id not in token.accounts):
        raise XError(403, "ACCOUNT_NOT_FOUND", f"Account {account_id} was not found")
    return acc


def endpoint(
    sandbox: Sandbox, limiter: RateLimiter, version: str, fn: Handler, family: str, *, scoped: bool
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: count the request, verify OAuth, apply rate limits and faults, map errors."""

    async def handle(request: Request) -> Response:
        sandbox.before_request("x")
        await sandbox.latency("x")
        params = Params.of(await signed_pairs(request))
        echo = params.echo(**{k: str(v) for k, v in request.path_params.items()})
        try:
            token = access_token(sandbox, await verify(sandbox, request))
        except XError as exc:
            return error_response(exc, {})
        method = request.method
        limit = LIMIT_READ if method == "GET" else LIMIT_WRITE
        if family == "stats":
            limit = LIMIT_STATS
        elif family == "stats_jobs" and method == "POST":
            limit = LIMIT_JOBS
        account_id = request.path_params.get("account_id")
        per_account = (account_id, LIMIT_ACCOUNT_READ) if account_id and method == "GET" and scoped else None
        headers: dict[str, str] = {"x-current-api-version": "12"}
        server_error = sandbox.faults.decide("x", "server_error")  # both decided on every request
        throttled = sandbox.faults.decide("x", "throttle")
        try:
            headers.update(limiter.hit(token.value, f"{method} {family}", limit, per_account, throttled=throttled))
            if server_error:
                if sandbox.faults.requests.get("x", 0) % 2:
                    raise XError(503, "SERVICE_UNAVAILABLE", "Service unavailable", headers={"retry-after": "1"})
                raise XError(500, "INTERNAL_ERROR", "An internal error occurred")
            account = account_for(sandbox, token, account_id) if account_id else None
            response = await fn(Ctx(request, params, token, version, account))
        except XError as exc:
            return error_response(exc, echo, headers)
        except SandboxError as exc:
            status, code = _SANDBOX_STATUS.get(exc.kind, (400, "INVALID_PARAMETER"))
            return error_response(XError(status, code, exc.message, _FIELD.get(exc.field, exc.field)), echo, headers)
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    return handle
