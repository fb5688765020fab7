"""The ASGI app: every platform surface and the control API on one port (their prefixes do not overlap).

Mount it in-process with ``httpx.ASGITransport(app=create_app(sandbox))`` or serve it with uvicorn.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from adpilot_sandbox import control
from adpilot_sandbox.http import json_response
from adpilot_sandbox.sandbox import Sandbox

SURFACES = ("adpilot_sandbox.meta_api", "adpilot_sandbox.x_api", "adpilot_sandbox.tiktok_api")


def platform_of_path(path: str) -> str | None:
    if path.startswith("/open_api/") or path.startswith("/portal/"):
        return "tiktok"
    if path[:4] in ("/11/", "/12/") or path.startswith(("/oauth/", "/1.1/")):
        return "x"
    if path.startswith("/v") and ".0/" in path[:8] + "/":
        return "meta"
    return None


def native_error(platform: str | None, status: int, message: str) -> Response:
    """An error in the wire format of the platform whose path was called."""
    if platform == "meta":
        code = 100 if status < 500 else 2
        body: Any = {
            "error": {
                "message": message,
                "type": "OAuthException" if status < 500 else "FacebookApiException",
                "code": code,
                "is_transient": status >= 500,
                "fbtrace_id": "Asandbox000000000000",
            }
        }
        return json_response(body, status)
    if platform == "x":
        x_code = "NOT_FOUND" if status == 404 else "INTERNAL_ERROR" if status >= 500 else "INVALID_PARAMETER"
        return json_response({"errors": [{"code": x_code, "message": message}], "request": {"params": {}}}, status)
    if platform == "tiktok":
        if status == 404:  # the real API answers a wrong path (no trailing slash) outside its envelope
            return Response("404 page not found", status_code=404, media_type="text/plain")
        return json_response(
            {"code": 50000 if status >= 500 else 40002, "message": message, "request_id": "sandbox", "data": {}}
        )
    return json_response({"error": message}, status)


def create_app(sandbox: Sandbox) -> Starlette:
    routes: list[BaseRoute] = [*control.routes(sandbox)]
    for module_name in SURFACES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a surface not built yet
        routes.extend(module.routes(sandbox))

    async def not_found(request: Request, exc: Exception) -> Response:
        return native_error(platform_of_path(request.url.path), 404, f"Unknown path components: {request.url.path}")

    async def crashed(request: Request, exc: Exception) -> Response:
        traceback.print_exception(exc)  # to the server log, never to the client
        return native_error(platform_of_path(request.url.path), 500, "An unexpected error has occurred.")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found, Exception: crashed})
    app.router.redirect_slashes = False  # TikTok answers a slash-less path with 404, never a redirect
    app.state.sandbox = sandbox
    return app
