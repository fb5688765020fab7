"""The Sandbox: one market, its credentials and its faults, shared by every API surface."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adpilot_sandbox.auth import Auth
from adpilot_sandbox.faults import Faults
from adpilot_sandbox.market import Market
from adpilot_sandbox.scenario import Scenario

T = TypeVar("T")
MEMO_SIZE = 16


@dataclass
class Sandbox:
    scenario: Scenario
    market: Market = field(init=False)
    auth: Auth = field(init=False)
    faults: Faults = field(init=False)
    # Wall-clock rate limits (X's request windows). Benchmarks measuring throughput turn them off; their
    # behaviour is covered by the surfaces' tests.
    rate_limits: bool = True
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # async report jobs, any platform
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.market = Market(self.scenario)
        accounts: dict[str, list[str]] = {}
        for acc in self.market.accounts.values():
            accounts.setdefault(acc.platform, []).append(acc.id)
        self.auth = Auth(self.scenario.seed, accounts)
        self.faults = Faults(self.scenario.seed)
        for platform, values in self.scenario.faults.items():
            self.faults.spec(platform).update(dict(values))

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A query result computed once per market state: every page of a report reuses it.

        The key is combined with the market's version (delivered days and writes), so a result never
        outlives a change that could alter it.
        """
        m = self.market
        full = (key, m.day, len(m.write_log), len(m.ads), len(m.ad_sets))
        if full not in self._memo:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[full] = compute()
        result: T = self._memo[full]
        return result

    def forget(self, key: Hashable) -> None:
        """Drop a memoized result (a report whose last page was served)."""
        for full in [k for k in self._memo if isinstance(k, tuple) and k[0] == key]:
            del self._memo[full]

    def before_request(self, platform: str) -> None:
        """Count the request and apply time-triggered faults (token revocation and restoration)."""
        n = self.faults.count_request(platform)
        spec = self.faults.spec(platform)
        if spec.revoke_after is not None and n == spec.revoke_after:
            self.auth.set_revoked(platform, True)
        if spec.restore_after is not None and n == spec.restore_after:
            self.auth.set_revoked(platform, False)

    async def latency(self, platform: str) -> None:
        ms = self.faults.spec(platform).latency_ms
        if ms:
            await asyncio.sleep(ms / 1000)
