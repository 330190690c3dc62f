"""Safety limits checked on every sample, in the reader thread, before anything else sees it.

A value passes only when it is finite and inside its limit; anything else (NaN, infinity,
past the limit) is a breach. With limits set, the machine's declared measuring range caps
them: a limit the sensor can never report would never fire, so a reading past the top of the
range is a breach too.
"""

from __future__ import annotations

import math

from device_bridge.samples import DeviceSample, SafetyEvent, SafetyLimits

# How far below its declared minimum a calibrated value may read: noise around a tared zero
# (the simulator's 1.5 N at rest) and a small zero error pass; 1 % of the force range (30 N on
# 0..3000 N) is under 5 % of a typical load limit. An angle: a little play at the stop.
FORCE_FLOOR_SHARE = 0.01
ANGLE_FLOOR_DEG = 2.0


def floors(force_min: float, force_max: float, angle_min: float) -> tuple[float, float]:
    """The lowest force and angle a calibrated sample may read, from the declared range."""
    return force_min - FORCE_FLOOR_SHARE * (force_max - force_min), angle_min - ANGLE_FLOOR_DEG


class SafetyMonitor:
    """Turns limit crossings into events.

    One event when a channel enters a breach, not one per sample while it stays there: at
    1,000 samples a second a held overload would otherwise flood the session. A new event is
    raised after the value has come back inside the limit and crosses again.
    """

    def __init__(self, limits: SafetyLimits | None = None) -> None:
        self.limits = limits
        self._range: tuple[float, float, float] | None = None
        self._floors = (-math.inf, -math.inf)
        self._in_overload = False
        self._in_range_breach = False
        self._update()

    def set_limits(self, limits: SafetyLimits | None) -> None:
        self.limits = limits
        self._in_overload = False
        self._in_range_breach = False
        self._update()

    def set_measuring_range(
        self,
        max_force_n: float,
        min_angle: float,
        max_angle: float,
        floors: tuple[float, float] = (-math.inf, -math.inf),
    ) -> None:
        """The machine's declared range in calibrated units (from its hello), and the lowest
        force and angle a sample may read whatever the calibration (``floors()``)."""
        self._range = (max_force_n, min_angle, max_angle)
        self._floors = floors
        self._update()

    def _update(self) -> None:
        lim = self.limits
        self.min_force, angle_floor = self._floors
        if lim is None:
            self.checked = (math.inf, angle_floor, math.inf)
            return
        top, low, high = self._range or (math.inf, -math.inf, math.inf)
        # min/max with the limit first: a NaN range (none known) never replaces a limit.
        self.checked = (
            min(lim.max_force_n, top),
            max(lim.min_angle_deg, low, angle_floor),
            min(lim.max_angle_deg, high),
        )

    def check(self, s: DeviceSample) -> list[SafetyEvent]:
        max_force, min_angle, max_angle = self.checked
        events: list[SafetyEvent] = []
        force, angle = s.force_n, s.angle_deg
        over = not (math.isfinite(force) and self.min_force <= force <= max_force)
        if over and not self._in_overload:
            # Below the floor: the limit named is the floor the reading fell under.
            limit = self.min_force if force < self.min_force else max_force
            events.append(SafetyEvent(s.host_time_s, "overload", force, limit, s.seq))
        self._in_overload = over
        if math.isfinite(angle) and min_angle <= angle <= max_angle:
            limit = None
        elif angle < min_angle:
            limit = min_angle
        else:  # past the top, or NaN / infinite
            limit = max_angle
        if limit is not None and not self._in_range_breach:
            events.append(SafetyEvent(s.host_time_s, "range", angle, limit, s.seq))
        self._in_range_breach = limit is not None
        return events
