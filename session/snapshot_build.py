"""The engine's state drawn into one immutable ``Snapshot`` per display frame."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from body.landmarks import SKELETON
from kernels import frame as fr
from kernels.reps import RepPhase
from session.ghost import Ghost
from session.phases import Phase
from session.snapshot import (
    RuleStatus,
    RuleView,
    ScreenPhase,
    Snapshot,
    SourceState,
    SourceStatus,
    Trace,
)
from session.traces import TraceBuffer

if TYPE_CHECKING:
    from session.engine import SessionEngine

TRACE_S = 20.0
_NO_CAMERA = SourceStatus("camera", SourceState.OFF)


class SnapshotBuilder:
    """Builds snapshots of one engine; the parts that cannot change are made once, and the
    skeleton's colours only when a rule's status, activity or the working side changed."""

    def __init__(self, engine: SessionEngine) -> None:
        self.engine = engine
        ex = engine.exercise
        self._rule_static = tuple(
            (
                rd.key,
                rd.label or rd.key,
                rd.low if math.isfinite(rd.low) else math.nan,
                rd.high if math.isfinite(rd.high) else math.nan,
                "deg" if rd.kind != "visibility" else "",
            )
            for rd in ex.rules
        )
        tp = ex.tempo
        self._tempo_total = sum(x for x in (tp.out_s, tp.hold_s, tp.back_s) if math.isfinite(x))
        self._segments_key: tuple = ()
        self._segments: tuple[RuleStatus, ...] = ()
        self._ghost = Ghost.for_exercise(ex)
        self._ghost_frames = -1  # the poses the ghost has measured the patient on
        self._ghost_key: tuple = ()
        self._ghost_last: np.ndarray | None = None
        self._landmarks_key: tuple[int, np.ndarray | None] = (-1, None)
        self._landmarks: np.ndarray | None = None

    def segment_status(self) -> tuple[RuleStatus, ...]:
        """One status per skeleton segment: the worst counting rule that touches it."""
        eng = self.engine
        ck = eng.checks
        key = (ck.status.tobytes(), ck.active.tobytes(), ck.side)
        if key == self._segments_key:
            return self._segments
        worst = [RuleStatus.OK] * len(SKELETON)
        for i in range(len(eng.exercise.rules)):
            st = int(ck.status[i])
            if not eng.rule_working(i) or st == RuleStatus.OK:
                continue
            lms = set(eng.rule_landmarks(i))
            for s, (a, b) in enumerate(SKELETON):
                if a in lms and b in lms and (worst[s] == RuleStatus.OK or st == RuleStatus.FAULT):
                    worst[s] = RuleStatus(st)
        self._segments_key, self._segments = key, tuple(worst)
        return self._segments

    def _rules(self) -> tuple[RuleView, ...]:
        eng = self.engine
        ck = eng.checks
        views = [
            RuleView(
                key,
                label,
                RuleStatus(int(ck.status[i])) if eng.rule_working(i) else RuleStatus.OK,
                float(ck.value[i]),
                low,
                high,
                unit,
                eng.rule_landmarks(i),
            )
            for i, (key, label, low, high, unit) in enumerate(self._rule_static)
        ]
        fu = eng.exercise.fusion
        if fu is not None:
            diff = eng.fusion_difference
            ok = not abs(diff) > fu.max_difference
            status = RuleStatus.OK if ok else RuleStatus.WARNING
            limit = fu.max_difference
            views.append(RuleView("fusion", "camera - machine", status, diff, -limit, limit))
        return tuple(views)

    @staticmethod
    def _trace(label: str, unit: str, buf: TraceBuffer, now: float) -> Trace:
        t, v = buf.window(now, TRACE_S)
        return Trace(label, unit, t, v)

    def _tempo_position(self, now: float, rep_phase: RepPhase) -> float:
        """Where in the rep the patient should be now, 0..1 over out + hold + back."""
        started = self.engine.checks.rep_started
        if self._tempo_total <= 0 or rep_phase == RepPhase.REST or math.isnan(started):
            return math.nan
        return min(1.0, max(0.0, (now - started) / self._tempo_total))

    def _landmarks_copy(self) -> np.ndarray | None:
        """The latest pose's landmarks as a copy: the engine's live in the checks' workspace,
        which the next input overwrites while a screen may still be drawing this snapshot.
        One read-only copy per pose, shared by the display frames that show it, so a screen
        tells a new pose by the array's identity."""
        lm = self.engine.landmarks
        if lm is None:
            return None
        frames, src = self._landmarks_key
        if frames != self.engine.counts.frames or src is not lm:
            copy = lm.copy()
            copy.setflags(write=False)
            self._landmarks_key, self._landmarks = (self.engine.counts.frames, lm), copy
        return self._landmarks

    def _ghost_pose(self, ph: Phase) -> np.ndarray | None:
        """The reference figure fitted to the patient, while a set is about to start or on."""
        eng, ghost = self.engine, self._ghost
        lm = eng.landmarks
        if ghost is None or lm is None:
            return None
        aspect = eng.checks.rule_set.aspect
        if eng.counts.frames != self._ghost_frames:
            ghost.observe(lm, aspect)
            self._ghost_frames = eng.counts.frames
        if ph not in (Phase.COUNTDOWN, Phase.WORKING):
            return None
        rep_phase = eng.live.rep_phase if eng.exercise.mode == "reps" else None
        progress = float(eng.checks.out[fr.O_RANGE])
        # Display frames outnumber poses: a frame with no new input shows the same ghost.
        key = (eng.counts.frames, eng.now, ph, rep_phase, progress, eng.checks.side)
        if key != self._ghost_key:
            self._ghost_key = key
            pose = ghost.pose(lm, aspect, rep_phase, progress, eng.checks.side)
            if pose is not None:
                pose.setflags(write=False)  # shared by the snapshots of this input
            self._ghost_last = pose
        return self._ghost_last

    def build(
        self,
        t: float | None = None,
        frame: np.ndarray | None = None,
        camera: SourceStatus | None = None,
        machine: SourceStatus | None = None,
        pose_fps: float = math.nan,
    ) -> Snapshot:
        eng = self.engine
        ex, tg, live = eng.exercise, eng.targets, eng.live
        now = eng.now if t is None else max(t, eng.now)
        ph = eng.phases.phase
        screen_phase = ScreenPhase(ph.value)
        if ph == Phase.WORKING and ex.mode == "hold" and eng.held_s > 0:
            screen_phase = ScreenPhase.HOLD
        traces = [self._trace(ex.signal.label, ex.signal.unit, eng.signal_trace, now)]
        if ex.load is not None:
            traces.append(self._trace("force", "N", eng.force_trace, now))
        open_ended = eng.config.open_ended
        since = now - eng.phases.entered_at
        rep_count = eng.set_reps if ex.mode == "reps" else sum(h.completed for h in eng.holds)
        return Snapshot(
            t=now,
            exercise_id=ex.id,
            exercise_name=ex.name,
            phase=screen_phase,
            frame=frame,
            landmarks=self._landmarks_copy(),
            ghost=self._ghost_pose(ph),
            segment_status=self.segment_status(),
            angles=((ex.signal.label, live.signal),),
            rep_count=rep_count,
            reps_target=0 if open_ended else eng.reps_target,
            set_index=eng.set_index,
            sets_total=1 if open_ended else ex.dose.sets,
            range_progress=float(eng.checks.out[fr.O_RANGE]),
            range_target=1.0,
            pain_free_limit=eng.checks.limit_progress,
            signal_value=live.signal,
            signal_unit=ex.signal.unit,
            force_n=live.force,
            load_band_n=tg.load_band_n,
            load_limit_n=tg.load_limit_n,
            tempo_position=self._tempo_position(now, live.rep_phase),
            tempo_phase=live.rep_phase if ex.mode == "reps" else None,
            hold_s=eng.held_s,
            hold_target_s=eng.hold_target_s,
            rest_remaining_s=max(0.0, ex.dose.rest_s - since) if ph == Phase.REST else 0.0,
            countdown_s=max(0.0, eng.config.countdown_s - since) if ph == Phase.COUNTDOWN else 0.0,
            cue=eng.cues.current,
            safety_stop=ph == Phase.STOPPED,
            rules=self._rules(),
            reps=tuple(eng.reps[-20:]),
            traces=tuple(traces),
            camera=camera or _NO_CAMERA,
            machine=machine,
            pose_fps=pose_fps,
            patient_code=eng.patient_code,
        )
