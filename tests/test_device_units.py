"""Clock mapping, ring buffer, safety monitor and calibration, without any port."""

from __future__ import annotations

import json
import math
import random

import pytest

from calibration import CalibrationError, CalibrationStore, ChannelCalibration, MachineCalibration
from device_bridge.clock import ClockMap
from device_bridge.ring import RateMeter, SampleRing
from device_bridge.safety import SafetyMonitor
from device_bridge.samples import DeviceSample, SafetyLimits


def sample(seq: int, angle: float = 10.0, force: float = 100.0) -> DeviceSample:
    return DeviceSample(seq, seq * 0.001, 100.0 + seq * 0.001, angle, force)


@pytest.mark.parametrize("drift_ppm", [-120.0, 0.0, 45.0])
def test_clock_map_recovers_offset_and_drift_under_random_delay(drift_ppm):
    # drift_ppm: how much faster the machine's crystal runs than the host's.
    rng = random.Random(5)
    clock = ClockMap()
    offset = 4321.0
    errors = []
    receipt = -math.inf
    for k in range(30000):
        device = 800.0 + k / 1000
        true_host = offset + device / (1 + drift_ppm * 1e-6)
        # Never early, mostly a little late, and in order (a serial line is a FIFO).
        receipt = max(receipt, true_host + 0.0003 + rng.expovariate(1 / 0.002))
        mapped = clock.observe(device, receipt)
        assert mapped <= receipt
        if k > 5000:
            errors.append(mapped - true_host)
    assert clock.drift_ppm == pytest.approx(drift_ppm, abs=5.0)
    # What is left is the smallest transport delay, 0.3 ms, which no one-way method can see.
    assert max(abs(e - 0.0003) for e in errors) < 0.0005


def test_clock_map_never_goes_backwards_and_restarts_on_reset():
    clock = ClockMap()
    last = -math.inf
    for k in range(2000):
        mapped = clock.observe(k * 0.001, 50.0 + k * 0.001 + (0.01 if k % 100 == 0 else 0.0))
        assert mapped >= last
        last = mapped
    clock.reset()  # the machine rebooted: its clock starts at zero again
    assert clock.observe(0.0, 60.0) == pytest.approx(60.0)
    assert clock.observe(0.001, 60.001) == pytest.approx(60.001)


def test_ring_keeps_the_newest_and_counts_what_it_had_to_drop():
    ring = SampleRing(capacity=5)
    assert ring.latest() is None and ring.drain() == []
    for i in range(8):
        ring.push(sample(i))
    assert ring.latest().seq == 7
    assert [s.seq for s in ring.drain()] == [3, 4, 5, 6, 7]
    assert ring.overflows == 3
    assert ring.drain() == [] and ring.latest().seq == 7
    with pytest.raises(ValueError, match="expected >= 1"):
        SampleRing(0)


def test_rate_meter_measures_and_falls_to_zero_when_the_stream_stops():
    meter = RateMeter(window_s=1.0)
    for k in range(2000):
        meter.update(k, now=k * 0.001)
    assert meter.rate(2000, now=2.0) == pytest.approx(1000, rel=0.02)
    assert meter.rate(2000, now=10.0) == 0.0


def test_safety_event_on_first_breach_only_until_it_clears():
    mon = SafetyMonitor(SafetyLimits(max_force_n=300, min_angle_deg=0, max_angle_deg=60))
    forces = [100, 250, 301, 400, 350, 200, 320]
    events = [e for i, f in enumerate(forces) for e in mon.check(sample(i, force=f))]
    assert [(e.kind, e.seq, e.value, e.limit) for e in events] == [
        ("overload", 2, 301, 300),
        ("overload", 6, 320, 300),
    ]
    events = mon.check(sample(10, angle=-0.5)) + mon.check(sample(11, angle=70))
    assert [(e.kind, e.limit) for e in events] == [("range", 0)]  # still in breach at 70
    assert mon.check(sample(12, angle=30)) == []
    assert [(e.kind, e.limit) for e in mon.check(sample(13, angle=61))] == [("range", 60)]
    assert SafetyMonitor(None).check(sample(1, force=1e9)) == []


def test_safety_limits_refuse_nonsense_by_name():
    with pytest.raises(ValueError, match="min_angle_deg < max_angle_deg"):
        SafetyLimits(min_angle_deg=10, max_angle_deg=5)
    with pytest.raises(ValueError, match="max_force_n"):
        SafetyLimits(max_force_n=0)
    with pytest.raises(ValueError, match="NaN"):
        SafetyLimits(max_force_n=math.nan)


def test_two_point_calibration_maps_both_references_exactly():
    cal = ChannelCalibration.two_point(reading_a=2.0, true_a=0.0, reading_b=62.0, true_b=60.0)
    assert cal.apply(2.0) == pytest.approx(0.0)
    assert cal.apply(62.0) == pytest.approx(60.0)
    cal = ChannelCalibration.two_point(10.0, 0.0, 210.0, 196.2)  # a 20 kg reference weight
    assert cal.apply(210.0) == pytest.approx(196.2)
    assert cal.invert(cal.apply(123.4)) == pytest.approx(123.4)
    with pytest.raises(ValueError, match="two different readings"):
        ChannelCalibration.two_point(1.0, 0.0, 1.0, 5.0)
    for scale in (0.0, -1.0, 1e-6, math.nan, 5.0):  # each would silence or skew the load limit
        with pytest.raises(ValueError, match=r"expected a factor between 0\.8 and 1\.25"):
            ChannelCalibration(0.0, scale)
    with pytest.raises(ValueError, match="scale of -1"):
        ChannelCalibration.two_point(0.0, 0.0, 100.0, -100.0)
    with pytest.raises(ValueError, match=r"scale of 1e-06"):
        ChannelCalibration.two_point(0.0, 0.0, 1e6, 1.0)
    with pytest.raises(ValueError, match="finite"):
        ChannelCalibration.two_point(0.0, 0.0, math.inf, 60.0)


def test_calibration_store_round_trips_per_serial_and_tares(tmp_path):
    path = tmp_path / "cal" / "calibration.json"
    store = CalibrationStore(path)
    assert store.get("LE-1") == MachineCalibration()
    store.set("LE-1", MachineCalibration(angle=ChannelCalibration(1.5, 1.02)))
    store.tare("LE-1", "force", 8.0)
    again = CalibrationStore(path)
    assert again.serials() == ["LE-1"]
    got = again.get("LE-1")
    assert got.angle == ChannelCalibration(1.5, 1.02)
    assert got.force.apply(8.0) == 0.0
    assert again.get("other") == MachineCalibration()
    with pytest.raises(ValueError, match="'angle' or 'force'"):
        again.tare("LE-1", "torque", 1.0)


def test_calibration_store_names_what_is_wrong_with_a_bad_file(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"version": 9, "machines": {}}))
    with pytest.raises(CalibrationError, match="expected version 1, got 9"):
        CalibrationStore(path)
    path.write_text(json.dumps({"version": 1, "machines": {"X": {"angle": {"zero": 1}}}}))
    with pytest.raises(CalibrationError, match="zero and scale"):
        CalibrationStore(path)


def test_calibration_default_path_follows_the_environment(tmp_path, monkeypatch):
    from calibration import default_path

    monkeypatch.setenv("SPINECOACH_CALIBRATION", str(tmp_path / "x.json"))
    assert default_path() == tmp_path / "x.json"
    monkeypatch.delenv("SPINECOACH_CALIBRATION")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_path() == tmp_path / "spinecoach" / "calibration.json"


def test_calibration_command_line_sets_zero_from_the_machine_and_two_point(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "cal.json"

    def cli(*args: str) -> str:
        cmd = [sys.executable, "-m", "device_bridge", "calibration", "--file", str(path), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    # The simulated machine reads about 8 N at rest (its sensor bias) before the first rep.
    assert "LE-1001: force zero set" in cli(
        "zero", "--device", "sim:lumbar_extension", "--channel", "force", "--seconds", "0.3"
    )
    cli("two-point", "--serial", "LE-1001", "--channel", "angle", "--reading-a", "1.0",
        "--true-a", "0", "--reading-b", "31.0", "--true-b", "30.6")  # fmt: skip
    cal = CalibrationStore(path).get("LE-1001")
    assert cal.force.zero == pytest.approx(8.0, abs=1.0) and cal.force.scale == 1.0
    assert cal.angle.apply(31.0) == pytest.approx(30.6)
    assert "LE-1001: angle zero 1 scale 1.02" in cli("show")
