"""One patient's visit at the kiosk, as a state machine independent of the display.

States (all transitions here)::

    (no programme) NO_PROGRAMME --ok or idle--> ENDED            nothing is offered or stored
    PAIN_BEFORE --score--> ITEM_READY (first item this station can run)
    ITEM_READY --start--> ITEM_RUNNING --done--> BETWEEN (rest) --time or next--> ITEM_READY
    ITEM_READY --skip--> SKIP_REASON --reason--> BETWEEN / PAIN_AFTER    (--cancel--> ITEM_READY)
    last item done or skipped --> PAIN_AFTER --score--> SUMMARY --time or ok--> ENDED
    any --abandon (idle, walked away)--> ENDED, the visit stored as abandoned

Items needing a machine or camera this station does not have are not offered: they are stored
as "not here" with the reason. Pain before and after is stored with the visit; after the last
score the visit is finished and the progression rules run (``clinic.progression``).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from clinic.progression import AfterVisit, after_visit, check_pain
from clinic.rules import RuleBook, load_rules
from exercises.library import get_exercise
from storage import Store
from storage.clinic_records import VisitItem, VisitOutcome, VisitStatus
from storage.records import ProgrammeItem

BETWEEN_ITEMS_S = 30.0  # rest between two items; "next" ends it sooner
SUMMARY_S = 45.0
SKIP_REASONS = ("Pain", "Too tired", "Not enough time", "Feels unsafe", "Machine in use")


class VisitStage(enum.Enum):
    NO_PROGRAMME = "no_programme"
    PAIN_BEFORE = "pain_before"
    ITEM_READY = "item_ready"
    ITEM_RUNNING = "item_running"
    SKIP_REASON = "skip_reason"
    BETWEEN = "between"
    PAIN_AFTER = "pain_after"
    SUMMARY = "summary"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class PlannedItem:
    position: int  # 1-based
    item: ProgrammeItem
    name: str
    here: bool  # this station can run it
    why_not: str = ""  # when it cannot

    @property
    def dose(self) -> str:
        it = self.item
        parts = [f"{it.sets} x {it.reps}"]
        if math.isfinite(it.hold_s) and it.hold_s > 0:
            parts.append(f"hold {it.hold_s:g} s")
        lo, hi = it.load_band_n
        if math.isfinite(lo) and math.isfinite(hi):
            parts.append(f"load {lo:.0f}-{hi:.0f} N")
        if math.isfinite(it.range_target_deg):
            parts.append(f"range {it.range_target_deg:.0f} deg")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item, as the session engine ended it."""

    outcome: VisitOutcome
    reason: str = ""
    session_id: int | None = None
    sets_done: int = 0
    sets_target: int = 0
    reps_done: int = 0
    reps_target: int = 0
    fault_reps: int = 0
    hold_s: float = math.nan


@dataclass(frozen=True, slots=True)
class VisitView:
    """What the visit screens draw, frozen."""

    stage: VisitStage
    patient: str
    items: tuple[PlannedItem, ...]
    current: PlannedItem | None
    done: tuple[tuple[PlannedItem, ItemResult], ...]
    pain_before: float
    pain_after: float
    left_s: float  # the rest between items, the summary
    message: str
    after: AfterVisit | None


class VisitFlow:
    def __init__(
        self,
        store: Store,
        patient_code: str,
        *,
        station_machine: str | None,
        camera: bool,
        station: str = "",
        clock: Callable[[], float] = time.monotonic,
        rules: RuleBook | None = None,
    ) -> None:
        self.store = store
        self.patient = patient_code
        self.clock = clock
        self.rules = rules or load_rules()
        self.visit_id: int | None = None
        self.after: AfterVisit | None = None
        self.results: list[tuple[PlannedItem, ItemResult]] = []
        self.pain_before = math.nan
        self.pain_after = math.nan
        self.message = ""
        self._since = clock()
        self._index = 0
        programme = store.active_programme(patient_code)
        if programme is None or not programme.items:
            self.items: tuple[PlannedItem, ...] = ()
            self.stage = VisitStage.NO_PROGRAMME
            return
        self.items = tuple(
            _plan(i + 1, it, station_machine, camera) for i, it in enumerate(programme.items)
        )
        self.visit_id = store.begin_visit(patient_code, programme.id, station)
        self.stage = VisitStage.PAIN_BEFORE

    # -- the patient's input ----------------------------------------------------------------

    def pain(self, score: float) -> None:
        if not (isinstance(score, int | float) and 0 <= score <= 10):
            raise ValueError(f"pain: expected 0 to 10, got {score!r}")
        if self.stage == VisitStage.PAIN_BEFORE:
            self.store.add_pain_score(self.patient, score, "before", visit_id=self.visit_id)
            self.pain_before = float(score)
            self._index = 0
            self._next_ready()
        elif self.stage == VisitStage.PAIN_AFTER:
            self.store.add_pain_score(self.patient, score, "after", visit_id=self.visit_id)
            self.pain_after = float(score)
            self._finish()

    def start_item(self) -> PlannedItem:
        if self.stage != VisitStage.ITEM_READY:
            raise RuntimeError(f"start_item in {self.stage}")
        self.stage = VisitStage.ITEM_RUNNING
        return self.items[self._index]

    def ask_skip(self) -> None:
        if self.stage == VisitStage.ITEM_READY:
            self.stage = VisitStage.SKIP_REASON

    def cancel_skip(self) -> None:
        if self.stage == VisitStage.SKIP_REASON:
            self.stage = VisitStage.ITEM_READY

    def skip(self, reason: str) -> None:
        if self.stage != VisitStage.SKIP_REASON:
            return
        planned = self.items[self._index]
        self._record(planned, ItemResult(VisitOutcome.SKIPPED, reason=reason))
        self._after_item()

    def item_done(self, result: ItemResult) -> None:
        if self.stage != VisitStage.ITEM_RUNNING:
            raise RuntimeError(f"item_done in {self.stage}")
        self._record(self.items[self._index], result)
        self._after_item()

    def next_now(self) -> None:
        """The rest between items, or the summary, ended by a tap."""
        if self.stage == VisitStage.BETWEEN:
            self._index += 1
            self._next_ready()
        elif self.stage in (VisitStage.SUMMARY, VisitStage.NO_PROGRAMME):
            self.stage = VisitStage.ENDED

    def tick(self) -> None:
        now = self.clock()
        if self.stage == VisitStage.BETWEEN and now - self._since >= BETWEEN_ITEMS_S:
            self.next_now()
        elif self.stage == VisitStage.SUMMARY and now - self._since >= SUMMARY_S:
            self.stage = VisitStage.ENDED

    def abandon(self, why: str = "the patient left") -> None:
        """Idle or the station stopped: what was not done is stored as such, the visit as
        abandoned; no progression runs."""
        if self.stage in (VisitStage.ENDED, VisitStage.SUMMARY, VisitStage.NO_PROGRAMME):
            self.stage = VisitStage.ENDED
            return
        done = {p.position for p, _ in self.results}
        for p in self.items:
            if p.position not in done:
                self._record(p, ItemResult(VisitOutcome.SKIPPED, reason=f"not reached: {why}"))
        if self.visit_id is not None:
            pain = check_pain(self.pain_before, self.pain_after, self.rules.pain)
            self.store.finish_visit(
                self.patient, self.visit_id, VisitStatus.ABANDONED,
                flagged=pain.flagged, flag_reason=pain.reason,
            )  # fmt: skip
        self.stage = VisitStage.ENDED

    # -- state ------------------------------------------------------------------------------

    @property
    def current(self) -> PlannedItem | None:
        if self.stage in (VisitStage.ITEM_READY, VisitStage.ITEM_RUNNING, VisitStage.SKIP_REASON):
            return self.items[self._index]
        if self.stage == VisitStage.BETWEEN:
            nxt = self._next_here(self._index + 1)
            return self.items[nxt] if nxt is not None else None
        return None

    @property
    def pain_flag(self) -> bool | None:
        """The visit's pain flag as far as the patient has told: pain of 7 or more flags at
        once, a rise needs the score after; None before any score."""
        if math.isnan(self.pain_before) and math.isnan(self.pain_after):
            return None
        return check_pain(self.pain_before, self.pain_after, self.rules.pain).flagged

    def view(self) -> VisitView:
        left = math.nan
        if self.stage == VisitStage.BETWEEN:
            left = BETWEEN_ITEMS_S - (self.clock() - self._since)
        elif self.stage == VisitStage.SUMMARY:
            left = SUMMARY_S - (self.clock() - self._since)
        return VisitView(
            stage=self.stage,
            patient=self.patient,
            items=self.items,
            current=self.current,
            done=tuple(self.results),
            pain_before=self.pain_before,
            pain_after=self.pain_after,
            left_s=max(0.0, left) if math.isfinite(left) else math.nan,
            message=self.message,
            after=self.after,
        )

    # -- internals --------------------------------------------------------------------------

    def _record(self, planned: PlannedItem, r: ItemResult) -> None:
        self.results.append((planned, r))
        if self.visit_id is None:
            return
        it = planned.item
        self.store.add_visit_item(
            self.patient,
            self.visit_id,
            VisitItem(
                exercise_id=it.exercise_id, position=planned.position, outcome=r.outcome,
                side=it.side, programme_item_id=it.id, reason=r.reason,
                session_id=r.session_id, sets_done=r.sets_done, sets_target=r.sets_target,
                reps_done=r.reps_done, reps_target=r.reps_target, fault_reps=r.fault_reps,
                hold_s=r.hold_s,
            ),
        )  # fmt: skip

    def _next_here(self, start: int) -> int | None:
        return next((i for i in range(start, len(self.items)) if self.items[i].here), None)

    def _next_ready(self) -> None:
        """The next item this station can run; those it cannot are stored as not here."""
        while self._index < len(self.items) and not self.items[self._index].here:
            p = self.items[self._index]
            self._record(p, ItemResult(VisitOutcome.NOT_HERE, reason=p.why_not))
            self._index += 1
        if self._index < len(self.items):
            self.stage = VisitStage.ITEM_READY
        else:
            self.stage = VisitStage.PAIN_AFTER
        self._since = self.clock()

    def _after_item(self) -> None:
        if self._next_here(self._index + 1) is None:
            self._index += 1
            self._next_ready()  # stores the remaining items this station cannot run
            return
        self.stage = VisitStage.BETWEEN
        self._since = self.clock()

    def _finish(self) -> None:
        pain = check_pain(self.pain_before, self.pain_after, self.rules.pain)
        assert self.visit_id is not None
        self.store.finish_visit(
            self.patient, self.visit_id, VisitStatus.FINISHED,
            flagged=pain.flagged, flag_reason=pain.reason,
        )  # fmt: skip
        self.after = after_visit(self.store, self.patient, self.visit_id, self.rules)
        self.stage = VisitStage.SUMMARY
        self._since = self.clock()


def _plan(position: int, item: ProgrammeItem, machine: str | None, camera: bool) -> PlannedItem:
    ex = get_exercise(item.exercise_id)
    here, why = True, ""
    if ex.signal.source == "machine" and ex.machine != machine:
        here, why = False, f"needs the {ex.machine.replace('_', ' ')} machine"
    elif ex.signal.source == "camera" and not camera:
        here, why = False, "needs a camera"
    return PlannedItem(position, item, ex.name, here, why)
