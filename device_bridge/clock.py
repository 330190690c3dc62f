"""Maps the machine's clock onto the host's monotonic clock: offset and drift.

Each sample arrives some time after it was taken (wire time, USB and OS latency, never less
than zero). So ``host_receipt - device_time`` is the clock offset plus a positive delay, and
its lower envelope is the offset plus the smallest delay. The map keeps the minimum of that
difference per block of device time and fits a line through the block minima: the intercept
is the offset, the slope the drift (crystal error, tens of ppm on real machines).
"""

from __future__ import annotations

from collections import deque


class ClockMap:
    def __init__(self, block_s: float = 0.5, blocks: int = 60) -> None:
        self._block_s = block_s
        self._minima: deque[tuple[float, float]] = deque(maxlen=blocks)
        self._last_host = float("-inf")  # kept across resets: host time never goes back
        self.reset()

    def reset(self) -> None:
        """A new connection or a machine reboot: the device clock starts over."""
        self._minima.clear()
        self._block_start: float | None = None
        self._block_min = (0.0, float("inf"))  # (device time, host - device)
        self._offset = float("inf")
        self._drift = 0.0
        self._d0 = 0.0

    @property
    def drift_ppm(self) -> float:
        """How much faster the machine's clock runs than the host's, parts per million."""
        return (1.0 / (1.0 + self._drift) - 1.0) * 1e6

    def observe(self, device_s: float, host_receipt_s: float) -> float:
        """Feed one sample's device time and receipt time; return its host time."""
        diff = host_receipt_s - device_s
        if self._block_start is None:
            self._block_start = device_s
            self._d0 = device_s
        if diff < self._block_min[1]:
            self._block_min = (device_s, diff)
        if device_s - self._block_start >= self._block_s:
            self._minima.append(self._block_min)
            self._block_start = device_s
            self._block_min = (device_s, diff)
            self._fit()
        if not self._minima:
            self._offset = min(self._offset, diff)
            mapped = device_s + self._offset
        else:
            mapped = device_s + self._offset + self._drift * (device_s - self._d0)
        # A sample cannot have been taken after it arrived, and host times never go back.
        mapped = min(mapped, host_receipt_s)
        mapped = max(mapped, self._last_host)
        self._last_host = mapped
        return mapped

    def _fit(self) -> None:
        pts = self._minima
        n = len(pts)
        if n < 3:
            self._offset = min(p[1] for p in pts)
            self._drift = 0.0
            return
        d0 = self._d0
        mx = sum(p[0] - d0 for p in pts) / n
        my = sum(p[1] for p in pts) / n
        sxx = sum((p[0] - d0 - mx) ** 2 for p in pts)
        if sxx <= 0:
            return
        slope = sum((p[0] - d0 - mx) * (p[1] - my) for p in pts) / sxx
        # A least-squares line sits in the middle of the block minima; shift it down so it
        # follows their lower envelope, which is where the true offset lies.
        intercept = my - slope * mx
        shift = min(p[1] - (intercept + slope * (p[0] - d0)) for p in pts)
        self._drift = slope
        self._offset = intercept + shift
