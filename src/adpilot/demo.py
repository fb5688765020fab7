"""``adpilot demo``: the whole product on the demo market, in one process, on the workspace's warehouse.

The sandbox's demo scenario runs in-process; its three platforms are connected like real ones (tokens
encrypted in the warehouse), backfilled through the real adapters, and then the agent runs one cycle per
simulated morning for ``days`` days: incremental sync per platform, snapshot, policies, guardrails,
ledger, writes through the adapters. Afterwards ``adpilot report`` and ``adpilot actions list`` show
what happened. The same days are replayed with the ``uniform`` baseline on an identical market (same
seed, same noise) and set beside the dynamic oracle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from adpilot.accounts import CREDENTIAL_KEYS
from adpilot.agent.cycle import Agent
from adpilot.agent.service import CycleBook, Production, agent_config, checkpointer, run_cycle
from adpilot.bench.policies import reporting_per_minor, run_one
from adpilot.bootstrap import Container
from adpilot.domain.fx import FxRate
from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import Goal, Objective
from adpilot.sync.runner import SyncEngine
from adpilot.sync.service import run_sync

DEMO_BASE_URL = "http://sandbox.demo"
SCENARIO = "demo"


async def _no_sleep(seconds: float) -> None:
    return None


@dataclass
class DemoDay:
    day: str
    spend: float
    conversions: int
    expected: float
    oracle: float
    applied: int
    rejected: int


@dataclass
class DemoResult:
    days: list[DemoDay] = field(default_factory=list)
    agent_pct_oracle: float = 0.0
    uniform_pct_oracle: float = 0.0
    agent_conversions: int = 0
    uniform_conversions: float = 0.0
    oracle_expected: float = 0.0
    currency: str = "USD"


def run_demo(
    container: Container, *, days: int = 28, seed: int = 0, on_day: Callable[[DemoDay], None] | None = None
) -> DemoResult:
    return asyncio.run(_demo(container, days, seed, on_day or (lambda d: None)))


async def _demo(container: Container, days: int, seed: int, on_day: Callable[[DemoDay], None]) -> DemoResult:
    from adpilot_sandbox.app import create_app
    from adpilot_sandbox.sandbox import Sandbox
    from adpilot_sandbox.scenario import load_scenario

    base = load_scenario(SCENARIO)
    sandbox = Sandbox(base.model_copy(update={"seed": base.seed + seed}), rate_limits=False)
    m = sandbox.market
    wh = container.warehouse
    creds = sandbox.auth.credentials()
    for platform in Platform:
        c = dict(creds[str(platform)])
        keys = [k for group in CREDENTIAL_KEYS[platform] for k in group]
        for account_id in c.pop("accounts"):
            container.accounts.add(platform, account_id, {k: str(c[k]) for k in keys if c.get(k)},
                                   name=f"demo {platform}", base_url=DEMO_BASE_URL)  # fmt: skip
    start = m.date_of(0)
    rates = [FxRate(start, cur, base.reporting_currency, Decimal(repr(float(r)))) for cur, r in base.fx_rates.items()]
    wh.put_fx_rates(rates)
    connections = container.accounts.all()
    options = {"sleep": _no_sleep, "poll_interval": 0}
    goal = Goal(objective=Objective(base.objective), total_daily_budget=float(m.oracle_budget()))
    settings = container.settings.agent.model_copy(update={"seed": seed})
    result = DemoResult(currency=base.reporting_currency)
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url=DEMO_BASE_URL, timeout=120) as client:
        backfill = SyncEngine(
            wh, container.lake, clock=lambda: m.now, backfill_days=base.history_days, assets=container.asset_library
        )
        await run_sync(backfill, connections, client=client, adapter_options=options)
        prod = Production(
            wh, container.lake, connections, client, lambda: m.now, goal, base.reporting_currency,
            adapter_options=options, assets=container.asset_library,
        )  # fmt: skip
        first = m.day
        async with checkpointer(None, container.settings.data_dir) as saver:
            agent = Agent(agent_config(settings), prod.runtime(), saver)
            book = CycleBook(container.settings.data_dir / "agent-state.json")
            for _ in range(days):
                state = await run_cycle(agent, book, lambda: m.now)
                states = state.get("summary", {}).get("states", {})
                t = m.day
                m.advance(1)
                rec = m.records[t]
                spend = float((rec.spend * reporting_per_minor(m)[: len(rec.spend)]).sum())
                day = DemoDay(
                    m.date_of(t).isoformat(),
                    spend,
                    int(rec.conversions.sum()),
                    float(rec.expected_conversions),
                    float(m.oracle(t)["expected"]),
                    int(states.get("applied", 0)),
                    int(states.get("rejected", 0)),
                )
                result.days.append(day)
                on_day(day)
        summary = m.oracle_summary(first, m.day - 1)
    result.agent_pct_oracle = 100 * float(summary["share_of_oracle"] or 0)
    result.agent_conversions = sum(d.conversions for d in result.days)
    result.oracle_expected = float(summary["oracle_expected"])
    uniform = await asyncio.to_thread(run_one, SCENARIO, "uniform", seed, days=days)
    result.uniform_pct_oracle = 100 * uniform.expected / uniform.oracle if uniform.oracle else 0.0
    result.uniform_conversions = uniform.conversions
    return result
