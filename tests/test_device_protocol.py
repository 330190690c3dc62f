"""Framing, payload codecs and the resyncing parser, on synthetic byte streams."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_bridge import protocol as p
from device_bridge.errors import ProtocolError, UnsupportedProtocol
from device_bridge.parser import FrameParser

HELLO = p.Hello(
    (1, 0),
    "lumbar_extension",
    "LE-1001",
    "1.4.2",
    1000,
    (
        p.Channel("angle", "deg", 0.01, -30.0, 90.0),
        p.Channel("force", "N", 0.1, 0.0, 3000.0),
    ),
)


def sample_frame(seq: int, t_us: int = 0, raw: tuple[int, ...] = (100, 200)) -> bytes:
    return p.encode_frame(p.FrameType.SAMPLE, seq, p.encode_sample(t_us, raw))


def test_crc_matches_the_published_check_value():
    assert p.crc16(b"123456789") == 0x29B1


def test_sample_frame_is_sixteen_bytes_and_fits_the_wire_budget():
    frame = sample_frame(1)
    assert len(frame) == p.sample_frame_size(2) == 16
    assert p.max_frame_rate(115200, 16) == pytest.approx(720.0)
    assert p.max_frame_rate(230400, 16) > 1000


def test_frame_round_trip():
    frame = sample_frame(513, 123456, (-5, 32767))
    (f,) = FrameParser().feed(frame)
    assert (f.ftype, f.seq) == (p.FrameType.SAMPLE, 513)
    assert p.decode_sample(f.payload, 2) == (123456, (-5, 32767))


def test_hello_round_trip_and_newer_minor_version_with_trailing_fields():
    assert p.decode_hello(p.encode_hello(HELLO)) == HELLO
    newer = p.Hello((1, 3), "m", "s", "f", 500, HELLO.channels)
    payload = p.encode_hello(newer) + b"\x07future-field"
    got = p.decode_hello(payload)
    assert got.protocol == (1, 3) and got.rate_hz == 500 and got.channels == HELLO.channels


def test_hello_from_an_unknown_major_version_is_refused_by_name():
    payload = bytearray(p.encode_hello(HELLO))
    payload[0] = 2
    with pytest.raises(UnsupportedProtocol, match=r"expected major 1, machine speaks 2\.0"):
        p.decode_hello(bytes(payload))


def test_truncated_hello_is_a_protocol_error():
    with pytest.raises(ProtocolError, match=r"truncated|expected"):
        p.decode_hello(p.encode_hello(HELLO)[:12])


def test_sample_with_extra_channels_decodes_the_known_ones():
    payload = p.encode_sample(10, (1, 2, 3, 4))
    assert p.decode_sample(payload, 2) == (10, (1, 2))
    with pytest.raises(ProtocolError, match="expected at least 12 bytes"):
        p.decode_sample(payload[:10], 4)


def test_oversized_payload_is_refused():
    with pytest.raises(ValueError, match="at most 255"):
        p.encode_frame(p.FrameType.SAMPLE, 0, bytes(256))


def test_parser_handles_every_chunking():
    stream = b"".join(sample_frame(i, i * 1000) for i in range(20))
    for size in (1, 2, 3, 7, 15, 16, 17, 64):
        parser = FrameParser()
        frames = []
        for i in range(0, len(stream), size):
            frames += parser.feed(stream[i : i + size])
        assert [f.seq for f in frames] == list(range(20)), size
        assert parser.crc_errors == 0 and parser.resyncs == 0


def test_garbage_between_frames_is_skipped_and_counted_as_one_resync_each():
    rng = random.Random(3)
    good = [sample_frame(i) for i in range(10)]
    stream = b"".join(f + bytes(rng.randrange(256) for _ in range(30)) for f in good)
    parser = FrameParser()
    frames = parser.feed(stream)
    assert [f.seq for f in frames] == list(range(10))
    assert parser.resyncs == 10  # one per burst (the last burst trails the last frame)


def test_a_bit_flip_costs_exactly_that_frame():
    frames = [sample_frame(i, i) for i in range(50)]
    for bit in range(16 * 8):
        corrupted = bytearray(frames[20])
        corrupted[bit // 8] ^= 1 << (bit % 8)
        parser = FrameParser()
        got = parser.feed(b"".join(frames[:20]) + bytes(corrupted) + b"".join(frames[21:]))
        assert [f.seq for f in got] == [i for i in range(50) if i != 20], f"bit {bit}"
        assert parser.resyncs == 1, f"bit {bit}"


def test_false_header_with_a_long_length_does_not_swallow_good_frames():
    fake = p.SYNC + bytes([250, 2, 0, 0]) + b"\x01\x02"  # claims 250 bytes of payload
    parser = FrameParser()
    assert [f.seq for f in parser.feed(sample_frame(0) + fake)] == [0]
    # The first good frame after the false header comes out at once, not 250 bytes later.
    assert [f.seq for f in parser.feed(sample_frame(1))] == [1]
    stream = b"".join(sample_frame(i) for i in range(2, 30))
    assert [f.seq for f in parser.feed(stream)] == list(range(2, 30))
    assert parser.crc_errors >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_fuzz_random_bytes_never_raise_and_never_yield_a_bad_frame(data, chunk):
    parser = FrameParser()
    frames = []
    for i in range(0, len(data), chunk):
        frames += parser.feed(data[i : i + chunk])
    for f in frames:
        body = struct.pack("<BBH", len(f.payload), f.ftype, f.seq) + f.payload
        encoded = p.encode_frame(f.ftype, f.seq, f.payload)
        assert encoded in data  # only bytes that were really there, and whole
        assert p.crc16(body) == struct.unpack("<H", encoded[-2:])[0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=40), st.integers(0, 65535), st.integers(-32768, 32767)),
             max_size=30),
    st.integers(1, 50),
)  # fmt: skip
def test_fuzz_valid_frames_inside_garbage_are_all_recovered(chunks, size):
    stream = b""
    expected = []
    for garbage, seq, value in chunks:
        stream += garbage + sample_frame(seq, seq * 7, (value, -value if value > -32768 else 0))
        expected.append(seq)
    parser = FrameParser()
    got = []
    for i in range(0, len(stream), size):
        got += parser.feed(stream[i : i + size])
    sample_seqs = [f.seq for f in got if f.ftype == p.FrameType.SAMPLE and len(f.payload) == 8]
    # Garbage can, very rarely, hold a frame of its own; every real frame must be there in order.
    it = iter(sample_seqs)
    assert all(any(s == e for s in it) for e in expected)
