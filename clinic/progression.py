"""Graduated progression: after a visit the rules (``clinic/rules/progression_v1.toml``) propose
each item's next dose; the therapist confirms, overrides or declines; every change is stored
with who, when and why.

The pain flag: pain rising by ``rise_points`` or more from before to after the visit, or pain
at ``high_score`` or more, flags the visit; its proposals then wait for the therapist whatever
the programme's setting (a visit without a pain score after it waits too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from clinic.errors import ProgrammeError
from clinic.programme import current
from clinic.rules import Action, Condition, PainRule, Rule, RuleBook, Steps, load_rules
from exercises.library import get_exercise
from exercises.schema import ExerciseDef
from storage import ProgrammeChanged, Store
from storage.clinic_records import (
    Dose,
    DoseChange,
    DoseDecision,
    Programme,
    Visit,
    VisitItem,
    VisitOutcome,
)
from storage.records import ProgrammeItem
from storage.sql_clinic import AUTOMATIC

BAND_MIN_WIDTH_SHARE = 0.05  # a band narrower than 5 % of the maximum is not a band


@dataclass(frozen=True, slots=True)
class PainCheck:
    before: float
    after: float
    flagged: bool
    high: bool
    rise: float  # after - before, NaN without both
    reason: str  # why it is flagged, "" when it is not

    @property
    def complete(self) -> bool:
        return math.isfinite(self.before) and math.isfinite(self.after)


def check_pain(before: float, after: float, rule: PainRule) -> PainCheck:
    """The visit's pain flag (NaN for a score not given)."""
    rise = after - before if math.isfinite(before) and math.isfinite(after) else math.nan
    worst = max((x for x in (before, after) if math.isfinite(x)), default=math.nan)
    high = math.isfinite(worst) and worst >= rule.high_score
    rose = math.isfinite(rise) and rise >= rule.rise_points
    reasons = []
    if rose:
        reasons.append(f"pain rose by {rise:g} points ({before:g} to {after:g})")
    if high:
        reasons.append(f"pain {worst:g} of 10")
    return PainCheck(before, after, rose or high, high, rise, "; ".join(reasons))


def _condition(rule: Rule, item: VisitItem, pain: PainCheck, book: RuleBook) -> bool:
    match rule.when:
        case Condition.PAIN_HIGH:
            return pain.high
        case Condition.PAIN_RISE:
            return math.isfinite(pain.rise) and pain.rise >= book.pain.rise_points
        case Condition.SAFETY_STOP:
            return item.outcome == VisitOutcome.STOPPED
        case Condition.NOT_DONE:
            return item.outcome in (VisitOutcome.SKIPPED, VisitOutcome.NOT_HERE)
        case Condition.UNFINISHED:
            return item.outcome == VisitOutcome.UNFINISHED or item.reps_done < item.reps_target
        case Condition.FAULTS:
            return item.fault_reps / max(item.reps_done, 1) >= rule.fault_share
        case Condition.GOOD:
            return True
    raise AssertionError(rule.when)


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def step_dose(item: ProgrammeItem, exercise: ExerciseDef, steps: Steps, d: int) -> ProgrammeItem:
    """``item`` one step up (``d`` = +1) or down (-1), inside the bounds of ``steps``."""
    out = item
    m = item.tested_max_n
    lo, hi = item.load_band_n
    if exercise.load is not None and math.isfinite(m) and math.isfinite(lo) and math.isfinite(hi):
        shift = d * steps.load_step_share * m
        lo, hi = lo + shift, hi + shift
        top, bottom = steps.load_max_share * m, steps.load_min_share * m
        if hi > top:  # the band slides up until its top reaches the bound, then stays
            lo, hi = lo - (hi - top), top
        if lo < bottom:
            lo, hi = bottom, hi + (bottom - lo)
        out = replace(out, load_band_n=(round(lo, 1), round(hi, 1)))
    p, r = item.pain_free_limit_deg, item.range_target_deg
    if math.isfinite(p) and math.isfinite(r) and p > 0:
        r = _clamp(
            r + d * steps.range_step_share * p, steps.range_min_share * p, steps.range_max_share * p
        )
        out = replace(out, range_target_deg=round(r, 1))
    if exercise.mode == "hold" and math.isfinite(item.hold_s):
        h = _clamp(item.hold_s + d * steps.hold_step_s, steps.hold_min_s, steps.hold_max_s)
        out = replace(out, hold_s=round(h, 1))
    elif exercise.category == "floor" and exercise.mode == "reps":
        base = exercise.dose.reps
        reps = item.reps + d * steps.reps_step
        reps = int(_clamp(reps, max(1, base - steps.reps_max_extra), base + steps.reps_max_extra))
        out = replace(out, reps=reps)
    return out


def _outcome_text(item: VisitItem, pain: PainCheck) -> str:
    parts = []
    if item.outcome in (VisitOutcome.SKIPPED, VisitOutcome.NOT_HERE):
        parts.append(
            f"{item.outcome.value.replace('_', ' ')}" + (f": {item.reason}" if item.reason else "")
        )
    else:
        done = f"{item.reps_done} of {item.reps_target} reps"
        parts.append(f"{done}, {item.sets_done} of {item.sets_target} sets")
        if item.fault_reps:
            parts.append(f"{item.fault_reps} rep(s) with a form fault")
        if item.outcome == VisitOutcome.STOPPED:
            parts.append("safety stop" + (f" ({item.reason})" if item.reason else ""))
    if pain.complete:
        parts.append(f"pain {pain.before:g} before, {pain.after:g} after")
    return ", ".join(parts)


def propose(visit: Visit, programme: Programme, book: RuleBook | None = None) -> list[DoseChange]:
    """One proposal per programme item of the visit: the first rule that holds decides."""
    book = book or load_rules()
    pain = check_pain(visit.pain_at("before"), visit.pain_at("after"), book.pain)
    by_id = {it.id: it for it in programme.items}
    out = []
    for vi in visit.items:
        item = by_id.get(vi.programme_item_id)
        if item is None:
            continue  # an item of an older programme version: nothing to change
        exercise = get_exercise(item.exercise_id)
        rule = next(r for r in book.rules if _condition(r, vi, pain, book))
        d = {Action.PROGRESS: 1, Action.HOLD: 0, Action.STEP_BACK: -1}[rule.action]
        new = step_dose(item, exercise, book.steps, d) if d else item
        reason = f"{rule.reason} ({_outcome_text(vi, pain)})"
        if d and Dose.of(new) == Dose.of(item):
            reason += " Already at the bound of this step: unchanged."
        out.append(
            DoseChange(
                exercise_id=item.exercise_id,
                side=item.side,
                action=rule.action.value,
                reason=reason,
                before=Dose.of(item),
                after=Dose.of(new),
                rule_id=rule.id,
                source=rule.source,
                visit_id=visit.id,
            )
        )
    return out


def _apply(items: Sequence[ProgrammeItem], change: DoseChange) -> list[ProgrammeItem]:
    out = []
    for it in items:
        if it.exercise_id == change.exercise_id and it.side == change.side:
            a = change.after
            it = replace(
                it, sets=a.sets, reps=a.reps, hold_s=a.hold_s,
                load_band_n=(a.load_low_n, a.load_high_n), range_target_deg=a.range_target_deg,
                pain_free_limit_deg=a.pain_free_limit_deg, id=None,
            )  # fmt: skip
        else:
            it = replace(it, id=None)
        out.append(it)
    return out


@dataclass(frozen=True, slots=True)
class AfterVisit:
    pain: PainCheck
    proposals: tuple[DoseChange, ...]
    applied: bool  # True: the programme changed now (automatic); False: waiting for a therapist
    why_waiting: str


def after_visit(
    store: Store, patient_code: str, visit_id: int, book: RuleBook | None = None
) -> AfterVisit:
    """The rules' proposals for a finished visit: applied at once when the programme says so
    and the visit is not flagged, else stored to wait for the therapist."""
    book = book or load_rules()
    visit = next((v for v in store.visits(patient_code) if v.id == visit_id), None)
    if visit is None:
        raise ProgrammeError(f"no visit {visit_id} for {patient_code}")
    programme = store.active_programme(patient_code)
    pain = check_pain(visit.pain_at("before"), visit.pain_at("after"), book.pain)
    if programme is None:
        return AfterVisit(pain, (), False, "no programme")
    proposals = propose(visit, programme, book)
    if not proposals:
        return AfterVisit(pain, (), False, "nothing was done")
    why = ""
    earlier = [c for c in pending(store, patient_code) if c.visit_id != visit_id]
    if not programme.auto_progress:
        why = "the programme's changes wait for the therapist"
    elif earlier:
        # A flagged visit the therapist has not looked at yet blocks automatic progression
        # until they have, however good the visits since.
        why = "an earlier visit's changes still wait for the therapist"
    elif pain.flagged:
        why = f"the visit is flagged for the therapist ({pain.reason})"
    elif not pain.complete:
        why = "pain was not given before and after the visit"
    if not why:
        items = list(programme.items)
        applied = []
        for ch in proposals:
            items = _apply(items, ch)
            applied.append(replace(ch, decision=DoseDecision.APPLIED, decided_by=AUTOMATIC))
        try:
            store.apply_dose_changes(
                patient_code, items, applied, by=AUTOMATIC, based_on=programme.id
            )
            return AfterVisit(pain, tuple(applied), True, "")
        except ProgrammeChanged:
            why = "the programme was changed while the visit ended"
    store.add_dose_proposals(patient_code, proposals)
    return AfterVisit(pain, tuple(proposals), False, why)


def pending(store: Store, patient_code: str) -> list[DoseChange]:
    return [c for c in store.dose_changes(patient_code) if c.decision is DoseDecision.PROPOSED]


def confirm(
    store: Store,
    patient_code: str,
    ids: Sequence[int] | None,
    by: str,
    *,
    based_on: int | None = None,
) -> Programme:
    """The therapist applies waiting proposals (all, or those with ``ids``). ``based_on``: the
    programme version the therapist saw (``clinic.programme.current``)."""
    if not by.strip():
        raise ProgrammeError("who confirms: a therapist's name is needed")
    programme = current(store, patient_code, based_on)  # first: what the therapist saw holds
    waiting = pending(store, patient_code)
    chosen = [c for c in waiting if ids is None or c.id in ids]
    if ids is not None and len(chosen) != len(set(ids)):
        missing = sorted(set(ids) - {c.id for c in chosen})
        raise ProgrammeError(f"no proposal waiting with id {missing[0]} for {patient_code}")
    if not chosen:
        raise ProgrammeError(f"no proposals waiting for {patient_code}")
    items = list(programme.items)
    for ch in chosen:
        items = _apply(items, ch)
    resolves = [(c.id, DoseDecision.APPLIED) for c in chosen]
    return store.apply_dose_changes(
        patient_code, items, [], by=by, resolves=resolves, based_on=programme.id
    )


def decline(store: Store, patient_code: str, ids: Sequence[int] | None, by: str) -> int:
    if not by.strip():
        raise ProgrammeError("who declines: a therapist's name is needed")
    chosen = [c.id for c in pending(store, patient_code) if ids is None or c.id in ids]
    if not chosen:
        raise ProgrammeError(f"no proposals waiting for {patient_code}")
    store.decline_dose_proposals(patient_code, chosen, by=by)
    return len(chosen)
