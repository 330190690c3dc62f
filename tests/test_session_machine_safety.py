"""The session's own safety checks on machine values: finite-and-inside, a patient's limit
never above the machine's, and a machine set that gets no samples is stopped."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from app.inputs import InputChoice
from app.loop import Runner, RunOptions
from device_bridge import protocol as p
from exercises.library import get_exercise
from session.engine import MACHINE_LOST_S, SessionConfig, SessionEngine
from session.events import Command, CommandInput, MachineBatch
from session.phases import Phase
from session.snapshot import SourceState
from session.targets import PatientProfile, load_profile, resolve_targets
from tests.device_fixtures import ScriptedMachine, machine_hello, wait_for
from tests.helpers import run_main

LUMBAR = get_exercise("lumbar_extension")
CEILING = LUMBAR.load.default_max_force_n
QUICK = SessionConfig(setup_s=0.0, countdown_s=0.0)


def feed(eng: SessionEngine, t: float, angle: float = 66.0, force: float = 10.0) -> None:
    eng.feed(MachineBatch(np.array([t]), np.array([angle]), np.array([force])))


def working(profile: PatientProfile | None = None) -> SessionEngine:
    eng = SessionEngine(LUMBAR, profile, QUICK)
    for k in range(5):
        feed(eng, 0.1 * k)
    assert eng.phases.phase == Phase.WORKING
    return eng


@pytest.mark.parametrize("force", [math.nan, math.inf, -math.inf])
def test_a_non_finite_force_stops_the_set(force):
    eng = working()
    feed(eng, 1.0, force=force)
    assert eng.phases.phase == Phase.STOPPED
    assert [e.kind for e in eng.safety_events] == ["overload"]


def test_a_non_finite_machine_angle_stops_the_set():
    eng = working()
    feed(eng, 1.0, angle=math.nan)
    assert eng.phases.phase == Phase.STOPPED
    assert [e.kind for e in eng.safety_events] == ["range"]


def test_a_stored_tested_maximum_above_the_ceiling_is_capped_and_an_overload_still_stops():
    # A stored assessment (the kiosk's path) cannot be refused at a prompt: it is capped, and
    # the session log says so.
    profile = PatientProfile("P1", {}, {LUMBAR.id: 1e30})
    tg = resolve_targets(LUMBAR, profile)
    assert tg.max_force_n == CEILING and tg.load_limit_n == pytest.approx(
        LUMBAR.load.limit * CEILING
    )
    assert "1e+30" in tg.note and f"{CEILING:g} N used" in tg.note
    eng = working(profile)
    assert any(tg.note == tr.reason for tr in eng.phases.log)
    feed(eng, 1.0, force=1182.0)
    assert eng.phases.phase == Phase.STOPPED
    assert [(e.kind, e.value) for e in eng.safety_events] == [("overload", 1182.0)]


def test_a_tested_maximum_below_the_ceiling_is_the_patients_own():
    tg = resolve_targets(LUMBAR, PatientProfile("P1", {}, {LUMBAR.id: 600.0}))
    assert (tg.max_force_n, tg.note) == (600.0, "")


def test_a_profile_file_with_a_max_force_above_the_ceiling_is_refused_in_one_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(f'code = "P1"\n[max_force_n]\n{LUMBAR.id} = 1e30\n')
    with pytest.raises(ValueError) as exc:
        load_profile(path)
    message = str(exc.value)
    assert f"max_force_n.{LUMBAR.id}: 1e+30 N is above" in message and f"({CEILING:g} N)" in message
    assert "\n" not in message
    # The command line says it in one line and exits 2 before any machine is opened.
    out = run_main("--source", "none", "--exercise", LUMBAR.id, "--headless", "--seconds", "1",
                   "--profile", str(path), timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("main.py: error:") and out.stderr.count("\n") == 1
    assert "above the machine's maximum" in out.stderr


def test_the_engine_calls_a_working_machine_set_silent_after_machine_lost_s():
    eng = working()
    assert not eng.machine_silent(0.4 + MACHINE_LOST_S * 0.9)
    assert eng.machine_silent(0.4 + MACHINE_LOST_S * 1.1)
    eng.feed(CommandInput(2.0, Command.PAUSE))
    assert not eng.machine_silent(10.0)  # only a set in progress needs the samples
    assert not SessionEngine(get_exercise("squat")).machine_silent(10.0)


def test_a_machine_set_on_a_machine_sending_only_heartbeats_is_stopped_as_machine_lost(capsys):
    """The real loop and bridge on a real pty: samples until the set is under way, then the
    machine keeps its heartbeat but sends no sample."""
    machine = ScriptedMachine()
    t0 = time.monotonic()
    choice = InputChoice("none", "none", "machine only")
    with answering(machine, machine_hello(), t0, samples=True):
        runner = Runner(RunOptions(choice, LUMBAR, headless=True, device=machine.path))
    try:

        def until(frame: str, *phases: Phase) -> bool:
            us = int((time.monotonic() - t0) * 1e6)
            if frame == "sample":
                machine.sample(us, (6600, 100))  # 66 deg, 10 N: at the start, no load
            else:
                machine.heartbeat(us)
            runner.pump()
            return runner.engine.phases.phase in phases

        # (A host so busy that the set already stopped counts too: the stop is checked below.)
        assert wait_for(lambda: until("sample", Phase.WORKING, Phase.STOPPED), 20.0)
        assert wait_for(lambda: until("heartbeat", Phase.STOPPED), 10.0)
    finally:
        runner.close()
        machine.close()
    assert [e.kind for e in runner.engine.safety_events] == ["machine_lost"]
    assert runner.engine.cues.current.key == "safety.machine_lost"
    # Said once on the console too, not once a frame.
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("main.py: warning: the machine sends no samples: machine not")


@contextmanager
def answering(
    machine: ScriptedMachine, hello: p.Hello, t0: float, *, samples: bool
) -> Iterator[None]:
    """While the body runs (a ``Runner`` opening the port): answer the host's hello, then
    send samples at rest (66 deg, 10 N), or only heartbeats, on device time since ``t0``."""
    done = threading.Event()

    def play() -> None:
        if not wait_for(machine.host_asked, 10.0):
            return
        machine.hello(hello)
        while not done.is_set():
            us = int((time.monotonic() - t0) * 1e6)
            if samples:
                machine.sample(us, (6600, 100))
            else:
                machine.heartbeat(us)
            done.wait(0.01)

    thread = threading.Thread(target=play)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _main_on_a_scripted_machine(exercise_id: str, samples: bool):
    """main.py headless on a scripted lumbar extension machine on a real pty: its result
    and the machine's port path."""
    machine = ScriptedMachine()
    args = ("--headless", "--source", "none", "--exercise", exercise_id, "--seconds", "30")
    try:
        with answering(machine, machine_hello(), time.monotonic(), samples=samples):
            out = run_main(*args, "--device", machine.path, timeout=120)
    finally:
        machine.close()
    return out, machine.path


def test_a_machine_that_says_hello_and_then_sends_only_heartbeats_is_refused_in_one_line():
    """main.py on a real pty: a machine set must never start without samples (it used to
    stay in set-up with no cue, 0 samples, exit 0)."""
    out, _ = _main_on_a_scripted_machine(LUMBAR.id, samples=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("main.py: error: --device: ")
    assert "lumbar_extension machine (serial LE-7) said hello but sent no samples within 5 s" in (
        out.stderr
    )


def test_a_machine_of_another_model_is_refused_in_one_line():
    """A lumbar extension machine for lumbar flexion (on a port; the simulator of another
    model is refused before it is started)."""
    flexion = get_exercise("lumbar_flexion")
    args = ("--headless", "--source", "none", "--exercise", flexion.id, "--seconds", "30")
    out, path = _main_on_a_scripted_machine(flexion.id, samples=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr == (
        f"main.py: error: --device: {path}: this is a lumbar_extension machine "
        "(serial LE-7); the exercise lumbar_flexion needs the lumbar_flexion machine\n"
    )
    out = run_main(*args, "--device", "sim:lumbar_extension", timeout=60)
    assert (out.returncode, out.stderr) == (
        2,
        "main.py: error: --device sim:lumbar_extension: the exercise lumbar_flexion needs the "
        "lumbar_flexion machine (use --device sim:lumbar_flexion)\n",
    )


def test_a_live_session_applies_the_machines_stored_calibration(tmp_path):
    """The calibration file (one store, by serial number) reaches the live session's link:
    the simulated machine's force zero set there moves every force the engine sees."""
    import time

    from app.inputs import InputChoice
    from app.loop import Runner, RunOptions
    from calibration import CalibrationStore, ChannelCalibration, MachineCalibration

    def run(calibration_file):
        runner = Runner(
            RunOptions(
                InputChoice("none", "none", "machine only"),
                get_exercise("lumbar_extension"),
                headless=True,
                device="sim:lumbar_extension",
                calibration=calibration_file,
            )
        )
        try:
            serial = runner.bridge.hello.serial
            forces = []
            end = time.monotonic() + 60
            while len(forces) < 200 and time.monotonic() < end:
                forces += [s.force_n for s in runner.bridge.drain()]
                time.sleep(0.01)
            return serial, runner.bridge.calibration, forces
        finally:
            runner.close()

    serial, identity, raw = run(tmp_path / "none.json")
    assert identity.is_identity and len(raw) >= 200
    path = tmp_path / "calibration.json"
    zeroed = MachineCalibration(force=ChannelCalibration(zero=25.0))
    CalibrationStore(path).set(serial, zeroed)
    _, used, forces = run(path)
    assert used == zeroed and len(forces) >= 200
    # The machine rests between sessions: the same resting force, 25 N lower once zeroed.
    import statistics

    assert statistics.median(raw) - statistics.median(forces) == pytest.approx(25.0, abs=2.0)


def test_a_calibration_zero_that_shifts_forces_below_the_sensor_stops_the_session_at_once(
    tmp_path,
):
    """The simulated machine with a force zero of 140 N (inside the bound a tare may take,
    but the machine rests at about 8 N): the first sample reads about -130 N, which the
    sensor cannot measure, so the session stops before any set, not runs with its load limit
    raised by 140 N."""
    from calibration import CalibrationStore, ChannelCalibration, MachineCalibration

    path = tmp_path / "calibration.json"
    # The simulator's serial for lumbar_extension (LE-1001); the hello names it.
    CalibrationStore(path).set("LE-1001", MachineCalibration(force=ChannelCalibration(140.0)))
    runner = Runner(
        RunOptions(
            InputChoice("none", "none", "machine only"),
            LUMBAR,
            headless=True,
            device="sim:lumbar_extension",
            calibration=path,
        )
    )
    try:
        assert runner.bridge.hello.serial == "LE-1001"

        def stopped() -> bool:
            runner.pump()
            return runner.engine.phases.phase == Phase.STOPPED

        assert wait_for(stopped, 60.0)
    finally:
        runner.close()
    [event] = runner.engine.safety_events
    assert event.kind == "overload" and event.value < -100.0 and event.limit == -30.0
    assert runner.engine.rep_count == 0


def test_a_machine_exercise_without_a_machine_says_it_runs_the_simulator():
    """The make-run contract (the simulator when there is no machine) holds, but is said."""
    out = run_main("--headless", "--exercise", LUMBAR.id, "--seconds", "1", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "main.py: no machine (no --device given): using the simulator of a lumbar_extension "
        "machine (pass --device PORT for the real one)"
    ]


def test_device_auto_with_no_machine_falls_back_to_the_exercises_simulator_and_says_so(
    monkeypatch, capsys
):
    """No port answers (none are listed: a test must not write to the host's serial ports)."""
    import device_bridge.factory
    from app.cli import build_parser
    from app.session_setup import prepare

    monkeypatch.setattr(device_bridge.factory, "serial_ports", lambda: [])
    argv = ["--headless", "--source", "none", "--exercise", "lumbar_flexion", "--device", "auto"]
    runner, _ = prepare(build_parser().parse_args(argv))
    try:
        assert capsys.readouterr().err.splitlines() == [
            "main.py: no machine (--device auto: no serial port answered): using the simulator "
            "of a lumbar_flexion machine (pass --device PORT for the real one)"
        ]
        # The simulator of the exercise's machine, and the screen's status names it.
        assert runner.bridge.hello.model == "lumbar_flexion"
        assert wait_for(lambda: runner.status()[1].state == SourceState.SIMULATED, 20.0)
        assert "simulator lumbar_flexion" in runner.status()[1].message
    finally:
        runner.close()
