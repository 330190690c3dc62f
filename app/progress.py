"""One line on the terminal while a long analysis runs: frames done, poses a second, time left.
Quiet when the output is not a terminal (a pipe, a file, CI), so logs stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL_S = 0.5


class ProgressLine:
    def __init__(self, name: str, total: int, out: TextIO | None = None) -> None:
        self.name = name
        self.total = total  # frames the source declares (0: unknown)
        self.out = out or sys.stderr
        self.shown = self.out.isatty()
        self._t0 = time.monotonic()
        self._last = -float("inf")
        self._drawn = False

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.shown or (not force and now - self._last < INTERVAL_S):
            return
        self._last = now
        elapsed = now - self._t0
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"{self.name}: {done}"
        if self.total > 0:
            line += f"/{self.total} frames ({100 * done / self.total:.0f} %)"
        else:
            line += " frames"
        line += f", {rate:.1f} poses/s"
        if self.total > 0 and rate > 0 and done < self.total:
            line += f", {(self.total - done) / rate:.0f} s left"
        self.out.write("\r\x1b[K" + line)
        self.out.flush()
        self._drawn = True

    def close(self, done: int) -> None:
        if self._drawn:
            self.update(done, force=True)
            self.out.write("\n")
            self.out.flush()
