"""A cycle stopped after any node resumes from its SQLite checkpoint in a fresh agent, and the market's
write log shows every change applied exactly once: the same writes as a cycle never interrupted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from adpilot.actions.guardrails import GuardrailConfig
from adpilot.agent.cycle import NODES, Agent, AgentConfig, Runtime
from adpilot.agent.service import checkpointer
from adpilot.bench.market_feed import MarketAdapter, market_inputs
from adpilot.bench.policies import _fx, _goal
from adpilot.domain.ids import Platform
from adpilot.domain.ledger import ActionState
from adpilot.policies.registry import policy_set
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario

POLICY = "seed-rules"  # changes budgets and pauses creatives on the demo market from its first cycle


def _world(tmp: Path) -> tuple[Any, DuckDBWarehouse, Runtime]:
    m = Sandbox(load_scenario("demo"), rate_limits=False).market
    wh = DuckDBWarehouse(tmp / "w.duckdb")
    wh.migrate()
    fx, goal = _fx(m), _goal(m)
    adapters = {p: MarketAdapter(m, p) for p in Platform}
    rt = Runtime(
        wh,
        lambda cycle, applied: market_inputs(m, fx=fx, goal=goal, cycle=cycle, applied=applied),
        lambda p, a: adapters[p],
        lambda: m.now,
    )
    return m, wh, rt


def _writes(m: Any) -> list[tuple[Any, ...]]:
    return [(w["entity"], w["id"], w["field"], w["old"], w["new"]) for w in m.write_log]


async def _cycle(rt: Runtime, db: Path, stop_after: str | None) -> None:
    config = AgentConfig(policy_set(POLICY), GuardrailConfig())
    async with checkpointer(f"sqlite:///{db}", db.parent) as saver:
        agent = Agent(config, rt, saver)
        await agent.run("c1", interrupt_after=[stop_after] if stop_after else ())
        if stop_after is None:
            return
        assert await agent.pending_nodes("c1"), f"the cycle should have stopped after {stop_after}"
    async with checkpointer(f"sqlite:///{db}", db.parent) as saver:  # a new process, in effect
        fresh = Agent(config, rt, saver)
        await fresh.run("c1", resume=True)
        assert not await fresh.pending_nodes("c1")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    tmp = tmp_path_factory.mktemp("reference")
    m, wh, rt = _world(tmp)
    asyncio.run(_cycle(rt, tmp / "cp.sqlite", None))
    wh.close()
    writes = _writes(m)
    assert writes, "the reference cycle wrote nothing; the test would prove little"
    return writes


@pytest.mark.parametrize("node", NODES[:-1])
def test_cycle_stopped_after_a_node_resumes_and_applies_each_change_once(
    tmp_path: Path, node: str, reference: list[tuple[Any, ...]]
) -> None:
    m, wh, rt = _world(tmp_path)
    asyncio.run(_cycle(rt, tmp_path / "cp.sqlite", node))
    assert _writes(m) == reference
    records = wh.list_actions(limit=10_000)
    assert not [r for r in records if r.state is ActionState.APPLYING]
    assert sum(1 for r in records if r.state is ActionState.APPLIED) == len(reference)  # one write each
    wh.close()


def test_a_second_run_of_the_same_cycle_changes_nothing(tmp_path: Path, reference: list[tuple[Any, ...]]) -> None:
    m, wh, rt = _world(tmp_path)
    asyncio.run(_cycle(rt, tmp_path / "cp.sqlite", None))

    async def again() -> None:
        async with checkpointer(f"sqlite:///{tmp_path / 'cp2.sqlite'}", tmp_path) as saver:
            await Agent(AgentConfig(policy_set(POLICY), GuardrailConfig()), rt, saver).run("c1-again")

    asyncio.run(again())  # same day, same data: the same decisions, already in the ledger
    assert _writes(m) == reference
    wh.close()
