"""A recorded session run again from its inputs, without the live loop: the therapist's
re-analysis after a change of threshold or target, and the accuracy benchmarks.

It is the live engine fed as fast as it goes, so it gives exactly what a live session with
the same inputs gave (the same compiled step per input, the same phases and cue choice).
For a sweep of thresholds over the checks alone, :func:`kernels.batch.analyse_session` runs
the same step over whole arrays in one compiled loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from exercises.schema import ExerciseDef
from session.engine import SessionConfig, SessionEngine
from session.events import EndInput, SessionInput
from session.targets import PatientProfile


def reanalyse(
    exercise: ExerciseDef,
    inputs: Iterable[SessionInput],
    profile: PatientProfile | None = None,
    config: SessionConfig | None = None,
    aspect: float = math.nan,
) -> SessionEngine:
    """Feed ``inputs`` in order to a fresh engine (open-ended unless ``config`` says
    otherwise) and end it; returns the engine with its records (reps, holds, faults, cues)."""
    engine = SessionEngine(exercise, profile, config or SessionConfig(open_ended=True))
    engine.set_aspect(aspect)
    last = None
    for inp in inputs:
        engine.feed(inp)
        engine.take_events()
        last = inp
        if isinstance(inp, EndInput):
            return engine
    engine.feed(EndInput(engine.now if last is not None else 0.0))
    engine.take_events()
    return engine
