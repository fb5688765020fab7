"""Policies: pure functions of (snapshot, parameters, seeded RNG) -> proposals.

Every policy is a callable object with a ``name``; its parameters are fixed at construction. It reads
nothing but the snapshot and the RNG it is given, so a cycle can be replayed exactly.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from adpilot.domain.snapshot import Proposal, Snapshot


class Policy(Protocol):
    @property
    def name(self) -> str: ...

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]: ...
