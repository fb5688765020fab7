"""The Meta Marketing API (Graph) surface of the sandbox: ``/v{N}.0/...`` for N ≥ 18.

Routing, access tokens (query, form or ``Authorization: Bearer``; ``appsecret_proof`` checked when
sent), native errors, usage headers, injected faults, the root batch endpoint and the OAuth flow in
sandbox form. Objects, paging and writes live in :mod:`adpilot_sandbox.meta_objects`, insights and
report runs in :mod:`adpilot_sandbox.meta_reports`.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adpilot_sandbox.auth import AuthError, Token
from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, Creative
from adpilot_sandbox.http import form_and_query, json_response
from adpilot_sandbox.meta_objects import (
    NODE_TYPES,
    PLATFORM,
    Call,
    Graph,
    GraphError,
    PageFaults,
    filter_entities,
    id_key,
    page,
    param_int,
    param_list,
    param_str,
    required,
    select,
    unsupported,
    wanted_fields,
)
from adpilot_sandbox.meta_reports import (
    REPORT_RUN_FIELDS,
    STATUS_COMPLETED,
    Insights,
    Query,
    job_key,
    parse_query,
    progress,
    report_not_ready,
    report_run_node,
)
from adpilot_sandbox.meta_writes import (
    create_ad,
    create_ad_set,
    create_campaign,
    create_creative,
    delete_image,
    delete_object,
    update_object,
    upload_images,
)
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.sandbox import Sandbox

MIN_VERSION = 18
LATEST_VERSION = "v25.0"
MAX_BATCH = 50
ACCOUNT_SCORE_MAX = 9000.0  # standard access: max score per ad account (read 1, write 3), decays over 300 s
APP_CALLS_MAX = 2000.0  # app-level calls per window before x-app-usage reads 100
WINDOW_SECONDS = 300.0
SHORT_LIVED = timedelta(hours=2)
LONG_LIVED = timedelta(days=60)
LARGE_PAGE = 100  # list pages at least this long may meet the reduce_data fault
INSIGHTS_CACHE = 16  # computed insights queries kept for paging
PAGE_PARAMS = frozenset(("after", "before", "limit", "access_token", "appsecret_proof"))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        if self.status in (301, 302, 303):
            return Response(status_code=self.status, headers=self.headers)
        return json_response(self.body, self.status, self.headers)


@dataclass
class Target:
    """What a path names: a node (kind + object) and an optional edge."""

    kind: str  # me | account | campaign | adset | ad | creative | report_run
    obj: Any
    account_id: str | None
    edge: str | None


@dataclass
class Usage:
    """Recent call volume per ad account and for the app, decaying over WINDOW_SECONDS of both the
    simulated clock and the wall clock (whichever passes first), so clients that sleep see it fall."""

    calls: dict[str, list[tuple[float, datetime, float, str]]] = field(default_factory=dict)
    app: list[tuple[float, datetime]] = field(default_factory=list)

    def _live(self, wall: float, sim: datetime, at_wall: float, at_sim: datetime) -> bool:
        return wall - at_wall < WINDOW_SECONDS and (sim - at_sim).total_seconds() < WINDOW_SECONDS

    def record(self, account: str | None, cost: float, kind: str, sim: datetime) -> None:
        wall = time.monotonic()
        self.app = [(w, s) for w, s in self.app if self._live(wall, sim, w, s)]
        self.app.append((wall, sim))
        if account is not None:
            kept = [e for e in self.calls.get(account, []) if self._live(wall, sim, e[0], e[1])]
            kept.append((wall, sim, cost, kind))
            self.calls[account] = kept

    def account_pct(self, account: str, sim: datetime) -> tuple[float, int, dict[str, int]]:
        """(acc_id_util_pct, reset_time_duration seconds, per-type call share %) of an account."""
        wall = time.monotonic()
        live = [e for e in self.calls.get(account, []) if self._live(wall, sim, e[0], e[1])]
        score = sum(e[2] for e in live)
        pct = round(100 * score / ACCOUNT_SCORE_MAX, 2)
        reset = int(WINDOW_SECONDS - (wall - live[0][0])) if live else 0
        by_type: dict[str, int] = {}
        for kind in ("ads_management", "ads_insights"):
            n = sum(1 for e in live if e[3] == kind)
            by_type[kind] = min(99, round(100 * n / (ACCOUNT_SCORE_MAX / (1 if kind == "ads_management" else 2))))
        return pct, max(reset, 0), by_type

    def app_pct(self) -> int:
        return min(99, round(100 * len(self.app) / APP_CALLS_MAX))


@dataclass
class Outcome:
    """What the routing learned about a call, for headers: its account, kind and any throttling."""

    account: str | None = None
    kind: str = "ads_management"
    throttled: str | None = None  # "account" | "user"
    insights: bool = False


async def _params(request: Request) -> dict[str, Any]:
    """Query and form merged like ``http.form_and_query``, but closing the multipart form afterwards (its
    spooled temporary files otherwise leak until garbage collection)."""
    ctype = request.headers.get("content-type", "")
    params: dict[str, Any] = dict(request.query_params)
    if request.method in ("POST", "DELETE") and ctype.startswith("application/json"):
        body = orjson.loads(await request.body() or b"{}")  # Graph also takes JSON bodies
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        for key, value in body.items():
            params[str(key)] = value if isinstance(value, str) else orjson.dumps(value).decode()
        return params
    if request.method not in ("POST", "PUT", "DELETE") or not ctype.startswith("multipart/form-data"):
        return await form_and_query(request)
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                params[key] = value
            else:
                params[key] = {"filename": value.filename or key, "content": await value.read()}
    return params


def _fmt_fb_time(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%A, %d-%b-%y %H:%M:%S %Z")


class MetaSurface:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.g = Graph(sandbox)
        self.insights = Insights(self.g)
        self.usage = Usage()
        self.traces = 0
        self.used_codes: set[str] = set()
        self.jobs_made = 0
        self.insights_cache: dict[tuple[Any, ...], tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]] = {}
        seed = sandbox.scenario.seed
        self.user_id = str(10**14 + stable_key(seed, "meta-user") % 10**14)

    # -- HTTP --------------------------------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        self.sandbox.before_request(PLATFORM)
        await self.sandbox.latency(PLATFORM)
        version = "v" + str(request.path_params["ver"])
        bearer = None
        auth_header = request.headers.get("authorization", "")
        if auth_header.lower().startswith("bearer "):
            bearer = auth_header[7:].strip()
        try:
            params = await _params(request)
        except Exception:  # a body Starlette cannot parse: answer natively, never with a traceback
            reply = self._error_reply(GraphError(100, "(#100) The request body could not be parsed"), Outcome())
            return reply.response()
        call = Call(request.method, str(request.path_params["rest"]).strip("/"), params, str(request.base_url),
                    version, bearer)  # fmt: skip
        return self.execute(call, top=True).response()

    # -- one call ----------------------------------------------------------------------------------------
    def execute(self, call: Call, *, top: bool) -> Reply:
        out = Outcome()
        try:
            self._check_version(call.version)
            parts = [p for p in call.path.split("/") if p]
            method = call.method.upper()
            override = param_str(call.params, "method")
            if method == "POST" and override and override.upper() in ("GET", "DELETE", "POST"):
                method = override.upper()
            if parts[:2] == ["dialog", "oauth"] and method == "GET":
                return self._with_headers(self.oauth_dialog(call), out)
            if parts[:2] == ["oauth", "access_token"]:
                return self._with_headers(Reply(200, self.oauth_token(call)), out)
            if not parts:
                if method == "POST" and "batch" in call.params and top:
                    return self._with_headers(self.batch(call), out)
                raise required("batch") if method == "POST" else unsupported(method, "")
            token = self._authenticate(call)
            target = self._resolve(parts, method)
            out.account = target.account_id
            out.insights = target.edge == "insights" or target.kind == "report_run"
            out.kind = "ads_insights" if out.insights else "ads_management"
            if target.account_id is not None:
                self._check_access(token, target.account_id)
            self.usage.record(target.account_id, 1.0 if method == "GET" else 3.0, out.kind, self.g.m.now)
            self._faults(target, out)
            return self._with_headers(Reply(200, self._route(call, method, target, token)), out)
        except GraphError as exc:
            return self._error_reply(exc, out)

    def _error_reply(self, exc: GraphError, out: Outcome) -> Reply:
        trace = self._trace_id()
        headers = {**exc.headers, "x-fb-trace-id": trace}
        return self._with_headers(Reply(exc.status, exc.body(trace), headers), out)

    def _trace_id(self) -> str:
        """A fresh, deterministic fbtrace_id."""
        self.traces += 1
        raw = stable_key(self.sandbox.scenario.seed, "fbtrace", self.traces).to_bytes(8, "little")
        raw += stable_key(self.sandbox.scenario.seed, "fbtrace2", self.traces).to_bytes(8, "little")
        return "A" + base64.urlsafe_b64encode(raw).decode().rstrip("=")[:22]

    def _check_version(self, version: str) -> None:
        match = re.fullmatch(r"v(\d+)\.(\d+)", version)
        if match is None or int(match.group(1)) < MIN_VERSION or match.group(2) != "0":
            raise GraphError(
                2635,
                "(#2635) You are calling a deprecated version of the Ads API. Please update to the latest "
                f"version: {LATEST_VERSION}.",
            )

    # -- auth --------------------------------------------------------------------------------------------
    def _authenticate(self, call: Call) -> Token:
        value = param_str(call.params, "access_token") or call.bearer
        try:
            token = self.sandbox.auth.check(PLATFORM, value, self.g.m.now)
        except AuthError as exc:
            raise self._auth_error(exc.reason, value) from None
        if not self.sandbox.auth.meta_proof_ok(token.value, param_str(call.params, "appsecret_proof")):
            raise GraphError(100, "Invalid appsecret_proof provided in the API argument", type_="GraphMethodException")
        return token

    def _auth_error(self, reason: str, value: str | None) -> GraphError:
        if reason == "missing":
            return GraphError(104, "An access token is required to request this resource.")
        if reason == "expired":
            token = self.sandbox.auth.tokens.get(value or "")
            expired_at = token.expires_at if token and token.expires_at else self.g.m.now
            return GraphError(
                190,
                f"Error validating access token: Session has expired on {_fmt_fb_time(expired_at)}. The current "
                f"time is {_fmt_fb_time(self.g.m.now)}.",
                subcode=463,
            )
        if reason == "revoked":
            return GraphError(
                190,
                "Error validating access token: The session has been invalidated because the user changed their "
                "password or Facebook has changed the session for security reasons.",
                subcode=460,
            )
        return GraphError(190, "Invalid OAuth access token - Cannot parse access token")

    def _check_access(self, token: Token, account_id: str) -> None:
        if token.accounts and account_id not in token.accounts:
            raise GraphError(
                200,
                "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
                user_title="Missing Permission",
                user_msg=f"This access token may not use ad account act_{account_id}.",
            )

    # -- faults and headers ------------------------------------------------------------------------------
    def _faults(self, target: Target, out: Outcome) -> None:
        faults = self.sandbox.faults
        server = faults.decide(PLATFORM, "server_error")
        throttle = faults.decide(PLATFORM, "throttle")
        if server:
            raise GraphError(
                2, "An unexpected error has occurred. Please retry your request later.", status=500, transient=True
            )
        if throttle and target.account_id is not None:
            out.throttled = "account"
            raise GraphError(
                80004,
                "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more "
                "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
                "#ads-management.",
                subcode=2446079,
            )
        if throttle:
            out.throttled = "user"
            raise GraphError(17, "(#17) User request limit reached", subcode=2446079)

    def _with_headers(self, reply: Reply, out: Outcome) -> Reply:
        m = self.g.m
        account = out.account
        if account is None:
            accounts = self.sandbox.auth.accounts.get(PLATFORM, [])
            account = accounts[0] if accounts else None
        throttled = out.throttled
        app_pct = 100 if throttled == "user" else self.usage.app_pct()
        h = reply.headers
        h["x-app-usage"] = orjson.dumps(
            {"call_count": app_pct, "total_cputime": max(0, app_pct // 2), "total_time": max(0, app_pct // 2)}
        ).decode()
        if account is not None:
            pct, reset, by_type = self.usage.account_pct(account, m.now)
            regain = 0
            if throttled == "account":
                pct, reset, regain = max(pct, 100.0), max(reset, 60), 5
                by_type[out.kind] = 100
            h["x-ad-account-usage"] = orjson.dumps(
                {"acc_id_util_pct": pct, "reset_time_duration": reset, "ads_api_access_tier": "standard_access"}
            ).decode()
            entry = {
                "type": out.kind,
                "call_count": by_type[out.kind],
                "total_cputime": by_type[out.kind] // 2,
                "total_time": by_type[out.kind] // 2,
                "estimated_time_to_regain_access": regain,
                "ads_api_access_tier": "standard_access",
            }
            h["x-business-use-case-usage"] = orjson.dumps({account: [entry]}).decode()
            if out.insights:
                h["x-fb-ads-insights-throttle"] = orjson.dumps(
                    {
                        "app_id_util_pct": float(app_pct),
                        "acc_id_util_pct": float(max(pct, by_type["ads_insights"])),
                        "ads_api_access_tier": "standard_access",
                    }
                ).decode()
        h["facebook-api-version"] = LATEST_VERSION
        if "x-fb-trace-id" not in h:
            h["x-fb-trace-id"] = self._trace_id()
        return reply

    # -- path resolution ---------------------------------------------------------------------------------
    def _resolve(self, parts: list[str], method: str) -> Target:
        head, rest = parts[0], parts[1:]
        if len(rest) > 1:
            raise unsupported(method, "/".join(parts))
        edge = rest[0] if rest else None
        m = self.g.m
        if head == "me":
            return Target("me", None, None, edge)
        if head.startswith("act_"):
            acc = m.accounts.get((PLATFORM, head[4:]))
            if acc is None:
                raise unsupported(method, head)
            return Target("account", acc, acc.id, edge)
        entity = m.find(head)
        if entity is not None and entity.platform == PLATFORM:
            kind = {Campaign: "campaign", AdSet: "adset", Ad: "ad", Creative: "creative"}[type(entity)]
            return Target(kind, entity, entity.account_id, edge)
        job = self.sandbox.jobs.get(job_key(head))
        if job is not None:
            return Target("report_run", job, str(job["account_id"]), edge)
        raise unsupported(method, head)

    def _route(self, call: Call, method: str, t: Target, token: Token) -> Any:
        p = call.params
        g = self.g
        if t.kind == "me":
            if t.edge is None and method == "GET":
                return {"id": self.user_id, "name": "Sandbox Marketer"}
            if t.edge == "adaccounts" and method == "GET":
                return self._list_accounts(call, token)
            raise self._no_edge(method, t, "User")
        if t.kind == "report_run":
            job = t.obj
            if t.edge is None and method == "GET":
                job["polls"] = int(job["polls"]) + 1
                names = self._fields_of(p, REPORT_RUN_FIELDS, "AdReportRun")
                node = report_run_node(job)
                return {k: v for k, v in node.items() if k in names or k == "id"} if names else node
            if t.edge == "insights" and method == "GET":
                if progress(job)[0] != STATUS_COMPLETED:
                    raise report_not_ready()
                if "keyed" not in job:  # keyed once per job: every page of a large result reuses it
                    job["keyed"] = [(f"{i:09d}", r) for i, r in enumerate(job["rows"])]
                body = self._page(call, job["keyed"], eligible=False)
                if "next" not in body.get("paging", {}):
                    self._finished(job)
                return body
            if t.edge is None and method == "DELETE":
                self.sandbox.jobs.pop(job_key(str(job["id"])), None)
                return {"success": True}
            raise self._no_edge(method, t, "AdReportRun")
        if t.kind == "account":
            return self._route_account(call, method, t.obj, t.edge)
        entity = t.obj
        if t.edge is None:
            if method == "GET":
                wanted = wanted_fields(t.kind, p)
                return select(self._node(t.kind, entity, call), wanted)
            if method == "POST":
                return update_object(g, entity, p)
            return delete_object(g, entity)
        if t.edge == "insights" and t.kind in ("campaign", "adset", "ad"):
            acc = g.account(entity.account_id)
            return self._insights(call, method, acc, (t.kind, entity.id))
        if method == "GET" and (t.kind, t.edge) in (("campaign", "adsets"), ("campaign", "ads"), ("adset", "ads"),
                                                    ("ad", "adcreatives")):  # fmt: skip
            return self._list_children(call, t.kind, entity, t.edge)
        raise self._no_edge(method, t, NODE_TYPES.get(t.kind, (t.kind,))[0])

    def _no_edge(self, method: str, t: Target, type_name: str) -> GraphError:
        if method == "GET" and t.edge:
            return GraphError(
                100, f"(#100) Tried accessing nonexisting field ({t.edge}) on node type ({type_name})", blame="fields"
            )
        if t.kind == "me":
            obj_id = "me"
        elif isinstance(t.obj, dict):
            obj_id = str(t.obj["id"])
        else:
            obj_id = str(getattr(t.obj, "id", ""))
        return unsupported(method, f"{obj_id}/{t.edge}" if t.edge else obj_id)

    def _fields_of(self, p: dict[str, Any], known: tuple[str, ...], type_name: str) -> list[str] | None:
        raw = param_str(p, "fields")
        if not raw:
            return None
        names = [f.strip() for f in raw.split(",") if f.strip()]
        for name in names:
            if name not in known:
                raise GraphError(
                    100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({type_name})", blame="fields"
                )
        return names

    # -- accounts and lists ------------------------------------------------------------------------------
    def _route_account(self, call: Call, method: str, acc: Account, edge: str | None) -> Any:
        g, p = self.g, call.params
        if edge is None:
            if method == "GET":
                fields = wanted_fields("account", p)
                return select(g.account_node(acc, {f for f, _ in fields}), fields)
            raise unsupported(method, f"act_{acc.id}")
        if edge == "insights":
            return self._insights(call, method, acc, ("account", acc.id))
        if method == "GET" and edge in ("campaigns", "adsets", "ads", "adcreatives", "adimages"):
            return self._list_account_edge(call, acc, edge)
        if method == "POST":
            makers = {"campaigns": create_campaign, "adsets": create_ad_set, "ads": create_ad,
                      "adcreatives": create_creative}  # fmt: skip
            if edge in makers:
                return makers[edge](g, acc, p)
            if edge == "adimages":
                return upload_images(g, acc, p, call.base_url)
        if method == "DELETE" and edge == "adimages":
            return delete_image(g, acc, p)
        if method == "GET":
            raise GraphError(100, f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdAccount)",
                             blame="fields")  # fmt: skip
        raise unsupported(method, f"act_{acc.id}/{edge}")

    def _node(self, kind: str, entity: Any, call: Call) -> dict[str, Any]:
        g = self.g
        if kind == "campaign":
            return g.campaign_node(entity)
        if kind == "adset":
            return g.ad_set_node(entity)
        if kind == "ad":
            return g.ad_node(entity)
        return g.creative_node(entity, call.base_url)

    def _summary(self, p: dict[str, Any], total: int) -> dict[str, Any] | None:
        value = str(p.get("summary", "")).lower()
        if value in ("true", "1", "total_count") or "total_count" in value:
            return {"total_count": total}
        return None

    def _page(self, call: Call, rows: list[tuple[str, dict[str, Any]]], *, eligible: bool,
              summary: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        """A list page with the list faults decided once per page (reduce_data only when eligible)."""
        faults = self.sandbox.faults
        limit = param_int(call.params, "limit", minimum=0)
        if eligible and (limit or 0) >= LARGE_PAGE and faults.decide(PLATFORM, "reduce_data"):
            raise self._reduce_data()
        pf = PageFaults(truncate=faults.decide(PLATFORM, "truncate"), repeat=faults.decide(PLATFORM, "repeat"))
        return page(call, rows, faults=pf, summary=summary)

    def _reduce_data(self) -> GraphError:
        return GraphError(1, "Please reduce the amount of data you're asking for, then retry your request", status=500)

    def _list_accounts(self, call: Call, token: Token) -> dict[str, Any]:
        fields = wanted_fields("account", call.params)
        names = {f for f, _ in fields}
        accs = [a for a in self.g.m.accounts.values() if a.platform == PLATFORM]
        if token.accounts:
            accs = [a for a in accs if a.id in token.accounts]
        rows = [(f"{a.id:0>30}", select(self.g.account_node(a, names), fields)) for a in accs]
        rows.sort(key=lambda r: r[0])
        return self._page(call, rows, eligible=True, summary=self._summary(call.params, len(rows)))

    def _entity_rows(self, call: Call, kind: str, entities: list[Any]) -> dict[str, Any]:
        fields = wanted_fields(kind, call.params)
        kept = (
            filter_entities(self.g, entities, call.params)
            if kind != "creative"
            else [e for e in entities if e.status != "DELETED"]
        )
        rows = [(id_key(e.id), select(self._node(kind, e, call), fields)) for e in kept]
        rows.sort(key=lambda r: r[0])
        return self._page(call, rows, eligible=True, summary=self._summary(call.params, len(rows)))

    def _list_account_edge(self, call: Call, acc: Account, edge: str) -> dict[str, Any]:
        m = self.g.m
        if edge == "campaigns":
            return self._entity_rows(call, "campaign", m.campaigns_of(PLATFORM, acc.id))
        if edge == "adsets":
            return self._entity_rows(call, "adset", m.ad_sets_of(PLATFORM, acc.id))
        if edge == "ads":
            return self._entity_rows(call, "ad", m.ads_of(PLATFORM, acc.id))
        if edge == "adcreatives":
            return self._entity_rows(call, "creative", m.creatives_of(PLATFORM, acc.id))
        fields = wanted_fields("image", call.params)
        hashes = param_list(call.params, "hashes")
        images = [
            i for i in m.images_of(PLATFORM, acc.id)
            if (acc.id, i.hash) not in self.g.extras.deleted_images and (hashes is None or i.hash in hashes)
        ]  # fmt: skip
        rows = [(id_key(i.id), select(self.g.image_node(i, call.base_url), fields, id_first="hash")) for i in images]
        rows.sort(key=lambda r: r[0])
        return self._page(call, rows, eligible=True, summary=self._summary(call.params, len(rows)))

    def _list_children(self, call: Call, kind: str, entity: Any, edge: str) -> dict[str, Any]:
        m = self.g.m
        if edge == "adsets":
            return self._entity_rows(call, "adset", [s for s in m.ad_sets.values() if s.campaign_id == entity.id])
        if edge == "ads":
            key = "campaign_id" if kind == "campaign" else "ad_set_id"
            return self._entity_rows(call, "ad", [a for a in m.ads.values() if getattr(a, key) == entity.id])
        creative = m.creatives.get(entity.creative_id)
        return self._entity_rows(call, "creative", [creative] if creative else [])

    # -- insights ----------------------------------------------------------------------------------------
    def _insights(self, call: Call, method: str, acc: Account, scope: tuple[str, str]) -> dict[str, Any]:
        q = parse_query(self.g, scope[0], call.params)
        if method == "POST":
            rows, _ = self.insights.compute(acc, scope, q)
            faults = self.sandbox.faults
            fail = faults.decide(PLATFORM, "async_fail")
            stall = faults.decide(PLATFORM, "async_stall")
            self.jobs_made += 1
            run_id = str(6_023_920_000_000 + 7919 * self.jobs_made)
            self.sandbox.jobs[job_key(run_id)] = {
                "platform": PLATFORM,
                "id": run_id,
                "account_id": acc.id,
                "rows": rows,
                "polls": 0,
                "mode": "fail" if fail else "stall" if stall else "normal",
                "date_start": q.date_start.isoformat(),
                "date_stop": q.date_stop.isoformat(),
                "time_ref": int(self.g.m.now.timestamp()),
            }
            return {"report_run_id": run_id}
        if method != "GET":
            raise unsupported(method, f"{scope[1]}/insights")
        if self.sandbox.faults.decide(PLATFORM, "reduce_data"):
            raise self._reduce_data()
        keyed, summary = self._computed(call, acc, scope, q)
        body = self._page(call, keyed, eligible=False, summary=summary)
        if "next" not in body.get("paging", {}):
            self.insights_cache.clear()  # the last page: the client is done with this report
        return body

    def _finished(self, job: dict[str, Any]) -> None:
        """A job read to its last page. The most recent result stays readable; older ones are released (real
        report results expire too), so a long backfill does not hold every row in memory."""
        previous = getattr(self, "finished_job", None)
        if previous is not None and previous is not job:
            previous["rows"] = []
            previous["keyed"] = []
        self.finished_job = job

    def _computed(
        self, call: Call, acc: Account, scope: tuple[str, str], q: Query
    ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]:
        """Insights rows keyed for paging, computed once per query and market state, so paging a large report
        does not recompute it for every page (figures change only when a day passes or something is written)."""
        m = self.g.m
        params = tuple(sorted((k, v) for k, v in call.params.items() if isinstance(v, str) and k not in PAGE_PARAMS))
        key = (acc.id, scope, params, m.day, len(m.write_log))
        if key not in self.insights_cache:
            rows, summary = self.insights.compute(acc, scope, q)
            self.insights_cache[key] = ([(f"{i:09d}", r) for i, r in enumerate(rows)], summary)
            while len(self.insights_cache) > INSIGHTS_CACHE:
                self.insights_cache.pop(next(iter(self.insights_cache)))
        return self.insights_cache[key]

    # -- batch -------------------------------------------------------------------------------------------
    def batch(self, call: Call) -> Reply:
        raw = call.params.get("batch")
        try:
            items = orjson.loads(raw) if isinstance(raw, str) else None
        except orjson.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            raise GraphError(100, "(#100) The parameter batch must be a JSON array of requests", blame="batch")
        if len(items) > MAX_BATCH:
            raise GraphError(1, f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}", blame="batch")
        shared = {k: call.params[k] for k in ("access_token", "appsecret_proof") if isinstance(call.params.get(k), str)}
        results: list[Any] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("relative_url"), str):
                err = GraphError(100, f"(#100) batch[{i}] must be an object with method and relative_url")
                reply = self._error_reply(err, Outcome())
            else:
                reply = self.execute(self._batch_call(call, item, shared), top=False)
            results.append({
                "code": reply.status,
                "headers": [{"name": "Content-Type", "value": "text/javascript; charset=UTF-8"}]
                + [{"name": k, "value": v} for k, v in reply.headers.items()],
                "body": orjson.dumps(reply.body).decode() if reply.body is not None else None,
            })  # fmt: skip
        return Reply(200, results)

    def _batch_call(self, call: Call, item: dict[str, Any], shared: dict[str, str]) -> Call:
        rel = str(item["relative_url"]).lstrip("/")
        parts = urlsplit(rel)
        path, version = parts.path, call.version
        match = re.match(r"(v[^/]+)/?(.*)", path)
        if match and re.fullmatch(r"v\d+\.\d+", match.group(1)):
            version, path = match.group(1), match.group(2)
        params: dict[str, Any] = dict(shared)
        params.update(parse_qsl(parts.query, keep_blank_values=True))
        body = item.get("body")
        if isinstance(body, str):
            params.update(parse_qsl(body, keep_blank_values=True))
        elif isinstance(body, dict):
            params.update({str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in body.items()})
        method = str(item.get("method", "GET")).upper()
        return Call(method, path.strip("/"), params, call.base_url, version, call.bearer)

    # -- OAuth in sandbox form ---------------------------------------------------------------------------
    def _client(self, params: dict[str, Any], *, secret: bool) -> None:
        auth = self.sandbox.auth
        client_id = param_str(params, "client_id")
        if not client_id:
            raise required("client_id")
        if client_id != auth.meta_app_id:
            raise GraphError(101, "Error validating application. Invalid application ID.")
        if secret and param_str(params, "client_secret") != auth.meta_app_secret:
            raise GraphError(1, "Error validating client secret.")

    def oauth_dialog(self, call: Call) -> Reply:
        p = call.params
        self._client(p, secret=False)
        redirect = param_str(p, "redirect_uri")
        if not redirect or not urlsplit(redirect).scheme:
            raise GraphError(191, "The redirect_uri URL must be absolute", blame="redirect_uri")
        code = self.sandbox.auth.issue_code(PLATFORM, redirect_uri=redirect, scope=param_str(p, "scope") or "")
        query = {"code": code}
        state = param_str(p, "state")
        if state is not None:
            query["state"] = state
        sep = "&" if "?" in redirect else "?"
        return Reply(302, None, {"location": f"{redirect}{sep}{urlencode(query)}#_=_"})

    def oauth_token(self, call: Call) -> dict[str, Any]:
        p = call.params
        auth, now = self.sandbox.auth, self.g.m.now
        self._client(p, secret=True)
        if param_str(p, "grant_type") == "fb_exchange_token":
            value = param_str(p, "fb_exchange_token")
            if not value:
                raise required("fb_exchange_token")
            try:
                auth.check(PLATFORM, value, now)
            except AuthError as exc:
                raise self._auth_error(exc.reason, value) from None
            token = auth.mint(PLATFORM, lifetime=LONG_LIVED, now=now, kind="user")
            return {"access_token": token.value, "token_type": "bearer",
                    "expires_in": int(LONG_LIVED.total_seconds())}  # fmt: skip
        code = param_str(p, "code")
        if not code:
            raise required("code")
        if code in self.used_codes:
            raise GraphError(100, "This authorization code has been used.", subcode=36009)
        try:
            data = auth.take_code(PLATFORM, code)
        except AuthError:
            raise GraphError(100, "Invalid verification code format.", subcode=36008) from None
        self.used_codes.add(code)
        if param_str(p, "redirect_uri") != data.get("redirect_uri"):
            raise GraphError(
                100,
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you "
                "used in the OAuth dialog request",
                subcode=36008,
            )
        token = auth.mint(PLATFORM, lifetime=SHORT_LIVED, now=now, kind="user")
        return {"access_token": token.value, "token_type": "bearer", "expires_in": int(SHORT_LIVED.total_seconds())}


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    surface = MetaSurface(sandbox)
    return [Route("/v{ver}/{rest:path}", surface.endpoint, methods=["GET", "POST", "DELETE"])]
