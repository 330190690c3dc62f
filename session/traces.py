"""A bounded ring of (time, value) points for the therapist's live traces."""

from __future__ import annotations

import numpy as np


class TraceBuffer:
    def __init__(self, capacity: int = 2048) -> None:
        self._t = np.full(capacity, np.nan)
        self._v = np.full(capacity, np.nan)
        self._n = 0  # points ever appended
        self.capacity = capacity

    def append(self, t: float, value: float) -> None:
        i = self._n % self.capacity
        self._t[i] = t
        self._v[i] = value
        self._n += 1

    @property
    def last(self) -> tuple[float, float] | None:
        if self._n == 0:
            return None
        i = (self._n - 1) % self.capacity
        return float(self._t[i]), float(self._v[i])

    def window(self, now: float, span_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Points with ``now - span_s <= t``, oldest first (copies)."""
        n = min(self._n, self.capacity)
        start = (self._n - n) % self.capacity
        order = (np.arange(n) + start) % self.capacity
        t, v = self._t[order], self._v[order]
        keep = t >= now - span_s
        return t[keep], v[keep]
