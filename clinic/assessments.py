"""An assessment's results into storage: each test against its norm (the norm file's version
kept with the run), and the baseline the exercises the protocol informs start from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from assessment.norms import NormTable, Sex, load_norms
from assessment.protocols import Protocol, TestKind
from assessment.results import ComparedResult, PatientFacts, TestResult, compare_results
from exercises.library import get_exercise
from storage import Store
from storage.clinic_records import AssessmentResultRecord, AssessmentRun
from storage.records import Assessment, Patient


def facts(patient: Patient, today: date | None = None) -> PatientFacts:
    """Sex and age in whole years for the norm lookup. Only the birth year is stored, so the
    age is the one reached this calendar year (this year minus the birth year)."""
    today = today or date.today()
    sex = Sex(patient.sex) if patient.sex in ("female", "male") else None
    age = today.year - patient.birth_year if patient.birth_year is not None else None
    return PatientFacts(sex, age)


def record(c: ComparedResult) -> AssessmentResultRecord:
    r, n = c.result, c.norm
    return AssessmentResultRecord(
        test_id=r.test_id, kind=r.kind, label=r.label, unit=r.unit, value=r.value,
        reason=r.reason, trials=r.trials, rejected=r.rejected, angle_deg=r.angle_deg,
        direction=r.direction, side=r.side, at_least=r.at_least, norm_test=n.norm_test,
        norm_mean=n.mean, norm_sd=n.sd, norm_low=n.band[0], norm_high=n.band[1],
        percent_of_norm=n.percent, z_score=n.z, position=n.position.value,
        norm_source=n.source, norm_verified=n.verified, no_norm=n.no_norm,
        flag_note=n.flag_note,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SavedRun:
    run_id: int
    run: AssessmentRun
    compared: tuple[ComparedResult, ...]


def save_run(
    store: Store,
    patient_code: str,
    protocol: Protocol,
    results: Sequence[TestResult],
    *,
    device: str,
    machine_serial: str = "",
    stopped: bool = False,
    started_at: str = "",
    norms: NormTable | None = None,
    today: date | None = None,
) -> SavedRun:
    norms = norms or load_norms()
    patient = store.get_patient(patient_code)
    f = facts(patient, today)
    compared = compare_results(protocol, list(results), norms, f)
    run = AssessmentRun(
        protocol_id=protocol.id,
        results=tuple(record(c) for c in compared),
        started_at=started_at,
        device=device,
        machine_serial=machine_serial,
        norm_version=norms.version,
        sex=f.sex.value if f.sex else "",
        age_years=f.age_years,
        status="stopped" if stopped else "finished",
    )
    run_id = store.add_assessment_run(patient_code, run)
    _baseline(store, patient_code, protocol, run, run_id)
    return SavedRun(run_id, run, tuple(compared))


def _baseline(
    store: Store, patient_code: str, protocol: Protocol, run: AssessmentRun, run_id: int
) -> None:
    """The per-exercise baseline (range and tested maximum) that desk sessions with
    --patient read as personal targets (``app.storage_sink.profile_from_store``)."""
    if protocol.kind != "machine":
        return
    for ex_id in protocol.informs:
        ex = get_exercise(ex_id)
        sign = 1.0 if ex.signal.target >= ex.signal.start else -1.0
        toward = next(
            (
                r for r in run.results
                if r.kind == TestKind.MACHINE_RANGE.value and r.measured
                and (protocol.test(r.test_id).toward or None) is not None
                and protocol.test(r.test_id).toward.sign == sign
            ),
            None,
        )  # fmt: skip
        rom = (toward.angle_deg - ex.signal.start) * sign if toward else math.nan
        strength = [
            r for r in run.results
            if r.kind == TestKind.MACHINE_STRENGTH.value and r.measured
            and toward is not None and r.direction == toward.direction
        ]  # fmt: skip
        best = max(strength, key=lambda r: r.value) if strength else None
        if not (math.isfinite(rom) and rom > 0) and best is None:
            continue
        store.add_assessment(
            patient_code,
            Assessment(
                exercise_id=ex.id,
                rom_deg=rom if math.isfinite(rom) and rom > 0 else math.nan,
                pain_free_rom_deg=rom if math.isfinite(rom) and rom > 0 else math.nan,
                max_force_n=best.value if best else math.nan,
                test_angle_deg=best.angle_deg if best else math.nan,
                notes=f"assessment run {run_id} ({protocol.id})",
            ),
        )
