"""The agent as a use case: stored connections and settings → a runtime → cycles, checkpointed.

Production perceives by incremental sync through the real adapters (one graph branch per platform),
builds the snapshot from the warehouse and writes through the same adapters. The open cycle's id is
kept in ``agent-state.json`` beside the checkpoints until the cycle finishes, so ``adpilot agent run``
after a crash resumes it instead of starting another.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from adpilot.actions.guardrails import GuardrailConfig
from adpilot.agent.cycle import Agent, AgentConfig, CycleState, Runtime
from adpilot.agent.snapshot import SnapshotInputs, build_snapshot, inputs_from_warehouse
from adpilot.config import AgentSettings
from adpilot.creative.candidates import SourceAd, best_ad_sources, variant_candidates, with_element_model
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import Platform
from adpilot.domain.ledger import ApprovalMode
from adpilot.domain.snapshot import AdView, CreativeCandidate, Goal, Objective, PastAction
from adpilot.lake import Lake
from adpilot.policies.registry import policy_set
from adpilot.ports.assets import AssetLinker, AssetStore
from adpilot.ports.platform import Connection, PlatformAdapter
from adpilot.ports.warehouse import Warehouse
from adpilot.sync.runner import SyncEngine
from adpilot.sync.service import adapter_factory, run_sync

Clock = Callable[[], datetime]


def agent_config(settings: AgentSettings, *, dry_run: bool = False) -> AgentConfig:
    rules: Sequence[Any] = ()
    if settings.rules_file is not None:
        from adpilot.rules_file import load_rules

        rules = load_rules(settings.rules_file)
    guardrails = GuardrailConfig(
        max_change=Decimal(repr(settings.max_change)),
        max_changes_per_day=settings.max_changes_per_day,
        cooldown_hours=settings.cooldown_hours,
        budget_floor=None if settings.budget_floor is None else Decimal(repr(settings.budget_floor)),
        budget_ceiling=None if settings.budget_ceiling is None else Decimal(repr(settings.budget_ceiling)),
        total_daily_cap=None if settings.total_daily_cap is None else Decimal(repr(settings.total_daily_cap)),
        allowed_accounts=None if settings.allowed_accounts is None else frozenset(settings.allowed_accounts),
        protect_learning=settings.protect_learning,
        learning_max_change=Decimal(repr(settings.learning_max_change)),
        max_launches_per_ad_set_per_week=settings.max_launches_per_ad_set_per_week,
        kill_switch=settings.kill_switch,
    )
    return AgentConfig(
        policies=policy_set(
            settings.policies,
            rules=rules,
            launch_cap=guardrails.max_launches_per_ad_set_per_week,
            seed=settings.seed,
            learning_step=guardrails.learning_edit_limit,
            max_change=float(guardrails.max_change),
        ),
        guardrails=guardrails,
        approvals={k: ApprovalMode(v) for k, v in settings.approvals.items()},
        default_approval=ApprovalMode(settings.default_approval),
        approval_ttl=timedelta(hours=settings.approval_ttl_hours),
        seed=settings.seed,
        dry_run=dry_run,
    )


def goal_of(settings: AgentSettings) -> Goal:
    return Goal(
        objective=Objective(settings.objective),
        total_daily_budget=settings.total_daily_budget,
        target_cpa=settings.target_cpa,
        target_roas=settings.target_roas,
    )


@dataclass
class Production:
    """Connections, HTTP client and clock for a runtime over real (or served sandbox) platforms."""

    warehouse: Warehouse
    lake: Lake | None
    connections: list[Connection]
    client: httpx.AsyncClient
    clock: Clock
    goal: Goal
    reporting_currency: str
    window_days: int = 60
    adapter_options: dict[str, Any] | None = None
    assets: AssetLinker | None = None  # links synced creatives to the asset library
    asset_store: AssetStore | None = None  # with ``generation``: images of the variants to launch
    generation: bool = False
    seed: int = 0  # of the element model's proposals (with the cycle number)

    def runtime(self) -> Runtime:
        adapters: dict[tuple[Platform, str], PlatformAdapter] = {}
        by_key = {(c.platform, c.account_id): c for c in self.connections}

        def adapter_for(platform: Platform, account_id: str) -> PlatformAdapter:
            key = (platform, account_id)
            if key not in adapters:
                conn = by_key.get(key)
                if conn is None:
                    raise LookupError(f"no connection for {platform} account {account_id}")
                adapters[key] = adapter_factory(platform)(conn, self.client, **(self.adapter_options or {}))
            return adapters[key]

        engine = SyncEngine(self.warehouse, self.lake, clock=self.clock, assets=self.assets)

        async def perceive(platform: Platform) -> dict[str, Any]:
            conns = [c for c in self.connections if c.platform is platform and c.status != "disabled"]
            if not conns:
                return {"status": "no accounts"}
            summary = await run_sync(engine, conns, client=self.client, adapter_options=self.adapter_options)
            return {
                "status": "ok" if summary.ok else "partial",
                "rows": sum(r.rows for r in summary.results),
                "problems": [f"{r.account_id}/{r.stream}: {r.message}" for r in summary.results if r.status != "ok"],
            }

        def inputs(cycle: int, applied: Sequence[PastAction]) -> SnapshotInputs:
            fx = FxTable.build(self.reporting_currency, self.warehouse.fx_rates())
            base = inputs_from_warehouse(
                self.warehouse, now=self.clock(), fx=fx, goal=self.goal, cycle=cycle, applied=applied,
                window_days=self.window_days,
            )  # fmt: skip
            if not self.generation or self.asset_store is None:
                return base
            return replace(base, candidates=tuple(self._variants(base, cycle)))

        return Runtime(self.warehouse, inputs, adapter_for, self.clock, perceive)

    def _variants(self, inputs: SnapshotInputs, cycle: int) -> list[CreativeCandidate]:
        """Copy variants of each running ad set's best ad, on that ad's image from the library."""
        store = self.asset_store
        creatives = {(c.platform, c.creative_id): c for c in inputs.creatives}
        ads = {a.ref: a for a in inputs.ads}

        def source_of(view: AdView) -> SourceAd | None:
            ad = ads.get(view.ref)
            cr = creatives.get((ad.platform, ad.creative_id)) if ad and ad.creative_id else None
            if cr is None or not cr.asset_id or store is None or not store.exists(cr.asset_id):
                return None
            return SourceAd(view.ref.platform, view.creative_key, cr.headline, cr.body, cr.call_to_action,
                            cr.link_url, cr.asset_id)  # fmt: skip

        snapshot = build_snapshot(inputs)
        taken = [(c.headline, c.body) for c in inputs.creatives]
        variants = variant_candidates(best_ad_sources(snapshot, source_of), seed=cycle, taken=taken)
        return with_element_model(snapshot, variants, source_of, np.random.default_rng([self.seed, cycle]))


@contextlib.asynccontextmanager
async def checkpointer(url: str | None, data_dir: Path) -> AsyncIterator[Any]:
    """SQLite beside the data by default; ``postgresql://…`` in production."""
    if url and url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = url.removeprefix("sqlite:///") if url else str(data_dir / "agent-checkpoints.sqlite")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        yield saver


class CycleBook:
    """The open cycle's id, so a crashed run resumes it (a small JSON file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open_cycle(self) -> str | None:
        try:
            value = json.loads(self.path.read_text()).get("open_cycle")
        except (OSError, ValueError):
            return None
        return str(value) if value else None

    def set(self, cycle_id: str | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"open_cycle": cycle_id}))
        tmp.replace(self.path)


async def run_cycle(agent: Agent, book: CycleBook, clock: Clock, *, interrupt_after: Sequence[str] = ()) -> CycleState:
    """Resume the open cycle if there is one, else start a new one; forget it once finished."""
    cycle_id = book.open_cycle()
    resume = cycle_id is not None
    if cycle_id is None:
        cycle_id = f"cycle-{clock().astimezone(UTC):%Y%m%dT%H%M%S}-{datetime.now(UTC):%f}"
        book.set(cycle_id)
    state = await agent.run(cycle_id, resume=resume, interrupt_after=interrupt_after)
    if not await agent.pending_nodes(cycle_id):
        book.set(None)
    return state
