"""Small response helpers shared by the API surfaces (orjson, no framework validation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSON:
    return JSON(content, status_code=status, headers=dict(headers or {}))


async def form_and_query(request: Request) -> dict[str, Any]:
    """Query parameters merged with a urlencoded or multipart form body (form wins); files kept as bytes."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if request.method in ("POST", "PUT", "DELETE") and (
        ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith("multipart/form-data")
    ):
        form = await request.form()
        try:
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    params[key] = {"filename": getattr(value, "filename", key), "content": await value.read()}
                else:
                    params[key] = value
        finally:
            await form.close()  # uploaded files are spooled to temporary files
    return params


def decode_json_param(value: Any) -> Any:
    """Meta and TikTok send lists and objects JSON-encoded inside query and form values."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value
