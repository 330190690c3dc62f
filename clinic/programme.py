"""A patient's programme: suggested from an assessment, checked, edited by the therapist.

The suggested start dose (``suggest``), per exercise the assessment informs:

- machine items: the range target is a share (``[start] range_share``) of the pain-free range
  just measured, from the start angle (the exercise's own, moved inside the measured range if
  it lies outside) toward the measured limit; the pain-free limit is that measured limit, so
  the session stops at the first sample past it. The load band is a share of the highest
  isometric force measured in the exercise's direction (``[start] load_*_share``);
- floor items: sets, reps and holds from the exercise's own dose; a hold no longer than a
  share of what the patient held in the assessment's endurance test of the same exercise.

Every item is checked before it is stored (``check_item``): a range target at or past the
pain-free limit, or a load band reaching the load that stops the exercise, is refused. Every
change of dose goes through here or ``clinic.progression`` (the command line, the kiosk's
therapist view, the dashboard), stored with who, when and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assessment.protocols import Protocol, TestKind, get_protocol
from clinic.errors import ProgrammeError
from clinic.rules import RuleBook, load_rules
from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from exercises.schema import ExerciseDef
from storage import ProgrammeChanged, Store
from storage.clinic_records import AssessmentRun, Dose, DoseChange, DoseDecision, Programme
from storage.records import ProgrammeItem

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Suggestion:
    items: tuple[ProgrammeItem, ...]
    notes: tuple[str, ...]  # why each number is what it is, for the therapist
    runs: tuple[int, ...]  # the assessment runs it was built from


def exercise(exercise_id: str) -> ExerciseDef:
    try:
        return get_exercise(exercise_id)
    except (UnknownExercise, ExerciseError) as exc:
        raise ProgrammeError(str(exc).strip('"')) from None


def _sign(ex: ExerciseDef) -> float:
    return 1.0 if ex.signal.target >= ex.signal.start else -1.0


def tempo_s(ex: ExerciseDef) -> float:
    parts = [ex.tempo.out_s, ex.tempo.hold_s, ex.tempo.back_s]
    known = [p for p in parts if math.isfinite(p)]
    return sum(known) if known else NAN


def machine_item(
    ex: ExerciseDef, protocol: Protocol, run: AssessmentRun, book: RuleBook
) -> tuple[ProgrammeItem | None, list[str]]:
    """The suggested dose of one machine exercise from one machine assessment."""
    sign = _sign(ex)
    ranges = [
        (protocol.test(r.test_id), r)
        for r in run.results
        if r.kind == TestKind.MACHINE_RANGE.value and r.measured
    ]
    toward = next(((t, r) for t, r in ranges if t.toward and t.toward.sign == sign), None)
    away = next(((t, r) for t, r in ranges if t.toward and t.toward.sign == -sign), None)
    if toward is None:
        return None, [f"{ex.id}: no pain-free range measured toward its movement: not suggested"]
    test, limit = toward
    limit_angle = limit.angle_deg
    start = ex.signal.start
    notes = []
    if away is not None and (start - away[1].angle_deg) * sign < 0:
        notes.append(
            f"{ex.id}: starts at {away[1].angle_deg:.0f} deg, the furthest pain-free "
            f"{away[0].direction} measured (its usual start {start:.0f} deg is past it)"
        )
        start = away[1].angle_deg
    rom = (limit_angle - start) * sign
    if not rom > 0:
        return None, [f"{ex.id}: no pain-free range from the start toward {test.direction}"]
    s = book.start
    target = round(s.range_share * rom, 1)
    notes.append(
        f"{ex.id}: range target {target:.0f} deg of movement = {s.range_share:.0%} of the "
        f"pain-free {rom:.0f} deg ({start:.0f} to {limit_angle:.0f} deg); the session stops "
        f"past {rom:.0f} deg. {s.range_reason}"
    )
    strength = [
        r for r in run.results
        if r.kind == TestKind.MACHINE_STRENGTH.value and r.measured
        and r.direction == test.direction
    ]  # fmt: skip
    band = (NAN, NAN)
    tested = NAN
    if strength and ex.load is not None:
        best = max(strength, key=lambda r: r.value)
        tested = round(best.value, 1)
        band = (round(s.load_low_share * tested, 1), round(s.load_high_share * tested, 1))
        notes.append(
            f"{ex.id}: load band {band[0]:.0f}-{band[1]:.0f} N = {s.load_low_share:.0%}-"
            f"{s.load_high_share:.0%} of the tested maximum {tested:.0f} N (at "
            f"{best.angle_deg:.0f} deg). {s.load_reason}"
        )
    elif ex.load is not None:
        notes.append(f"{ex.id}: no strength measured: no load band (the exercise's defaults apply)")
    item = ProgrammeItem(
        exercise_id=ex.id,
        sets=ex.dose.sets,
        reps=ex.dose.reps,
        tempo_s=tempo_s(ex),
        hold_s=ex.dose.hold_s if math.isfinite(ex.dose.hold_s) and ex.dose.hold_s > 0 else NAN,
        load_band_n=band,
        range_target_deg=target,
        pain_free_limit_deg=round(rom, 1),
        start_deg=round(start, 1),
        rest_s=ex.dose.rest_s,
        tested_max_n=tested,
    )
    notes.append(f"{ex.id}: {item.sets} x {item.reps} from the exercise's dose")
    return item, notes


def floor_item(
    ex: ExerciseDef, protocol: Protocol, run: AssessmentRun, book: RuleBook
) -> tuple[ProgrammeItem, list[str]]:
    notes = [f"{ex.id}: {ex.dose.sets} x {ex.dose.reps} from the exercise's dose"]
    hold = ex.dose.hold_s if ex.mode == "hold" else NAN
    if ex.mode == "hold":
        held = [
            r.value for r in run.results
            if r.kind == TestKind.CAMERA_HOLD.value and r.measured
            and protocol.test(r.test_id).exercise == ex.id
        ]  # fmt: skip
        if held:
            cap = book.start.hold_share_of_measured * min(held)
            if cap < hold:
                notes.append(
                    f"{ex.id}: holds of {cap:.0f} s, not the exercise's {hold:.0f} s: "
                    f"{book.start.hold_share_of_measured:.0%} of the {min(held):.0f} s held in "
                    f"the assessment. {book.start.hold_reason}"
                )
                hold = round(max(book.steps.hold_min_s, cap), 1)
    item = ProgrammeItem(
        exercise_id=ex.id,
        sets=ex.dose.sets,
        reps=ex.dose.reps,
        tempo_s=tempo_s(ex) if ex.mode == "reps" else NAN,
        hold_s=hold,
        rest_s=ex.dose.rest_s,
    )
    return item, notes


def suggest(store: Store, patient_code: str, book: RuleBook | None = None) -> Suggestion:
    """The start dose from the latest assessment of each protocol the patient has done."""
    book = book or load_rules()
    runs = store.assessment_runs(patient_code)
    if not runs:
        raise ProgrammeError(
            f"{patient_code} has no assessment yet: run 'main.py assess --patient "
            f"{patient_code} --protocol ID' first"
        )
    latest: dict[str, AssessmentRun] = {}
    for r in runs:
        latest[r.protocol_id] = r
    items: list[ProgrammeItem] = []
    notes: list[str] = []
    for pid, run in latest.items():
        try:
            protocol = get_protocol(pid)
        except Exception as exc:  # a protocol file removed since: say so, keep the rest
            notes.append(f"{pid}: protocol not available ({exc}); its results are not used")
            continue
        for ex_id in protocol.informs:
            ex = exercise(ex_id)
            if protocol.kind == "machine":
                item, why = machine_item(ex, protocol, run, book)
            else:
                item, why = floor_item(ex, protocol, run, book)
            notes += why
            if item is not None and all(i.exercise_id != item.exercise_id for i in items):
                items.append(item)
    if not items:
        raise ProgrammeError(f"nothing to suggest for {patient_code}: " + "; ".join(notes))
    return Suggestion(tuple(items), tuple(notes), tuple(r.id for r in latest.values() if r.id))


# A number past these is a typing slip, not a dose: no hold of minutes, no movement of more
# than half a turn.
_CEILINGS = {"hold_s": 300.0, "range_target_deg": 180.0, "pain_free_limit_deg": 180.0}


def check_item(item: ProgrammeItem) -> ProgrammeItem:
    """Refuse a dose that is unsafe or makes no sense; returns the item unchanged."""
    ex = exercise(item.exercise_id)
    name = f"{item.exercise_id}{' ' + item.side if item.side else ''}"
    if not 1 <= item.sets <= 10:
        raise ProgrammeError(f"{name}: sets: expected 1 to 10, got {item.sets}")
    if not 1 <= item.reps <= 100:
        raise ProgrammeError(f"{name}: reps: expected 1 to 100, got {item.reps}")
    for field_name in ("hold_s", "rest_s", "tempo_s", "range_target_deg", "pain_free_limit_deg"):
        v = getattr(item, field_name)
        if math.isinf(v) or (math.isfinite(v) and v < 0):
            raise ProgrammeError(f"{name}: {field_name}: expected a number >= 0, got {v}")
        top = _CEILINGS.get(field_name, math.inf)
        if math.isfinite(v) and v > top:
            raise ProgrammeError(f"{name}: {field_name}: expected at most {top:g}, got {v:g}")
    r, p = item.range_target_deg, item.pain_free_limit_deg
    if math.isfinite(r) and math.isfinite(p) and not r < p:
        raise ProgrammeError(
            f"{name}: range target {r:g} deg must stay below the pain-free limit {p:g} deg"
        )
    lo, hi = item.load_band_n
    if math.isfinite(lo) != math.isfinite(hi):
        raise ProgrammeError(f"{name}: load band: expected both ends or neither, got {lo}-{hi}")
    if math.isfinite(lo):
        if ex.load is None:
            raise ProgrammeError(f"{name}: a floor exercise has no load band")
        if not 0 < lo < hi:
            raise ProgrammeError(f"{name}: load band: expected 0 < low < high, got {lo:g}-{hi:g} N")
        ceiling = ex.load.default_max_force_n
        m = item.tested_max_n if math.isfinite(item.tested_max_n) else ceiling
        stop = ex.load.limit * min(m, ceiling)
        if not hi < stop:
            raise ProgrammeError(
                f"{name}: load band top {hi:g} N reaches the load that stops the exercise "
                f"({stop:g} N = {ex.load.limit:.0%} of {min(m, ceiling):g} N)"
            )
    return item


def save_suggestion(
    store: Store, patient_code: str, suggestion: Suggestion, *, by: str, auto_progress: bool
) -> Programme:
    for it in suggestion.items:
        check_item(it)
    name = f"from assessment {', '.join(map(str, suggestion.runs))}"
    store.save_programme(
        patient_code,
        suggestion.items,
        name,
        created_by=by,
        auto_progress=auto_progress,
        assessment_run_id=suggestion.runs[-1] if suggestion.runs else None,
    )
    programme = store.active_programme(patient_code)
    assert programme is not None
    return programme


EDITABLE = ("sets", "reps", "hold_s", "load_band_n", "range_target_deg", "pain_free_limit_deg")


def dose_text(d: Dose) -> str:
    """One dose in a line: '1 x 20, load 130-195 N, range 43.0 deg (limit 54.0)'."""
    parts = [f"{d.sets} x {d.reps}"]
    if math.isfinite(d.hold_s):
        parts.append(f"hold {d.hold_s:g} s")
    if math.isfinite(d.load_low_n):
        parts.append(f"load {d.load_low_n:.0f}-{d.load_high_n:.0f} N")
    if math.isfinite(d.range_target_deg):
        limit = d.pain_free_limit_deg
        shown = f"{limit:.1f}" if math.isfinite(limit) else "-"
        parts.append(f"range {d.range_target_deg:.1f} deg (limit {shown})")
    return ", ".join(parts)


def current(store: Store, patient_code: str, based_on: int | None = None) -> Programme:
    """The active programme a change starts from. ``based_on``: the version the therapist was
    shown; another one active now is ``storage.ProgrammeChanged`` (nothing is changed), as
    the store says too when one is saved between this read and the change."""
    programme = store.active_programme(patient_code)
    if programme is None:
        raise ProgrammeError(f"{patient_code} has no programme: 'programme suggest' first")
    if based_on is not None and programme.id != based_on:
        raise ProgrammeChanged(
            f"the programme was changed meanwhile (version {programme.id} is active, the "
            f"change was made from version {based_on}); nothing was changed",
            path=store.location,
        )
    return programme


def set_dose(
    store: Store,
    patient_code: str,
    exercise_id: str,
    side: str,
    changes: dict[str, object],
    *,
    by: str,
    reason: str,
    based_on: int | None = None,
) -> Programme:
    """The therapist's own dose for one item (a waiting proposal for it is overridden).
    ``based_on``: the programme version the therapist saw (``current``)."""
    if not by.strip():
        raise ProgrammeError("who changes the dose: a therapist's name is needed")
    if not reason.strip():
        raise ProgrammeError("why the dose changes: a reason is needed")
    programme = current(store, patient_code, based_on)
    found = [i for i in programme.items if i.exercise_id == exercise_id and i.side == side]
    if not found:
        have = ", ".join(
            f"{i.exercise_id}{' ' + i.side if i.side else ''}" for i in programme.items
        )
        raise ProgrammeError(
            f"no item {exercise_id} {side}".rstrip() + f" in the programme ({have})"
        )
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ProgrammeError(f"cannot set {unknown[0]}; editable: {', '.join(EDITABLE)}")
    old = found[0]
    new = check_item(replace(old, **changes))  # type: ignore[arg-type]
    if Dose.of(new) == Dose.of(old):
        raise ProgrammeError(f"{exercise_id}: that is the dose it already has")
    items = [replace(new if i is old else i, id=None) for i in programme.items]
    change = DoseChange(
        exercise_id=exercise_id, side=side, action="set", reason=reason.strip(),
        before=Dose.of(old), after=Dose.of(new), decision=DoseDecision.APPLIED, decided_by=by,
        source="therapist",
    )  # fmt: skip
    waiting = [
        (c.id, DoseDecision.OVERRIDDEN)
        for c in store.dose_changes(patient_code)
        if c.decision is DoseDecision.PROPOSED and c.exercise_id == exercise_id and c.side == side
    ]
    return store.apply_dose_changes(
        patient_code, items, [change], by=by, resolves=waiting, based_on=programme.id
    )


def replace_items(
    store: Store, patient_code: str, items: Sequence[ProgrammeItem], *, by: str, reason: str
) -> Programme:
    """A whole new list of items (added or removed exercises), each change recorded."""
    for it in items:
        check_item(it)
    programme = current(store, patient_code)
    old = {(i.exercise_id, i.side): i for i in programme.items}
    changes = []
    for it in items:
        before = old.get((it.exercise_id, it.side))
        if before is None or Dose.of(before) != Dose.of(it):
            changes.append(
                DoseChange(
                    exercise_id=it.exercise_id, side=it.side,
                    action="set" if before else "add", reason=reason,
                    before=Dose.of(before) if before else Dose(0, 0), after=Dose.of(it),
                    decision=DoseDecision.APPLIED, decided_by=by, source="therapist",
                )
            )  # fmt: skip
    return store.apply_dose_changes(
        patient_code, [replace(i, id=None) for i in items], changes, by=by, based_on=programme.id
    )
