"""One assessment, test by test: instruction, countdown, measuring with rests between trials,
result; then the next test. Inputs come in with their session-clock times (machine batches,
poses, safety reports, the therapist's commands); ``view()`` is what the screens draw.

States of one test (all transitions here)::

    INSTRUCTION --instruction_s or "start now"--> COUNTDOWN --countdown_s--> MEASURE
    MEASURE <--> REST (after each trial, for rest_s, unless the next trial has begun)
    MEASURE --enough trials, too many tries, or no trial for measure_timeout_s--> RESULT
    RESULT --result_s--> next test's INSTRUCTION, or DONE after the last
    any --safety--> STOPPED --acknowledge--> next test (this one "could not be measured")

Safety: every machine sample must be finite, with the force at or below the protocol's
``force_limit_n``; anything else stops the test at once. Strength is tested only at angles
inside the pain-free range measured in this assessment (``strength_limits``), never outside it
and never when that range is unknown.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from assessment import machine as mt
from assessment.protocols import Protocol, TestDef, TestKind
from assessment.results import TestResult, not_run

ANALYSE_EVERY_S = 0.25  # re-reading a test's samples more often changes nothing a person sees
MACHINE_LOST_S = 1.0
STRENGTH_MARGIN_DEG = 3.0  # strength angles this far inside the measured range, no closer
_WHAT = {  # what a test waits for, in "no ... seen"
    TestKind.MACHINE_RANGE: "movement",
    TestKind.CAMERA_RANGE: "movement",
    TestKind.MACHINE_STRENGTH: "effort",
    TestKind.CAMERA_HOLD: "hold in position",
    TestKind.CAMERA_COUNT: "stand",
}


class RunPhase(enum.Enum):
    INSTRUCTION = "instruction"
    COUNTDOWN = "countdown"
    MEASURE = "measure"
    REST = "rest"
    RESULT = "result"
    STOPPED = "stopped"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class AssessmentView:
    """One frame of the assessment screens, frozen."""

    protocol: str
    index: int  # 0-based test number
    count: int
    test_id: str
    label: str
    instruction: str
    unit: str
    kind: TestKind
    phase: RunPhase
    phase_left_s: float  # countdown, rest, instruction: seconds left
    live: float  # the value now (angle, force above rest, count, seconds held)
    best: float  # the best counted trial so far
    trials: tuple[float, ...]
    rejected: tuple[str, ...]
    repeats: int
    message: str
    result: TestResult | None  # this test's result, in RESULT
    stop_reason: str
    results: tuple[TestResult, ...]  # every test finished so far


class _Buffer:
    """Growing arrays of (t, a, b) for one test; chunks joined when read."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, t: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        self._chunks.append((t, a, b))
        self._joined = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._joined is None:
            if not self._chunks:
                e = np.zeros(0)
                self._joined = (e, e, e)
            else:
                self._joined = tuple(np.concatenate(c) for c in zip(*self._chunks, strict=True))
                self._chunks = [self._joined]
        return self._joined


class Step:
    """One test's measurement. Subclasses read their samples; the runner keeps the clock."""

    def __init__(self, test: TestDef) -> None:
        self.test = test
        self.measure_from = math.inf  # countdown start: trials before it do not count
        self.counted: list[float] = []
        self.rejected: list[str] = []
        self.in_progress = False
        self.last_end = math.nan  # when the last trial ended
        self.reason = ""  # set when the test cannot be measured at all

    @property
    def attempts(self) -> int:
        return len(self.counted) + len(self.rejected)

    @property
    def enough(self) -> bool:
        full = len(self.counted) >= self.test.repeats
        tried = self.attempts >= self.test.repeats + 2
        return (full or tried) and not self.in_progress

    def feed_machine(self, ts: np.ndarray, angles: np.ndarray, forces: np.ndarray) -> None:
        pass

    def feed_pose(self, t: float, pose: object) -> None:
        pass

    def analyse(self, now: float) -> None:
        pass

    def source_ended(self, now: float) -> None:
        """The input ended under the test (a recording): close what is still going on."""

    def live(self) -> float:
        return math.nan

    def best(self) -> float:
        return max(self.counted) if self.counted else math.nan

    def message(self, now: float) -> str:
        return ""

    def result(self, why_short: str) -> TestResult:
        t = self.test
        if self.reason or not self.counted:
            return TestResult(
                t.id, t.kind.value, t.label, t.unit, math.nan,
                reason=self.reason or why_short, rejected=tuple(self.rejected),
                direction=t.direction, side=t.side, angle_deg=t.angle_deg,
            )  # fmt: skip
        return TestResult(
            t.id, t.kind.value, t.label, t.unit, self.best(),
            trials=tuple(self.counted), rejected=tuple(self.rejected),
            direction=t.direction, side=t.side, angle_deg=t.angle_deg,
        )  # fmt: skip


class MachineRangeStep(Step):
    def __init__(self, test: TestDef) -> None:
        super().__init__(test)
        self.buf = _Buffer()
        self.angle_now = math.nan
        self.rest_deg = math.nan
        self.reached: list[float] = []  # counted trials' reached angles

    def feed_machine(self, ts: np.ndarray, angles: np.ndarray, forces: np.ndarray) -> None:
        self.buf.add(ts, angles, forces)
        self.angle_now = float(angles[-1])

    def analyse(self, now: float) -> None:
        t, a, _ = self.buf.arrays()
        if t.shape[0] == 0:
            return
        if not math.isfinite(self.rest_deg):
            self.rest_deg = mt.resting_angle(t, a)
        keep = t >= self.measure_from
        sign = self.test.toward.sign if self.test.toward else 1.0
        trials, self.in_progress = mt.find_range_trials(t[keep], a[keep], self.rest_deg, sign)
        self.counted = [tr.reached_deg * sign for tr in trials if tr.counted]
        self.reached = [tr.reached_deg for tr in trials if tr.counted]
        self.rejected = [tr.reason for tr in trials if not tr.counted]
        if trials:
            self.last_end = trials[-1].end_s

    def live(self) -> float:
        sign = self.test.toward.sign if self.test.toward else 1.0
        return self.angle_now * sign

    def result(self, why_short: str) -> TestResult:
        r = super().result(why_short)
        if r.measured:
            best = self.reached[int(np.argmax(self.counted))]
            r = _with(r, angle_deg=best)
        return r


class MachineStrengthStep(Step):
    def __init__(self, test: TestDef, rules) -> None:
        super().__init__(test)
        self.rules = rules
        self.buf = _Buffer()
        self.force_now = math.nan
        self.angle_now = math.nan
        self.rest_n = math.nan

    def feed_machine(self, ts: np.ndarray, angles: np.ndarray, forces: np.ndarray) -> None:
        self.buf.add(ts, angles, forces)
        self.force_now = float(forces[-1])
        self.angle_now = float(angles[-1])

    def analyse(self, now: float) -> None:
        t, a, f = self.buf.arrays()
        if t.shape[0] == 0:
            return
        self.rest_n = mt.resting_force(f)
        keep = t >= self.measure_from
        efforts, self.in_progress = mt.find_efforts(
            t[keep], a[keep], f[keep], self.rules, self.test.angle_deg, self.rest_n
        )
        self.counted = [e.plateau_n for e in efforts if e.counted]
        self.rejected = [e.reason for e in efforts if not e.counted]
        if efforts:
            self.last_end = efforts[-1].end_s

    def live(self) -> float:
        if not math.isfinite(self.rest_n):
            return math.nan
        return max(0.0, self.force_now - self.rest_n)

    def message(self, now: float) -> str:
        off = self.angle_now - self.test.angle_deg
        if math.isfinite(off) and abs(off) > self.rules.angle_tolerance_deg:
            return f"Set the lever to {self.test.angle_deg:.0f} deg (now {self.angle_now:.0f} deg)"
        return ""


def _with(r: TestResult, **changes: object) -> TestResult:
    from dataclasses import replace

    return replace(r, **changes)


@dataclass
class _State:
    index: int = 0
    phase: RunPhase = RunPhase.INSTRUCTION
    since: float = 0.0
    last_analysis: float = -math.inf
    last_machine_t: float = math.nan
    stop_reason: str = ""
    result: TestResult | None = None
    results: list[TestResult] = field(default_factory=list)


class AssessmentRunner:
    """Runs ``protocol`` on the inputs it is fed; ``auto_advance`` moves on from each
    instruction after its time (a simulator or a recording cannot press "start")."""

    def __init__(
        self,
        protocol: Protocol,
        *,
        start_t: float = 0.0,
        auto_advance: bool = True,
        camera_steps: object | None = None,
    ) -> None:
        self.protocol = protocol
        self.auto_advance = auto_advance
        self._camera = camera_steps  # builds camera steps (assessment.camera), if any
        self.s = _State(since=start_t)
        self.now = start_t
        self.step = self._make_step(protocol.tests[0])
        self._begin_test(start_t)

    # -- inputs -----------------------------------------------------------------------------

    def feed_machine(self, ts: np.ndarray, angles: np.ndarray, forces: np.ndarray) -> None:
        if ts.shape[0] == 0 or self.finished:
            return
        t_last = float(ts[-1])
        self.s.last_machine_t = t_last
        bad = self._unsafe(angles, forces)
        if bad is not None:
            i, why = bad
            self._stop(float(ts[i]), why)
            return
        if self.s.phase in (RunPhase.STOPPED, RunPhase.DONE):
            return
        self.step.feed_machine(ts, angles, forces)
        self.tick(t_last)

    def feed_pose(self, t: float, pose: object) -> None:
        if self.s.phase in (RunPhase.STOPPED, RunPhase.DONE):
            return
        self.step.feed_pose(t, pose)
        self.tick(t)

    def safety(self, t: float, what: str) -> None:
        """A safety report from outside (the machine's own limit check, a lost link)."""
        if not self.finished:
            self._stop(t, what)

    def tick(self, t: float) -> None:
        """Advance the timed phases to session time ``t``."""
        self.now = max(self.now, t)
        self._advance(self.now)

    # -- the therapist's commands -----------------------------------------------------------

    def start_now(self) -> None:
        if self.s.phase == RunPhase.INSTRUCTION:
            self._enter(RunPhase.COUNTDOWN, self.now)

    def repeat(self) -> None:
        """Run the test on screen again (its result is replaced)."""
        if self.s.phase == RunPhase.RESULT:
            self.s.results.pop()
            self.step = self._make_step(self.protocol.tests[self.s.index])
            self._begin_test(self.now)

    def skip(self, reason: str) -> None:
        if self.s.phase in (RunPhase.STOPPED, RunPhase.DONE, RunPhase.RESULT):
            return
        self._finish_test(self.now, not_run(self.step.test, f"skipped: {reason}"), show=False)

    def acknowledge(self) -> None:
        """After a safety stop: the therapist has seen it; go on with the next test."""
        if self.s.phase == RunPhase.STOPPED:
            self._next_test(self.now)

    def source_ended(self) -> None:
        """A recording ran to its end: the test on screen keeps what it measured, the others
        are not run."""
        if self.finished:
            return
        if self.s.phase in (RunPhase.MEASURE, RunPhase.REST):
            self.step.analyse(self.now)
            self.step.in_progress = False
            self.step.source_ended(self.now)
            what = _WHAT[self.step.test.kind]
            why = f"could not be measured: no {what} seen before the recording ended"
            self.s.results.append(self.step.result(why))
        elif self.s.phase not in (RunPhase.RESULT, RunPhase.STOPPED):
            self.s.results.append(not_run(self.step.test, "not run: the recording ended"))
        for test in self.protocol.tests[self.s.index + 1 :]:
            self.s.results.append(not_run(test, "not run: the recording ended"))
        self.s.phase = RunPhase.DONE

    def stop(self) -> None:
        """End the assessment now; tests not done are "not run"."""
        if self.finished:
            return
        if self.s.phase not in (RunPhase.RESULT, RunPhase.STOPPED):
            self.s.results.append(not_run(self.step.test, "not run: the assessment was ended"))
        for test in self.protocol.tests[self.s.index + 1 :]:
            self.s.results.append(not_run(test, "not run: the assessment was ended"))
        self.s.phase = RunPhase.DONE

    # -- state ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.s.phase == RunPhase.DONE

    @property
    def results(self) -> list[TestResult]:
        return list(self.s.results)

    def view(self) -> AssessmentView:
        s, step, timing = self.s, self.step, self.protocol.timing
        test = step.test  # after the last test: still the last one
        left = math.nan
        if s.phase == RunPhase.INSTRUCTION:
            left = timing.instruction_s - (self.now - s.since)
        elif s.phase == RunPhase.COUNTDOWN:
            left = timing.countdown_s - (self.now - s.since)
        elif s.phase == RunPhase.REST:
            left = timing.rest_s - (self.now - step.last_end)
        message = step.message(self.now)
        if s.phase == RunPhase.REST:
            message = message or "Rest"
        return AssessmentView(
            protocol=self.protocol.name,
            index=min(s.index, len(self.protocol.tests) - 1),
            count=len(self.protocol.tests),
            test_id=test.id,
            label=test.label,
            instruction=test.instruction,
            unit=test.unit,
            kind=test.kind,
            phase=s.phase,
            phase_left_s=max(0.0, left) if math.isfinite(left) else math.nan,
            live=step.live(),
            best=step.best(),
            trials=tuple(step.counted),
            rejected=tuple(step.rejected),
            repeats=test.repeats,
            message=message,
            result=s.result if s.phase in (RunPhase.RESULT, RunPhase.STOPPED) else None,
            stop_reason=s.stop_reason,
            results=tuple(s.results),
        )

    # -- the machine ------------------------------------------------------------------------

    def _unsafe(self, angles: np.ndarray, forces: np.ndarray) -> tuple[int, str] | None:
        """The first sample that is not finite, or over the force limit: it stops the test."""
        limit = self.protocol.effort.force_limit_n if self.protocol.effort else math.inf
        # "finite and inside" passes; NaN fails every comparison, so it lands here too.
        ok = np.isfinite(angles) & np.isfinite(forces) & (forces <= limit)
        if ok.all():
            return None
        i = int(np.argmin(ok))
        a, f = float(angles[i]), float(forces[i])
        if not (math.isfinite(a) and math.isfinite(f)):
            return i, f"machine sample not a number (angle {a}, force {f})"
        return i, f"force {f:.0f} N over the test's limit {limit:.0f} N"

    def _stop(self, t: float, why: str) -> None:
        if self.s.phase in (RunPhase.STOPPED, RunPhase.DONE):
            return
        s = self.s
        s.stop_reason = why
        if s.phase != RunPhase.RESULT:
            r = not_run(self.step.test, f"could not be measured: stopped for safety ({why})")
            s.results.append(r)
            s.result = r
        s.phase, s.since = RunPhase.STOPPED, t

    # -- phases -----------------------------------------------------------------------------

    def _make_step(self, test: TestDef) -> Step:
        if test.kind is TestKind.MACHINE_RANGE:
            return MachineRangeStep(test)
        if test.kind is TestKind.MACHINE_STRENGTH:
            return MachineStrengthStep(test, self.protocol.effort)
        if self._camera is None:
            step = Step(test)
            step.reason = "could not be measured: no camera for this assessment"
            return step
        return self._camera.make(test)

    def _begin_test(self, t: float) -> None:
        """The current test starts at ``t``, unless it must not be run at all."""
        test = self.step.test
        s = self.s
        s.result = None
        skip = self._not_safe_to_test(test)
        if skip:
            self._finish_test(t, not_run(test, skip), show=False)
            return
        if self.step.reason:
            self._finish_test(t, self.step.result(""), show=True)
            return
        self._enter(RunPhase.INSTRUCTION, t)

    def _not_safe_to_test(self, test: TestDef) -> str:
        if test.kind is not TestKind.MACHINE_STRENGTH:
            return ""
        lo_dir, hi_dir = self.protocol.strength_limits
        reached = {
            r.direction: r.angle_deg
            for r in self.s.results
            if r.kind == TestKind.MACHINE_RANGE.value and r.measured
        }
        if lo_dir not in reached or hi_dir not in reached:
            return "not run: the pain-free range was not measured, so no angle is known to be safe"
        lo, hi = sorted((reached[lo_dir], reached[hi_dir]))
        a = test.angle_deg
        if not lo + STRENGTH_MARGIN_DEG <= a <= hi - STRENGTH_MARGIN_DEG:
            return (
                f"not run: {a:.0f} deg is outside the pain-free range measured "
                f"({lo:.0f} to {hi:.0f} deg)"
            )
        return ""

    def _enter(self, phase: RunPhase, t: float) -> None:
        self.s.phase, self.s.since = phase, t
        if phase == RunPhase.COUNTDOWN:
            self.step.measure_from = t

    def _advance(self, t: float) -> None:
        s, timing = self.s, self.protocol.timing
        for _ in range(len(self.protocol.tests) * 6 + 6):  # each pass moves one phase at most
            phase = s.phase
            if phase == RunPhase.INSTRUCTION:
                if self.auto_advance and t - s.since >= timing.instruction_s:
                    self._enter(RunPhase.COUNTDOWN, s.since + timing.instruction_s)
            elif phase == RunPhase.COUNTDOWN:
                if t - s.since >= timing.countdown_s:
                    self._enter(RunPhase.MEASURE, s.since + timing.countdown_s)
            elif phase in (RunPhase.MEASURE, RunPhase.REST):
                self._measuring(t)
            elif phase == RunPhase.RESULT and t - s.since >= timing.result_s:
                self._next_test(s.since + timing.result_s)
            if s.phase == phase:
                return

    def _measuring(self, t: float) -> None:
        s, step, timing = self.s, self.step, self.protocol.timing
        test = step.test
        lost = test.kind.machine and t - s.last_machine_t > MACHINE_LOST_S  # NaN: no samples yet
        if lost:
            why = f"could not be measured: the machine sent nothing for {MACHINE_LOST_S:g} s"
            self._finish_test(t, not_run(test, why), show=True)
            return
        if t - s.last_analysis >= ANALYSE_EVERY_S:
            s.last_analysis = t
            step.analyse(t)
        if step.reason:
            self._finish_test(t, step.result(""), show=True)
            return
        if step.enough:
            self._finish_test(t, step.result(""), show=True)
            return
        quiet_since = step.last_end if math.isfinite(step.last_end) else step.measure_from
        if not step.in_progress and t - quiet_since >= timing.measure_timeout_s + timing.rest_s:
            what = _WHAT[test.kind]
            seen = f"{step.attempts} tried, none counted" if step.attempts else f"no {what} seen"
            why = f"could not be measured: {seen} within {timing.measure_timeout_s:g} s"
            self._finish_test(t, step.result(why), show=True)
            return
        resting = (
            not step.in_progress
            and math.isfinite(step.last_end)
            and t - step.last_end < timing.rest_s
        )
        s.phase = RunPhase.REST if resting else RunPhase.MEASURE

    def _finish_test(self, t: float, result: TestResult, *, show: bool) -> None:
        s = self.s
        s.results.append(result)
        s.result = result
        if show:
            s.phase, s.since = RunPhase.RESULT, t
        else:
            self._next_test(t)

    def _next_test(self, t: float) -> None:
        s = self.s
        s.index += 1
        s.last_analysis = -math.inf
        if s.index >= len(self.protocol.tests):
            s.phase, s.since = RunPhase.DONE, t
            return
        self.step = self._make_step(self.protocol.tests[s.index])
        self._begin_test(t)
