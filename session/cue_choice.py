"""Which conditions stand on an input: the cues the session offers the cue selector.

Standing conditions (a posture fault, "step into view", "stop") are offered on every input
while they hold; events (a good rep, a tempo prompt) go to the selector once, when they happen.
"""

from __future__ import annotations

from dataclasses import dataclass

from exercises.schema import ExerciseDef
from kernels.loading import ABOVE, BELOW
from kernels.reps import RepPhase
from kernels.rules import FAULT, WARNING
from session.phases import Phase, Trigger
from session.setup_check import SetupProblem
from session.snapshot import Severity

OVERSHOOT_SHARE = 0.15  # past the target by this share of the range: "not so far" cue

Offer = tuple[str, Severity, int]  # cue key, severity, priority


@dataclass(frozen=True, slots=True)
class Standing:
    """What the cue choice reads of the session on one input."""

    phase: Phase
    pause_trigger: Trigger | None
    safety_cue: str | None
    setup_problem: SetupProblem | None  # before a set: what the camera cannot see yet
    status: tuple[int, ...]  # each exercise rule's status on the working side
    active: tuple[bool, ...]  # whether it counts in the present rep phase
    progress: float  # range of motion, 0 start .. 1 target
    personal_range: bool  # going past the target matters (the patient's own, or a limit)
    rep_phase: RepPhase
    load_band: int
    fusion_difference: float
    held_s: float


def standing_cues(ex: ExerciseDef, s: Standing) -> list[Offer]:
    ph = s.phase
    if ph == Phase.STOPPED:
        return [(s.safety_cue or "safety.overload", Severity.SAFETY, 100)]
    if ph == Phase.PAUSED:
        lost = s.pause_trigger == Trigger.PERSON_LOST
        return [("session.person_lost" if lost else "session.paused", Severity.INFO, 90)]
    if ph == Phase.SETUP:
        if s.setup_problem is not None:
            return [(s.setup_problem.value, Severity.INFO, 55)]
        return [("session.step_into_view", Severity.INFO, 50)]
    if ph == Phase.COUNTDOWN:
        return [("session.get_ready", Severity.INFO, 50)]
    if ph == Phase.REST:
        return [("session.rest", Severity.INFO, 50)]
    if ph == Phase.DONE:
        return [("session.done", Severity.POSITIVE, 50)]
    out: list[Offer] = []
    for rd, st, active in zip(ex.rules, s.status, s.active, strict=True):
        if active and st in (WARNING, FAULT):
            out.append((rd.cue, Severity.FAULT if st == FAULT else Severity.WARNING, rd.priority))
    if s.personal_range and s.progress > 1.0 + OVERSHOOT_SHARE:
        out.append(("generic.too_far", Severity.WARNING, 70))
    moving = s.rep_phase != RepPhase.REST
    if moving and s.load_band == ABOVE:
        out.append(("load.too_high", Severity.WARNING, 65))
    elif moving and s.load_band == BELOW:
        out.append(("load.too_low", Severity.INFO, 35))
    fu = ex.fusion
    if fu is not None and abs(s.fusion_difference) > fu.max_difference:
        out.append(("machine.sources_disagree", Severity.INFO, 15))
    if not out:
        if ex.mode == "hold":
            key = "session.hold" if s.held_s > 0 else "session.get_into_position"
            out.append((key, Severity.INFO, 10))
        elif moving:
            out.append(("session.good_form", Severity.POSITIVE, 10))
    return out
