"""Counter-based random numbers for the synthetic clinic.

Every random quantity of the clinic is a pure function of ``(seed, stream, keys...)``,
where the keys are integers such as the client's index and the day's index. A draw is
a SplitMix64 hash of those integers, so it does not depend on which other clients are
generated with it, in which order, or in how many chunks: generating 100,000 clients in
chunks of 2,000 gives byte-for-byte the same clinic as one chunk, and client 17 is the
same person in a 20-client clinic and in a 100,000-client one. All of it is vectorised
NumPy over broadcast key arrays (no Python loop per draw).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_TWO53 = float(2**53)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The SplitMix64 finaliser: a bijective, well-avalanched 64-bit mix (wraps mod 2**64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(_MUL1)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(_MUL2)
    return x ^ (x >> np.uint64(31))


def stream_id(name: str) -> int:
    """A stable integer for a stream name (``hash()`` of a str is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


class KeyedRandom:
    """Random draws addressed by integer keys instead of a generator's hidden state."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def bits(self, stream: str, *keys: ArrayLike) -> NDArray[np.uint64]:
        base = (self.seed * _GOLDEN + stream_id(stream) * _MUL1) % 2**64
        arrays = np.broadcast_arrays(*(np.asarray(k, dtype=np.int64) for k in keys))
        shape = arrays[0].shape if arrays else ()
        h = _mix(np.full(shape, base, dtype=np.uint64))
        for key in arrays:
            h = _mix(h ^ (key.astype(np.uint64) * np.uint64(_GOLDEN)) + np.uint64(_MUL2))
        return h

    def uniform(self, stream: str, *keys: ArrayLike) -> NDArray[np.float64]:
        """Uniform on the open interval (0, 1)."""
        h = self.bits(stream, *keys)
        return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / _TWO53

    def normal(self, stream: str, *keys: ArrayLike) -> NDArray[np.float64]:
        """Standard normal by the inverse CDF (exact tails, no rejection)."""
        out: NDArray[np.float64] = ndtri(self.uniform(stream, *keys))
        return out

    def integers(self, stream: str, n: int | NDArray[Any], *keys: ArrayLike) -> NDArray[np.int64]:
        """Uniform integers in ``[0, n)``; ``n`` may be an array broadcast with the keys."""
        return np.floor(self.uniform(stream, *keys) * n).astype(np.int64)

    def bernoulli(self, stream: str, p: ArrayLike, *keys: ArrayLike) -> NDArray[np.bool_]:
        return self.uniform(stream, *keys) < np.asarray(p, dtype=np.float64)

    def choice(self, stream: str, weights: ArrayLike, *keys: ArrayLike) -> NDArray[np.int64]:
        """Indices drawn with the given (unnormalised) weights."""
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        u = self.uniform(stream, *keys) * cum[-1]
        idx: NDArray[np.int64] = np.searchsorted(cum, u, side="right").astype(np.int64)
        return np.minimum(idx, len(cum) - 1)
