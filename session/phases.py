r"""The session's phase machine: states and guarded transitions, all in one table.

```
 setup --in_view--> countdown --countdown_over--> working --set_complete--> rest
   ^                    ^                            |  \--last_set_complete--> done
   |                    +-------rest_over------------+-- rest
   |
 paused <--pause / person_lost-- (setup, countdown, working, rest)
 paused --resume / person_back--> the phase it interrupted
 any --safety--> stopped --acknowledge--> paused          any --finish--> done
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    SETUP = "setup"
    COUNTDOWN = "countdown"
    WORKING = "working"
    REST = "rest"
    PAUSED = "paused"
    STOPPED = "stopped"
    DONE = "done"


_ACTIVE = (Phase.SETUP, Phase.COUNTDOWN, Phase.WORKING, Phase.REST)

TRANSITIONS: dict[tuple[Phase, str], Phase | None] = {
    (Phase.SETUP, "in_view"): Phase.COUNTDOWN,
    (Phase.COUNTDOWN, "countdown_over"): Phase.WORKING,
    (Phase.WORKING, "set_complete"): Phase.REST,
    (Phase.WORKING, "last_set_complete"): Phase.DONE,
    (Phase.REST, "rest_over"): Phase.COUNTDOWN,
    **{(p, "pause"): Phase.PAUSED for p in _ACTIVE},
    (Phase.WORKING, "person_lost"): Phase.PAUSED,
    # None: back to the phase the pause interrupted.
    (Phase.PAUSED, "resume"): None,
    (Phase.PAUSED, "person_back"): None,
    # A breach stops the session from any phase, the summary included (the machine is still
    # attached while the summary shows).
    **{(p, "safety"): Phase.STOPPED for p in (*_ACTIVE, Phase.PAUSED, Phase.DONE)},
    (Phase.STOPPED, "acknowledge"): Phase.PAUSED,
    **{(p, "finish"): Phase.DONE for p in (*_ACTIVE, Phase.PAUSED, Phase.STOPPED)},
}


# Guards: a pause the patient asked for ends only when they ask, not when they reappear.
GUARDS: dict[tuple[Phase, str], Callable[[PhaseMachine], bool]] = {
    (Phase.PAUSED, "person_back"): lambda m: m.pause_trigger == "person_lost",
}


@dataclass(frozen=True, slots=True)
class Transition:
    t: float
    source: Phase
    target: Phase
    trigger: str
    reason: str


class PhaseMachine:
    def __init__(self, start: Phase = Phase.SETUP) -> None:
        self.phase = start
        self.entered_at = 0.0
        self.log: list[Transition] = []
        self._interrupted = start
        self.pause_trigger = ""

    def log_note(self, t: float, reason: str) -> None:
        """A logged event that changes no phase (e.g. a therapist's target override)."""
        self.log.append(Transition(t, self.phase, self.phase, "note", reason))

    def can(self, trigger: str) -> bool:
        return (self.phase, trigger) in TRANSITIONS

    def fire(self, trigger: str, t: float, reason: str = "") -> bool:
        """Take the transition if the table allows it; returns whether it happened."""
        key = (self.phase, trigger)
        if key not in TRANSITIONS:
            return False
        guard = GUARDS.get(key)
        if guard is not None and not guard(self):
            return False
        target = TRANSITIONS[key]
        if target is None:
            target = self._interrupted
        if target == Phase.PAUSED and self.phase != Phase.STOPPED:
            self._interrupted = self.phase
            self.pause_trigger = trigger
        elif target == Phase.PAUSED:
            self._interrupted = Phase.SETUP  # after a safety stop, start over with setup
            self.pause_trigger = trigger
        self.log.append(Transition(t, self.phase, target, trigger, reason or trigger))
        self.phase = target
        self.entered_at = t
        return True
