"""Camera tests without a machine, read from the pose stream:

- trunk range (standing): flexion and extension from the side, lateral flexion to each side
  from the front. The trunk line runs from the middle of the hips to the middle of the
  shoulders; its lean from the vertical is measured against the patient's own upright stance
  (the median lean over the frames within 15 deg of vertical), so a camera that is not quite
  level does not add to the range. A trial is a lean past 10 deg and back; the furthest
  100 ms median counts. (The trunk line includes the hips: it is not a lumbar angle.)
- 30-second sit-to-stand: the ``sit_to_stand`` exercise's own rep counter (the session engine
  with its posture rules), counting full stands from "go" until the window ends.
- endurance holds (front plank, side bridge): the exercise's posture rules judge every frame;
  the hold runs from the first moment in position with no form fault to the first failure
  that lasts ``fail_grace_s`` (out of position, or a fault-severity rule at fault).

Each test says "could not be measured" and why when the camera cannot see what it needs: no
person, the landmarks the test reads hidden in most frames, or the wrong view (side or front).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from assessment.protocols import CameraMeasure, TestDef, TestKind
from assessment.results import TestResult
from assessment.run import Step
from body.landmarks import INDEX
from exercises.library import get_exercise
from kernels.reps import RepPhase
from kernels.rules import FAULT, OK, UNKNOWN
from session.engine import SessionConfig, SessionEngine
from session.events import PoseInput, RepDone

TRIAL_DEG = 10.0  # a lean past this from upright is a trial
BACK_DEG = 5.0  # and it ends when the lean is back within this
UPRIGHT_DEG = 15.0  # frames leaning less than this from vertical make the upright reference
SEEN_SHARE = 0.6  # the landmarks a test reads must be visible in this share of frames
MIN_VIS = 0.5
SIDE_MAX_WIDTH = 0.5  # side view: shoulder width / trunk length at most this (side-on: ~0.1)
FRONT_MIN_WIDTH = 0.3  # front view: at least this (facing: ~0.6-0.75; 45 deg: ~0.45)

_SH = (INDEX["left_shoulder"], INDEX["right_shoulder"])
_HIP = (INDEX["left_hip"], INDEX["right_hip"])
_HEEL = (INDEX["left_heel"], INDEX["right_heel"])
_TOE = (INDEX["left_foot_index"], INDEX["right_foot_index"])
_NOSE = INDEX["nose"]


def _mid(img: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return (img[pair[0], :2] + img[pair[1], :2]) / 2.0


class CameraSteps:
    """Builds the runner's step for a camera test (``AssessmentRunner(camera_steps=...)``)."""

    def __init__(self, aspect: float = 1.0) -> None:
        self.aspect = aspect if math.isfinite(aspect) and aspect > 0 else 1.0

    def make(self, test: TestDef) -> Step:
        if test.kind is TestKind.CAMERA_RANGE:
            return TrunkRangeStep(test, self.aspect)
        if test.kind is TestKind.CAMERA_COUNT:
            return CountStep(test, self.aspect)
        if test.kind is TestKind.CAMERA_HOLD:
            return HoldStep(test, self.aspect)
        step = Step(test)
        step.reason = f"could not be measured: {test.kind.value} is not a camera test"
        return step


class _CameraStep(Step):
    """Counts how often the landmarks the test reads were seen, and checks the view."""

    needs: tuple[int, ...] = _SH + _HIP

    def __init__(self, test: TestDef, aspect: float) -> None:
        super().__init__(test)
        self.aspect = aspect
        self.frames = 0
        self.seen = 0
        self.persons = 0
        self.widths: list[float] = []  # shoulder width / trunk length, while upright-ish

    def _look(self, t: float, pose) -> np.ndarray | None:
        """The pose's image landmarks when the test can read them, else None."""
        if t < self.measure_from:
            return None
        self.frames += 1
        if not pose.detected:
            return None
        self.persons += 1
        img = pose.image.astype(np.float64)
        vis = img[list(self.needs), 3]
        if not np.all(vis >= MIN_VIS):  # NaN compares False: not seen
            return None
        self.seen += 1
        sh, hip = _mid(img, _SH), _mid(img, _HIP)
        self._width(img, sh, hip)
        return img

    def _width(self, img: np.ndarray, sh: np.ndarray, hip: np.ndarray) -> None:
        """Shoulder to shoulder against hips to shoulders, in the image: large when the
        camera faces the chest (standing or lying on the side), small from the side."""
        trunk = math.hypot((sh[0] - hip[0]) * self.aspect, sh[1] - hip[1])
        d = img[_SH[0], :2] - img[_SH[1], :2]
        width = math.hypot(d[0] * self.aspect, d[1])
        if trunk > 0 and math.isfinite(width) and len(self.widths) < 600:
            self.widths.append(width / trunk)

    def cannot_see(self) -> str:
        """Why the camera could not measure this test; "" when it could."""
        if self.frames == 0:
            return ""
        if self.persons == 0:
            return "could not be measured: no person in view"
        share = self.seen / self.frames
        if share < SEEN_SHARE:
            return (
                f"could not be measured: the camera saw the {self._needs_text()} in only "
                f"{share:.0%} of the frames"
            )
        if self.widths:
            width = float(np.median(self.widths))
            if self.test.view == "side" and width > SIDE_MAX_WIDTH:
                return (
                    "could not be measured: the test needs a side view; the camera sees the "
                    "patient from the front"
                )
            if self.test.view == "front" and width < FRONT_MIN_WIDTH:
                return (
                    "could not be measured: the test needs a front view; the camera sees the "
                    "patient from the side"
                )
        return ""

    def _needs_text(self) -> str:
        return "shoulders and hips"

    def result(self, why_short: str) -> TestResult:
        blind = self.cannot_see()
        if blind:  # a number read from what the camera could not see is no measurement
            self.reason = blind
        return super().result(why_short)


class TrunkRangeStep(_CameraStep):
    def __init__(self, test: TestDef, aspect: float) -> None:
        super().__init__(test, aspect)
        self.t: list[float] = []
        self.lean: list[float] = []  # degrees from vertical, positive toward the test's side
        self.ref = math.nan
        self._now = math.nan

    def _lean(self, img: np.ndarray) -> float:
        sh, hip = _mid(img, _SH), _mid(img, _HIP)
        dx, dy = (sh[0] - hip[0]) * self.aspect, hip[1] - sh[1]  # up is +dy
        m = self.test.measure
        if m in (CameraMeasure.TRUNK_FLEXION, CameraMeasure.TRUNK_EXTENSION):
            facing = self._facing(img)
            if facing == 0.0:
                return math.nan
            forward = math.degrees(math.atan2(dx * facing, dy))
            return forward if m is CameraMeasure.TRUNK_FLEXION else -forward
        # Front view: toward the patient's left is the direction from the right hip to the
        # left hip, whichever way the image is mirrored.
        side = (img[_HIP[0], 0] - img[_HIP[1], 0]) * self.aspect
        if side == 0 or not math.isfinite(side):
            return math.nan
        toward_left = math.degrees(math.atan2(dx * math.copysign(1.0, side), dy))
        return toward_left if m is CameraMeasure.TRUNK_LATERAL_LEFT else -toward_left

    def _facing(self, img: np.ndarray) -> float:
        """+1 when the patient faces image right, -1 left, 0 unknown: toes ahead of heels,
        else the nose ahead of the shoulders."""
        d = []
        for h, t in zip(_HEEL, _TOE, strict=True):
            if img[h, 3] >= MIN_VIS and img[t, 3] >= MIN_VIS:
                d.append(img[t, 0] - img[h, 0])
        if not d and img[_NOSE, 3] >= MIN_VIS:
            d.append(img[_NOSE, 0] - _mid(img, _SH)[0])
        s = float(np.sum(d)) if d else 0.0
        return 0.0 if s == 0 or not math.isfinite(s) else math.copysign(1.0, s)

    def feed_pose(self, t: float, pose) -> None:
        self._now = t
        img = self._look(t, pose)
        if img is None:
            return
        lean = self._lean(img)
        if math.isfinite(lean):
            self.t.append(t)
            self.lean.append(lean)

    def analyse(self, now: float) -> None:
        if len(self.lean) < 5:
            return
        lean = np.asarray(self.lean)
        upright = lean[np.abs(lean) < UPRIGHT_DEG]
        if upright.size < 3:
            return
        self.ref = float(np.median(upright))
        t = np.asarray(self.t)
        dt = np.median(np.diff(t)) if t.size > 1 else 0.03
        k = max(1, round(0.1 / float(dt)) if dt > 0 else 3)
        smooth = _median_filter(lean - self.ref, k)
        counted, rejected = [], []
        in_trial, peak, last_end = False, 0.0, math.nan
        for i, x in enumerate(smooth):
            if not in_trial and x > TRIAL_DEG:
                in_trial, peak = True, x
            elif in_trial:
                peak = max(peak, x)
                if x < BACK_DEG:
                    in_trial = False
                    counted.append(round(peak, 1))
                    last_end = float(t[i])
        self.counted, self.rejected = counted, rejected
        self.in_progress = in_trial
        if math.isfinite(last_end):
            self.last_end = last_end

    def source_ended(self, now: float) -> None:
        """A recording that ends while the trunk is still out: that lean counts too."""
        if self.in_progress and math.isfinite(self.ref):
            lean = np.asarray(self.lean) - self.ref
            since = self.last_end if math.isfinite(self.last_end) else -math.inf
            tail = lean[np.asarray(self.t) >= since]
            if tail.size:
                self.counted.append(round(float(np.max(_median_filter(tail, 3))), 1))
            self.in_progress = False

    def live(self) -> float:
        if not self.lean or not math.isfinite(self.ref):
            return math.nan
        return self.lean[-1] - self.ref

    def result(self, why_short: str) -> TestResult:
        if self.frames and not math.isfinite(self.ref) and not self.cannot_see():
            self.reason = (
                "could not be measured: the patient never stood upright in view, so there is "
                "no upright reference"
            )
        return super().result(why_short)


def _median_filter(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or x.size < k:
        return x
    pad = k // 2
    padded = np.pad(x, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    return np.median(windows, axis=1)[: x.size]


def _engine(exercise_id: str, aspect: float, hold_s: float = math.nan) -> SessionEngine:
    ex = get_exercise(exercise_id)
    if math.isfinite(hold_s):
        ex = replace(ex, dose=replace(ex.dose, hold_s=hold_s))
    engine = SessionEngine(ex, None, SessionConfig(setup_s=0.0, countdown_s=0.0, open_ended=True))
    engine.set_aspect(aspect)
    return engine


class CountStep(_CameraStep):
    """Full stands counted by the exercise's own rep counter within ``window_s`` of "go"."""

    needs = ()  # from the side one hip, knee and ankle is enough (checked in _look)

    def __init__(self, test: TestDef, aspect: float) -> None:
        super().__init__(test, aspect)
        self.engine = _engine(test.exercise, aspect)
        self.count = 0
        self.window_end = math.inf
        self.first_seated_t = math.inf  # the first frame the counter saw the patient at rest
        self.ended_early = False
        self._now = math.nan

    def _needs_text(self) -> str:
        return "hip, knee and ankle of one side"

    def _look(self, t: float, pose) -> np.ndarray | None:
        img = super()._look(t, pose)
        if img is None:
            return None
        side_ok = any(
            all(img[INDEX[f"{s}_{j}"], 3] >= MIN_VIS for j in ("hip", "knee", "ankle"))
            for s in ("left", "right")
        )
        if not side_ok:
            self.seen -= 1
        return img

    def feed_pose(self, t: float, pose) -> None:
        self._now = t
        if t < self.measure_from:
            return
        if not math.isfinite(self.window_end):
            self.window_end = self.measure_from + self.test.window_s
        if t > self.window_end:
            return
        self._look(t, pose)
        self.engine.feed(PoseInput(t, pose))
        for ev in self.engine.take_events():
            rep = ev.rep if isinstance(ev, RepDone) else None
            # A stand counts from seated after "go": one under way before the counter has
            # seen the patient sitting (who started standing) does not.
            if rep and rep.counted and self.first_seated_t <= rep.start_s <= rep.end_s:
                self.count += rep.end_s <= self.window_end
        resting = pose.detected and self.engine.standing().rep_phase == RepPhase.REST
        if resting and not math.isfinite(self.first_seated_t):
            self.first_seated_t = t

    def analyse(self, now: float) -> None:
        if self._done(now) and not self.counted:
            self._last_stand()
        self.counted = [float(self.count)] if self._done(now) else []
        self.in_progress = not self._done(now)

    def _last_stand(self) -> None:
        """A stand more than half way up when the time runs out counts (the 30-second chair
        stand's own rule, as Rikli and Jones describe the test)."""
        s = self.engine.standing()
        if s.rep_phase != RepPhase.REST and math.isfinite(s.progress) and s.progress >= 0.5:
            self.count += 1
            self.rejected = ["the last stand, more than half way up when the time ran out, counts"]

    def _done(self, now: float) -> bool:
        return math.isfinite(self.window_end) and now >= self.window_end

    def source_ended(self, now: float) -> None:
        if not self._done(now):
            self.ended_early = True
            self._last_stand()
        self.counted = [float(self.count)]
        self.in_progress = False

    def live(self) -> float:
        return float(self.count)

    def message(self, now: float) -> str:
        if math.isfinite(self.window_end):
            return f"{max(0.0, self.window_end - now):.0f} s left"
        return ""

    def result(self, why_short: str) -> TestResult:
        r = super().result(why_short)
        if self.ended_early and r.measured:
            done = (self._now - self.measure_from) if math.isfinite(self._now) else 0.0
            note = f"the recording ended after {done:.0f} s of the {self.test.window_s:g} s"
            return replace(r, at_least=True, rejected=(*self.rejected, note))
        return r


class HoldStep(_CameraStep):
    """Seconds in position with no form fault, until the first failure that lasts."""

    needs = ()  # the posture rules say what they cannot see (UNKNOWN)

    def __init__(self, test: TestDef, aspect: float) -> None:
        super().__init__(test, aspect)
        self.engine = _engine(test.exercise, aspect, hold_s=test.max_hold_s)
        ex = self.engine.exercise
        keys = [r.key for r in ex.rules]
        self.position = [keys.index(k) for k in ex.position_rules]
        self.faults = [i for i, r in enumerate(ex.rules) if r.severity == "fault"]
        self.start = math.nan  # first frame of the hold
        self.last_good = math.nan
        self.bad_since = math.nan
        self.judged = 0
        self.end = math.nan
        self._now = math.nan
        self.still_holding = False  # the input ended while the patient still held

    def _needs_text(self) -> str:
        return "body the posture rules judge"

    def feed_pose(self, t: float, pose) -> None:
        self._now = t
        if t < self.measure_from or math.isfinite(self.end):
            return
        self.frames += 1
        self.persons += pose.detected
        self.engine.feed(PoseInput(t, pose))
        self.engine.take_events()
        if pose.detected:
            img = pose.image.astype(np.float64)
            if np.all(img[list(_SH + _HIP), 3] >= MIN_VIS):
                self._width(img, _mid(img, _SH), _mid(img, _HIP))
        status = self.engine.checks.status
        pos = [int(status[i]) for i in self.position]
        if not pose.detected or any(s == UNKNOWN for s in pos):
            return  # not judged: neither a good nor a bad frame
        self.judged += 1
        self.seen += 1
        in_position = all(s == OK for s in pos)
        faulted = any(int(status[i]) == FAULT and self.engine.rule_working(i) for i in self.faults)
        good = in_position and not faulted
        if good:
            if not math.isfinite(self.start):
                self.start = t
            self.last_good = t
            self.bad_since = math.nan
        elif math.isfinite(self.start):
            if not math.isfinite(self.bad_since):
                self.bad_since = t
            if t - self.bad_since >= self.test.fail_grace_s:
                self.end = self.last_good  # the hold ended when the lasting failure began
        if math.isfinite(self.start) and t - self.start >= self.test.max_hold_s:
            self.end = t

    def analyse(self, now: float) -> None:
        if math.isfinite(self.end):
            self.counted = [round(self.end - self.start, 1)]
            self.in_progress = False
            self.last_end = self.end
        else:
            self.counted = []
            self.in_progress = math.isfinite(self.start)

    def source_ended(self, now: float) -> None:
        if math.isfinite(self.start) and not math.isfinite(self.end):
            self.end = self.last_good
            self.counted = [round(self.end - self.start, 1)]
            self.still_holding = True
        self.in_progress = False

    def live(self) -> float:
        if not math.isfinite(self.start):
            return math.nan
        end = self.end if math.isfinite(self.end) else self._now
        return end - self.start

    def result(self, why_short: str) -> TestResult:
        if self.frames and not math.isfinite(self.start) and not self.cannot_see():
            self.reason = "could not be measured: the patient was never in position with good form"
        r = super().result(why_short)
        if r.measured and (self.still_holding or r.value >= self.test.max_hold_s):
            return replace(r, at_least=True)
        return r


def recorded(protocol, test_ids: list[str] | None = None):
    """The protocol as run on a recording: only ``test_ids`` (all when None), no derived
    results unless both their tests are kept, and no instruction, countdown or result time
    (a recording cannot wait for anyone)."""
    from assessment.errors import AssessmentRunError

    tests = protocol.tests
    if test_ids:
        unknown = [t for t in test_ids if t not in {x.id for x in tests}]
        if unknown:
            known = ", ".join(x.id for x in tests)
            raise AssessmentRunError(
                f"--test: {unknown[0]} is not a test of {protocol.id} ({known})"
            )
        tests = tuple(t for t in tests if t.id in test_ids)
    kept = {t.id for t in tests}
    derived = tuple(d for d in protocol.derived if set(d.of) <= kept)
    timing = replace(protocol.timing, instruction_s=0.0, countdown_s=0.0, result_s=0.0)
    return replace(protocol, tests=tests, derived=derived, timing=timing)


def run_on_poses(protocol, poses, aspect: float, test_ids: list[str] | None = None):
    """Every pose of a recording, in order, through the assessment runner; the results."""
    from assessment.run import AssessmentRunner

    runner = AssessmentRunner(
        recorded(protocol, test_ids), start_t=0.0, camera_steps=CameraSteps(aspect)
    )
    for pose in poses:
        runner.feed_pose(float(pose.timestamp), pose)
        if runner.finished:
            break
    runner.source_ended()
    return runner.results
