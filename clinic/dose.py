"""From a programme item to what the session engine runs: the exercise with the item's dose
(sets, reps, hold, rest) and a personal profile with the item's start, range target,
pain-free limit and load band, so the engine's own checks (the pain-free range, the load
limit) hold the item's numbers."""

from __future__ import annotations

import math
from dataclasses import replace

from clinic.programme import exercise as get_checked_exercise
from exercises.schema import ExerciseDef
from session.targets import PatientProfile, RangeAssessment
from storage.records import ProgrammeItem


def session_plan(item: ProgrammeItem, patient_code: str) -> tuple[ExerciseDef, PatientProfile]:
    ex = get_checked_exercise(item.exercise_id)
    dose = replace(
        ex.dose,
        sets=item.sets,
        reps=item.reps,
        hold_s=item.hold_s if math.isfinite(item.hold_s) else ex.dose.hold_s,
        rest_s=item.rest_s if math.isfinite(item.rest_s) else ex.dose.rest_s,
    )
    ranges: dict[str, RangeAssessment] = {}
    forces: dict[str, float] = {}
    signal = ex.signal
    if math.isfinite(item.range_target_deg) and item.range_target_deg > 0:
        sign = 1.0 if signal.target >= signal.start else -1.0
        start = item.start_deg if math.isfinite(item.start_deg) else signal.start
        limit = (
            start + sign * item.pain_free_limit_deg
            if math.isfinite(item.pain_free_limit_deg)
            else math.nan
        )
        ranges[ex.id] = RangeAssessment(start, start + sign * item.range_target_deg, limit)
        # The item's target is the whole of "end": the engine takes target_share of it.
        signal = replace(signal, target_share=1.0)
    load = ex.load
    lo, hi = item.load_band_n
    if load is not None and math.isfinite(lo) and math.isfinite(hi):
        tested = item.tested_max_n if math.isfinite(item.tested_max_n) else load.default_max_force_n
        used = min(tested, load.default_max_force_n)  # the engine caps a maximum the same way
        forces[ex.id] = tested
        load = replace(load, band_low=lo / used, band_high=hi / used)
    planned = replace(ex, dose=dose, signal=signal, load=load)
    side = item.side if item.side in ("left", "right") else "auto"
    return planned, PatientProfile(patient_code, ranges, forces, side)
