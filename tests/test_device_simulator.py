"""The simulated patient and machine: rep timing, fatigue, spikes, faults, auto-detection."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from device_bridge import factory, open_device, probe
from device_bridge.faults import Faults
from device_bridge.machine_model import MODELS, PatientModel
from tests.device_fixtures import simulator, wait_for


def run(model: PatientModel, seconds: float, rate: float = 200.0) -> list[tuple[float, float]]:
    return [model.measure(k / rate) for k in range(int(seconds * rate))]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_slow_controlled_reps_through_the_machines_range(name):
    spec = MODELS[name]
    model = PatientModel(spec, seed=3, reps_per_set=10, rest_s=5.0, jerk_probability=0.0)
    values = run(model, 60.0)
    reps = model.completed_reps(60.0)
    assert len(reps) >= 10
    assert all(4.5 <= r.duration <= 5.0 for r in reps)
    span = spec.end_deg - spec.start_deg
    for r in reps:  # each rep reaches (nearly) the end of the range and no further
        assert 0.9 < r.peak / span < 1.03
    angles = [a for a, _ in values]
    lo, hi = sorted((spec.start_deg, spec.end_deg))
    assert lo - 1.5 < min(angles) and max(angles) < hi + 1.5
    forces = [f for _, f in values]
    assert max(forces) < 1.5 * spec.load_n


def test_fatigue_shrinks_the_range_over_a_set():
    model = PatientModel(MODELS["lumbar_flexion"], seed=9, reps_per_set=20, jerk_probability=0.0)
    run(model, 100.0)
    reps = model.completed_reps(100.0)[:20]
    assert statistics.mean(r.peak for r in reps[-5:]) < statistics.mean(r.peak for r in reps[:5])
    assert statistics.mean(r.duration for r in reps[-5:]) > statistics.mean(
        r.duration for r in reps[:5]
    )


def test_overload_and_overshoot_happen_when_configured():
    spec = MODELS["lumbar_extension"]
    model = PatientModel(
        spec, overload_at=(10.0,), overload_n=900.0, overshoot_at=(20.0,), jerk_probability=0
    )
    values = run(model, 30.0, rate=1000.0)
    force = [f for _, f in values]
    angle = [a for a, _ in values]
    assert max(force[:9900]) < 500 and max(force[10050:10250]) > 900
    assert max(force[10400:]) < 500
    # Lumbar extension moves from 66 deg towards 0: the rep in progress at 20 s goes past 0,
    # around the middle of its hold, and no other rep does.
    (peak_t,) = model.overshoot_peaks()
    rep = next(r for r in model.reps if r.overshoot)
    assert rep.start <= 20.0 < rep.start + rep.duration
    k = int(peak_t * 1000)
    assert min(angle[k - 200 : k + 200]) < -9
    assert min(angle[: int(rep.start * 1000)]) > -3
    assert min(angle[int((rep.start + rep.duration) * 1000) :]) > -3


def test_same_seed_same_patient():
    a = run(PatientModel(MODELS["rotation"], seed=5), 12.0)
    b = run(PatientModel(MODELS["rotation"], seed=5), 12.0)
    c = run(PatientModel(MODELS["rotation"], seed=6), 12.0)
    assert a == b and a != c


def test_fault_settings_name_the_switch_and_the_expected_range():
    with pytest.raises(ValueError, match=r"--bitflip-rate: expected 0\.\.1, got 2"):
        Faults(bitflip_rate=2)
    assert not Faults().any and Faults(drop_rate=0.1).any


def test_auto_takes_the_first_port_that_answers_the_hello(tmp_path, monkeypatch):
    with simulator(tmp_path, "--seed", "7", model="lateral_flexion") as sim:
        hello = probe(sim.link)
        assert hello is not None and hello.serial == "LX-1007"
        assert probe(str(tmp_path / "nothing-here")) is None
        ports = [str(tmp_path / "nothing-here"), sim.link]
        monkeypatch.setattr(factory, "serial_ports", lambda: ports)
        bridge = open_device("auto")
        assert bridge.target == sim.link and bridge.simulator is None
        with bridge:
            assert bridge.wait_ready(5.0)
            assert bridge.hello.model == "lateral_flexion"


def test_auto_without_a_machine_falls_back_to_the_simulator(monkeypatch):
    monkeypatch.setattr(factory, "serial_ports", lambda: [])
    with open_device("auto") as bridge:
        assert bridge.simulator is not None
        assert bridge.wait_ready(5.0)
        assert bridge.hello.model == factory.AUTO_FALLBACK_MODEL
    assert bridge.simulator.proc.poll() is not None  # closing the bridge ended the simulator


def test_a_simulator_does_not_outlive_a_host_that_died(tmp_path):
    # The host process starts a simulator and is killed before it can close it.
    code = (
        "import os, sys; from device_bridge.simproc import SimulatorProcess; "
        f"s = SimulatorProcess('rotation', workdir={str(tmp_path)!r}); "
        "print(s.proc.pid, flush=True); os._exit(0)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, timeout=30)  # fmt: skip
    pid = int(out.stdout.split()[0])

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # An exited child of a dead parent may linger as a zombie until reaped.
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().split()[2] == "Z"
        except FileNotFoundError:
            return True

    assert wait_for(gone, 3.0)
    assert (tmp_path / "truth.json").exists()  # it still wrote its ground truth
