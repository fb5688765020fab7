"""The TikTok Business API v1.3 surface: ``/open_api/v1.3/<path>/`` (trailing slash required).

Every application answer is HTTP 200 with the envelope ``{code, message, request_id, data}``; only a
wrong path or method is an HTTP error (``404 page not found`` in plain text, as the real gateway says).
The token travels in the ``Access-Token`` header. GET parameters carry lists and objects JSON-encoded,
POST bodies are JSON (image uploads multipart). Reporting lives in :mod:`adpilot_sandbox.tiktok_reports`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from adpilot_sandbox import tiktok_objects as objects
from adpilot_sandbox import tiktok_reports as reports
from adpilot_sandbox.auth import AuthError, Token
from adpilot_sandbox.entities import Account
from adpilot_sandbox.http import json_response
from adpilot_sandbox.market import SandboxError
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.tiktok_core import PLATFORM, ApiError, Ctx, Params, State, param_error

PREFIX = "/open_api/v1.3/"
NOT_FOUND_TEXT = "404 page not found"
MISSING_TOKEN = "Access token is null, you should set it in http header with key Access-Token."
INVALID_TOKEN = "Access token is incorrect or has been revoked."


Handler = Callable[[Ctx], Awaitable[dict[str, Any]]]


@dataclass
class Endpoint:
    handler: Handler
    auth: bool = True


# -- reporting (computation in tiktok_reports) -------------------------------------------------------------------
async def report_get(ctx: Ctx) -> dict[str, Any]:
    return reports.integrated_get(ctx.sandbox, _report_account(ctx), ctx.params)


async def report_task_create(ctx: Ctx) -> dict[str, Any]:
    return reports.task_create(ctx.sandbox, _report_account(ctx), ctx.params)


async def report_task_check(ctx: Ctx) -> dict[str, Any]:
    return reports.task_check(ctx.sandbox, ctx.advertiser(), ctx.params)


async def report_task_download(ctx: Ctx) -> dict[str, Any]:
    return reports.task_download(ctx.sandbox, ctx.advertiser(), ctx.params, ctx.base_url)


async def report_task_cancel(ctx: Ctx) -> dict[str, Any]:
    return reports.task_cancel(ctx.sandbox, ctx.advertiser(), ctx.params)


def _report_account(ctx: Ctx) -> Account:
    if not ctx.params.present("advertiser_id") and ctx.params.present("advertiser_ids"):
        raise param_error("advertiser_ids: multi-advertiser reports are not supported by this sandbox; "
                          "pass advertiser_id.")  # fmt: skip
    return ctx.advertiser()


# -- authorization -----------------------------------------------------------------------------------------------
AUTH_CODE_LIFETIME = timedelta(hours=1)
SCOPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def _app_ok(ctx: Ctx) -> None:
    app_id, secret = ctx.params.req("app_id"), ctx.params.req("secret")
    auth = ctx.sandbox.auth
    if app_id != auth.tiktok_app_id or secret != auth.tiktok_secret:
        raise ApiError(40101, "Invalid app_id or secret.")


async def oauth_access_token(ctx: Ctx) -> dict[str, Any]:
    _app_ok(ctx)
    code = ctx.params.req("auth_code")
    auth = ctx.sandbox.auth
    try:
        grant = auth.take_code(PLATFORM, code)
    except AuthError:
        raise ApiError(40110, "Auth code is invalid or has already been used.") from None
    if ctx.m.now - datetime.fromisoformat(grant["issued_at"]) > AUTH_CODE_LIFETIME:
        raise ApiError(40110, "Auth code has expired.")
    token = auth.mint(PLATFORM, lifetime=None, now=ctx.m.now, kind="user")
    return {"access_token": token.value, "advertiser_ids": list(token.accounts), "scope": SCOPES}


async def oauth_advertiser_get(ctx: Ctx) -> dict[str, Any]:
    _app_ok(ctx)
    assert ctx.token is not None
    ids = ctx.token.accounts or tuple(a.id for a in ctx.m.accounts.values() if a.platform == PLATFORM)
    accounts = [ctx.m.accounts[(PLATFORM, i)] for i in ids if (PLATFORM, i) in ctx.m.accounts]
    return {"list": [{"advertiser_id": a.id, "advertiser_name": a.name} for a in accounts]}


async def oauth_revoke_token(ctx: Ctx) -> dict[str, Any]:
    _app_ok(ctx)
    value = ctx.params.req("access_token")
    token = ctx.sandbox.auth.tokens.get(value)
    if token is None or token.platform != PLATFORM:
        raise ApiError(40105, INVALID_TOKEN)
    token.revoked = True
    return {}


def portal_auth(sandbox: Sandbox, request: Request) -> Response:
    """``GET /portal/auth``: the advertiser's consent page, auto-approved, redirecting with ``auth_code``."""
    q = request.query_params
    redirect_uri, app_id = q.get("redirect_uri", ""), q.get("app_id", "")
    if app_id != sandbox.auth.tiktok_app_id:
        return Response("Invalid app_id.", status_code=400, media_type="text/plain")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        return Response("Invalid redirect_uri.", status_code=400, media_type="text/plain")
    code = sandbox.auth.issue_code(PLATFORM, app_id=app_id, redirect_uri=redirect_uri,
                                   issued_at=sandbox.market.now.isoformat())  # fmt: skip
    query = urlencode({"auth_code": code, "code": code, "state": q.get("state", "")})
    return RedirectResponse(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}", status_code=302)


# -- routing -----------------------------------------------------------------------------------------------------
GET_ENDPOINTS: dict[str, Endpoint] = {
    "advertiser/info/": Endpoint(objects.advertiser_info),
    "campaign/get/": Endpoint(objects.campaign_get),
    "adgroup/get/": Endpoint(objects.adgroup_get),
    "ad/get/": Endpoint(objects.ad_get),
    "file/image/ad/info/": Endpoint(objects.image_info),
    "report/integrated/get/": Endpoint(report_get),
    "report/task/check/": Endpoint(report_task_check),
    "report/task/download/": Endpoint(report_task_download),
    "oauth2/advertiser/get/": Endpoint(oauth_advertiser_get),
}
POST_ENDPOINTS: dict[str, Endpoint] = {
    "campaign/create/": Endpoint(objects.campaign_create),
    "campaign/update/": Endpoint(objects.campaign_update),
    "campaign/status/update/": Endpoint(objects.campaign_status_update),
    "adgroup/create/": Endpoint(objects.adgroup_create),
    "adgroup/update/": Endpoint(objects.adgroup_update),
    "adgroup/budget/update/": Endpoint(objects.adgroup_budget_update),
    "adgroup/status/update/": Endpoint(objects.adgroup_status_update),
    "ad/create/": Endpoint(objects.ad_create),
    "ad/update/": Endpoint(objects.ad_update),
    "ad/status/update/": Endpoint(objects.ad_status_update),
    "file/image/ad/upload/": Endpoint(objects.image_upload),
    "report/task/create/": Endpoint(report_task_create),
    "report/task/cancel/": Endpoint(report_task_cancel),
    "oauth2/access_token/": Endpoint(oauth_access_token, auth=False),
    "oauth2/revoke_token/": Endpoint(oauth_revoke_token, auth=False),
}
ENDPOINTS = {"GET": GET_ENDPOINTS, "POST": POST_ENDPOINTS}


def request_id(sandbox: Sandbox, n: int) -> str:
    """TikTok-style request id: a timestamp then hex, a pure function of (seed, clock, request number)."""
    tail = format(stable_key(sandbox.scenario.seed, "tiktok-request", n), "016X")
    return f"{sandbox.market.now:%Y%m%d%H%M%S}{n % 10**6:06d}{tail[:12]}"


def envelope(code: int, message: str, rid: str, data: Any) -> Response:
    return json_response({"code": code, "message": message, "request_id": rid, "data": data})


def authenticate(sandbox: Sandbox, request: Request) -> Token:
    value = request.headers.get("access-token")
    if not value:
        if request.headers.get("authorization"):
            raise ApiError(40105, INVALID_TOKEN)  # a Bearer token is not how TikTok takes it
        raise ApiError(40104, MISSING_TOKEN)
    if value.lower().startswith("bearer "):
        raise ApiError(40105, INVALID_TOKEN)
    try:
        return sandbox.auth.check(PLATFORM, value, sandbox.market.now)
    except AuthError as exc:
        if exc.reason == "expired":
            raise ApiError(40102, "Access token has expired.") from None
        if exc.reason == "missing":
            raise ApiError(40104, MISSING_TOKEN) from None
        raise ApiError(40105, INVALID_TOKEN) from None


async def read_params(request: Request) -> Params:
    if request.method == "GET":
        return Params(dict(request.query_params))
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        fields: dict[str, Any] = {}
        try:
            async with request.form() as form:  # closes the uploads' temporary files
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        fields[key] = value
                    else:
                        fields[key] = {"filename": value.filename or key, "content": await value.read()}
        except HTTPException as exc:  # a malformed multipart body
            raise param_error(f"The request body is not a valid form: {exc.detail}") from None
        return Params(fields)
    raw = await request.body()
    if not raw.strip():
        return Params({})
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise param_error("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise param_error("The request body must be a JSON object.")
    return Params(body)


def _sandbox_error(exc: SandboxError) -> ApiError:
    code = {"not_found": 40007, "permission": 40001, "rate_limited": 40100}.get(exc.kind, 40002)
    return ApiError(code, f"{exc.field}: {exc.message}")


class TikTokRoute(BaseRoute):
    """Every path under ``/open_api`` and ``/portal``: the surface answers unknown ones itself, so Starlette's
    slash redirect never turns a slash-less path into a working one."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state = State()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and any(path == p or path.startswith(p + "/") for p in ("/open_api", "/portal")):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if path == "/portal/auth" and request.method == "GET":
            return portal_auth(self.sandbox, request)
        if path.startswith("/portal/report_download/") and request.method == "GET":
            found = reports.task_file(self.sandbox, path.rsplit("/", 1)[-1])
            return found or Response(NOT_FOUND_TEXT, status_code=404, media_type="text/plain")
        endpoint = ENDPOINTS.get(request.method, {}).get(path.removeprefix(PREFIX)) if path.startswith(PREFIX) else None
        if endpoint is None:
            return Response(NOT_FOUND_TEXT, status_code=404, media_type="text/plain")
        sandbox = self.sandbox
        sandbox.before_request(PLATFORM)
        await sandbox.latency(PLATFORM)
        rid = request_id(sandbox, sandbox.faults.requests.get(PLATFORM, 0))
        failed = sandbox.faults.decide(PLATFORM, "server_error")  # one decision of each per request
        throttled = sandbox.faults.decide(PLATFORM, "throttle")
        try:
            if failed:
                raise ApiError(50000, "System error. Please try again later.")
            if throttled:
                raise ApiError(40100, "Requests made too frequently. Please retry after a while.")
            token = authenticate(sandbox, request) if endpoint.auth else None
            ctx = Ctx(sandbox, request, await read_params(request), self.state, token)
            data = await endpoint.handler(ctx)  # handlers never await: the market changes atomically
        except ApiError as exc:
            return envelope(exc.code, exc.message, rid, {})
        except SandboxError as exc:
            err = _sandbox_error(exc)
            return envelope(err.code, err.message, rid, {})
        return envelope(0, "OK", rid, data)


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    return [TikTokRoute(sandbox)]
