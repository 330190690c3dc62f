"""Safety limits checked on every sample, in the reader thread, before anything else sees it."""

from __future__ import annotations

from device_bridge.samples import DeviceSample, SafetyEvent, SafetyLimits


class SafetyMonitor:
    """Turns limit crossings into events.

    One event when a channel enters a breach, not one per sample while it stays there: at
    1,000 samples a second a held overload would otherwise flood the session. A new event is
    raised after the value has come back inside the limit and crosses again.
    """

    def __init__(self, limits: SafetyLimits | None = None) -> None:
        self.limits = limits
        self._in_overload = False
        self._in_range_breach = False

    def set_limits(self, limits: SafetyLimits | None) -> None:
        self.limits = limits
        self._in_overload = False
        self._in_range_breach = False

    def check(self, s: DeviceSample) -> list[SafetyEvent]:
        lim = self.limits
        if lim is None:
            return []
        events: list[SafetyEvent] = []
        over = s.force_n > lim.max_force_n
        if over and not self._in_overload:
            events.append(SafetyEvent(s.host_time_s, "overload", s.force_n, lim.max_force_n, s.seq))
        self._in_overload = over
        if s.angle_deg > lim.max_angle_deg:
            limit = lim.max_angle_deg
        elif s.angle_deg < lim.min_angle_deg:
            limit = lim.min_angle_deg
        else:
            limit = None
        if limit is not None and not self._in_range_breach:
            events.append(SafetyEvent(s.host_time_s, "range", s.angle_deg, limit, s.seq))
        self._in_range_breach = limit is not None
        return events
