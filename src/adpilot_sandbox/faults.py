"""Injected faults, per platform, deterministic by seed and request order.

Each kind has a rate; the n-th decision of a kind on a platform is a pure function of
(seed, platform, kind, n), so a replay of the same request sequence meets the same faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from adpilot_sandbox.noise import stable_key

KINDS = ("server_error", "throttle", "truncate", "repeat", "reduce_data", "async_fail", "async_stall")


@dataclass
class FaultSpec:
    """Rates in [0, 1] per request (async_* per report job), plus a token revocation window."""

    server_error: float = 0.0  # HTTP 5xx / Meta code 2 / TikTok 50000
    throttle: float = 0.0  # native throttling (Meta 17/80004, X 429, TikTok 40100)
    truncate: float = 0.0  # a list page comes back with fewer rows than it should, cursor intact
    repeat: float = 0.0  # a list page comes back again instead of the next one
    reduce_data: float = 0.0  # Meta code 1 "Please reduce the amount of data..."
    async_fail: float = 0.0  # an async report job ends failed
    async_stall: float = 0.0  # an async report job stays running much longer
    latency_ms: float = 0.0  # added to every response
    revoke_after: int | None = None  # revoke the platform's tokens at this request number ...
    restore_after: int | None = None  # ... and restore them at this one

    def update(self, values: dict[str, float | int | None]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"faults: unknown fault {key!r}; known: {sorted(names)}")
            if key in KINDS and value is not None and not 0 <= float(value) <= 1:
                raise ValueError(f"faults.{key}: a rate between 0 and 1")
            setattr(self, key, value)


@dataclass
class Faults:
    seed: int
    specs: dict[str, FaultSpec] = field(default_factory=dict)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def spec(self, platform: str) -> FaultSpec:
        return self.specs.setdefault(platform, FaultSpec())

    def decide(self, platform: str, kind: str) -> bool:
        """Whether this request (or job) meets a fault of ``kind``."""
        rate = float(getattr(self.spec(platform), kind))
        n = self.counters.get((platform, kind), 0)
        self.counters[(platform, kind)] = n + 1
        if rate <= 0:
            return False
        u = (stable_key(self.seed, "fault", platform, kind, n) >> 11) / 9007199254740992.0
        return u < rate

    def count_request(self, platform: str) -> int:
        n = self.requests.get(platform, 0) + 1
        self.requests[platform] = n
        return n

    def as_dict(self) -> dict[str, dict[str, float | int | None]]:
        return {p: {f.name: getattr(s, f.name) for f in fields(s)} for p, s in self.specs.items()}
