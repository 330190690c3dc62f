"""Lock-outs that grow: after ``max_failures`` wrong tries in a row the door shuts for
``first_lockout_s``, and each further lock-out lasts ``growth`` times longer (60 s, 2 min,
4 min, ... up to a day). Guessing a 4-digit PIN then takes years instead of hours.

The state is a small frozen value so it can be kept in memory, in a file or in the database.
Times are seconds on one clock (wall-clock seconds when the state is stored).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    first_lockout_s: float = 60.0
    growth: float = 2.0
    longest_lockout_s: float = 24 * 3600.0
    forget_after_s: float = 24 * 3600.0  # this long without a wrong try: the count starts again

    def __post_init__(self) -> None:
        for name in ("first_lockout_s", "growth", "longest_lockout_s", "forget_after_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"lock-out {name}: expected a positive number, got {v}")
        if self.max_failures < 1 or self.growth < 1:
            raise ValueError("lock-out: expected max_failures >= 1 and growth >= 1")

    def duration_s(self, lockouts: int) -> float:
        """How long the ``lockouts``-th lock-out in a row lasts (1-based)."""
        exponent = min(max(lockouts - 1, 0), 64)  # 2**64 minutes is past any cap
        return min(self.first_lockout_s * self.growth**exponent, self.longest_lockout_s)


@dataclass(frozen=True, slots=True)
class LockoutState:
    failures: int = 0  # wrong tries since the last lock-out (or success)
    lockouts: int = 0  # lock-outs in a row; each makes the next one longer
    locked_until: float = -math.inf
    last_failure: float = -math.inf

    def locked_for(self, now: float, policy: LockoutPolicy) -> float:
        """Seconds left, 0 when open. A clock set back cannot stretch it past the longest."""
        left = self.locked_until - now
        return min(left, policy.longest_lockout_s) if left > 0 else 0.0


def after_failure(state: LockoutState, now: float, policy: LockoutPolicy) -> LockoutState:
    """One more wrong try; the returned state is locked when this try used up the last one."""
    if state.locked_for(now, policy) == 0 and now - state.last_failure > policy.forget_after_s:
        state = LockoutState()
    failures = state.failures + 1
    if failures < policy.max_failures:
        return replace(state, failures=failures, last_failure=now)
    lockouts = state.lockouts + 1
    until = now + policy.duration_s(lockouts)
    return LockoutState(0, lockouts, until, now)


def after_success(state: LockoutState, forget_level: bool = True) -> LockoutState:
    """A right answer: the count of wrong tries starts again; with ``forget_level`` the next
    lock-out is a first one again."""
    return LockoutState() if forget_level else replace(state, failures=0)


class Lockout:
    """A ``LockoutState`` kept in memory with its policy and clock."""

    def __init__(
        self,
        policy: LockoutPolicy | None = None,
        clock: Callable[[], float] | None = None,
        state: LockoutState | None = None,
    ) -> None:
        import time

        self.policy = policy if policy is not None else LockoutPolicy()
        self._clock = clock if clock is not None else time.monotonic
        self.state = state if state is not None else LockoutState()

    def locked_for(self) -> float:
        return self.state.locked_for(self._clock(), self.policy)

    def failure(self) -> bool:
        """Count a wrong try; True when it started a lock-out."""
        self.state = after_failure(self.state, self._clock(), self.policy)
        return self.state.failures == 0

    def success(self, forget_level: bool = True) -> None:
        self.state = after_success(self.state, forget_level)

    @property
    def tries_left(self) -> int:
        return self.policy.max_failures - self.state.failures
