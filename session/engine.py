"""The session engine: inputs in through :meth:`SessionEngine.feed`, typed events out.

Single-threaded by design: the loop feeds it on one thread (poses as they finish, machine
batches every display frame) and takes one immutable ``Snapshot`` per display frame. Every
check of an input runs in one compiled call (:mod:`kernels.frame`); what stays here is the
phase machine, the sets, the cue choice and turning the kernel's results into events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from exercises.schema import ExerciseDef
from kernels import frame as fr
from kernels.checks import GATE_IDLE, GATE_STOPPED, GATE_WORKING
from kernels.loading import LoadRep
from kernels.reps import RepPhase, RepRecord, Tempo
from kernels.rules import FAULT
from session.checks_setup import build_checks
from session.cue_choice import Standing, standing_cues
from session.cues import CueSelector
from session.events import (
    Command,
    CommandInput,
    CueShown,
    EndInput,
    FaultLevel,
    FaultRaised,
    HoldDone,
    MachineBatch,
    PhaseChanged,
    PoseInput,
    RepDone,
    SafetyKind,
    SafetyReport,
    SafetyStop,
    SessionEvent,
    SessionInput,
    SetStarted,
    TargetChange,
    TargetChanged,
    TargetKey,
)
from session.form_score import FormScorer
from session.phases import Phase, PhaseMachine, Transition, Trigger
from session.setup_check import SetupProblem, setup_problem
from session.snapshot import RepView, RuleStatus, Severity, Snapshot, SourceStatus
from session.snapshot_build import SnapshotBuilder
from session.targets import PatientProfile, Targets, resolve_targets
from session.traces import TraceBuffer

# A machine set with no machine sample for this long has no load check: it is stopped.
MACHINE_LOST_S = 1.0
_SAFETY_KINDS = {
    fr.SAFE_PAIN_FREE: SafetyKind.PAIN_FREE_RANGE,
    fr.SAFE_OVERLOAD: SafetyKind.OVERLOAD,
    fr.SAFE_ANGLE_LOST: SafetyKind.RANGE,
}


@dataclass(frozen=True, slots=True)
class SessionConfig:
    setup_s: float = 1.0  # person in view this long before the countdown starts
    countdown_s: float = 3.0
    person_lost_s: float = 0.7  # no person this long while working: pause, not faults
    open_ended: bool = False  # analysis of a recording: one set, no rep limit, no rest
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class SafetyEventRecord:
    t: float
    kind: SafetyKind
    value: float
    limit: float


@dataclass(frozen=True, slots=True)
class HoldRecord:
    start_s: float
    end_s: float
    hold_s: float  # time held in position with correct posture
    completed: bool
    form_score: float = math.nan  # 0-100 against the reference; NaN without one


@dataclass
class Counts:
    frames: int = 0
    frames_with_pose: int = 0
    first_t: float = math.nan
    last_t: float = math.nan


@dataclass
class _Set:
    index: int = 1
    reps: int = 0  # counted reps (or completed holds) in this set
    announced: bool = False


@dataclass
class _Live:
    """The latest values the snapshot shows."""

    signal: float = math.nan
    force: float = math.nan
    fusion_difference: float = math.nan
    has_person: bool = False
    last_person_t: float = -math.inf
    last_machine_t: float = -math.inf
    in_view_since: float = math.nan
    rep_phase: RepPhase = RepPhase.REST
    safety_cue: str | None = None
    setup_problem: SetupProblem | None = None  # what the patient must change before a set
    fusion_differences: list[float] = field(default_factory=list)


class SessionEngine:
    def __init__(
        self,
        exercise: ExerciseDef,
        profile: PatientProfile | None = None,
        config: SessionConfig | None = None,
        aspect: float = 1.0,
    ) -> None:
        self.exercise = exercise
        self.config = config or SessionConfig()
        self.targets: Targets = resolve_targets(exercise, profile)
        self.reps_target = exercise.dose.reps
        self.hold_target_s = exercise.dose.hold_s
        self.patient_code = profile.code if profile else ""
        self.checks, self.setup = build_checks(exercise, self.targets, self.hold_target_s, aspect)
        if profile is not None and profile.side in ("left", "right"):
            self.checks.fix_side(1 if profile.side == "right" else 0)  # the therapist's choice
        self.phases = PhaseMachine(Phase.WORKING if self.config.open_ended else Phase.SETUP)
        self.cues = CueSelector(self.config.lang)
        self.set = _Set()
        self.live = _Live()
        self.counts = Counts()
        self.reps: list[RepView] = []
        self.rep_records: list[RepRecord] = []
        self.load_reps: list[LoadRep] = []
        self.holds: list[HoldRecord] = []
        self.safety_events: list[SafetyEventRecord] = []
        self.fault_log: list[tuple[float, str, FaultLevel]] = []
        self.signal_trace = TraceBuffer()
        self.form = FormScorer(exercise)  # the judged angles of each rep against the reference
        self.force_trace = TraceBuffer()
        self._events: list[SessionEvent] = []
        self._now = 0.0
        self._fusion_col = -1
        if exercise.fusion is not None:
            self._fusion_col = [rd.key for rd in exercise.rules].index(exercise.fusion.camera_rule)
        self._rule_keys = tuple(rd.key for rd in exercise.rules)
        self._camera_signal = exercise.signal.source == "camera"
        self._hold_mode = exercise.mode == "hold"
        # The landmarks the set-up check asks to see, per working side.
        sides = (0, 1)
        self._judged = tuple(
            tuple(sorted({*self.setup.signal_landmarks[s],
                          *(i for r in self.setup.rule_landmarks for i in r.on(s))}))
            for s in sides
        )  # fmt: skip
        self._view = SnapshotBuilder(self)
        if self.targets.note:  # e.g. a stored tested maximum above the exercise's ceiling
            self._emit_transition(self.phases.log_note(0.0, self.targets.note))

    # -- the one entry -----------------------------------------------------------------------

    def feed(self, inp: SessionInput) -> None:
        """One input, in the order things happened; its events wait in :meth:`take_events`."""
        if not self.set.announced:
            self.set.announced = True
            self._emit(SetStarted(inp.t, 1, self.reps_target, self.targets.load_band_n))
        match inp:
            case PoseInput():
                self._on_pose(inp)
            case MachineBatch():
                self._on_machine(inp)
            case SafetyReport():
                self._stop(inp.t, inp.kind, inp.value, inp.limit)
            case CommandInput():
                self._on_command(inp.t, inp.command)
            case TargetChange():
                self._adjust(inp.t, inp.key, inp.delta)
            case EndInput():
                self._finish(inp.t)
            case _:
                raise TypeError(f"SessionEngine.feed: not a session input: {inp!r}")
        self._choose_cue(inp.t)

    def take_events(self) -> list[SessionEvent]:
        """The events since the last call, in order (the caller hands them to every consumer)."""
        out, self._events = self._events, []
        return out

    def accepts(self, command: Command) -> bool:
        """Whether ``command`` would change the session now (the screens ask before a key)."""
        if command == Command.FINISH:
            return self.phases.phase != Phase.DONE
        return self.phases.can(Trigger(command.value))

    # -- inputs ------------------------------------------------------------------------------

    def _on_pose(self, inp: PoseInput) -> None:
        t, pose = inp.t, inp.pose
        self._now = max(self._now, t)
        c = self.counts
        c.frames += 1
        c.first_t = t if math.isnan(c.first_t) else c.first_t
        c.last_t = t
        live = self.live
        if pose.detected:
            c.frames_with_pose += 1
            image = pose.image.astype(np.float64)
            if self._person_in_view(image[:, 3]):
                live.last_person_t = t
            if self.phases.phase == Phase.SETUP and self._camera_signal:
                live.setup_problem = setup_problem(
                    image, self._judged[self.checks.side], self.exercise.view,
                    self.checks.view,
                )  # fmt: skip
        if self._camera_signal:
            self._advance(t)
            self.checks.set_gate(self._gate())
        if pose.detected:
            self.checks.step_pose(t, image, pose.world.astype(np.float64))
        else:
            self.checks.step_no_pose(t)
        live.has_person = pose.detected
        self._after_step(t)

    def _on_machine(self, b: MachineBatch) -> None:
        t = b.t
        live = self.live
        self._now = max(self._now, t)
        live.last_machine_t = t
        live.force = float(b.forces[-1])
        self.force_trace.append(t, live.force)
        rep_phase_before = live.rep_phase
        if not self._camera_signal:
            self._advance(t)
            self.checks.set_gate(self._gate())
        self.checks.step_machine(b.ts, b.forces, b.angles)
        out = self.checks.out
        if (
            out[fr.O_RATE_EXCEEDED] == 1.0
            and rep_phase_before != RepPhase.REST
            and self.phases.phase == Phase.WORKING
        ):
            self.cues.event(t, "load.too_jerky", Severity.WARNING, 55)
        self._after_step(t)

    def _after_step(self, t: float) -> None:
        """Turn the kernel's results of this step into the session's records and events."""
        ck, live = self.checks, self.live
        out = ck.out
        safety = int(out[fr.O_SAFETY])
        if safety != fr.SAFE_NONE:
            kind = _SAFETY_KINDS[safety]
            value, limit = float(out[fr.O_SAFETY_VALUE]), float(out[fr.O_SAFETY_LIMIT])
            self._stop(float(out[fr.O_SAFETY_T]), kind, value, limit)
        trace_v = out[fr.O_TRACE_V]
        if trace_v == trace_v:  # not NaN: this step drove the signal
            self.signal_trace.append(float(out[fr.O_TRACE_T]), float(trace_v))
            tg = self.targets
            progress = (float(trace_v) - tg.start) / (tg.target - tg.start)
            self.form.record(float(out[fr.O_TRACE_T]), progress, ck.value)
        live.signal = float(out[fr.O_SIGNAL])
        live.rep_phase = RepPhase(int(out[fr.O_PHASE]))
        if out[fr.O_N_FAULTS]:
            for i, level in ck.fault_log():
                lvl = FaultLevel.FAULT if level == FAULT else FaultLevel.WARNING
                self.fault_log.append((t, self._rule_keys[i], lvl))
                self._emit(FaultRaised(t, self._rule_keys[i], lvl))
        if out[fr.O_N_REPS]:
            for rec, worst, load in ck.finished_reps():
                self._finish_rep(rec, worst, load)
        if out[fr.O_HOLD_DONE] == 1.0:
            start, end = float(out[fr.O_HOLD_START]), float(out[fr.O_HOLD_END])
            held = float(out[fr.O_HOLD_HELD])
            self._close_hold(HoldRecord(start, end, held, True, self.form.score(start, end)))
            self.cues.event(t, "session.hold_done", Severity.POSITIVE)
            self.set.reps += 1
            self._check_set_complete(t)
        fu = self.exercise.fusion
        if fu is not None and self._fusion_col >= 0:
            camera = float(ck.value[self._fusion_col])
            machine = live.signal if not self._camera_signal else math.nan
            live.fusion_difference = camera - (fu.offset + fu.scale * machine)
            if math.isfinite(live.fusion_difference):
                live.fusion_differences.append(live.fusion_difference)

    def _stop(self, t: float, kind: SafetyKind, value: float, limit: float) -> None:
        """A safety breach: stop at once, with the unmistakable cue, every time. A breach that
        lasts (a held overload) is one event; a new one after an acknowledgement is another."""
        tr = self.phases.fire(Trigger.SAFETY, t, f"{kind}: {value:.1f} past limit {limit:.1f}")
        if tr is None:
            return
        self._emit_transition(tr)
        self.safety_events.append(SafetyEventRecord(t, kind, value, limit))
        self.live.safety_cue = kind.cue
        self._emit(SafetyStop(t, kind, value, limit))
        self.checks.set_gate(GATE_STOPPED)

    def _on_command(self, t: float, command: Command) -> None:
        if command == Command.FINISH:
            self._finish(t)
            return
        tr = self.phases.fire(Trigger(command.value), t, f"{command} requested")
        if tr is None:
            return
        self._emit_transition(tr)
        if command == Command.ACKNOWLEDGE:
            self.live.safety_cue = None
            self.checks.clear_safety()

    def _adjust(self, t: float, key: TargetKey, delta: float) -> None:
        """A therapist's live change of one target. Counts so far are kept; the rep in
        progress restarts against the new target. A change the kernels refuse (a target at or
        behind the start) is not taken."""
        tg = self.targets
        reps_target, hold_target = self.reps_target, self.hold_target_s
        span = tg.target - tg.start
        if key == TargetKey.RANGE_TARGET:
            target = tg.start + (1.0 + delta) * span
            if math.isfinite(tg.pain_free_limit) and (target - tg.pain_free_limit) * span > 0:
                target = tg.pain_free_limit  # never a target past the pain-free limit
            tg = replace(tg, target=target)
        elif key == TargetKey.PAIN_FREE_LIMIT:
            p = self.checks.limit_progress
            p = (1.2 if math.isnan(p) else p) + delta
            tg = replace(tg, pain_free_limit=tg.start + max(p, 1.0) * span)
        elif key == TargetKey.REPS_TARGET:
            reps_target = max(1, round(self.reps_target + delta))
        elif key == TargetKey.HOLD_TARGET_S:
            hold_target = max(1.0, self.hold_target_s + delta)
        else:
            lo, hi = tg.load_band_n
            lo, hi = (lo + delta, hi) if key == TargetKey.LOAD_BAND_LOW_N else (lo, hi + delta)
            if not 0 <= lo < hi <= tg.load_limit_n:
                return
            tg = replace(tg, load_band_n=(lo, hi))
        if key not in (TargetKey.REPS_TARGET,):
            band = tg.load_band_n if self.exercise.load is not None else (-math.inf, math.inf)
            hold = hold_target if hold_target > 0 else math.inf
            try:
                self.checks.retarget(tg.start, tg.target, tg.pain_free_limit, band, hold)
            except ValueError:
                return
        self.targets, self.reps_target, self.hold_target_s = tg, reps_target, hold_target
        note = f"{key} changed by {delta:+g} by the therapist"
        self._emit_transition(self.phases.log_note(t, note))
        self._emit(TargetChanged(t, key, delta))

    # -- phases ------------------------------------------------------------------------------

    def _person_in_view(self, vis: np.ndarray) -> bool:
        lms = self.setup.signal_landmarks[self.checks.side]
        return all(vis[i] >= 0.5 for i in lms)  # NaN compares False: not in view

    def _gate(self) -> int:
        ph = self.phases.phase
        if ph == Phase.STOPPED:
            return GATE_STOPPED
        return GATE_WORKING if ph == Phase.WORKING else GATE_IDLE

    def _fire(self, trigger: Trigger, t: float, reason: str = "") -> bool:
        tr = self.phases.fire(trigger, t, reason)
        if tr is not None:
            self._emit_transition(tr)
        return tr is not None

    def _advance(self, t: float) -> None:
        """Phase timers and person-in-view checks, on the input that drives the exercise."""
        ph, live = self.phases, self.live
        seen = t - live.last_person_t <= self.config.person_lost_s
        if self._camera_signal:
            ready = t - live.last_person_t <= 1e-9 and live.setup_problem is None
        else:
            ready = t - live.last_machine_t <= 0.5
        if ph.phase == Phase.SETUP:
            if ready:
                if math.isnan(live.in_view_since):
                    live.in_view_since = t
                if t - live.in_view_since >= self.config.setup_s:
                    self._fire(Trigger.IN_VIEW, t, "person in view")
            else:
                live.in_view_since = math.nan
        elif ph.phase == Phase.COUNTDOWN and t - ph.entered_at >= self.config.countdown_s:
            self._fire(Trigger.COUNTDOWN_OVER, t)
            self.cues.event(t, "session.go", Severity.INFO)
        elif ph.phase == Phase.WORKING and not seen and self._camera_signal:
            self._fire(Trigger.PERSON_LOST, t, "no person in view")
        elif ph.phase == Phase.PAUSED and seen:
            self._fire(Trigger.PERSON_BACK, t, "person back in view")
        elif ph.phase == Phase.REST and t - ph.entered_at >= self.exercise.dose.rest_s:
            self.set.index += 1
            self.set.reps = 0
            self.checks.reset_reps()
            self._fire(Trigger.REST_OVER, t)
            self._emit(SetStarted(t, self.set.index, self.reps_target, self.targets.load_band_n))

    def _check_set_complete(self, t: float) -> None:
        if self.config.open_ended or self.set.reps < self.reps_target:
            return
        last = self.set.index >= self.exercise.dose.sets
        trigger = Trigger.LAST_SET_COMPLETE if last else Trigger.SET_COMPLETE
        self._fire(trigger, t, f"set {self.set.index} done")

    # -- reps and holds ----------------------------------------------------------------------

    def _finish_rep(self, rec: RepRecord, worst: tuple[int, ...], load: LoadRep | None) -> None:
        t = rec.end_s
        faults = {key for key, w in zip(self._rule_keys, worst, strict=True) if w}
        partial_cue = self.exercise.signal.partial_cue
        if not rec.counted:
            faults.add(partial_cue)
        view = RepView(
            index=len(self.reps) + 1,
            start_s=rec.start_s,
            end_s=rec.end_s,
            min_angle_deg=rec.min_value,
            max_angle_deg=rec.max_value,
            range_fraction=rec.peak_progress,
            duration_s=rec.duration_s,
            tempo_ok=rec.tempo_ok,
            counted=rec.counted,
            faults=tuple(sorted(faults)),
            form_score=self.form.score(rec.start_s, rec.end_s),
        )
        self.reps.append(view)
        self.rep_records.append(rec)
        if load is not None:
            self.load_reps.append(load)
        self._emit(RepDone(t, view, rec, load, self.set.index))
        if not rec.counted:
            self.cues.event(t, partial_cue, Severity.WARNING, 60)
            self.fault_log.append((t, partial_cue, FaultLevel.WARNING))
            self._emit(FaultRaised(t, partial_cue, FaultLevel.WARNING))
            return
        self.set.reps += 1
        if rec.tempo_out == Tempo.TOO_FAST:
            self.cues.event(t, "tempo.too_fast_out", Severity.INFO, 40)
        elif rec.tempo_back == Tempo.TOO_FAST:
            self.cues.event(t, "tempo.too_fast_back", Severity.INFO, 40)
        elif Tempo.TOO_SLOW in (rec.tempo_out, rec.tempo_back):
            self.cues.event(t, "tempo.too_slow", Severity.INFO, 30)
        else:
            self.cues.event(t, "session.rep_done", Severity.POSITIVE, 20)
        self._check_set_complete(t)

    def _close_hold(self, hold: HoldRecord) -> None:
        self.holds.append(hold)
        h = hold
        self._emit(
            HoldDone(
                h.end_s, h.start_s, h.end_s, h.hold_s, h.completed, self.set.index, h.form_score
            )
        )

    def _finish(self, t: float) -> None:
        if self.phases.phase == Phase.WORKING:
            self.checks.set_gate(GATE_WORKING)
            if self.checks.step_end(self.now):
                self._after_step(t)
        held = self.checks.held_s
        if self._hold_mode and held > 0:
            start = self.checks.hold_start
            self._close_hold(HoldRecord(start, t, held, False, self.form.score(start, t)))
        self._fire(Trigger.FINISH, t, "session ended")

    # -- events ------------------------------------------------------------------------------

    def _emit(self, ev: SessionEvent) -> None:
        self._events.append(ev)

    def _emit_transition(self, tr: Transition) -> None:
        self._emit(PhaseChanged(tr.t, tr.source, tr.target, tr.trigger, tr.reason))

    def _choose_cue(self, t: float) -> None:
        """Cues are chosen on inputs, not on display frames, so a replay gives the same cues."""
        before = self.cues.current
        cue = self.cues.choose(t, standing_cues(self.exercise, self.standing()))
        if cue is not None and cue is not before:
            self._emit(CueShown(cue.since_s, cue.key, cue.text, cue.severity))

    def standing(self) -> Standing:
        ck, live = self.checks, self.live
        out = ck.out
        return Standing(
            phase=self.phases.phase,
            pause_trigger=self.phases.pause_trigger,
            safety_cue=live.safety_cue,
            setup_problem=live.setup_problem if live.has_person else None,
            status=tuple(int(s) for s in ck.status),
            active=tuple(a == 1.0 for a in ck.active),
            progress=float(out[fr.O_RANGE]),
            personal_range=self.personal_range,
            rep_phase=live.rep_phase,
            load_band=int(out[fr.O_BAND]),
            fusion_difference=live.fusion_difference,
            held_s=self.held_s,
        )

    # -- reading -----------------------------------------------------------------------------

    @property
    def personal_range(self) -> bool:
        """Going past the target matters when it is the patient's own (or a limit is set)."""
        tg = self.targets
        return tg.source == "profile" or math.isfinite(tg.pain_free_limit)

    @property
    def now(self) -> float:
        """The latest session time the engine was fed (s)."""
        return self._now

    @property
    def signal(self) -> float:
        """The driving signal's latest value (NaN when not measured)."""
        return self.live.signal

    @property
    def held_s(self) -> float:
        """Seconds held in the hold in progress (hold exercises)."""
        return self.checks.held_s if self._hold_mode else 0.0

    @property
    def landmarks(self) -> np.ndarray | None:
        """Smoothed image landmarks (33, 2) of the latest pose, None when nobody is seen."""
        return self.checks.landmarks_xy if self.live.has_person else None

    @property
    def rep_count(self) -> int:
        return sum(1 for r in self.reps if r.counted)

    @property
    def set_index(self) -> int:
        return self.set.index

    @property
    def set_reps(self) -> int:
        return self.set.reps

    @property
    def fusion_difference(self) -> float:
        return self.live.fusion_difference

    @property
    def fusion_differences(self) -> list[float]:
        return self.live.fusion_differences

    def machine_silent(self, t: float) -> bool:
        """A machine set at session time ``t`` with no machine sample for ``MACHINE_LOST_S``:
        the caller stops it as ``machine_lost`` (and records that, so a replay agrees)."""
        uses_machine = not self._camera_signal or self.exercise.load is not None
        working = self.phases.phase == Phase.WORKING
        return uses_machine and working and t - self.live.last_machine_t > MACHINE_LOST_S

    def rule_working(self, i: int) -> bool:
        """Whether exercise rule ``i`` counts in the present rep phase."""
        return self.checks.active[i] == 1.0

    def rule_landmarks(self, i: int) -> tuple[int, ...]:
        return self.setup.rule_landmarks[i].on(self.checks.side)

    def set_aspect(self, aspect: float) -> None:
        """The camera's width / height, so image-plane angles use square pixels."""
        if math.isfinite(aspect) and aspect > 0:
            self.checks.set_aspect(aspect)

    def segment_status(self) -> tuple[RuleStatus, ...]:
        return self._view.segment_status()

    def snapshot(
        self,
        t: float | None = None,
        frame: np.ndarray | None = None,
        camera: SourceStatus | None = None,
        machine: SourceStatus | None = None,
        pose_fps: float = math.nan,
    ) -> Snapshot:
        """What the screens draw now (``t``: the display's session time, None: the latest
        input's)."""
        return self._view.build(t, frame, camera, machine, pose_fps)
