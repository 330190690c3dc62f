"""One primary cue at a time: chosen by severity then priority, shown for a minimum time.

Standing conditions (a posture fault, "step into view") are offered every frame while they
hold; events ("good rep", a tempo prompt) are offered once and stay eligible for a short
while. A shown cue stays up for ``min_show_s`` unless something more severe arrives; a
safety cue preempts at once and stays until cleared.
"""

from __future__ import annotations

from dataclasses import dataclass

from language import cue_text
from session.snapshot import Cue, Severity

MIN_SHOW_S = 1.5
EVENT_TTL_S = 1.5


@dataclass(frozen=True, slots=True)
class CueLogEntry:
    t: float
    key: str
    text: str
    severity: Severity


class CueSelector:
    def __init__(self, lang: str = "en", min_show_s: float = MIN_SHOW_S) -> None:
        self.lang = lang
        self.min_show_s = min_show_s
        self.current: Cue | None = None
        self._events: dict[
            str, tuple[Severity, int, float]
        ] = {}  # key -> severity, priority, until
        self.log: list[CueLogEntry] = []
        self._priority = 0  # of the cue shown

    def event(self, t: float, key: str, severity: Severity, priority: int = 50) -> None:
        self._events[key] = (severity, priority, t + EVENT_TTL_S)

    def choose(self, t: float, standing: list[tuple[str, Severity, int]]) -> Cue | None:
        """``standing``: (key, severity, priority) conditions true on this frame."""
        self._events = {k: v for k, v in self._events.items() if v[2] > t}
        offers = {key: (sev, pri) for key, sev, pri in standing}
        for key, (sev, pri, _) in self._events.items():
            if key not in offers or offers[key][0] < sev:
                offers[key] = (sev, pri)
        best = max(offers.items(), key=lambda kv: (kv[1][0], kv[1][1]), default=None)
        cur = self.current
        if cur is not None:
            still_offered = cur.key in offers
            young = t - cur.since_s < self.min_show_s
            outranked = best is not None and best[1][0] > cur.severity
            if cur.severity == Severity.SAFETY and still_offered:
                return cur
            if still_offered and not outranked and (best is None or best[0] == cur.key or young):
                return cur
            # A cue no longer offered stays out its minimum time, unless the best offer now
            # ranks above it (a pause's "step back into view" over a fading "Go!").
            ranks_above = best is not None and best[1] > (cur.severity, self._priority)
            if not still_offered and young and not ranks_above:
                return cur
        if best is None:
            self.current = None
            return None
        key, (sev, _) = best
        self._priority = best[1][1]
        if cur is None or cur.key != key:
            self.current = Cue(key, cue_text(key, self.lang), Severity(sev), since_s=t)
            self.log.append(CueLogEntry(t, key, self.current.text, Severity(sev)))
        return self.current
