"""The control API under /_sandbox/: never part of any platform's surface. JSON in, JSON out."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adpilot_sandbox.http import JSON, json_response
from adpilot_sandbox.market import SandboxError
from adpilot_sandbox.sandbox import Sandbox


def _error(message: str, status: int = 400) -> JSON:
    return json_response({"error": message}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("body: not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body: expected a JSON object")
    return data


def _day_range(sandbox: Sandbox, request: Request) -> tuple[int, int]:
    m = sandbox.market
    q = request.query_params
    first = m.day_of(date.fromisoformat(q["since"])) if "since" in q else 0
    last = m.day_of(date.fromisoformat(q["until"])) if "until" in q else m.day - 1
    return first, last


def media_url(base: str, platform: str, account_id: str, ref: str) -> str:
    """Where an uploaded image's bytes are served (the sandbox's stand-in for a platform CDN)."""
    return f"{base.rstrip('/')}/_sandbox/media/{platform}/{account_id}/{ref}"


def routes(sandbox: Sandbox) -> list[Route]:
    m = sandbox.market

    def clock_doc() -> dict[str, Any]:
        return {
            "today": m.today.isoformat(),
            "day_index": m.day,
            "now": m.now.isoformat(),
            "first_day": m.scenario.start_date.isoformat(),
            "last_complete_day": m.date_of(m.day - 1).isoformat() if m.day else None,
            "horizon_end": m.date_of(m.scenario.history_days + m.scenario.horizon_days - 1).isoformat(),
            "scenario": m.scenario.name,
            "seed": m.scenario.seed,
        }

    async def clock(request: Request) -> JSON:
        return json_response(clock_doc())

    async def advance(request: Request) -> JSON:
        try:
            body = await _body(request)
            days, hours = int(body.get("days", 0)), float(body.get("hours", 0))
            m.advance(days, hours)
        except (ValueError, TypeError) as exc:
            return _error(str(exc))
        except SandboxError as exc:
            return _error(f"{exc.field}: {exc.message}")
        return json_response(clock_doc())

    async def faults(request: Request) -> JSON:
        if request.method == "POST":
            try:
                body = await _body(request)
                for platform, values in body.items():
                    if platform not in ("meta", "x", "tiktok"):
                        return _error(f"faults: unknown platform {platform!r}")
                    if values is None:
                        sandbox.faults.specs.pop(platform, None)
                        continue
                    sandbox.faults.spec(platform).update(dict(values))
            except (ValueError, TypeError) as exc:
                return _error(str(exc))
        return json_response(sandbox.faults.as_dict())

    async def tokens(request: Request) -> JSON:
        try:
            body = await _body(request)
            platform = body["platform"]
            revoked = {"revoke": True, "restore": False}[body["action"]]
        except (KeyError, ValueError, TypeError):
            return _error('body: expected {"platform": "meta|x|tiktok", "action": "revoke|restore", "token"?: "..."}')
        n = sandbox.auth.set_revoked(platform, revoked, body.get("token"))
        return json_response({"platform": platform, "changed": n, "revoked": revoked})

    async def truth(request: Request) -> JSON:
        try:
            first, last = _day_range(sandbox, request)
        except ValueError as exc:
            return _error(f"since/until: {exc}")
        q = request.query_params
        try:
            rows = m.truth(q.get("platform"), q.get("account_id"), first, last)
        except SandboxError as exc:
            return _error(f"{exc.field}: {exc.message}", 404)
        return json_response({"as_of": clock_doc(), "rows": rows})

    async def oracle(request: Request) -> JSON:
        try:
            first, last = _day_range(sandbox, request)
        except ValueError as exc:
            return _error(f"since/until: {exc}")
        if "date" in request.query_params:
            try:
                return json_response(m.oracle(m.day_of(date.fromisoformat(request.query_params["date"]))))
            except (ValueError, SandboxError) as exc:
                return _error(f"date: {exc}")
        return json_response(m.oracle_summary(first, last))

    async def writes(request: Request) -> JSON:
        q = request.query_params
        rows = [w for w in m.write_log if q.get("platform") in (None, w["platform"])]
        return json_response({"writes": rows})

    async def credentials(request: Request) -> JSON:
        return json_response(sandbox.auth.credentials())

    async def fx(request: Request) -> JSON:
        sc = m.scenario
        return json_response(
            {"reporting_currency": sc.reporting_currency, "since": sc.start_date.isoformat(), "rates": sc.fx_rates}
        )

    async def media(request: Request) -> Response:
        p = request.path_params
        try:
            img = m.image(p["platform"], p["account_id"], p["ref"])
        except SandboxError:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(img.data, media_type="image/png")

    return [
        Route("/_sandbox/clock", clock, methods=["GET"]),
        Route("/_sandbox/advance", advance, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/tokens", tokens, methods=["POST"]),
        Route("/_sandbox/truth", truth, methods=["GET"]),
        Route("/_sandbox/oracle", oracle, methods=["GET"]),
        Route("/_sandbox/writes", writes, methods=["GET"]),
        Route("/_sandbox/credentials", credentials, methods=["GET"]),
        Route("/_sandbox/fx", fx, methods=["GET"]),
        Route("/_sandbox/media/{platform}/{account_id}/{ref}", media, methods=["GET"]),
    ]
