"""``adpilot actions``: the agent's ledger for people. Thin over :mod:`adpilot.agent.actions_service`."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from adpilot.agent.actions_service import ActionsService, record_view
from adpilot.bootstrap import Container
from adpilot.domain.actions import Action, LaunchAd, SetBid, SetBudget, money_from_dict
from adpilot.domain.ledger import ActionRecord, ActionState

app = typer.Typer(no_args_is_help=True, help="The agent's actions: list, inspect, approve, reject, roll back.")
out = Console()
_SHORT = 12  # id characters shown in tables; any unique prefix is accepted back

IdArg = Annotated[str, typer.Argument(help="An action id, or a unique prefix of one.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who decides (default: person:<login>).", show_default=False)]


def _container(ctx: typer.Context) -> Container:
    from adpilot.entrypoints.cli import _container as get

    return get(ctx)


def _service(ctx: typer.Context) -> ActionsService:
    c = _container(ctx)
    # Launches upload their image from the asset library.
    return ActionsService(c.warehouse, lambda: c.accounts.all(), adapter_options={"asset_bytes": c.asset_store.get})


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return f"person:{getpass.getuser()}"
    except (KeyError, OSError):
        return "person:cli"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _note(rec: ActionRecord) -> str:
    if rec.error:
        return rec.error
    if rec.rule:
        return f"{rec.rule}: {rec.reason or ''}"
    return rec.reason or rec.action.reason


def _money(d: Any) -> str:
    return str(money_from_dict(d)) if isinstance(d, dict) else "none"


def _change(action: Action) -> str:
    if isinstance(action, SetBudget):
        return f"daily budget -> {action.new_budget}"
    if isinstance(action, SetBid):
        return f"bid -> {action.new_bid}"
    if isinstance(action, LaunchAd):
        return f"launch ad {action.name!r} ({', '.join(action.asset_ids)})"
    return str(action.kind)


def _values(state: Mapping[str, Any]) -> str:
    """``before``/``after`` in one line: status, budget, bid (a launch: the ad it created)."""
    if "ad_id" in state:
        return f"ad {state['ad_id'] or 'none'}"
    parts = [f"status {state.get('status')} ({state.get('platform_status')})"]
    if state.get("daily_budget"):
        parts.append(f"daily budget {_money(state['daily_budget'])}")
    if state.get("bid"):
        parts.append(f"bid {_money(state['bid'])}")
    return ", ".join(parts)


def _outcome(rec: ActionRecord) -> str:
    line = f"{rec.action_id[:_SHORT]} {rec.action.kind} {rec.target}: {rec.state}"
    return f"{line} ({rec.error})" if rec.error else line


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only these states (repeat, or comma-separated).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Recorded actions, newest first."""
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use table or json", param_hint="--format")
    states = None
    if state:
        names = [s.strip() for v in state for s in v.split(",") if s.strip()]
        known = {str(s) for s in ActionState}
        bad = [n for n in names if n not in known]
        if bad:
            raise typer.BadParameter(
                f"unknown state {', '.join(bad)}; use one of {', '.join(sorted(known))}", param_hint="--state"
            )
        states = [ActionState(n) for n in names]
    records = _service(ctx).list_actions(states, limit)
    if fmt == "json":
        typer.echo(_json([record_view(r) for r in records]))
        return
    table = Table("id", "state", "kind", "target", "policy", "created", "note", title="actions", title_justify="left")
    for r in records:
        table.add_row(
            r.action_id[:_SHORT],
            str(r.state),
            str(r.action.kind),
            str(r.target),
            r.policy,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            _note(r),
        )
    out.print(table)
    if not records:
        out.print("no actions recorded" + (" in these states" if states else ""))


@app.command("show")
def show_command(
    ctx: typer.Context,
    action_id: IdArg,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """One action: what, why (evidence), the verdict, before/after, and its audit trail."""
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use table or json", param_hint="--format")
    detail = _service(ctx).show(action_id)
    view = record_view(detail.record)
    trail: list[dict[str, Any]] = [
        {"at": e.at.isoformat(), "actor": e.actor, "event": e.kind, "details": dict(e.details)} for e in detail.events
    ]
    if fmt == "json":
        typer.echo(_json({**view, "audit": trail}))
        return
    facts = Table(title=f"action {view['action_id']}", show_header=False, title_justify="left")
    facts.add_column(style="bold cyan")
    facts.add_column()
    for key in (
        "state", "kind", "target", "policy", "cycle_id", "mode", "expected_impact", "rule", "reason", "error",
        "decided_by", "rollback_of", "created_at", "updated_at", "expires_at", "applied_at",
    ):  # fmt: skip
        if view[key] not in (None, ""):
            facts.add_row(key, str(view[key]))
    rec = detail.record
    facts.add_row("change", _change(rec.action))
    facts.add_row("why", rec.action.reason)
    if rec.evidence:
        facts.add_row("evidence", _json(view["evidence"]))
    for key in ("before", "after"):
        if view[key]:
            facts.add_row(key, _values(view[key]))
    out.print(facts)
    audit = Table("at", "actor", "event", "details", title="audit trail", title_justify="left")
    audit.columns[3].overflow = "fold"
    for e in trail:
        audit.add_row(e["at"], e["actor"], e["event"], orjson.dumps(e["details"], option=orjson.OPT_SORT_KEYS).decode())
    out.print(audit)


@app.command("approve")
def approve_command(
    ctx: typer.Context,
    action_id: IdArg,
    by: ByOpt = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail).")] = None,
) -> None:
    """Approve a pending action and apply it now."""
    rec = _service(ctx).approve(action_id, _actor(by), reason)
    out.print(_outcome(rec), soft_wrap=True, highlight=False)
    if rec.state not in (ActionState.APPLIED, ActionState.SKIPPED):
        raise typer.Exit(1)


@app.command("reject")
def reject_command(
    ctx: typer.Context,
    action_id: IdArg,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail).")] = None,
    by: ByOpt = None,
) -> None:
    """Reject a pending (or approved, not yet applied) action."""
    rec = _service(ctx).reject(action_id, _actor(by), reason)
    out.print(_outcome(rec), soft_wrap=True, highlight=False)


@app.command("rollback")
def rollback_command(ctx: typer.Context, action_id: IdArg, by: ByOpt = None) -> None:
    """Undo an applied action: restore the recorded before value (a launched ad is paused)."""
    result = _service(ctx).rollback(action_id, _actor(by))
    out.print(_outcome(result.inverse), soft_wrap=True, highlight=False)
    out.print(f"original {result.original.action_id[:_SHORT]}: {result.original.state}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)
