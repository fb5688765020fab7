"""One decision cycle as a LangGraph graph: perceive → snapshot → propose → guard → approve → act → record.

```mermaid
flowchart LR
    S((start)) --> PM[perceive meta] & PX[perceive x] & PT[perceive tiktok]
    PM & PX & PT --> SN[snapshot] --> PR[propose] --> G[guard] --> AP[approve] --> A[act] --> R[record] --> E((end))
```

The three perceive branches (incremental syncs) run in parallel. Every node's output is checkpointed
(SQLite by default, PostgreSQL in production, memory in the benchmark), so a cycle interrupted anywhere
resumes from its last finished node. Applying happens only through the ledger: ``approve`` records each
proposal under its idempotency key (insert-if-absent) and ``act`` claims records with a compare-and-set
before writing, re-reading the live value first, so a resumed or repeated cycle never applies a change
twice.

Policies see only the snapshot and a RNG seeded by (seed, cycle, policy): the same data give the same
proposals. The snapshot is rebuilt from the warehouse when a resumed cycle needs it.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, TypedDict, cast

import numpy as np
import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from adpilot.actions.guardrails import Approved, Change, GuardContext, GuardrailConfig, Rejected, guard
from adpilot.agent.executor import Executor
from adpilot.agent.snapshot import SnapshotInputs, build_snapshot
from adpilot.domain.actions import (
    LaunchAd,
    Pause,
    Resume,
    SetBudget,
    action_from_dict,
    action_to_dict,
    idempotency_key,
)
from adpilot.domain.events import AuditEvent
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.ledger import ActionState, ApprovalMode, new_record
from adpilot.domain.money import Money
from adpilot.domain.snapshot import PastAction, Proposal, Snapshot
from adpilot.policies import Policy
from adpilot.ports.platform import PlatformAdapter
from adpilot.ports.warehouse import Warehouse

NODES = ("perceive_meta", "perceive_x", "perceive_tiktok", "snapshot", "propose", "guard", "approve", "act", "record")
CYCLE_AUDIT = "agent_cycle"

# When two policies want the same entity, the earlier wins: a person's rules, then retiring fatigued
# creatives, then creative tests, then budgets.
PRIORITY = ("rule:", "fatigue", "creative", "budget")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {**a, **b}


class CycleState(TypedDict, total=False):
    cycle_id: str
    perceived: Annotated[dict[str, Any], _merge]
    as_of: str
    cycle: int
    proposals: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    recorded: list[str]
    outcomes: Annotated[list[dict[str, Any]], operator.add]
    summary: dict[str, Any]


@dataclass
class Runtime:
    """What a cycle needs from the outside world (production, tests and the benchmark differ here)."""

    warehouse: Warehouse
    inputs: Callable[[int, Sequence[PastAction]], SnapshotInputs]
    adapter_for: Callable[[Platform, str], PlatformAdapter]
    clock: Callable[[], datetime]
    perceive: Callable[[Platform], Awaitable[dict[str, Any]]] | None = None


@dataclass
class AgentConfig:
    policies: Sequence[Policy]
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    approvals: Mapping[str, ApprovalMode] = field(default_factory=dict)
    default_approval: ApprovalMode = ApprovalMode.AUTO
    approval_ttl: timedelta = timedelta(hours=24)
    seed: int = 0
    dry_run: bool = False

    def mode_for(self, policy: str) -> ApprovalMode:
        if self.dry_run:
            return ApprovalMode.DRY_RUN
        return self.approvals.get(policy, self.default_approval)


def combine(proposals: Sequence[Proposal]) -> list[Proposal]:
    """One change per entity (launches: one per ad set and content), by policy priority."""

    def rank(p: Proposal) -> int:
        return next((i for i, prefix in enumerate(PRIORITY) if p.policy.startswith(prefix)), len(PRIORITY))

    seen: set[tuple[object, ...]] = set()
    out: list[Proposal] = []
    for p in sorted(proposals, key=rank):  # stable: each policy's own order is kept
        a = p.action
        key: tuple[object, ...] = (
            (a.target, "launch", a.headline, a.asset_ids) if isinstance(a, LaunchAd) else (a.target,)
        )
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return out


def plain(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence as plain JSON values (numpy scalars and arrays, tuples, dates), as the checkpoint and the
    ledger store it."""
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    out: dict[str, Any] = orjson.loads(orjson.dumps(dict(evidence), option=option, default=str))
    return out


def cuts_first(snapshot: Snapshot, proposals: Sequence[Proposal]) -> list[Proposal]:
    """Budget cuts before raises: the guardrails judge (and the executor applies) in this order, so a
    reallocation within the total cap is never refused, nor overspends, halfway through."""
    current = {s.budget_holder: s.daily_budget for s in snapshot.ad_sets if s.daily_budget is not None}

    def raise_(p: Proposal) -> bool:
        a = p.action
        return isinstance(a, SetBudget) and a.target in current and a.new_budget.minor > current[a.target].minor

    return sorted(proposals, key=raise_)


def guard_context(snapshot: Snapshot, applied: Sequence[PastAction], now: datetime) -> GuardContext:
    budgets: dict[EntityRef, Money] = {}
    bids: dict[EntityRef, Money] = {}
    learning: set[EntityRef] = set()
    minimums: dict[EntityRef, Money] = {}
    for s in snapshot.ad_sets:
        if s.min_budget is not None:
            minimums[s.budget_holder] = s.min_budget
        if not s.active:
            continue
        if s.daily_budget is not None:
            budgets[s.budget_holder] = s.daily_budget
        if s.bid is not None:
            bids[s.ref] = s.bid
        if s.learning:
            learning.update({s.ref, s.budget_holder})
    return GuardContext(
        now=now,
        today=snapshot.as_of,
        fx=snapshot.fx or FxTable.build(snapshot.reporting_currency, []),
        budgets=budgets,
        bids=bids,
        learning=frozenset(learning),
        applied=[Change(a.target, a.at, a.kind) for a in applied],
        minimums=minimums,
    )


def keep_one_active(snapshot: Snapshot, verdicts: Sequence[Approved | Rejected]) -> list[Approved | Rejected]:
    """Refuse the pauses that would leave a running ad set without an active ad (e.g. because the
    resume that was to replace them was rejected by another guardrail). A launch in the same batch does
    not count: a new ad goes through the platform's review and may take days to deliver, and an ad set
    without a delivering ad spends nothing meanwhile."""
    active = {s.ref: {a.ref for a in s.ads if a.active} for s in snapshot.ad_sets if s.active}
    set_of = {a.ref: s.ref for s in snapshot.ad_sets for a in s.ads}
    after = {k: set(v) for k, v in active.items()}
    for v in verdicts:
        if isinstance(v, Approved) and v.action.target in set_of and set_of[v.action.target] in after:
            ads = after[set_of[v.action.target]]
            if isinstance(v.action, Pause):
                ads.discard(v.action.target)
            elif isinstance(v.action, Resume):
                ads.add(v.action.target)
    emptied = {ref for ref, ads in after.items() if not ads and active[ref]}
    return [
        Rejected(v.action, "last_ad", f"{set_of[v.action.target]} would be left without an active ad")
        if isinstance(v, Approved) and isinstance(v.action, Pause) and set_of.get(v.action.target) in emptied
        else v
        for v in verdicts
    ]


class Agent:
    """Builds and runs the cycle graph for one configuration and runtime."""

    def __init__(self, config: AgentConfig, runtime: Runtime, checkpointer: Any) -> None:
        self.config = config
        self.rt = runtime
        self.executor = Executor(runtime.warehouse, runtime.adapter_for, runtime.clock)
        self._snapshots: dict[str, Snapshot] = {}
        self.last_snapshot: Snapshot | None = None  # the latest cycle's, for reports and benchmarks
        self.graph = self._build().compile(checkpointer=checkpointer)

    # -- graph ---------------------------------------------------------------------------------------------
    def _build(self) -> StateGraph:  # type: ignore[type-arg]
        g: StateGraph = StateGraph(CycleState)  # type: ignore[type-arg]
        for p in Platform:
            g.add_node(f"perceive_{p}", self._perceiver(p))  # type: ignore[call-overload]
            g.add_edge(START, f"perceive_{p}")
        g.add_node("snapshot", self._snapshot)
        g.add_node("propose", self._propose)
        g.add_node("guard", self._guard)
        g.add_node("approve", self._approve)
        g.add_node("act", self._act)
        g.add_node("record", self._record)
        g.add_edge([f"perceive_{p}" for p in Platform], "snapshot")
        for a, b in (("snapshot", "propose"), ("propose", "guard"), ("guard", "approve"), ("approve", "act")):
            g.add_edge(a, b)
        g.add_edge("act", "record")
        g.add_edge("record", END)
        return g

    async def run(self, cycle_id: str, *, resume: bool = False, interrupt_after: Sequence[str] = ()) -> CycleState:
        """Run (or resume) one cycle; ``interrupt_after`` stops after those nodes (tests of resumption)."""
        config: RunnableConfig = {"configurable": {"thread_id": cycle_id}}
        if resume:
            state = await self.graph.aget_state(config)
            if not state.next:  # already finished
                return dict(state.values)  # type: ignore[return-value]
            out = await self.graph.ainvoke(None, config, interrupt_after=list(interrupt_after) or None)
        else:
            init: CycleState = {"cycle_id": cycle_id, "perceived": {}, "outcomes": []}
            out = await self.graph.ainvoke(init, config, interrupt_after=list(interrupt_after) or None)
        return cast(CycleState, out)

    async def pending_nodes(self, cycle_id: str) -> tuple[str, ...]:
        state = await self.graph.aget_state(RunnableConfig(configurable={"thread_id": cycle_id}))
        return tuple(state.next)

    # -- nodes ---------------------------------------------------------------------------------------------
    def _perceiver(self, platform: Platform) -> Callable[[CycleState], Awaitable[dict[str, Any]]]:
        async def perceive(state: CycleState) -> dict[str, Any]:
            if self.rt.perceive is None:
                return {"perceived": {str(platform): {"status": "skipped"}}}
            return {"perceived": {str(platform): await self.rt.perceive(platform)}}

        return perceive

    def _applied(self) -> list[PastAction]:
        # A year of the agent's own changes: cooldowns need days, but "never resume what was retired" needs
        # the whole memory of a creative.
        since = self.rt.clock() - timedelta(days=365)
        return [PastAction(c.target, c.kind, c.policy, c.at) for c in self.rt.warehouse.applied_changes(since)]

    def _cycle_count(self) -> int:
        return self.rt.warehouse.count_audit(CYCLE_AUDIT)

    def snapshot_for(self, state: CycleState) -> Snapshot:
        """The cycle's snapshot (rebuilt from the same sources when a resumed cycle lost it)."""
        cid = state["cycle_id"]
        snap = self._snapshots.get(cid)
        if snap is None:
            cycle = state.get("cycle", self._cycle_count())
            snap = build_snapshot(self.rt.inputs(cycle, self._applied()))
            self._snapshots = {cid: snap}
        return snap

    async def _snapshot(self, state: CycleState) -> dict[str, Any]:
        self._snapshots.pop(state["cycle_id"], None)
        cycle = self._cycle_count()
        snap = self.snapshot_for({**state, "cycle": cycle})
        return {"as_of": snap.as_of.isoformat(), "cycle": cycle}

    async def _propose(self, state: CycleState) -> dict[str, Any]:
        snap = self.snapshot_for(state)
        proposals: list[Proposal] = []
        for i, policy in enumerate(self.config.policies):
            rng = np.random.default_rng([self.config.seed, snap.cycle, i])
            proposals += policy(snap, rng)
        return {
            "proposals": [
                {
                    "action": action_to_dict(p.action),
                    "policy": p.policy,
                    "evidence": plain(p.evidence),
                    "expected_impact": p.expected_impact,
                }
                for p in cuts_first(snap, combine(proposals))
            ]
        }

    async def _guard(self, state: CycleState) -> dict[str, Any]:
        snap = self.snapshot_for(state)
        actions = [action_from_dict(p["action"]) for p in state.get("proposals", [])]
        ctx = guard_context(snap, snap.applied, self.rt.clock())
        verdicts = []
        for v in keep_one_active(snap, guard(actions, self.config.guardrails, ctx)):
            if isinstance(v, Rejected):
                verdicts.append({"verdict": "rejected", "rule": v.rule, "reason": v.reason})
            else:
                assert isinstance(v, Approved)
                verdicts.append({"verdict": "approved"})
        return {"verdicts": verdicts}

    async def _approve(self, state: CycleState) -> dict[str, Any]:
        now = self.rt.clock()
        records = []
        for p, v in zip(state.get("proposals", []), state.get("verdicts", []), strict=True):
            action = action_from_dict(p["action"])
            mode = self._mode(p)
            if mode is ApprovalMode.DRY_RUN:
                # A dry run's record must not stand in for the real decision a later run makes.
                action = replace(action, idempotency_key=idempotency_key("dry-run", action.idempotency_key))
            records.append(
                new_record(
                    action,
                    cycle_id=state["cycle_id"],
                    policy=p["policy"],
                    mode=mode,
                    now=now,
                    evidence=p["evidence"],
                    expected_impact=p["expected_impact"],
                    rejected=(v["rule"], v["reason"]) if v["verdict"] == "rejected" else None,
                    approval_ttl=self.config.approval_ttl,
                )
            )
        self.rt.warehouse.record_actions(records)
        return {"recorded": [r.action_id for r in records]}

    def _mode(self, proposal: Mapping[str, Any]) -> ApprovalMode:
        """The configured mode; a user rule may ask for its own (``approval:`` in its YAML)."""
        mode = self.config.mode_for(proposal["policy"])
        wanted = proposal["evidence"].get("approval") if proposal["policy"].startswith("rule:") else None
        if mode is ApprovalMode.DRY_RUN or proposal["policy"] in self.config.approvals or wanted is None:
            return mode
        return ApprovalMode(wanted)

    async def _act(self, state: CycleState) -> dict[str, Any]:
        await self.executor.recover()
        self.executor.expire(self.rt.clock())
        outcomes = []
        for action_id in state.get("recorded", []):
            rec = self.rt.warehouse.get_action(action_id)
            if rec is None or rec.state is not ActionState.APPROVED:
                continue
            done = await self.executor.apply(action_id, actor="agent")
            outcomes.append({"action_id": action_id, "state": str(done.state), "error": done.error})
        return {"outcomes": outcomes}

    async def _record(self, state: CycleState) -> dict[str, Any]:
        states: dict[str, int] = {}
        for action_id in state.get("recorded", []):
            rec = self.rt.warehouse.get_action(action_id)
            if rec is not None:
                states[str(rec.state)] = states.get(str(rec.state), 0) + 1
        summary = {
            "cycle_id": state["cycle_id"],
            "cycle": state.get("cycle", 0),
            "as_of": state.get("as_of"),
            "proposals": len(state.get("proposals", [])),
            "states": states,
            "perceived": state.get("perceived", {}),
        }
        self.rt.warehouse.append_audit([AuditEvent(self.rt.clock(), "agent", CYCLE_AUDIT, state["cycle_id"], summary)])
        self.last_snapshot = self._snapshots.pop(state["cycle_id"], self.last_snapshot)
        return {"summary": summary}
