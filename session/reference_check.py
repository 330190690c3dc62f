"""An exercise's reference movement, replayed through the real session engine, must pass the
exercise's own rules and count as exactly one rep (or one hold).

The engine runs open-ended (a recording's analysis: no set-up, no countdown, one set), fed
the reference as poses of a 16:9 camera at 30 frames a second and, for machine work, machine
samples at 100 a second with the force inside the load band. Used by
``main.py --check-exercises`` and ``tests/test_exercise_references.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exercises.reference import ASPECT, FPS, Reference
from exercises.schema import ExerciseDef
from session.engine import SessionConfig, SessionEngine
from session.events import EndInput
from session.reference_inputs import reference_inputs
from session.snapshot import Severity

# Cues that are not posture faults yet say the reference is not what it should be.
_BAD_CUES = ("machine.sources_disagree", "load.too_low", "load.too_high", "generic.too_far")


@dataclass
class ReplayResult:
    """What the engine made of the reference."""

    reps: int = 0  # counted reps
    partials: int = 0
    holds: int = 0  # completed holds
    faults: list[str] = field(default_factory=list)  # rules that warned or faulted
    cues: list[str] = field(default_factory=list)  # warning cues and the ones in _BAD_CUES
    tempo_ok: bool = True
    safety: list[str] = field(default_factory=list)
    engine: SessionEngine | None = None


def replay_reference(exercise: ExerciseDef, ref: Reference, fps: float = FPS) -> ReplayResult:
    """Feed the reference to a fresh open-ended engine and report what it counted and flagged."""
    config = SessionConfig(setup_s=0.0, countdown_s=0.0, open_ended=True)
    eng = SessionEngine(exercise, None, config, aspect=ASPECT)
    last_t = 0.0
    for inp in reference_inputs(exercise, ref, fps):
        eng.feed(inp)
        last_t = inp.t
    eng.feed(EndInput(last_t))
    res = ReplayResult(engine=eng)
    res.reps = sum(1 for r in eng.reps if r.counted)
    res.partials = sum(1 for r in eng.reps if not r.counted)
    res.holds = sum(1 for h in eng.holds if h.completed)
    res.faults = sorted({key for _, key, _ in eng.fault_log})
    res.cues = sorted(
        {c.key for c in eng.cues.log if c.severity >= Severity.WARNING or c.key in _BAD_CUES}
    )
    res.tempo_ok = all(r.tempo_ok for r in eng.reps)
    res.safety = [str(e.kind) for e in eng.safety_events]
    return res


def reference_problems(exercise: ExerciseDef, ref: Reference) -> list[str]:
    """Why the reference is not a good example of the exercise; empty when it is."""
    res = replay_reference(exercise, ref)
    problems = []
    if exercise.mode == "hold":
        if res.holds != 1:
            problems.append(f"{res.holds} completed holds, expected 1")
    elif res.reps != 1 or res.partials:
        problems.append(f"{res.reps} reps and {res.partials} partial, expected 1 rep")
    if res.faults:
        problems.append(f"rules flagged: {', '.join(res.faults)}")
    if res.cues:
        problems.append(f"cues: {', '.join(res.cues)}")
    if not res.tempo_ok:
        shown = ""
        if res.engine is not None and res.engine.rep_records:
            rec = res.engine.rep_records[0]
            shown = f" (out {rec.out_s:.1f} s, hold {rec.hold_s:.1f} s, back {rec.back_s:.1f} s)"
        problems.append("tempo outside the exercise's" + shown)
    if res.safety:
        problems.append(f"safety stop: {', '.join(res.safety)}")
    return problems
