"""Common random numbers: every random quantity is a pure function of (seed, stream, entity, day).

Two runs with the same seed see the same noise for the same ad on the same day, whatever the policy
did elsewhere, so policies are compared on equal footing. Uniforms come from a splitmix64 hash of the
key; counts come from inverse CDFs of those uniforms.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray
from scipy import special

U64 = np.uint64
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)
_GOLD = U64(0x9E3779B97F4A7C15)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def stable_key(*parts: object) -> int:
    """A 64-bit key from text parts, stable across processes and platforms."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> U64(30))) * _M1
        x = (x ^ (x >> U64(27))) * _M2
        return x ^ (x >> U64(31))


class Noise:
    """Uniform, normal and count draws keyed by (stream, entity keys, day)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def uniform(self, stream: str, keys: NDArray[np.uint64], day: int) -> FloatArray:
        base = U64(stable_key(self.seed, stream, day))
        with np.errstate(over="ignore"):
            h = _mix(keys.astype(np.uint64) * _GOLD + base)
        return ((h >> U64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)

    def normal(self, stream: str, keys: NDArray[np.uint64], day: int) -> FloatArray:
        return np.asarray(special.ndtri(self.uniform(stream, keys, day)), dtype=np.float64)

    def scalar_normal(self, *parts: object) -> float:
        """One standard normal from a key of parts (element effects, creative qualities)."""
        u = (stable_key(self.seed, *parts) >> 11) / 9007199254740992.0
        return float(special.ndtri(min(max(u, 1e-12), 1 - 1e-12)))


def binomial_from_uniform(u: FloatArray, n: IntArray, p: FloatArray) -> IntArray:
    """Inverse-CDF binomial draws: exact for small variances, normal approximation for large ones."""
    n = np.asarray(n, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    out = np.zeros(n.shape, dtype=np.int64)
    var = n * p * (1 - p)
    big = var >= 25
    if big.any():
        approx = np.rint(n[big] * p[big] + np.sqrt(var[big]) * special.ndtri(u[big]))
        out[big] = np.clip(approx, 0, n[big]).astype(np.int64)
    small = ~big & (n > 0) & (p > 0)
    if small.any():
        out[small] = _exact_binomial(u[small], n[small], p[small])
    return out


def _exact_binomial(u: FloatArray, n: IntArray, p: FloatArray) -> IntArray:
    q = 1.0 - p
    full = q <= 0  # p == 1: every trial succeeds
    ratio = np.where(full, 0.0, p / np.where(full, 1.0, q))
    pmf = np.where(full, 0.0, np.exp(n * np.log1p(-np.minimum(p, 1 - 1e-15))))
    cdf = pmf.copy()
    k = np.zeros(n.shape, dtype=np.int64)
    active = (cdf < u) & (k < n) & ~full
    step = 0
    while active.any() and step < 400:
        idx = np.nonzero(active)[0]
        pmf[idx] *= (n[idx] - k[idx]) / (k[idx] + 1) * ratio[idx]
        k[idx] += 1
        cdf[idx] += pmf[idx]
        active[idx] = (cdf[idx] < u[idx]) & (k[idx] < n[idx])
        step += 1
    return np.where(full, n, k)


def systematic_round(x: FloatArray, u: FloatArray) -> IntArray:
    """floor(x + u) for u ~ U(0,1): unbiased integer rounding that is monotone in x for a fixed u."""
    return np.floor(x + u).astype(np.int64)
