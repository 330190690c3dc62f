"""The kiosk soak: the real window loop (``app.gui.WindowLoop`` with the real Screen, Kiosk,
Runner, session engine and a SQLite file) under the dummy SDL driver, driven for minutes of
simulated time by a seeded script: patients signing in by touch and keyboard, strangers
trying codes and PINs, random touches and keys, the therapist's PIN pad, people walking away
and idle periods. Timeouts and lock-outs are shortened; one settable clock drives the kiosk,
the PIN checks and the camera, so a run is the same every time and takes seconds.

The camera is the bundled KERAAL recording played one pose per display frame, with the person
walking out of view whenever the script says so (``ScriptedCamera``); everything behind it is
the program as it runs at a clinic. Used by ``tests/test_kiosk_soak.py`` and, for longer
runs, ``bench/kiosk_soak.py``.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pygame

from access.alerts import AlertLog
from access.lockout import LockoutPolicy
from access.patients import PatientGate
from app.gui import WindowLoop
from app.inputs import BUNDLED_RECORDING, InputChoice
from app.loop import Runner, RunOptions
from app.streams import PoseResult, PoseStream
from body.pose import Pose
from devtools.kiosk_fixtures import PATIENTS, THERAPIST_PIN, FakeClock, store_with_patients
from exercises.library import get_exercise
from feedback import kiosk_view, style
from feedback.app_window import Screen
from feedback.kiosk import BACK, CANCEL, OK, Kiosk, KioskState, PinGuard, PinStore
from recording.replay import open_replay

IDLE_S = 8.0
SUMMARY_S = 3.0
FPS = 20.0  # simulated display frames a second: minutes of kiosk life in a few thousand frames
SHORT_LOCKS = LockoutPolicy(
    max_failures=5, first_lockout_s=4.0, growth=2.0, longest_lockout_s=30.0, forget_after_s=90.0
)


def _memory() -> tracemalloc.Snapshot:
    """What is allocated now, less the rendered-text cache (an LRU of fixed size in
    ``feedback.style`` whose warm-up over the first sessions is not a leak) and less the
    snapshots themselves."""
    gc.collect()
    skip = [
        tracemalloc.Filter(False, style.__file__),
        tracemalloc.Filter(False, tracemalloc.__file__),
    ]
    return tracemalloc.take_snapshot().filter_traces(skip)


def _event(kind: int, **attrs: object) -> Callable[[], list[pygame.event.Event]]:
    return lambda: [pygame.event.Event(kind, **attrs)]


class ScriptedCamera(PoseStream):
    """Recorded poses, one per display frame on the test's clock; ``present`` False shows an
    empty room. No thread: what the loop sees depends only on the script."""

    def __init__(self, poses: list[Pose], clock: FakeClock) -> None:
        super().__init__(30.0, "scripted camera", live=False)
        self.poses = poses
        self.clock = clock
        self.t0 = clock.now
        self.present = False
        self.index = 0
        self.ends_after: int | None = None  # frames until the source runs out (None: never)

    def poll(self, timeout: float = 0.0) -> list[PoseResult]:
        if self.exhausted:
            return []
        t = self.clock.now - self.t0
        pose = self.poses[self.index % len(self.poses)] if self.present else Pose.empty(t)
        self.index += 1
        return [PoseResult(self.index, t, t, t, pose, None, float("nan"))]

    @property
    def exhausted(self) -> bool:
        return self.ends_after is not None and self.index >= self.ends_after


@dataclass
class SoakReport:
    frames: int = 0
    sim_s: float = 0.0
    sign_ins: int = 0
    refused: int = 0
    idle_checks: int = 0
    pixel_checks: int = 0
    keypad_lockouts: int = 0
    therapist_unlocks: int = 0
    max_threads: int = 0
    memory_growth_bytes: int | None = None
    exited: bool = False
    problems: list[str] = field(default_factory=list)


# A step of the script: whether someone is in view, and the events of this frame (built when
# the frame runs, since where a key is depends on the screen shown then).
Step = tuple[bool, Callable[[], list[pygame.event.Event]] | None, str]


class Soak:
    def __init__(self, tmp: Path, seed: int, size: tuple[int, int] = (640, 360)) -> None:
        self.rng = random.Random(seed)
        self.clock = FakeClock(1.7e9)
        self.store = store_with_patients(tmp / "kiosk.sqlite")
        pin_store = PinStore(tmp / "cfg" / "therapist_pin.json")
        pin_store.set_pin(THERAPIST_PIN)
        self.alerts = AlertLog(
            lambda a: self.store.add_access_alert(a.kind.value, a.message, a.patient_code)
        )
        clock = self.clock
        self.kiosk = Kiosk(
            PinGuard(pin_store, SHORT_LOCKS, clock, self.alerts, persist=True),
            PatientGate(self.store, SHORT_LOCKS, clock, self.alerts),
            idle_timeout_s=IDLE_S,
            summary_s=SUMMARY_S,
            clock=clock,
            keypad_policy=SHORT_LOCKS,
            on_alert=self.alerts,
        )
        self.size = size
        self.surface = pygame.display.set_mode(size)
        self.screen = Screen(size, kiosk=self.kiosk, mirror=True, clock=clock, alerts=self.alerts)
        opts = RunOptions(
            InputChoice("replay", str(BUNDLED_RECORDING), "soak"),
            get_exercise("flank_stretch"),
            kiosk=True,
            mute=True,
            store=self.store,
        )
        self.runner = Runner(opts)
        poses = list(open_replay(BUNDLED_RECORDING).poses)
        self.runner.stream.close()
        self.camera = ScriptedCamera(poses, clock)
        self.runner.stream = self.camera
        self.loop = WindowLoop(self.runner, self.surface, self.screen)
        self.pristine = self._pristine_welcome(pin_store)
        self.report = SoakReport()

    def _pristine_welcome(self, pin_store: PinStore) -> np.ndarray:
        fresh = Screen(self.size, kiosk=Kiosk(PinGuard(pin_store), clock=self.clock))
        surf = pygame.Surface(self.size)
        fresh.draw(surf)
        return pygame.surfarray.array3d(surf)

    # events --------------------------------------------------------------------------------
    def _touch(self, key: str) -> Callable[[], list[pygame.event.Event]]:
        def make() -> list[pygame.event.Event]:
            layout = dict(kiosk_view.keypad_layout(self.size, self.kiosk.state))
            if key not in layout:
                return []  # e.g. the pad went away (a lock-out ended a sign-in): press nothing
            r = layout[key]
            if self.rng.random() < 0.5:
                w, h = self.size
                return [pygame.event.Event(pygame.FINGERDOWN, x=r.centerx / w, y=r.centery / h)]
            return [pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=r.center, button=1)]

        return make

    @staticmethod
    def _key(key: int, char: str = "") -> Callable[[], list[pygame.event.Event]]:
        return _event(pygame.KEYDOWN, key=key, unicode=char, mod=0)

    def _type(self, digits: str, present: bool, by_keyboard: bool = False) -> Iterator[Step]:
        for d in [*digits, OK]:
            if by_keyboard:
                ev = self._key(pygame.K_RETURN, "\r") if d == OK else self._key(ord(d), d)
            else:
                ev = self._touch(d)
            yield present, ev, ""
            for _ in range(self.rng.randint(0, 6)):  # people type at their own pace
                yield present, None, ""

    def _wait(self, seconds: float, present: bool, tag: str = "") -> Iterator[Step]:
        n = max(1, round(seconds * FPS))
        for i in range(n):
            yield present, None, tag if i == n - 1 else ""

    # episodes ------------------------------------------------------------------------------
    def patient(self) -> Iterator[Step]:
        """A patient signs in, exercises with a few presses, then walks away."""
        rng = self.rng
        code = rng.choice(sorted(PATIENTS))
        keyboard = rng.random() < 0.3
        yield from self._wait(rng.uniform(0.5, 3), True)
        yield from self._type(code, True, keyboard)
        yield from self._type(PATIENTS[code], True, keyboard)
        yield True, None, "signed_in?"
        for _ in range(rng.randint(100, 600)):
            ev = None
            r = rng.random()
            if r < 0.01:
                ev = self._key(pygame.K_SPACE, " ")
            elif r < 0.015:
                ev = self._key(pygame.K_m, "m")
            elif r < 0.02:
                ev = self._key(pygame.K_t, "t")  # asks for the therapist PIN
            elif r < 0.025:
                ev = self._touch(CANCEL)
            yield True, ev, ""
        yield from self._wait(IDLE_S + 1.5, False, "idle_check")

    def stranger(self) -> Iterator[Step]:
        """Codes and PINs that are not theirs: unknown codes, known codes with wrong PINs."""
        rng = self.rng
        for _ in range(rng.randint(2, 8)):
            if rng.random() < 0.5:
                code = str(rng.randint(1000, 99_999_999))
            else:
                code = rng.choice(sorted(PATIENTS))
            pin = str(rng.randint(0, 10 ** rng.randint(1, 8))).zfill(4)
            if code in PATIENTS and pin == PATIENTS[code]:
                pin = "0000"
            yield from self._type(code, rng.random() < 0.5, rng.random() < 0.3)
            yield from self._type(pin, rng.random() < 0.5, rng.random() < 0.3)
            yield False, None, "refused?"

    def junk(self) -> Iterator[Step]:
        """Random touches anywhere and random keys, as a child or a cleaner would."""
        rng = self.rng
        w, h = self.size
        keys = [pygame.K_0 + i for i in range(10)] + [
            pygame.K_BACKSPACE, pygame.K_RETURN, pygame.K_ESCAPE, pygame.K_t, pygame.K_SPACE,
            pygame.K_m, pygame.K_q, pygame.K_p, pygame.K_UP, pygame.K_DOWN, pygame.K_LEFT,
            pygame.K_RIGHT, pygame.K_TAB, pygame.K_a, pygame.K_F4, pygame.K_KP_ENTER,
        ]  # fmt: skip
        for _ in range(rng.randint(20, 200)):
            r = rng.random()
            ev = None
            if r < 0.25:
                pos = (rng.randrange(w), rng.randrange(h))
                ev = _event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1)
            elif r < 0.4:
                ev = _event(pygame.FINGERDOWN, x=rng.random(), y=rng.random())
            elif r < 0.6:
                k = rng.choice(keys)
                char = chr(k) if pygame.K_0 <= k <= pygame.K_9 else ""
                ev = self._key(k, char)
            elif r < 0.62:
                ev = _event(pygame.QUIT)
            elif r < 0.65:
                ev = self._touch(rng.choice([BACK, CANCEL, kiosk_view.STAFF, OK]))
            yield rng.random() < 0.5, ev, ""

    def therapist(self) -> Iterator[Step]:
        """The therapist opens settings with the PIN, changes a target, leaves the view."""
        rng = self.rng
        yield False, self._touch(CANCEL), ""  # whatever pad a passer-by left open
        yield False, self._touch(kiosk_view.STAFF), ""
        if rng.random() < 0.3:
            yield from self._type("13579", False)  # a wrong PIN first
        yield from self._type(THERAPIST_PIN, False)
        yield False, None, "unlocked?"
        for _ in range(rng.randint(5, 40)):
            k = rng.choice([pygame.K_UP, pygame.K_DOWN, pygame.K_LEFT, pygame.K_RIGHT])
            yield False, self._key(k) if rng.random() < 0.2 else None, ""
        yield False, self._key(pygame.K_t, "t"), ""

    def idle(self) -> Iterator[Step]:
        seconds = self.rng.uniform(0.2, 2.5) * IDLE_S
        tag = "idle_check" if seconds > IDLE_S + 1 else ""
        yield from self._wait(seconds, self.rng.random() < 0.3 and not tag, tag)

    def script(self) -> Iterator[Step]:
        """Episodes drawn from a shuffled bag, so every kind comes up in every stretch."""
        bag = [self.patient] * 3 + [self.stranger] * 2 + [self.junk] * 2 + [self.idle] * 2
        bag += [self.therapist]
        while True:
            self.rng.shuffle(bag)
            for episode in bag:
                yield from episode()

    # running -------------------------------------------------------------------------------
    def frame(self, present: bool = False, make: Callable | None = None) -> bool:
        """One display frame with this frame's events; the clock moves on by one frame."""
        self.camera.present = present
        for ev in make() if make is not None else []:
            pygame.event.post(ev)
        running = self.loop.step()
        self.clock.now += 1.0 / FPS
        return running

    def play(self, steps: Iterator[Step]) -> None:
        for present, make, _ in steps:
            assert self.frame(present, make), "the loop ended"

    def sign_in(self, code: str, pin: str, present: bool = True) -> None:
        self.play(self._type(code, present))
        self.play(self._type(pin, present))

    def welcome_is_pristine(self) -> bool:
        return np.array_equal(pygame.surfarray.array3d(self.surface), self.pristine)

    def check(self, tag: str) -> None:
        rep, k = self.report, self.kiosk
        if tag == "idle_check":
            rep.idle_checks += 1
            snap = self.runner.snapshot()
            if k.state != KioskState.WELCOME:
                rep.problems.append(f"t={rep.sim_s:.1f}: idle but showing {k.state}")
            if snap.patient_code or snap.rep_count or snap.reps or self.runner.sink is not None:
                rep.problems.append(f"t={rep.sim_s:.1f}: patient data kept after idle")
            if k.locked_for() == 0:
                rep.pixel_checks += 1
                if not self.welcome_is_pristine():
                    rep.problems.append(f"t={rep.sim_s:.1f}: welcome screen not pristine")
        elif tag == "signed_in?" and k.state == KioskState.SESSION:
            rep.sign_ins += 1
        elif tag == "refused?" and k.state != KioskState.SESSION:
            rep.refused += 1
        elif tag == "unlocked?" and k.state != KioskState.PIN:
            rep.therapist_unlocks += 1

    def run(self, frames: int, trace_memory: bool = True) -> SoakReport:
        rep = self.report
        script = self.script()
        first_locks = self.kiosk.keypad.state.lockouts
        baseline = None
        if trace_memory:
            tracemalloc.start()  # from the start, so what the first half frees is counted too
        for i in range(frames):
            if trace_memory and i == frames // 2:
                baseline = _memory()
            present, make, tag = next(script)
            if not self.frame(present, make):
                rep.problems.append(f"t={rep.sim_s:.1f}: the loop ended without the PIN")
                break
            self.check(tag)
            rep.frames += 1
            rep.sim_s += 1.0 / FPS
            rep.max_threads = max(rep.max_threads, threading.active_count())
            if self.kiosk.keypad.state.lockouts > first_locks:
                rep.keypad_lockouts += self.kiosk.keypad.state.lockouts - first_locks
            first_locks = self.kiosk.keypad.state.lockouts
        if baseline is not None:
            after = _memory()
            tracemalloc.stop()
            rep.memory_growth_bytes = sum(s.size_diff for s in after.compare_to(baseline, "lineno"))
        return rep

    def exit_with_pin(self) -> bool:
        """Esc, then the therapist PIN: the loop must end (and only this way)."""
        self.clock.now += SHORT_LOCKS.longest_lockout_s + 1  # any lock-out is over
        steps = [self._key(pygame.K_ESCAPE)]
        steps += [self._key(ord(d), d) for d in THERAPIST_PIN] + [self._key(pygame.K_RETURN)]
        return not all(self.frame(False, make) for make in steps)


def run_soak(tmp: Path, frames: int, seed: int = 10, trace_memory: bool = True) -> SoakReport:
    quiet = [logging.getLogger(n) for n in ("access", "feedback.kiosk")]
    levels = [q.level for q in quiet]
    for q in quiet:  # wrong PINs and lock-outs are what the script does: no warning each
        q.setLevel(logging.ERROR)
    pygame.init()
    soak = Soak(tmp, seed)
    try:
        report = soak.run(frames, trace_memory)
        report.exited = not report.problems and soak.exit_with_pin()
        soak.runner.close()
        soak.runner.finish_storage()
        stored = [s for c in PATIENTS for s in soak.store.sessions(c)]
        if len(stored) != report.sign_ins:
            report.problems.append(f"{report.sign_ins} sign-ins but {len(stored)} stored sessions")
        unfinished = [s.id for s in stored if s.status != "finished"]
        if unfinished:
            report.problems.append(f"sessions not finished: {unfinished}")
        codes = {p.code for p in soak.store.list_patients()}
        if codes != set(PATIENTS):
            report.problems.append(f"patients created at the kiosk: {codes - set(PATIENTS)}")
    finally:
        soak.screen.close()
        soak.store.close()
        pygame.quit()
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    return report
