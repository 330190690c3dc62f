"""The load and range limits hold against any value a machine, a calibration or a limit brings.

A scripted machine plays hostile handshakes and samples on the machine's end of a real pty;
the bridge opens the other end like a USB serial port and parses what arrives.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from calibration import CalibrationError, CalibrationStore, ChannelCalibration, MachineCalibration
from device_bridge import DeviceBridge, HandshakeRefused, SafetyLimits, probe
from device_bridge import protocol as p
from device_bridge.safety import ANGLE_FLOOR_DEG, FORCE_FLOOR_SHARE, SafetyMonitor, floors
from device_bridge.samples import DeviceSample
from tests.device_fixtures import ScriptedMachine, channels, machine_hello, processed, wait_for

NAN, INF = math.nan, math.inf
ANGLE = p.Channel("angle", "deg", 0.01, -30.0, 90.0)
FORCE = p.Channel("force", "N", 0.1, 0.0, 3000.0)


@contextmanager
def scripted(**options: object) -> Iterator[tuple[ScriptedMachine, DeviceBridge]]:
    machine = ScriptedMachine()
    bridge = DeviceBridge(machine.path, **options).start()  # type: ignore[arg-type]
    try:
        assert wait_for(machine.host_asked, 5.0), bridge.status()
        yield machine, bridge
    finally:
        bridge.close()
        machine.close()


# --- the handshake ---------------------------------------------------------------------------

HOSTILE = {
    "nan force scale": (channels(force_scale=NAN), "force channel scale"),
    "zero force scale": (channels(force_scale=0.0), "force channel scale"),
    "negative force scale": (channels(force_scale=-0.1), "force channel scale"),
    "nan angle scale": (channels(angle_scale=NAN), "angle channel scale"),
    "negative angle scale": (channels(angle_scale=-0.01), "angle channel scale"),
    # 32767 counts of 1e-6 N never reach the declared 3000 N: an overload could not show.
    "tiny force scale": (channels(force_scale=1e-6), "cannot reach"),
    "infinite force range": (channels(force_max=INF), "force channel range"),
    "no force channel": ((ANGLE, p.Channel("torque", "N m", 0.01, -300, 300)), "no force"),
    "force in pounds": ((ANGLE, p.Channel("force", "lbf", 0.1, 0.0, 700.0)), "unit"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_hello_is_refused_by_name(case):
    chans, words = HOSTILE[case]
    with pytest.raises(HandshakeRefused, match=words) as exc:
        p.decode_hello(p.encode_hello(machine_hello(*chans)))
    assert "LE-7" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_machine_with_a_hostile_hello_is_faulty_and_none_of_its_samples_pass(case):
    chans, words = HOSTILE[case]
    with scripted(limits=SafetyLimits(max_force_n=600.0)) as (machine, bridge):
        machine.hello(machine_hello(*chans))
        for i in range(20):  # 700 N on a sane machine: over the limit
            machine.sample(10_000 * i, (6600, 7000))
        assert processed(bridge, machine)
        st = bridge.status()
        samples = bridge.drain()
    assert st.state == "faulty"
    assert "refused" in st.message and words in st.message and "\n" not in st.message
    assert samples == [] and st.samples == 0 and bridge.hello is None


def test_the_same_samples_after_a_sane_hello_pass_and_trip_the_limit():
    with scripted(limits=SafetyLimits(max_force_n=600.0)) as (machine, bridge):
        machine.hello(machine_hello())
        for i in range(20):
            machine.sample(10_000 * i, (6600, 7000))
        assert processed(bridge, machine)
        st = bridge.status()
        events = bridge.safety_events()
    assert st.samples == 20 and bridge.hello is not None
    assert [(e.kind, e.value) for e in events] == [("overload", pytest.approx(700.0))]


def test_a_machine_that_reboots_into_a_hostile_hello_stops_passing_samples():
    with scripted() as (machine, bridge):
        machine.hello(machine_hello())
        for i in range(5):
            machine.sample(10_000 * i, (6600, 100))
        machine.send(p.FrameType.HELLO, p.encode_hello(machine_hello(*channels(NAN))), seq=0)
        for i in range(5):
            machine.sample(10_000 * i, (6600, 100), seq=i + 1)
        assert processed(bridge, machine)
        st = bridge.status()
    assert st.samples == 5 and st.state == "faulty" and "angle channel scale" in st.message


# --- every comparison: finite and inside, else breach ---------------------------------------


def test_a_non_finite_force_or_angle_is_a_breach_with_or_without_limits():
    def at(force: float = 100.0, angle: float = 10.0) -> DeviceSample:
        return DeviceSample(1, 0.0, 1.0, angle, force)

    for limits in (None, SafetyLimits(max_force_n=300.0, min_angle_deg=0, max_angle_deg=60)):
        for force in (NAN, INF, -INF):
            events = SafetyMonitor(limits).check(at(force=force))
            assert [e.kind for e in events] == ["overload"], (limits, force)
        for angle in (NAN, INF, -INF):
            events = SafetyMonitor(limits).check(at(angle=angle))
            assert [e.kind for e in events] == ["range"], (limits, angle)


def test_a_limit_beyond_the_machines_range_is_checked_at_the_top_of_the_range():
    # A limit the sensor can never report (1e30 N) would never fire: the machine's declared
    # range (3000 N) caps it, so a saturated reading stops.
    with scripted(limits=SafetyLimits(max_force_n=1e30)) as (machine, bridge):
        machine.hello(machine_hello())
        machine.sample(0, (6600, 1000))
        machine.sample(10_000, (6600, 32767))
        assert processed(bridge, machine)
        events = bridge.safety_events()
    assert [(e.kind, e.value, e.limit) for e in events] == [
        ("overload", pytest.approx(3276.7), 3000.0)
    ]


# --- dropped frames still count for safety --------------------------------------------------


def test_an_overload_in_a_frame_dropped_for_going_backwards_still_trips_the_limit():
    with scripted(limits=SafetyLimits(max_force_n=600.0)) as (machine, bridge):
        machine.hello(machine_hello())
        for i in range(10):
            machine.sample(10_000 * (i + 1), (6600, 1000))
        machine.sample(200_000, (6600, 7000), seq=machine.seq - 5)  # an old frame number
        machine.sample(110_000, (6600, 1000))  # in order: back under the limit
        machine.sample(50_000, (6600, 8000))  # next frame number, but its time went back
        assert processed(bridge, machine)
        events = bridge.safety_events()
        st = bridge.status()
    assert st.samples == 11 and st.dropped_backwards == 2
    assert [(e.kind, e.value) for e in events] == [
        ("overload", pytest.approx(700.0)),
        ("overload", pytest.approx(800.0)),
    ]


# --- samples, not heartbeats, make a machine ok ---------------------------------------------


def test_heartbeats_without_samples_are_never_ok_and_become_not_responding():
    with scripted(stall_timeout_s=0.3) as (machine, bridge):
        machine.hello(machine_hello())
        machine.heartbeat(0)
        assert processed(bridge, machine)
        # A hello but not one sample: "connecting", or already "not_responding", never "ok".
        assert bridge.status().state in ("connecting", "not_responding")
        beats = iter(range(1, 10_000))

        def beating_but_lost() -> bool:
            machine.heartbeat(next(beats) * 10_000)  # the machine is alive, samples are not
            return bridge.status().state == "not_responding"

        assert wait_for(beating_but_lost, 5.0)
        st = bridge.status()
    assert "no samples" in st.message and st.samples == 0


@pytest.mark.parametrize("kind", ["heartbeats", "malformed samples"])
def test_a_machine_whose_samples_stop_is_not_responding(kind):
    with scripted(stall_timeout_s=0.3) as (machine, bridge):
        machine.hello(machine_hello())
        for i in range(10):
            machine.sample(10_000 * i, (6600, 100))
        assert processed(bridge, machine)
        ticks = iter(range(10, 10_000))

        def keeps_talking() -> bool:
            t = next(ticks) * 10_000
            if kind == "heartbeats":
                machine.heartbeat(t)
            else:  # a sample two bytes short of its two channels
                machine.send(p.FrameType.SAMPLE, p.encode_sample(t, (6600, 100))[:-2])
            return bridge.status().state == "not_responding"

        assert wait_for(keeps_talking, 5.0)
        st = bridge.status()
    assert "no samples" in st.message and st.samples == 10


# --- fuzz: hostile handshakes and samples through the real pty path -------------------------

FLOAT32_HOSTILE = st.one_of(
    st.sampled_from([NAN, INF, -INF, 0.0, -0.0, -0.1, 1e-9, 1e-6, 1e-45, 3e38, -3e38]),
    st.floats(width=32),
)


PLAUSIBLE = st.tuples(
    st.floats(0.0009765625, 1.0, width=32),  # scale, 2**-10 .. 1 unit per count
    st.floats(-100.0, 0.0, width=32),
    st.floats(1.0, 5000.0, width=32),
)


def channel(
    name: str, unit: str, scale: float, lo: float, hi: float, *, hostile: bool
) -> st.SearchStrategy:
    nums = st.one_of(st.just((scale, lo, hi)), PLAUSIBLE)
    names, units = st.just(name), st.just(unit)
    if hostile:
        worst = st.tuples(FLOAT32_HOSTILE, FLOAT32_HOSTILE, FLOAT32_HOSTILE)
        nums = st.one_of(nums, worst, st.tuples(FLOAT32_HOSTILE, st.just(lo), st.just(hi)))
        names = st.sampled_from([name, name, name, "other"])
        units = st.sampled_from([unit, unit, unit, "?"])
    return st.builds(lambda n, u, v: p.Channel(n, u, *v), names, units, nums)


@st.composite
def hellos(draw: st.DrawFn) -> p.Hello:
    """Half of them hostile anywhere, half with well-formed but random scales and ranges."""
    hostile = draw(st.booleans())
    angle = draw(channel("angle", "deg", 0.01, -30.0, 90.0, hostile=hostile))
    force = draw(channel("force", "N", 0.1, 0.0, 3000.0, hostile=hostile))
    extra = draw(st.lists(channel("torque", "N m", 0.01, -300, 300, hostile=hostile), max_size=1))
    chans = [force, angle] if draw(st.booleans()) else [angle, force]
    return machine_hello(*chans, *extra)


def clearly_hostile(hello: p.Hello) -> bool:
    """What the issue names: no angle or force channel, or a NaN, infinite, zero or negative
    scale or range on one of them."""
    named = {c.name: c for c in reversed(hello.channels)}  # the first of a name counts
    for name in ("angle", "force"):
        c = named.get(name)
        if c is None or not (math.isfinite(c.scale) and c.scale > 0):
            return True
        if not (math.isfinite(c.minimum) and math.isfinite(c.maximum) and c.minimum < c.maximum):
            return True
    return False


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(hello=hellos(), raw=st.lists(st.integers(-32768, 32767), min_size=2, max_size=8))
def test_fuzz_a_hostile_hello_is_refused_and_an_accepted_one_can_always_trip_the_limit(hello, raw):
    try:
        accepted = p.decode_hello(p.encode_hello(hello)) is not None
    except HandshakeRefused:
        accepted = False
    assert not (accepted and clearly_hostile(hello))
    event("accepted" if accepted else "refused")
    with scripted(limits=SafetyLimits(max_force_n=600.0)) as (machine, bridge):
        machine.hello(hello)
        n = len(hello.channels)
        for i, r in enumerate(raw):
            machine.sample(10_000 * i, tuple([r] * n))
        machine.sample(10_000 * len(raw), tuple([32767] * n))  # the sensor at its top count
        assert processed(bridge, machine)
        st_ = bridge.status()
        samples = bridge.drain()
        events = bridge.safety_events()
    assert (bridge.hello is not None) == accepted  # the bridge takes what decode_hello takes
    if not accepted:
        assert st_.state == "faulty" and "refused" in st_.message, st_
        assert samples == [] and events == []
        return
    assert all(math.isfinite(s.force_n) and math.isfinite(s.angle_deg) for s in samples)
    # Whatever scale the machine declared, its top count is over the limit: the limit can fire.
    assert any(e.kind == "overload" for e in events)


FRAME = st.tuples(
    st.sampled_from(["sample"] * 6 + ["short", "heartbeat"]),
    st.sampled_from([1, 1, 1, 1, 2, 0, -1, -300, 40_000]),  # sequence step
    st.sampled_from([10_000, 10_000, 10_000, 0, -5_000, -(2**31)]),  # device time step, us
    st.one_of(st.integers(-32768, 32767), st.sampled_from([-32768, 32767, 0, 9000, -3000])),
    st.one_of(st.integers(-32768, 32767), st.sampled_from([-32768, 32767, 0, 6000, 30_000])),
)


def rising_edges(flags: list[bool]) -> int:
    return sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))


@FUZZ
@given(
    max_force=st.floats(1.0, 5000.0),
    min_angle=st.floats(-40.0, 80.0),
    width=st.floats(1.0, 120.0),
    frames=st.lists(FRAME, min_size=1, max_size=40),
)
def test_fuzz_every_sample_over_a_limit_trips_it_also_when_dropped(
    max_force, min_angle, width, frames
):
    limits = SafetyLimits(max_force, min_angle, min_angle + width)
    checked: list[tuple[float, float]] = []  # every well-formed sample, in arrival order
    with scripted(limits=limits) as (machine, bridge):
        machine.hello(machine_hello(ANGLE, FORCE))
        seq, t_us = 0, 0
        for kind, dseq, dt, ra, rf in frames:
            seq, t_us = (seq + dseq) % p.SEQ_MODULO, (t_us + dt) % p.DEVICE_CLOCK_MODULO
            if kind == "heartbeat":
                machine.send(p.FrameType.HEARTBEAT, p.HEARTBEAT.pack(t_us, 1, 0), seq)
                continue
            payload = p.encode_sample(t_us, (ra, rf))
            if kind == "short":
                payload = payload[:-1]
            else:
                checked.append((ra * ANGLE.scale, rf * FORCE.scale))
            machine.send(p.FrameType.SAMPLE, payload, seq)
        assert processed(bridge, machine)
        samples = bridge.drain()
        events = bridge.safety_events()
    # The limits as checked: the patient's, inside the machine's declared range.
    top = min(max_force, FORCE.maximum)
    floor = FORCE.minimum - FORCE_FLOOR_SHARE * (FORCE.maximum - FORCE.minimum)
    low, high = max(min_angle, ANGLE.minimum), min(min_angle + width, ANGLE.maximum)
    over = [not (math.isfinite(f) and floor <= f <= top) for _, f in checked]
    out = [not (math.isfinite(a) and low <= a <= high) for a, _ in checked]
    kinds = [e.kind for e in events]
    assert kinds.count("overload") == rising_edges(over)
    assert kinds.count("range") == rising_edges(out)
    assert all(e.value > top or e.value < floor for e in events if e.kind == "overload")
    assert len(samples) <= len(checked)
    assert [s.seq for s in samples] == sorted({s.seq for s in samples})


# --- calibrations and limits are validated where they enter ---------------------------------


@pytest.mark.parametrize("true_b", ["-100", "0.0001"])  # force x -1 and x 1e-6
def test_calibration_two_point_refuses_a_negative_or_tiny_scale_in_one_line(
    true_b, tmp_path, capsys
):
    from device_bridge.calibrate import main

    path = tmp_path / "cal.json"
    points = ["--reading-a", "0", "--true-a", "0", "--reading-b", "100", "--true-b", true_b]
    rc = main(["--file", str(path), "two-point", "--serial", "LE-1", "--channel", "force", *points])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: two-point calibration") and err.count("\n") == 1
    assert not path.exists()


def test_a_stored_calibration_with_a_bad_scale_is_refused_when_loaded(tmp_path, capsys):
    from device_bridge.calibrate import main

    path = tmp_path / "cal.json"
    doc = {"version": 1, "machines": {"LE-1": {"force": {"zero": 0.0, "scale": -1.0}}}}
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match="machine LE-1 force: calibration scale"):
        CalibrationStore(path)
    assert main(["--file", str(path), "show"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "61"])
def test_calibration_read_refuses_a_time_outside_its_range_in_one_line(seconds, capsys):
    from device_bridge.calibrate import main

    assert main(["read", "--device", "loop://", "--seconds", seconds]) == 2
    assert capsys.readouterr().err == (
        f"error: --seconds: expected more than 0 and at most 60 seconds, got {float(seconds):g}\n"
    )


@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "inf"])
def test_monitor_refuses_a_time_that_is_not_positive_and_finite_in_one_line(seconds, capsys):
    """It said "no machine at ..." (rc 1) for -1 and watched nothing (rc 0) for NaN."""
    from device_bridge.__main__ import main

    assert main(["monitor", "--device", "loop://", "--seconds", seconds]) == 2
    assert capsys.readouterr() == (
        "",
        f"error: --seconds: expected a number of seconds above 0, got {float(seconds):g}\n",
    )


@pytest.mark.parametrize(
    ("cal", "words"),
    [
        # A zero the 0..3000 N sensor can never read: every calibrated force would be negative.
        (
            MachineCalibration(force=ChannelCalibration(zero=5000.0)),
            "zero 5000: expected a reading",
        ),
        # Inside the range, but no tare: an overload of 700 N would read -1800 N.
        (MachineCalibration(force=ChannelCalibration(zero=2500.0)), "zero 2500: expected at most"),
        (
            MachineCalibration(angle=ChannelCalibration(zero=60.0)),
            "angle zero 60: expected at most",
        ),
    ],
)
def test_a_stored_calibration_that_does_not_fit_the_machine_leaves_the_link_faulty(
    tmp_path, cal, words
):
    store = CalibrationStore(tmp_path / "cal.json")
    store.set("LE-7", cal)
    with scripted(limits=SafetyLimits(max_force_n=600.0), calibration_store=store) as (
        machine,
        bridge,
    ):
        machine.hello(machine_hello())
        for i in range(5):
            machine.sample(10_000 * i, (6600, 7000))
        assert processed(bridge, machine)
        st = bridge.status()
    assert st.state == "faulty" and st.samples == 0
    assert "stored calibration for 'LE-7' refused" in st.message and words in st.message
    assert "\n" not in st.message


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--max-force", "nan"), ("--max-force", "inf"), ("--max-force", "0"),
     ("--max-force", "-5"), ("--min-angle", "nan"), ("--max-angle", "-inf")],
)  # fmt: skip
def test_monitor_refuses_a_limit_that_would_switch_its_check_off(flag, value, capsys):
    from device_bridge.__main__ import main

    rc = main(["monitor", "--device", "loop://", "--seconds", "0.1", f"{flag}={value}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"error: {flag}:") and err.count("\n") == 1


def test_probe_names_a_machine_with_a_hostile_hello_rather_than_skipping_it():
    machine = ScriptedMachine()

    def answer() -> None:
        if wait_for(machine.host_asked, 5.0):
            machine.hello(machine_hello(*channels(force_scale=-0.1)))

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with pytest.raises(HandshakeRefused, match="force channel scale"):
            probe(machine.path, timeout_s=5.0)
    finally:
        thread.join()
        machine.close()


# --- a calibration's zero: bounded where it enters, and no zero can switch the limit off --------


@pytest.mark.parametrize(
    ("channel", "points", "words"),
    [
        ("force", ("2500", "0", "2600", "100"), "force zero 2500: expected at most 150 N"),
        ("angle", ("60", "0", "70", "10"), "angle zero 60: expected at most 10 deg"),
    ],
)
def test_calibration_two_point_refuses_a_zero_no_tare_can_explain_in_one_line(
    channel, points, words, tmp_path, capsys
):
    from device_bridge.calibrate import main

    path = tmp_path / "cal.json"
    names = ("--reading-a", "--true-a", "--reading-b", "--true-b")
    argv = [a for pair in zip(names, points, strict=True) for a in pair]
    rc = main(["--file", str(path), "two-point", "--serial", "LE-1", "--channel", channel, *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: calibration") and err.count("\n") == 1
    assert words in err and not path.exists()
    # A small offset, as a tare finds it, is still taken.
    small = ("8", "0", "108", "100") if channel == "force" else ("1.5", "0", "61.5", "60")
    argv = [a for pair in zip(names, small, strict=True) for a in pair]
    rc = main(["--file", str(path), "two-point", "--serial", "LE-1", "--channel", channel, *argv])
    assert rc == 0 and getattr(CalibrationStore(path).get("LE-1"), channel).zero == float(small[0])


def test_calibration_zero_taken_while_the_machine_is_loaded_is_refused(tmp_path, capsys):
    """``calibration zero`` on a real pty while the patient pushes 400 N: not a tare."""
    from device_bridge.calibrate import main

    machine = ScriptedMachine()
    done = threading.Event()

    def play() -> None:
        if not wait_for(machine.host_asked, 10.0):
            return
        machine.hello(machine_hello())
        t_us = 0
        while not done.is_set():
            t_us += 10_000
            machine.sample(t_us, (6600, 4000))  # 66 deg, 400 N
            done.wait(0.005)

    thread = threading.Thread(target=play)
    thread.start()
    path = tmp_path / "cal.json"
    try:
        argv = ["--file", str(path), "zero", "--device", machine.path, "--channel", "force"]
        rc = main([*argv, "--seconds", "0.2"])
    finally:
        done.set()
        thread.join()
        machine.close()
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and not path.exists()
    assert err.startswith("error: LE-7: calibration force zero 400") and "at most 150 N" in err


def test_a_force_or_angle_below_the_declared_range_is_a_breach_with_or_without_limits():
    force_floor, angle_floor = floors(0.0, 3000.0, -30.0)
    assert (force_floor, angle_floor) == (-30.0, -30.0 - ANGLE_FLOOR_DEG)

    def at(force: float = 100.0, angle: float = 10.0) -> DeviceSample:
        return DeviceSample(1, 0.0, 1.0, angle, force)

    for limits in (None, SafetyLimits(max_force_n=600.0)):
        mon = SafetyMonitor(limits)
        mon.set_measuring_range(3000.0, -30.0, 90.0, (force_floor, angle_floor))
        assert mon.check(at(force=-5.0)) == []  # noise around a tared zero
        events = mon.check(at(force=-500.0))
        assert [(e.kind, e.value, e.limit) for e in events] == [("overload", -500.0, -30.0)]
        assert mon.check(at(force=100.0)) == []
        events = mon.check(at(angle=-40.0))
        # With limits, the declared range itself is checked (the floor lies below it).
        low = angle_floor if limits is None else -30.0
        assert [(e.kind, e.value, e.limit) for e in events] == [("range", -40.0, low)]


def test_a_machine_sending_a_force_below_its_declared_range_trips_the_limit():
    """-500 N from a 0..3000 N sensor: a faulty sample, not a light one."""
    with scripted(limits=SafetyLimits(max_force_n=600.0)) as (machine, bridge):
        machine.hello(machine_hello())
        machine.sample(0, (6600, 100))
        machine.sample(10_000, (6600, -5000))
        assert processed(bridge, machine)
        events = bridge.safety_events()
    assert [(e.kind, e.value, e.limit) for e in events] == [
        ("overload", pytest.approx(-500.0), -30.0)
    ]


def test_a_zero_taken_under_a_light_load_stops_at_the_first_sample_at_rest(tmp_path):
    """A zero inside the bound (140 N, a tare taken while leaning on the lever): at rest every
    force reads about -130 N, below the sensor's range, so the limit cannot be quietly raised
    by 140 N: the first sample is a breach."""
    store = CalibrationStore(tmp_path / "cal.json")
    store.set("LE-7", MachineCalibration(force=ChannelCalibration(zero=140.0)))
    with scripted(limits=SafetyLimits(max_force_n=600.0), calibration_store=store) as (
        machine,
        bridge,
    ):
        machine.hello(machine_hello())
        for i in range(5):
            machine.sample(10_000 * i, (6600, 100))  # 10 N at rest
        assert processed(bridge, machine)
        st = bridge.status()
        events = bridge.safety_events()
    assert st.samples == 5 and bridge.calibration.force.zero == 140.0
    assert [(e.kind, e.value, e.limit, e.seq) for e in events] == [
        ("overload", pytest.approx(-130.0), -30.0, 1)
    ]
