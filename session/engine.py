"""The session engine: from poses and machine readings to reps, holds, cues and snapshots.

Single-threaded by design: the loop feeds it on one thread (poses as they finish, machine
readings every display frame) and takes one immutable ``Snapshot`` per display frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from body.landmarks import SKELETON
from body.pose import Pose
from exercises.schema import ExerciseDef
from kernels.checks import rep_segments
from kernels.loading import ABOVE, BELOW, LoadMonitor, LoadRep
from kernels.reps import HoldTimer, RepCounter, RepPhase, RepRecord, Tempo
from kernels.rom import RangeOfMotion
from kernels.rules import FAULT, OK, UNKNOWN, WARNING
from kernels.smoothing import LandmarkSmoother
from session.cues import CueSelector
from session.measures import ExerciseMeasures
from session.phases import Phase, PhaseMachine
from session.snapshot import (
    Cue,
    RepView,
    RuleStatus,
    RuleView,
    Severity,
    Snapshot,
    SourceStatus,
    Trace,
)
from session.targets import PatientProfile, Targets, resolve_targets
from session.traces import TraceBuffer

TRACE_S = 20.0
# A machine set with no machine sample for this long has no load check: it is stopped.
MACHINE_LOST_S = 1.0
# What ``command`` and ``adjust`` accept (the screens send these; a replay is checked against them).
COMMANDS = ("pause", "resume", "acknowledge", "finish")
TARGET_KEYS = (
    "range_target",
    "pain_free_limit",
    "reps_target",
    "hold_target_s",
    "load_band_low_n",
    "load_band_high_n",
)
OVERSHOOT_SHARE = 0.15  # past the target by this share of the range: "not so far" cue
_REP_PHASE_NAMES = {
    RepPhase.REST: "rest",
    RepPhase.OUT: "out",
    RepPhase.TOP: "top",
    RepPhase.BACK: "back",
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
    kind: str  # "pain_free_range", "overload", "range", "machine_lost"
    value: float
    limit: float


@dataclass(frozen=True, slots=True)
class HoldRecord:
    start_s: float
    end_s: float
    hold_s: float  # time held in position with correct posture
    completed: bool


@dataclass
class _Counters:
    frames: int = 0
    frames_with_pose: int = 0
    first_t: float = math.nan
    last_t: float = math.nan


@dataclass
class _RepProgress:
    faults: set[str] = field(default_factory=set)
    min_value: float = math.inf
    max_value: float = -math.inf


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
        self.measures = ExerciseMeasures(exercise, aspect=aspect)
        if profile is not None and profile.side in ("left", "right"):
            self.measures.fix_side(profile.side)  # the therapist's choice of working side
        self._await_release = False
        self.smoother = LandmarkSmoother()
        self.phases = PhaseMachine()
        self.cues = CueSelector(self.config.lang)
        self._build_counters()
        self.set_index = 1
        self.reps: list[RepView] = []
        self.rep_records: list[RepRecord] = []
        self.holds: list[HoldRecord] = []
        self.safety_events: list[SafetyEventRecord] = []
        self.fault_log: list[tuple[float, str, str]] = []  # (t, rule key, "warning"/"fault")
        self.counts = _Counters()
        self._rep = _RepProgress()
        self._rule_status = np.full(len(exercise.rules), UNKNOWN, dtype=np.int8)
        self._rule_value = np.full(len(exercise.rules), np.nan)
        self._rule_active = np.ones(len(exercise.rules), dtype=bool)
        self._prev_status = self._rule_status.copy()
        self._landmarks: np.ndarray | None = None
        self._signal = math.nan
        self._progress = math.nan
        self._rep_phase = RepPhase.REST
        self._force = math.nan
        self._last_person_t = -math.inf
        self._in_view_since = math.nan
        self._hold_start = math.nan
        self._rep_started = math.nan
        self._last_machine_t = -math.inf
        self._load_band = -1
        self.fusion_difference = math.nan
        self.fusion_differences: list[float] = []
        self.load_reps: list[LoadRep] = []
        keys = [rd.key for rd in exercise.rules]
        self._position_cols = [keys.index(k) for k in exercise.position_rules]
        self._other_cols = [i for i in range(len(keys)) if i not in self._position_cols]
        fu = exercise.fusion
        self._fusion_col = keys.index(fu.camera_rule) if fu is not None else -1
        self._safety_cue: str | None = None
        self.signal_trace = TraceBuffer()
        self.force_trace = TraceBuffer()
        self._now = 0.0
        self.set_reps = 0
        if self.config.open_ended:
            self.phases.phase = Phase.WORKING
        if self.targets.note:  # e.g. a stored tested maximum above the exercise's ceiling
            self.phases.log_note(0.0, self.targets.note)

    # -- set-up ------------------------------------------------------------------------------

    def _build_counters(self) -> None:
        tg, ex = self.targets, self.exercise
        tempo = ex.tempo
        self.counter = RepCounter(
            tg.start,
            tg.target,
            leave=ex.signal.leave,
            back=ex.signal.back,
            full=ex.signal.full,
            hysteresis=ex.signal.hysteresis,
            tempo=(tempo.out_s, tempo.hold_s, tempo.back_s),
            tempo_tolerance=tempo.tolerance,
            out_is_concentric=tempo.out_is_concentric,
        )
        self.rom = RangeOfMotion(tg.start, tg.target, tg.pain_free_limit)
        hold = self.hold_target_s
        self.hold_timer = HoldTimer(hold if hold > 0 else math.inf)
        self.load = None
        if ex.load is not None:
            self.load = LoadMonitor(
                tg.load_band_n, limit_n=tg.load_limit_n, rate_limit_n_s=ex.load.max_rate_n_s
            )

    def adjust(self, key: str, delta: float, t: float) -> None:
        """A therapist's live change of one target (keys as the therapist view names them).
        Counts so far are kept; the rep in progress restarts against the new target."""
        tg = self.targets
        before = (tg, self.reps_target, self.hold_target_s)
        span = tg.target - tg.start
        if key == "range_target":
            target = tg.start + (1.0 + delta) * span
            if math.isfinite(tg.pain_free_limit) and (target - tg.pain_free_limit) * span > 0:
                target = tg.pain_free_limit  # never a target past the pain-free limit
            self.targets = replace(tg, target=target)
        elif key == "pain_free_limit":
            p = self.rom.limit_progress
            p = (1.2 if math.isnan(p) else p) + delta
            self.targets = replace(tg, pain_free_limit=tg.start + max(p, 1.0) * span)
        elif key == "reps_target":
            self.reps_target = max(1, round(self.reps_target + delta))
        elif key == "hold_target_s":
            self.hold_target_s = max(1.0, self.hold_target_s + delta)
        elif key in ("load_band_low_n", "load_band_high_n"):
            lo, hi = tg.load_band_n
            lo, hi = (lo + delta, hi) if key == "load_band_low_n" else (lo, hi + delta)
            if not 0 <= lo < hi <= tg.load_limit_n:
                return
            self.targets = replace(tg, load_band_n=(lo, hi))
        else:
            raise ValueError(f"unknown target {key!r}")
        if key in ("range_target", "pain_free_limit", "hold_target_s") or key.startswith("load_"):
            try:
                self._build_counters()
            except ValueError:
                # A change the kernels refuse (a target at or behind the start): not taken.
                self.targets, self.reps_target, self.hold_target_s = before
                self._build_counters()
                return
        self.phases.log_note(t, f"{key} changed by {delta:+g} by the therapist")

    # -- inputs ------------------------------------------------------------------------------

    def on_pose(self, t: float, pose: Pose) -> None:
        """Feed one estimated pose; ``t`` is the session clock (s)."""
        self._now = max(self._now, t)
        c = self.counts
        c.frames += 1
        c.first_t = t if math.isnan(c.first_t) else c.first_t
        c.last_t = t
        if pose.detected:
            c.frames_with_pose += 1
            xy, world = self.smoother(pose.image, pose.world, t)
            self._landmarks = xy
            vis = pose.image[:, 3]
            signal, status, value = self.measures.evaluate(xy, world, vis, t)
            if self.exercise.signal.source == "camera":
                self._signal = signal
            self._rule_status, self._rule_value = status, value
            if self._person_in_view(vis):
                self._last_person_t = t
        else:
            self.smoother.reset()
            self._landmarks = None
            self._rule_status = np.full(len(self.exercise.rules), UNKNOWN, dtype=np.int8)
            if self.exercise.signal.source == "camera":
                self._signal = math.nan
        self._update_fusion()
        if self.exercise.signal.source == "camera":
            self._advance(t)
            self._drive(np.array([t]), np.array([self._signal]))
        self._choose_cue(t)

    def on_machine(self, ts: np.ndarray, angles: np.ndarray, forces: np.ndarray) -> None:
        """Feed the machine samples received since the last call: times (session clock, s),
        angles (deg) and forces (N), one display frame's worth."""
        if angles.size == 0:
            return
        t = float(ts[-1])
        self._now = max(self._now, t)
        self._last_machine_t = t
        self._force = float(forces[-1])
        self.force_trace.append(t, self._force)
        if self.load is not None:
            ls = self.load.update(ts, forces, angles)
            self._load_band = ls.band
            if (
                ls.rate_exceeded
                and self._rep_phase != RepPhase.REST
                and self.phases.phase == Phase.WORKING
            ):
                self.cues.event(t, "load.too_jerky", Severity.WARNING, 55)
        # The load limit is checked on every sample, whatever its timestamp: the loading
        # kernel drops samples whose time runs backwards, a safety check must not. A value
        # passes only when finite and inside its limit (NaN compares false with anything).
        if self.exercise.load is not None:
            limit = self.targets.load_limit_n
            over = np.nonzero(~(np.isfinite(forces) & (forces <= limit)))[0]
            if over.size:
                self.on_safety(float(ts[over[0]]), "overload", float(forces[over[0]]), limit)
        if self.exercise.signal.source == "machine":
            lost = np.nonzero(~np.isfinite(angles))[0]
            if lost.size:
                self.on_safety(float(ts[lost[0]]), "range", float(angles[lost[0]]), math.nan)
        self._update_fusion()
        if self.exercise.signal.source == "machine":
            self._signal = float(angles[-1])
            self._advance(t)
            self._drive(ts, angles)
        self._choose_cue(t)

    def on_safety(self, t: float, kind: str, value: float, limit: float) -> None:
        """A safety breach: stop at once, with the unmistakable cue, every time. A breach that
        lasts (a held overload) is one event; a new one after an acknowledgement is another."""
        if self.phases.fire("safety", t, f"{kind}: {value:.1f} past limit {limit:.1f}"):
            self.safety_events.append(SafetyEventRecord(t, kind, value, limit))
            self._safety_cue = f"safety.{kind}"
        self._choose_cue(t)

    def command(self, name: str, t: float) -> bool:
        """User or therapist commands: ``pause``, ``resume``, ``acknowledge``, ``finish``."""
        if name == "finish":
            self.finish(t)
            self._choose_cue(t)
            return True
        fired = self.phases.fire(name, t, f"{name} requested")
        if fired and name == "acknowledge":
            self._safety_cue = None
            self.rom.reset_safety()
        self._choose_cue(t)
        return fired

    # -- per-frame logic ---------------------------------------------------------------------

    def _person_in_view(self, vis: np.ndarray) -> bool:
        lms = list(self.measures.signal_landmarks())
        return not lms or bool(np.all(vis[lms] >= 0.5))  # NaN compares False: not in view

    def _advance(self, t: float) -> None:
        """Phase timers and person-in-view checks."""
        ph = self.phases
        seen = t - self._last_person_t <= self.config.person_lost_s
        if self.exercise.signal.source == "machine":
            ready = t - self._last_machine_t <= 0.5
        else:
            ready = t - self._last_person_t <= 1e-9
        if ph.phase == Phase.SETUP:
            if ready:
                if math.isnan(self._in_view_since):
                    self._in_view_since = t
                if t - self._in_view_since >= self.config.setup_s:
                    ph.fire("in_view", t, "person in view")
            else:
                self._in_view_since = math.nan
        elif ph.phase == Phase.COUNTDOWN and t - ph.entered_at >= self.config.countdown_s:
            ph.fire("countdown_over", t)
            self.cues.event(t, "session.go", Severity.INFO)
        elif ph.phase == Phase.WORKING and not seen and self.exercise.signal.source == "camera":
            ph.fire("person_lost", t, "no person in view")
        elif ph.phase == Phase.PAUSED and seen:
            ph.fire("person_back", t, "person back in view")
        elif ph.phase == Phase.REST and t - ph.entered_at >= self.exercise.dose.rest_s:
            self.set_index += 1
            self.counter.reset()
            self.set_reps = 0
            ph.fire("rest_over", t)

    def _drive(self, ts: np.ndarray, values: np.ndarray) -> None:
        """Range, reps, holds and faults on the driving signal's samples of this frame."""
        t = float(ts[-1])
        finite = values[np.isfinite(values)]
        if finite.size:
            self.signal_trace.append(t, float(finite[-1]))
        if self.phases.phase == Phase.STOPPED:
            return
        # The pain-free range is checked in every phase (set-up, countdown, rest, pause, after
        # the summary): a machine can be moved past it at any time.
        rom = self.rom.update(values)
        self._progress = rom.progress
        if rom.over_limit:
            idx = int(np.argmax(self._past_limit(values)))
            self.on_safety(
                float(ts[idx]), "pain_free_range", float(values[idx]), self.targets.pain_free_limit
            )
            return
        if self.phases.phase != Phase.WORKING:
            return
        self._check_rules(t)
        if self.exercise.mode == "hold":
            self._update_hold(t)
            return
        for ti, v in zip(ts, values, strict=True):
            state = self.counter.update(float(ti), float(v))
            if self._rep_phase == RepPhase.REST and state.phase != RepPhase.REST:
                self._rep_started = float(ti)
                if self.load is not None:
                    self.load.start_rep()
            self._rep_phase = state.phase
            if math.isfinite(v) and state.phase != RepPhase.REST:
                self._rep.min_value = min(self._rep.min_value, float(v))
                self._rep.max_value = max(self._rep.max_value, float(v))
            if state.rep is not None:
                self._finish_rep(float(ti), state.rep)
                self.rom.new_rep()

    def _update_fusion(self) -> None:
        """Camera and machine measure the same movement: keep their difference live."""
        fu = self.exercise.fusion
        if fu is None or self._fusion_col < 0:
            return
        camera = float(self._rule_value[self._fusion_col])
        machine = self._signal if self.exercise.signal.source == "machine" else math.nan
        self.fusion_difference = camera - (fu.offset + fu.scale * machine)
        if math.isfinite(self.fusion_difference):
            self.fusion_differences.append(self.fusion_difference)

    def _past_limit(self, values: np.ndarray) -> np.ndarray:
        tg = self.targets
        sign = 1.0 if tg.target > tg.start else -1.0
        return sign * (values - tg.pain_free_limit) > 0

    def _check_rules(self, t: float) -> None:
        rep_phase = _REP_PHASE_NAMES[self._rep_phase]
        for i, rd in enumerate(self.exercise.rules):
            active = not rd.phases or rep_phase in rd.phases
            self._rule_active[i] = active
            st = int(self._rule_status[i])
            if active and st in (WARNING, FAULT):
                if self.exercise.mode == "reps":
                    self._rep.faults.add(rd.key)
                if st != self._prev_status[i]:
                    self.fault_log.append((t, rd.key, "fault" if st == FAULT else "warning"))
        self._prev_status = np.where(self._rule_active, self._rule_status, OK).astype(np.int8)

    def _update_hold(self, t: float) -> None:
        pos = self._position_cols
        in_position = all(self._rule_status[i] == OK for i in pos)
        others = [i for i in self._other_cols if self._rule_active[i]]
        posture_ok = not any(self._rule_status[i] == FAULT for i in others)
        if self._await_release:
            # After a completed hold the patient relaxes out of position before the next one.
            self._await_release = in_position
            return
        if in_position and math.isnan(self._hold_start):
            self._hold_start = t
        self.hold_timer.update(t, in_position, posture_ok)  # pauses while out of position
        if self.hold_timer.done:
            self._close_hold(t, completed=True)
            self.cues.event(t, "session.hold_done", Severity.POSITIVE)
            self.set_reps += 1
            self._await_release = True
            self._check_set_complete(t)

    def _close_hold(self, t: float, completed: bool) -> None:
        held = self.hold_timer.held_s
        if held > 0 or completed:
            self.holds.append(HoldRecord(self._hold_start, t, held, completed))
        self.hold_timer.reset()
        self._hold_start = math.nan

    def _finish_rep(self, t: float, rec: RepRecord) -> None:
        faults = set(self._rep.faults)
        if not rec.counted:
            faults.add(self.exercise.signal.partial_cue)
        view = RepView(
            index=len(self.reps) + 1,
            start_s=rec.start_s,
            end_s=rec.end_s,
            min_angle_deg=min(rec.min_value, self._rep.min_value),
            max_angle_deg=max(rec.max_value, self._rep.max_value),
            range_fraction=rec.peak_progress,
            duration_s=rec.duration_s,
            tempo_ok=rec.tempo_ok,
            counted=rec.counted,
            faults=tuple(sorted(faults)),
        )
        self.reps.append(view)
        self.rep_records.append(rec)
        if self.load is not None:
            self.load_reps.append(self.load.finish_rep(rep_segments(rec)))
        self._rep = _RepProgress()
        if not rec.counted:
            self.cues.event(t, self.exercise.signal.partial_cue, Severity.WARNING, 60)
            self.fault_log.append((t, self.exercise.signal.partial_cue, "warning"))
            return
        self.set_reps += 1
        if rec.tempo_out == Tempo.TOO_FAST:
            self.cues.event(t, "tempo.too_fast_out", Severity.INFO, 40)
        elif rec.tempo_back == Tempo.TOO_FAST:
            self.cues.event(t, "tempo.too_fast_back", Severity.INFO, 40)
        elif Tempo.TOO_SLOW in (rec.tempo_out, rec.tempo_back):
            self.cues.event(t, "tempo.too_slow", Severity.INFO, 30)
        else:
            self.cues.event(t, "session.rep_done", Severity.POSITIVE, 20)
        self._check_set_complete(t)

    def _check_set_complete(self, t: float) -> None:
        if self.config.open_ended or self.set_reps < self.reps_target:
            return
        last = self.set_index >= self.exercise.dose.sets
        self.phases.fire(
            "last_set_complete" if last else "set_complete", t, f"set {self.set_index} done"
        )

    @property
    def now(self) -> float:
        """The latest session time the engine was fed (s)."""
        return self._now

    def machine_silent(self, t: float) -> bool:
        """A machine set at session time ``t`` with no machine sample for ``MACHINE_LOST_S``:
        the caller stops it as ``machine_lost`` (and records that, so a replay agrees)."""
        uses_machine = self.exercise.signal.source == "machine" or self.exercise.load is not None
        working = self.phases.phase == Phase.WORKING
        return uses_machine and working and t - self._last_machine_t > MACHINE_LOST_S

    @property
    def signal(self) -> float:
        """The driving signal's latest value (NaN when not measured)."""
        return self._signal

    @property
    def landmarks(self) -> np.ndarray | None:
        """Smoothed image landmarks (33, 2) of the latest pose, None when nobody is seen."""
        return self._landmarks

    @property
    def rep_count(self) -> int:
        return sum(1 for r in self.reps if r.counted)

    # -- output ------------------------------------------------------------------------------

    def _standing_cues(self) -> list[tuple[str, Severity, int]]:
        ph = self.phases.phase
        if ph == Phase.STOPPED:
            return [(self._safety_cue or "safety.overload", Severity.SAFETY, 100)]
        if ph == Phase.PAUSED:
            key = (
                "session.person_lost"
                if self.phases.pause_trigger == "person_lost"
                else "session.paused"
            )
            return [(key, Severity.INFO, 90)]
        if ph == Phase.SETUP:
            return [("session.step_into_view", Severity.INFO, 50)]
        if ph == Phase.COUNTDOWN:
            return [("session.get_ready", Severity.INFO, 50)]
        if ph == Phase.REST:
            return [("session.rest", Severity.INFO, 50)]
        if ph == Phase.DONE:
            return [("session.done", Severity.POSITIVE, 50)]
        out: list[tuple[str, Severity, int]] = []
        for i, rd in enumerate(self.exercise.rules):
            st = self._rule_status[i]
            if self._rule_active[i] and st in (WARNING, FAULT):
                out.append(
                    (rd.cue, Severity.FAULT if st == FAULT else Severity.WARNING, rd.priority)
                )
        if self._personal_range and self._progress > 1.0 + OVERSHOOT_SHARE:
            out.append(("generic.too_far", Severity.WARNING, 70))
        if self._rep_phase != RepPhase.REST and self._load_band == ABOVE:
            out.append(("load.too_high", Severity.WARNING, 65))
        elif self._rep_phase != RepPhase.REST and self._load_band == BELOW:
            out.append(("load.too_low", Severity.INFO, 35))
        fu = self.exercise.fusion
        if fu is not None and abs(self.fusion_difference) > fu.max_difference:
            out.append(("machine.sources_disagree", Severity.INFO, 15))
        if not out:
            if self.exercise.mode == "hold":
                held = self.hold_timer.held_s
                out.append(
                    ("session.hold" if held > 0 else "session.get_into_position", Severity.INFO, 10)
                )
            elif self._rep_phase != RepPhase.REST:
                out.append(("session.good_form", Severity.POSITIVE, 10))
        return out

    @property
    def _personal_range(self) -> bool:
        """Going past the target matters when it is the patient's own (or a limit is set)."""
        tg = self.targets
        return tg.source == "profile" or math.isfinite(tg.pain_free_limit)

    def _choose_cue(self, t: float) -> None:
        """Cues are chosen on inputs, not on display frames, so a replay gives the same cues."""
        self.cues.choose(t, self._standing_cues())

    def segment_status(self) -> tuple[RuleStatus, ...]:
        worst = [RuleStatus.OK] * len(SKELETON)
        for i in range(len(self.exercise.rules)):
            st = int(self._rule_status[i])
            if not self._rule_active[i] or st == OK:
                continue
            lms = set(self.measures.rule_landmarks(i))
            for s, (a, b) in enumerate(SKELETON):
                if a in lms and b in lms and (worst[s] == RuleStatus.OK or st == FAULT):
                    worst[s] = RuleStatus(st)
        return tuple(worst)

    @staticmethod
    def _trace(label: str, unit: str, buf: TraceBuffer, now: float) -> Trace:
        t, v = buf.window(now, TRACE_S)
        return Trace(label, unit, t, v)

    def snapshot(
        self,
        t: float | None = None,
        frame: np.ndarray | None = None,
        camera: SourceStatus | None = None,
        machine: SourceStatus | None = None,
        pose_fps: float = math.nan,
    ) -> Snapshot:
        now = self._now if t is None else max(t, self._now)
        cue: Cue | None = self.cues.current
        ex, tg = self.exercise, self.targets
        rules = tuple(
            RuleView(
                key=rd.key,
                label=rd.label or rd.key,
                status=RuleStatus(int(self._rule_status[i]))
                if self._rule_active[i]
                else RuleStatus.OK,
                value=float(self._rule_value[i]),
                low=rd.low if math.isfinite(rd.low) else math.nan,
                high=rd.high if math.isfinite(rd.high) else math.nan,
                unit="deg" if rd.kind != "visibility" else "",
                landmarks=self.measures.rule_landmarks(i),
            )
            for i, rd in enumerate(ex.rules)
        )
        fu = ex.fusion
        if fu is not None:
            diff = self.fusion_difference
            ok = not abs(diff) > fu.max_difference
            rules = (
                *rules,
                RuleView(
                    "fusion",
                    "camera - machine",
                    RuleStatus.OK if ok else RuleStatus.WARNING,
                    diff,
                    -fu.max_difference,
                    fu.max_difference,
                ),
            )
        limit_frac = self.rom.limit_progress
        ph = self.phases.phase
        phase_name = str(ph)
        if ph == Phase.WORKING and ex.mode == "hold" and self.hold_timer.held_s > 0:
            phase_name = "hold"
        traces = [self._trace(ex.signal.label, ex.signal.unit, self.signal_trace, now)]
        if ex.load is not None:
            traces.append(self._trace("force", "N", self.force_trace, now))
        return Snapshot(
            t=now,
            exercise_id=ex.id,
            exercise_name=ex.name,
            phase=phase_name,
            frame=frame,
            landmarks=self._landmarks,
            segment_status=self.segment_status(),
            angles=((ex.signal.label, self._signal),),
            rep_count=self.set_reps
            if ex.mode == "reps"
            else len([h for h in self.holds if h.completed]),
            reps_target=0 if self.config.open_ended else self.reps_target,
            set_index=self.set_index,
            sets_total=1 if self.config.open_ended else ex.dose.sets,
            range_progress=self._progress,
            range_target=1.0,
            pain_free_limit=limit_frac,
            signal_value=self._signal,
            signal_unit=ex.signal.unit,
            force_n=self._force,
            load_band_n=tg.load_band_n,
            load_limit_n=tg.load_limit_n,
            tempo_position=self._tempo_position(now),
            tempo_phase=_REP_PHASE_NAMES.get(self._rep_phase, ""),
            hold_s=self.hold_timer.held_s,
            hold_target_s=self.hold_target_s,
            rest_remaining_s=max(0.0, ex.dose.rest_s - (now - self.phases.entered_at))
            if ph == Phase.REST
            else 0.0,
            countdown_s=max(0.0, self.config.countdown_s - (now - self.phases.entered_at))
            if ph == Phase.COUNTDOWN
            else 0.0,
            cue=cue,
            safety_stop=ph == Phase.STOPPED,
            rules=rules,
            reps=tuple(self.reps[-20:]),
            traces=tuple(traces),
            camera=camera or SourceStatus("camera", "off"),
            machine=machine,
            pose_fps=pose_fps,
            patient_code=self.patient_code,
        )

    def _tempo_position(self, now: float) -> float:
        """Where in the rep the patient should be now, 0..1 over out + hold + back."""
        tp = self.exercise.tempo
        total = sum(x for x in (tp.out_s, tp.hold_s, tp.back_s) if math.isfinite(x))
        if total <= 0 or self._rep_phase == RepPhase.REST or math.isnan(self._rep_started):
            return math.nan
        return min(1.0, max(0.0, (now - self._rep_started) / total))

    def finish(self, t: float) -> None:
        if self.exercise.mode == "hold" and (self.hold_timer.held_s > 0):
            self._close_hold(t, completed=False)
        self.phases.fire("finish", t, "session ended")
