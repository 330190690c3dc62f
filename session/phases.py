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


class Trigger(StrEnum):
    """What moves the session from one phase to the next."""

    IN_VIEW = "in_view"
    COUNTDOWN_OVER = "countdown_over"
    SET_COMPLETE = "set_complete"
    LAST_SET_COMPLETE = "last_set_complete"
    REST_OVER = "rest_over"
    PAUSE = "pause"
    PERSON_LOST = "person_lost"
    RESUME = "resume"
    PERSON_BACK = "person_back"
    SAFETY = "safety"
    ACKNOWLEDGE = "acknowledge"
    FINISH = "finish"
    NOTE = "note"  # a logged event that changes no phase (e.g. a therapist's target change)


_ACTIVE = (Phase.SETUP, Phase.COUNTDOWN, Phase.WORKING, Phase.REST)
T = Trigger

TRANSITIONS: dict[tuple[Phase, Trigger], Phase | None] = {
    (Phase.SETUP, T.IN_VIEW): Phase.COUNTDOWN,
    (Phase.COUNTDOWN, T.COUNTDOWN_OVER): Phase.WORKING,
    (Phase.WORKING, T.SET_COMPLETE): Phase.REST,
    (Phase.WORKING, T.LAST_SET_COMPLETE): Phase.DONE,
    (Phase.REST, T.REST_OVER): Phase.COUNTDOWN,
    **{(p, T.PAUSE): Phase.PAUSED for p in _ACTIVE},
    (Phase.WORKING, T.PERSON_LOST): Phase.PAUSED,
    # None: back to the phase the pause interrupted.
    (Phase.PAUSED, T.RESUME): None,
    (Phase.PAUSED, T.PERSON_BACK): None,
    # A breach stops the session from any phase, the summary included (the machine is still
    # attached while the summary shows).
    **{(p, T.SAFETY): Phase.STOPPED for p in (*_ACTIVE, Phase.PAUSED, Phase.DONE)},
    (Phase.STOPPED, T.ACKNOWLEDGE): Phase.PAUSED,
    **{(p, T.FINISH): Phase.DONE for p in (*_ACTIVE, Phase.PAUSED, Phase.STOPPED)},
}


# Guards: a pause the patient asked for ends only when they ask, not when they reappear.
GUARDS: dict[tuple[Phase, Trigger], Callable[[PhaseMachine], bool]] = {
    (Phase.PAUSED, T.PERSON_BACK): lambda m: m.pause_trigger == Trigger.PERSON_LOST,
}


@dataclass(frozen=True, slots=True)
class Transition:
    t: float
    source: Phase
    target: Phase
    trigger: Trigger
    reason: str


class PhaseMachine:
    def __init__(self, start: Phase = Phase.SETUP) -> None:
        self.phase = start
        self.entered_at = 0.0
        self.log: list[Transition] = []
        self._interrupted = start
        self.pause_trigger: Trigger | None = None

    def log_note(self, t: float, reason: str) -> Transition:
        """A logged event that changes no phase (e.g. a therapist's target override)."""
        tr = Transition(t, self.phase, self.phase, Trigger.NOTE, reason)
        self.log.append(tr)
        return tr

    def can(self, trigger: Trigger) -> bool:
        return (self.phase, trigger) in TRANSITIONS

    def fire(self, trigger: Trigger, t: float, reason: str = "") -> Transition | None:
        """Take the transition if the table allows it; returns it, or None when the table
        has no such transition from the present phase. A trigger that is not a ``Trigger``
        is an error, never ignored."""
        if not isinstance(trigger, Trigger):
            raise ValueError(f"phase trigger: expected a Trigger, got {trigger!r}")
        key = (self.phase, trigger)
        if key not in TRANSITIONS:
            return None
        guard = GUARDS.get(key)
        if guard is not None and not guard(self):
            return None
        target = TRANSITIONS[key]
        if target is None:
            target = self._interrupted
        if target == Phase.PAUSED and self.phase != Phase.STOPPED:
            self._interrupted = self.phase
            self.pause_trigger = trigger
        elif target == Phase.PAUSED:
            self._interrupted = Phase.SETUP  # after a safety stop, start over with setup
            self.pause_trigger = trigger
        tr = Transition(t, self.phase, target, trigger, reason or str(trigger))
        self.log.append(tr)
        self.phase = target
        self.entered_at = t
        return tr
