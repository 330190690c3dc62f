"""The bridge against the machine simulator in a subprocess, over a real pseudo-terminal."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calibration import CalibrationStore, ChannelCalibration, MachineCalibration
from device_bridge import CommandRejected, CommandTimeout, SafetyLimits, probe
from tests.device_fixtures import bridge_on, sent_frames, simulator, wait_for

ROOT = Path(__file__).resolve().parent.parent
ANGLE_SCALE, FORCE_SCALE = 0.01, 0.1  # the simulator's counts


def stop_and_collect(bridge, samples):
    """Stop the stream, let the last frames arrive, and take every sample."""
    bridge.stop_streaming()
    time.sleep(0.3)
    samples += bridge.drain()
    return samples


def test_handshake_reports_the_machine_and_its_channels(tmp_path):
    with simulator(tmp_path, "--seed", "4", model="rotation") as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        hello = bridge.hello
        assert (hello.model, hello.serial, hello.protocol) == ("rotation", "RT-1004", (1, 0))
        assert hello.firmware and hello.rate_hz == 1000
        assert [(c.name, c.unit) for c in hello.channels] == [("angle", "deg"), ("force", "N")]
        assert hello.channels[0].scale == ANGLE_SCALE
        st = bridge.status()
        assert st.state == "ok" and "RT-1004" in st.message
        assert bridge.ping() < 0.2
        # The port is locked to its bridge: a second reader cannot steal half the frames.
        assert probe(sim.link) is None
        time.sleep(0.2)
        assert bridge.status().seq_gaps == 0


def test_ten_seconds_at_1000_hz_without_a_gap_and_every_sample_accounted_for(tmp_path):
    args = ("--rate", "1000", "--baud", "460800", "--jerk-probability", "0")
    with simulator(tmp_path, *args, frame_log=True) as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        samples = []
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            samples += bridge.drain()
            time.sleep(0.05)
        stop_and_collect(bridge, samples)
        st = bridge.status()
    sent = sent_frames(sim)
    assert len(samples) >= 10_000
    # The rate on the machine's own clock: the host's clock and the drift estimate follow
    # how busy the host is (the estimate is checked on a controlled clock in test_device_units).
    span = samples[-1].device_time_s - samples[0].device_time_s
    assert (len(samples) - 1) / span == pytest.approx(1000, rel=0.01)
    assert (st.seq_gaps, st.lost_frames, st.crc_errors, st.resyncs) == (0, 0, 0, 0)
    assert (st.dropped_backwards, st.ring_overflows) == (0, 0)
    assert sim.truth["samples_sent"] == len(samples) == len(sent)
    assert sorted(s.seq % 65536 for s in samples) == sorted(sent)  # seq wraps at 65536
    seqs = [s.seq for s in samples]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for s in samples:
        row = sent[s.seq % 65536]
        assert s.angle_deg == pytest.approx(row[2][0] * ANGLE_SCALE)
        assert s.force_n == pytest.approx(row[2][1] * FORCE_SCALE)
        assert s.device_time_s % 4294.967296 == pytest.approx(row[1] * 1e-6)
        # Mapped onto the host clock: not after it was written (the simulator notes the write
        # time after os.write returns, so the reader can be a few microseconds ahead of it) ...
        assert s.host_time_s <= row[5] + 0.001
    # ... and close to when it was taken.
    lag = [s.host_time_s - sent[s.seq % 65536][4] for s in samples[2000:]]
    assert abs(statistics.median(lag)) < 0.003
    assert max(abs(x) for x in lag) < 0.1  # the tail follows how busy the host is
    # The simulator's truth and what came over the wire tell the same story.
    assert sim.truth["rep_count"] >= 1
    peak = sim.truth["peak_angles_deg"][0]
    first_rep = [s.angle_deg for s in samples[: int(6.5 * 1000)]]
    assert min(first_rep) == pytest.approx(peak, abs=0.02)


def test_garbage_bit_flips_and_drops_are_counted_and_no_bad_sample_passes(tmp_path):
    args = ("--garbage-every", "0.2", "--bitflip-rate", "0.02", "--drop-rate", "0.01")
    with simulator(tmp_path, *args, frame_log=True) as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        samples = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            samples += bridge.drain()
            time.sleep(0.05)
        stop_and_collect(bridge, samples)
        st = bridge.status()
    truth = sim.truth
    assert truth["frames_corrupted"] > 20 and truth["frames_dropped"] > 10
    assert truth["garbage_bursts"] >= 10
    sent = sent_frames(sim)
    # Every sample passed on is exactly one the machine sent intact.
    for s in samples:
        row = sent[s.seq % 65536]
        assert (s.angle_deg, s.force_n) == pytest.approx(
            (row[2][0] * ANGLE_SCALE, row[2][1] * FORCE_SCALE)
        )
    assert len(samples) == len(sent) == truth["samples_sent"]
    # Each corrupted frame failed its CRC or lost its sync word; none got through.
    assert st.crc_errors > 0
    assert st.resyncs >= truth["frames_corrupted"] // 2
    assert st.lost_frames == truth["frames_dropped"] + truth["frames_corrupted"]
    assert 0 < st.seq_gaps <= st.lost_frames


def test_reconnects_after_the_port_vanishes_and_the_machine_reboots(tmp_path):
    args = ("--disconnect-at", "1.5", "--disconnect-for", "0.8")
    with simulator(tmp_path, *args) as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        states = set()
        samples = []

        def back() -> bool:
            samples.extend(bridge.drain())
            st = bridge.status()
            states.add(st.state)
            return st.reconnects == 1 and st.state == "ok" and st.rate_hz > 500

        assert wait_for(back, 8.0), bridge.status()
        n = len(samples)
        time.sleep(0.5)
        samples += bridge.drain()
        assert len(samples) > n + 300  # streaming again after the re-handshake
        st = bridge.status()
    assert "reconnecting" in states
    assert sim.truth["disconnects"] == 1 and sim.truth["boots"] == 2
    assert sim.truth["commands"]["start"] >= 2  # streaming was asked for again
    seqs = [s.seq for s in samples]
    host = [s.host_time_s for s in samples]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert host == sorted(host)
    assert st.crc_errors == 0


def test_a_stalled_machine_is_not_responding_then_recovers(tmp_path):
    args = ("--stall-at", "1.5", "--stall-for", "1.2")
    with simulator(tmp_path, *args) as sim, bridge_on(sim, stall_timeout_s=0.4) as bridge:
        assert bridge.wait_ready(5.0)
        assert wait_for(lambda: bridge.status().state == "not_responding", 4.0)
        assert "machine not responding" in bridge.status().message
        assert wait_for(lambda: bridge.status().state == "ok", 4.0)
        n = bridge.status().samples
        assert wait_for(lambda: bridge.status().samples > n + 200, 2.0)
        assert bridge.status().reconnects == 0
    assert sim.truth["stalls"] == 1


def test_commands_are_acknowledged_refused_or_time_out(tmp_path):
    args = ("--ignore-command", "ping", "--force-bias", "25")
    with simulator(tmp_path, *args) as sim, bridge_on(sim, command_timeout_s=0.3) as bridge:
        assert bridge.wait_ready(5.0)
        time.sleep(0.2)  # at rest before the first rep: force is the sensor's bias
        assert bridge.latest().force_n == pytest.approx(25, abs=6)
        bridge.tare()
        time.sleep(0.1)
        bridge.drain()
        time.sleep(0.1)
        assert statistics.mean(s.force_n for s in bridge.drain()) == pytest.approx(0, abs=3)
        bridge.set_limits(SafetyLimits(max_force_n=500.0, min_angle_deg=-10.0, max_angle_deg=70.0))
        with pytest.raises(CommandRejected, match="start: machine answered NACK"):
            bridge.start_streaming(rate_hz=50_000)
        t = time.monotonic()
        with pytest.raises(CommandTimeout, match="ping"):
            bridge.ping()
        assert 0.3 <= time.monotonic() - t < 1.0
        assert bridge.status().state == "ok"  # a lost answer is not a lost machine
        bridge.stop_streaming()
        time.sleep(0.2)
        n = bridge.status().samples
        time.sleep(0.3)
        assert bridge.status().samples == n
    assert sim.truth["tares"] == 1
    assert sim.truth["commands"]["ping"] == 1
    assert sim.truth["limits"] == [500.0, -10.0, 70.0]


def test_safety_event_on_the_first_sample_over_the_limit(tmp_path):
    args = ("--overload-at", "2.0", "--overload-n", "900", "--overshoot-at", "2.5")
    args += ("--jerk-probability", "0")
    limits = SafetyLimits(max_force_n=600.0, min_angle_deg=-5.0, max_angle_deg=80.0)
    with (
        simulator(tmp_path, *args, frame_log=True) as sim,
        bridge_on(sim, limits=limits) as bridge,
    ):
        assert bridge.wait_ready(5.0)
        time.sleep(3.6)  # past the overload (2.0 s) and the first rep's far end (~3.2 s)
        bridge.stop_streaming()
        time.sleep(0.2)
        events = bridge.safety_events()
        samples = {s.seq: s for s in bridge.drain()}
    frames = sorted(sent_frames(sim).values(), key=lambda r: r[1])
    first_over = next(r for r in frames if r[2][1] * FORCE_SCALE > 600.0)
    first_out = next(r for r in frames if r[2][0] * ANGLE_SCALE < -5.0)
    kinds = [(e.kind, e.seq % 65536) for e in events]
    assert ("overload", first_over[0]) in kinds
    assert ("range", first_out[0]) in kinds
    assert [k for k, _ in kinds].count("overload") == 1  # one spike, one event
    over = next(e for e in events if e.kind == "overload")
    assert over.limit == 600.0 and over.value > 600.0
    assert over.host_time_s == samples[over.seq].host_time_s
    assert sim.truth["limits"] == pytest.approx([600.0, -5.0, 80.0])  # sent to the machine too


def test_calibration_is_applied_to_every_sample(tmp_path):
    store = CalibrationStore(tmp_path / "calibration.json")
    cal = MachineCalibration(
        angle=ChannelCalibration.two_point(2.0, 0.0, 62.0, 60.0),
        force=ChannelCalibration(zero=8.0, scale=0.98),
    )
    store.set("LE-1001", cal)
    store.set("LE-9999", MachineCalibration(angle=ChannelCalibration(10.0, 1.2)))
    limits = SafetyLimits(max_force_n=490.0, min_angle_deg=0.0, max_angle_deg=60.0)
    with (
        simulator(tmp_path, frame_log=True) as sim,
        bridge_on(sim, calibration_store=store, limits=limits) as bridge,
    ):
        assert bridge.wait_ready(5.0)
        time.sleep(1.5)
        samples = bridge.drain()
        # Recalibrated by another process while connected: applied from the next sample on.
        newer = MachineCalibration(force=ChannelCalibration(zero=10.0, scale=1.1))
        CalibrationStore(tmp_path / "calibration.json").set("LE-1001", newer)
        assert bridge.calibration == cal
        assert bridge.reload_calibration() == newer
        bridge.drain()
        time.sleep(0.5)
        after = stop_and_collect(bridge, [])
    assert len(after) > 100
    for s in after:
        raw_angle, raw_force = sent_frames(sim)[s.seq % 65536][2][:2]
        assert s.angle_deg == pytest.approx(raw_angle * ANGLE_SCALE)
        assert s.force_n == pytest.approx((raw_force * FORCE_SCALE - 10.0) * 1.1)
    # The machine knows nothing of our calibration: it gets the limits in its own units.
    assert sim.truth["limits"] == pytest.approx([490.0 / 0.98 + 8.0, 2.0, 62.0])
    sent = sent_frames(sim)
    assert len(samples) > 1000
    for s in samples:
        raw_angle, raw_force = sent[s.seq % 65536][2][:2]
        assert s.angle_deg == pytest.approx((raw_angle * ANGLE_SCALE - 2.0) * 1.0)
        assert s.force_n == pytest.approx((raw_force * FORCE_SCALE - 8.0) * 0.98)


def test_a_newer_machine_with_an_extra_channel_is_understood(tmp_path):
    with simulator(tmp_path, "--extra-channel") as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        assert [c.name for c in bridge.hello.channels] == ["angle", "force", "torque"]
        time.sleep(0.2)
        s = bridge.latest()
        assert len(s.extra) == 1
        assert s.extra[0] == pytest.approx(s.force_n * 0.3, abs=0.02)


def _monitor(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "device_bridge", "monitor", "--json", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_monitor_json_reports_the_configured_rate_clean_and_with_faults():
    clean = _monitor("--device", "sim:lumbar_flexion", "--seconds", "2")
    assert (clean["model"], clean["serial"]) == ("lumbar_flexion", "LF-1001")
    assert clean["rate_hz"] == pytest.approx(1000, rel=0.02)
    assert clean["samples"] > 1800
    assert (clean["crc_errors"], clean["seq_gaps"], clean["reconnects"]) == (0, 0, 0)
    faulty = _monitor("--device", "sim:lateral_flexion", "--seconds", "2", "--bitflip-rate",
                      "0.02", "--garbage-every", "0.3")  # fmt: skip
    assert faulty["crc_errors"] > 0 and faulty["seq_gaps"] > 0
    assert faulty["simulator"]["frames_corrupted"] >= faulty["seq_gaps"]
    assert faulty["simulator"]["garbage_bursts"] >= 5


def test_a_failing_sample_callback_does_not_kill_the_reader(tmp_path):
    calls = []

    def on_sample(sample) -> None:
        calls.append(sample.seq)
        if len(calls) == 50:
            raise RuntimeError("consumer bug")

    with simulator(tmp_path) as sim, bridge_on(sim, on_sample=on_sample) as bridge:
        assert bridge.wait_ready(5.0)
        assert wait_for(lambda: bridge.reader_errors == 1, 3.0)
        n = len(calls)
        assert wait_for(lambda: len(calls) > n + 200 and bridge.status().state == "ok", 5.0)


def test_the_host_can_change_the_sample_rate(tmp_path):
    with simulator(tmp_path) as sim, bridge_on(sim) as bridge:
        assert bridge.wait_ready(5.0)
        bridge.start_streaming(rate_hz=250)
        bridge.drain()
        samples: list = []

        def second_of_samples() -> bool:
            samples.extend(bridge.drain())
            return len(samples) >= 250

        # The rate is read on the machine's clock, so a busy host cannot change the verdict.
        assert wait_for(second_of_samples, 10.0)
        st = bridge.status()
    steps = [b.device_time_s - a.device_time_s for a, b in itertools.pairwise(samples)]
    assert steps == pytest.approx([0.004] * len(steps), abs=2e-6)
    assert (st.seq_gaps, st.dropped_backwards) == (0, 0)
