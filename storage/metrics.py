"""Per-session figures derived from stored reps, shared by reports and exports."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from storage.records import PatientHistory, ProgrammeItem, SessionRecord


@dataclass(frozen=True, slots=True)
class SessionFigures:
    reps_total: int
    reps_counted: int
    max_rom_deg: float  # largest range of motion (max - min angle) of a counted rep
    mean_rom_deg: float
    mean_duration_s: float
    tempo_compliance: float  # share of counted reps with tempo ok, 0..1; NaN without reps
    mean_peak_force_n: float
    max_peak_force_n: float
    faults: dict[str, int]  # rule key -> reps with that fault
    duration_s: float  # first rep start to last rep end
    mean_form_score: float = math.nan  # 0-100 over counted reps with a score


def _mean(values: list[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def _max(values: list[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def session_figures(s: SessionRecord) -> SessionFigures:
    reps = s.reps
    counted = [r for r in reps if r.counted]
    faults: Counter[str] = Counter(f for r in reps for f in r.faults)
    starts = [r.start_s for r in reps if math.isfinite(r.start_s)]
    ends = [r.end_s for r in reps if math.isfinite(r.end_s)]
    return SessionFigures(
        reps_total=len(reps),
        reps_counted=len(counted),
        max_rom_deg=_max([r.rom_deg for r in counted]),
        mean_rom_deg=_mean([r.rom_deg for r in counted]),
        mean_duration_s=_mean([r.duration_s for r in counted]),
        tempo_compliance=(sum(r.tempo_ok for r in counted) / len(counted) if counted else math.nan),
        mean_peak_force_n=_mean([r.peak_force_n for r in counted]),
        max_peak_force_n=_max([r.peak_force_n for r in counted]),
        faults=dict(faults),
        duration_s=(max(ends) - min(starts)) if starts and ends else math.nan,
        mean_form_score=_mean([r.form_score for r in counted]),
    )


def programme_item_for(h: PatientHistory, s: SessionRecord) -> ProgrammeItem | None:
    """The programme item a session was done under, else the active one for its exercise."""
    for it in h.programme:
        if s.info.programme_item_id is not None and it.id == s.info.programme_item_id:
            return it
    for it in h.programme:
        if it.exercise_id == s.info.exercise_id and it.side == s.info.side:
            return it
    return None
