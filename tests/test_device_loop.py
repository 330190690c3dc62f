"""The bridge and the framing over pyserial's ``loop://``: a port that echoes what is written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_bridge import (
    CommandTimeout,
    DeviceBridge,
    DeviceSpecError,
    NotConnected,
    SafetyLimits,
    open_device,
)
from device_bridge import protocol as p
from device_bridge.link import Link
from device_bridge.parser import Frame, FrameParser
from tests.device_fixtures import wait_for


def test_frames_survive_a_pyserial_port_in_chunks():
    link = Link("loop://", 115200)
    link.open()
    try:
        sample = p.FrameType.SAMPLE
        frames = [p.encode_frame(sample, i, p.encode_sample(i, (i, -i))) for i in range(200)]
        link.write(b"\x00\xa5garbage" + b"".join(frames))
        parser = FrameParser()
        got = []
        while len(got) < 200:
            data = link.read()
            assert data, "loop:// returned nothing before all frames came back"
            got += parser.feed(data)
        assert [p.decode_sample(f.payload, 2) for f in got] == [(i, (i, -i)) for i in range(200)]
        assert parser.resyncs == 0  # leading bytes before the first frame are not a lost sync
    finally:
        link.close()


def test_bridge_on_a_silent_line_reports_not_responding_and_commands_time_out():
    bridge = DeviceBridge("loop://", stall_timeout_s=0.3, command_timeout_s=0.2).start()
    try:
        assert wait_for(lambda: bridge.status().state == "connecting", 2.0)
        assert wait_for(lambda: bridge.status().state == "not_responding", 2.0)
        st = bridge.status()
        assert "no answer to hello" in st.message
        assert st.samples == 0 and st.crc_errors == 0
        assert bridge._ignored > 0  # its own hello requests came back and were not taken as data
        with pytest.raises(CommandTimeout, match=r"ping: expected an ACK within 0\.200 s"):
            bridge.ping()
        with pytest.raises(CommandTimeout, match="tare"):
            bridge.tare()
        # Without a machine the limits still apply on the host; nothing to send yet.
        bridge.set_limits(SafetyLimits(max_force_n=500))
        assert bridge.limits == SafetyLimits(max_force_n=500)
        assert bridge.hello is None and bridge.latest() is None and bridge.drain() == []
    finally:
        bridge.close()
    assert bridge.status().state == "closed"


def test_missing_port_is_a_state_with_a_reason_not_a_crash(tmp_path):
    bridge = DeviceBridge(str(tmp_path / "ttyUSB9")).start()
    try:
        assert wait_for(lambda: "cannot open" in bridge.status().message, 2.0)
        assert bridge.status().state == "connecting"
        with pytest.raises(NotConnected, match="expected a connected machine"):
            bridge.ping()
    finally:
        bridge.close()


def test_tare_names_the_channels_it_knows():
    bridge = DeviceBridge("loop://")
    with pytest.raises(ValueError, match="expected 'angle' or 'force', got 'torque'"):
        bridge.tare(["torque"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [("", "expected auto, sim:MODEL"), ("sim:rowing", "expected one of")],
)
def test_bad_device_spec_names_what_was_expected(spec, message):
    with pytest.raises(DeviceSpecError, match=message):
        open_device(spec)


def test_simulator_arguments_need_a_simulator():
    with pytest.raises(DeviceSpecError, match="need --device sim:MODEL"):
        open_device("loop://", simulator_args=["--garbage-every", "1"])


def test_open_device_with_a_url_gives_a_bridge_on_that_url():
    bridge = open_device("loop://", limits=SafetyLimits(max_force_n=10))
    assert isinstance(bridge, DeviceBridge) and bridge.target == "loop://"
    assert bridge.limits == SafetyLimits(max_force_n=10)
    bridge.close()


def test_bridge_ignores_its_own_frames_and_unknown_frame_types():
    bridge = DeviceBridge("loop://")
    bridge._handle(Frame(p.FrameType.PING, 1, b""), now=1.0)  # host->machine: an echo
    bridge._handle(Frame(0x0A, 2, b"future"), now=1.0)  # a newer machine's frame type
    assert bridge._ignored == 2 and bridge.drain() == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*range(0x01, 0x07), 0x10, 0x15, 0x3F]),
            st.integers(0, 65535),
            st.binary(max_size=64),
        ),
        max_size=40,
    )
)
def test_fuzz_well_framed_nonsense_never_breaks_the_reader(frames):
    bridge = DeviceBridge("loop://", limits=SafetyLimits(max_force_n=100))
    bridge._connected = True
    bridge._link.write = lambda data: None  # answers to a fuzzed hello go nowhere
    hello = p.encode_hello(
        p.Hello((1, 0), "m", "S", "f", 100, (
            p.Channel("angle", "deg", 0.01, -30, 90), p.Channel("force", "N", 0.1, 0, 3000)))
    )  # fmt: skip
    bridge._handle(Frame(p.FrameType.HELLO, 0, hello), now=1.0)
    for i, (ftype, seq, payload) in enumerate(frames):
        bridge._handle(Frame(ftype, seq, payload), now=1.0 + i * 1e-3)
    samples = bridge.drain()
    seqs = [s.seq for s in samples]
    assert seqs == sorted(set(seqs))
    hosts = [s.host_time_s for s in samples]
    assert hosts == sorted(hosts)
    assert bridge.status().samples == len(samples)


def test_bridge_over_a_socket_url_with_a_minimal_machine():
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    channels = (p.Channel("angle", "deg", 0.01, -30, 90), p.Channel("force", "N", 0.1, 0, 3000))
    hello = p.Hello((1, 0), "lumbar_flexion", "NET-1", "0.1", 100, channels)

    def machine() -> None:
        conn, _ = server.accept()
        parser, seq = FrameParser(), 0
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    return
                for f in parser.feed(data):
                    if f.ftype == p.FrameType.HELLO_REQUEST:
                        conn.sendall(p.encode_frame(p.FrameType.HELLO, seq, p.encode_hello(hello)))
                        seq += 1
                    elif f.ftype == p.FrameType.START:
                        ack = p.ACK.pack(f.seq, f.ftype, 0, 0)
                        out = p.encode_frame(p.FrameType.ACK, seq, ack)
                        for i in range(100):
                            sample = p.encode_sample(10_000 * i, (100 * i, 50))
                            out += p.encode_frame(p.FrameType.SAMPLE, seq + 1 + i, sample)
                        conn.sendall(out)
                        seq += 101

    thread = threading.Thread(target=machine, daemon=True)
    thread.start()
    with DeviceBridge(f"socket://127.0.0.1:{port}") as bridge:
        assert wait_for(lambda: bridge.status().samples == 100, 5.0), bridge.status()
        samples = bridge.drain()
        assert bridge.hello.serial == "NET-1"
    assert [s.angle_deg for s in samples] == pytest.approx([1.0 * i for i in range(100)])
    assert [s.device_time_s for s in samples] == pytest.approx([0.01 * i for i in range(100)])
    server.close()
