"""Frame numbering and sample decoding, including the wrap-arounds that take hours on a wire."""

from __future__ import annotations

import itertools

import pytest

from calibration import ChannelCalibration, MachineCalibration
from device_bridge import protocol as p
from device_bridge.stream import FrameSequence, Order, SampleDecoder

CHANNELS = (p.Channel("angle", "deg", 0.01, -30, 90), p.Channel("force", "N", 0.1, 0, 3000))
HELLO = p.Hello((1, 0), "lumbar_extension", "LE-1", "1.0", 1000, CHANNELS)


def test_sequence_wraps_at_65536_without_a_gap():
    seq = FrameSequence()
    orders = [seq.accept(s % 65536, False) for s in range(65530, 65545)]
    assert orders[0] is Order.RESTARTED and set(orders[1:]) == {Order.IN_ORDER}
    assert seq.number % 65536 == 65544 % 65536 and (seq.gaps, seq.lost) == (0, 0)


def test_sequence_counts_gaps_and_drops_repeats_and_old_frames():
    seq = FrameSequence()
    for s in (10, 11, 15, 15, 3, 16, 20):
        seq.accept(s, False)
    assert (seq.gaps, seq.lost, seq.repeats) == (2, 3 + 3, 2)
    assert seq.number % 65536 == 20


def test_sequence_continues_in_a_fresh_block_after_a_reboot_or_reconnect():
    seq = FrameSequence()
    for s in range(100, 110):
        seq.accept(s, False)
    before = seq.number
    assert seq.accept(0, True) is Order.RESTARTED  # a rebooted machine says hello from 0
    assert seq.number > before and seq.number % 65536 == 0
    assert seq.accept(1, False) is Order.IN_ORDER
    seq.new_connection()
    assert seq.accept(5, False) is Order.RESTARTED and seq.number % 65536 == 5
    # A hello that simply follows in the same numbering is not a restart.
    assert seq.accept(6, True) is Order.IN_ORDER
    assert (seq.gaps, seq.lost) == (0, 0)


def test_decoder_unwraps_device_time_and_drops_samples_that_go_back():
    dec = SampleDecoder()
    dec.configure(HELLO, MachineCalibration())
    t0 = (1 << 32) - 3000  # 3 ms before the u32 microsecond clock wraps
    out = [dec.decode(p.encode_sample(t0 + 1000 * i, (i, 10 * i)), i, 50.0 + i / 1000)
           for i in range(8)]  # fmt: skip
    times = [s.device_time_s for s in out]
    assert all(b - a == pytest.approx(0.001) for a, b in itertools.pairwise(times))
    assert [s.angle_deg for s in out] == pytest.approx([0.01 * i for i in range(8)])
    assert [s.force_n for s in out] == pytest.approx([1.0 * i for i in range(8)])
    assert dec.decode(p.encode_sample(t0, (0, 0)), 9, 50.01) is None
    assert dec.backwards == 1


def test_decoder_applies_calibration_and_keeps_extra_channels_in_order():
    channels = (
        p.Channel("force", "N", 0.1, 0, 3000),
        p.Channel("torque", "N m", 0.01, -300, 300),
        p.Channel("angle", "deg", 0.01, -30, 90),
        p.Channel("speed", "deg/s", 0.1, -500, 500),
    )
    hello = p.Hello((1, 1), "m", "s", "f", 500, channels)
    cal = MachineCalibration(
        angle=ChannelCalibration(zero=2.0, scale=1.2), force=ChannelCalibration(zero=8.0)
    )
    dec = SampleDecoder()
    dec.configure(hello, cal)
    s = dec.decode(p.encode_sample(0, (1000, 250, 1200, -30)), 1, 1.0)
    assert s.force_n == pytest.approx(100.0 - 8.0)
    assert s.angle_deg == pytest.approx((12.0 - 2.0) * 1.2)
    assert s.extra == pytest.approx((2.5, -3.0))


def test_decoder_needs_the_hello_and_a_whole_payload():
    dec = SampleDecoder()
    assert dec.decode(p.encode_sample(0, (1, 2)), 0, 1.0) is None
    dec.configure(HELLO, MachineCalibration())
    assert dec.decode(p.encode_sample(0, (1,)), 1, 1.0) is None
    assert dec.malformed == 2
