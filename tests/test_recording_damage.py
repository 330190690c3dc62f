""".screc recordings that are damaged (a flipped bit, garbage, a crash mid-write) or crafted
(records whose CRC holds but whose content the writer never makes): damage is skipped record
by record and counted; crafted content is refused with one line; nothing else escapes."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.inputs import InputChoice
from app.loop import Runner, RunOptions
from exercises.library import get_exercise
from recording.format import (
    DEVICE,
    EVENT,
    EVENT_FIELDS,
    MAGIC,
    POSE,
    RecordingWriter,
    read_recording,
)
from recording.replay import check_replayable, open_replay
from session.events import Command, SafetyKind, TargetChange, TargetKey
from tests.helpers import ROOT, run_main
from vision.errors import RecordingError

BUNDLED = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"
N_POSES = 300
HEAD = struct.Struct("<BIdI")
FUZZ = {"derandomize": True, "deadline": None, "database": None}


def _poses():
    source = read_recording(BUNDLED).poses
    return [source[i % len(source)] for i in range(N_POSES)]


def _write_session(path: Path) -> list[int]:
    """300 poses with machine samples and events between them, as the writer writes a whole
    session; returns the byte offset of every pose record."""
    with RecordingWriter(path, {"fps": 30.0, "exercise": "flank_stretch"}) as w:
        for i, pose in enumerate(_poses()):
            w.pose(i / 30.0, pose)
            if i % 50 == 25:
                w.device(i / 30.0, i, i / 30.0, 10.0 + i, 100.0)
                w.event(i / 30.0, {"type": "machine_frame", "n": 1})
    blob = path.read_bytes()
    pos = len(MAGIC) + 4 + struct.unpack_from("<I", blob, len(MAGIC))[0]
    offsets = []
    while pos < len(blob):
        kind, length, _, _ = HEAD.unpack_from(blob, pos)
        if kind == POSE:
            offsets.append(pos)
        pos += HEAD.size + length
    assert len(offsets) == N_POSES
    return offsets


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "session.screc"
    offsets = _write_session(path)
    return path, path.read_bytes(), offsets


def _flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _same_pose(a, b) -> bool:
    return a.timestamp == b.timestamp and np.array_equal(a.image, b.image, equal_nan=True)


# -- one flipped bit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "byte"),
    [("payload", 100), ("length", 2), ("type", 0), ("time", 8), ("crc", 14)],
)
def test_one_flipped_bit_loses_one_record_not_the_rest(tmp_path, session, where, byte):
    # Before: reading stopped at the damaged record (13 of 300 poses, no word said).
    path, blob, offsets = session
    original = read_recording(path)
    damaged = tmp_path / "damaged.screc"
    damaged.write_bytes(_flip(blob, (offsets[13] + byte) * 8 + 5))
    rec = read_recording(damaged)
    assert not rec.truncated
    assert rec.damaged == 1 and rec.damaged_bytes > 0
    assert len(rec.poses) == N_POSES - 1
    kept = original.poses[:13] + original.poses[14:]
    assert all(_same_pose(a, b) for a, b in zip(rec.poses, kept, strict=True))
    assert len(rec.device) == len(original.device) and len(rec.events) == len(original.events)


def test_damage_and_a_crash_cut_are_told_apart(tmp_path, session):
    _path, blob, offsets = session
    damaged = tmp_path / "damaged.screc"
    damaged.write_bytes(_flip(blob, (offsets[40] + 200) * 8)[: offsets[-1] + 30])  # cut in the last
    rec = read_recording(damaged)
    assert rec.damaged == 1 and rec.truncated
    assert len(rec.poses) == N_POSES - 2  # the damaged one and the one the crash cut


def test_garbage_between_records_is_skipped(tmp_path, session):
    _path, blob, offsets = session
    cut = offsets[100]
    damaged = tmp_path / "damaged.screc"
    damaged.write_bytes(blob[:cut] + bytes(range(256)) * 4 + blob[cut:])
    rec = read_recording(damaged)
    assert rec.damaged == 1 and rec.damaged_bytes == 1024 and len(rec.poses) == N_POSES


@settings(**FUZZ, max_examples=200)
@given(st.data())
def test_fuzz_any_bit_flip_in_the_records(session, data):
    """A single flipped bit anywhere in the records: never a damaged pose, never an exception,
    at most the record it hit (and, if that was the last record, nothing else) lost."""
    path, blob, offsets = session
    bit = data.draw(st.integers(offsets[0] * 8, len(blob) * 8 - 1))
    original = read_recording(path)
    rec = _read_bytes(path.with_name(f"flip{bit}.screc"), _flip(blob, bit))
    assert rec.damaged + rec.truncated == 1
    assert len(rec.poses) + len(rec.device) + len(rec.events) == len(original.timeline) - 1
    originals = {p.timestamp: p for p in original.poses}
    assert all(_same_pose(p, originals[p.timestamp]) for p in rec.poses)


def _read_bytes(path: Path, blob: bytes):
    path.write_bytes(blob)
    try:
        return read_recording(path)
    finally:
        path.unlink()


@settings(**FUZZ, max_examples=200)
@given(head=st.booleans(), junk=st.binary(max_size=3000))
def test_fuzz_random_bytes_read_or_refused_in_one_line(tmp_path_factory, session, head, junk):
    _path, blob, offsets = session
    prefix = blob[: offsets[0]] if head else MAGIC
    target = tmp_path_factory.mktemp("junk") / "junk.screc"
    try:
        rec = _read_bytes(target, prefix + junk)
    except RecordingError as exc:
        assert "\n" not in str(exc) and str(target) in str(exc)
        return
    assert rec.damaged >= 0 and all(math.isfinite(p.timestamp) for p in rec.poses)


# -- crafted records: the CRC holds, the content is hostile ----------------------------------


def _record(kind: int, t: float, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<Bd", kind, t)))
    return HEAD.pack(kind, len(payload), t, crc) + payload


def _crafted(path: Path, records: list[bytes], header: dict | None = None) -> Path:
    meta = {"format_version": 1, "fps": 30.0, "exercise": "lumbar_extension", "landmarks": 33}
    meta.update(header or {})
    blob = json.dumps(meta).encode()
    device = [
        _record(DEVICE, 0.01 * i, struct.pack("<Iddd", i, 0.01 * i, 10.0, 50.0)) for i in range(5)
    ]
    machine_frame = _record(EVENT, 0.05, b'{"type": "machine_frame", "n": 5}')
    path.write_bytes(
        MAGIC
        + struct.pack("<I", len(blob))
        + blob
        + b"".join(device)
        + machine_frame
        + b"".join(records)
    )
    return path


def _event(data: object) -> bytes:
    return _record(EVENT, 0.1, data if isinstance(data, bytes) else json.dumps(data).encode())


CRAFTED = {
    "event not JSON": ([_event(b"{not json")], "expected a JSON object"),
    "event not UTF-8": ([_event(b"\xff\xfe")], "expected a JSON object"),
    "event nested too deeply": ([_event(b"[" * 100_000 + b"]" * 100_000)], "nested too deeply"),
    "event not an object": ([_event([1, 2])], 'with a "type"'),
    "event type not a string": ([_event({"type": 5})], 'with a "type"'),
    "safety event without a value": (
        [_event({"type": "safety", "kind": "overload", "limit": 500.0})],
        "expected value to be a number",
    ),
    "safety value a string": (
        [_event({"type": "safety", "kind": "overload", "value": "x", "limit": 5})],
        "expected value to be a number",
    ),
    "machine frame count a string": (
        [_event({"type": "machine_frame", "n": "x"})],
        "expected n to be a whole number",
    ),
    "machine frame count negative": (
        [_event({"type": "machine_frame", "n": -3})],
        "expected n to be a whole number",
    ),
    "adjust delta a string": (
        [_event({"type": "adjust", "key": "range_target", "delta": "x"})],
        "expected delta to be a finite number",
    ),
    "unknown command": ([_event({"type": "command", "name": "safety"})], "command 'safety'"),
    "unknown target": ([_event({"type": "adjust", "key": "zzz", "delta": 1})], "adjust 'zzz'"),
    "time not a number": ([_record(POSE, math.nan, bytes(925))], "expected a time"),
    "pose of the wrong size": ([_record(POSE, 0.2, bytes(12))], "expected 925 bytes"),
}
HEADERS = {
    "session not an object": ({"session": 5}, "header session"),
    "unknown session key": ({"session": {"bogus": 1}}, "header session"),
    "session value a string": ({"session": {"setup_s": "x"}}, "header session"),
    "aspect a string": ({"aspect": "wide"}, "header aspect"),
    "exercise a number": ({"exercise": 7}, "header exercise"),
}


def _open_checked(path: Path):
    replay = open_replay(path)
    check_replayable(replay)
    return replay


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_record_is_refused_in_one_line(tmp_path, case):
    records, fragment = CRAFTED[case]
    path = _crafted(tmp_path / "crafted.screc", records)
    with pytest.raises(RecordingError) as err:
        _open_checked(path)
    assert "\n" not in str(err.value) and fragment in str(err.value)
    assert path.name in str(err.value)


@pytest.mark.parametrize("case", sorted(HEADERS))
def test_crafted_header_is_refused_in_one_line(tmp_path, case):
    header, fragment = HEADERS[case]
    with pytest.raises(RecordingError, match=fragment):
        _open_checked(_crafted(tmp_path / "crafted.screc", [], header))


def test_unknown_event_types_and_safety_kinds_are_kept_not_fed(tmp_path):
    # A newer writer's events: read, and the replay runs without them.
    path = _crafted(
        tmp_path / "newer.screc",
        [
            _event({"type": "teleport"}),
            _event({"type": "safety", "kind": "tilt", "value": 1.0, "limit": 2.0}),
        ],
    )
    replay = _open_checked(path)
    assert [e.data["type"] for e in replay.events] == ["machine_frame", "teleport", "safety"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
EVENT_TYPES = st.sampled_from(
    ["machine_frame", "safety", "command", "adjust", "end", "phase", "rep", "other"]
)
FIELD_NAMES = st.sampled_from(["n", "kind", "value", "limit", "name", "key", "delta", "to", "x"])
# Names the engine knows, so that well-typed events reach it and not only the checks.
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from([*Command, *TargetKey, *SafetyKind]),
    st.floats(),
    st.integers(-3, 10),
    st.sampled_from([10**400, -(10**30), 1e308]),
)
NAMES = st.sampled_from([*Command, *TargetKey, *SafetyKind])
TYPED = {
    int: st.integers(0, 10**6) | st.sampled_from([0, 10**400]),
    str: NAMES | st.text(max_size=8),
    "number": st.floats() | st.integers(),
    "finite number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5),
}


@st.composite
def hostile_events(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=40))
    if draw(st.booleans()):  # well typed, so that it reaches the engine: hostile values only
        kind = draw(st.sampled_from(sorted(EVENT_FIELDS)))
        fields = EVENT_FIELDS[kind].items()
        return json.dumps({"type": kind, **{k: draw(TYPED[w]) for k, w in fields}}).encode()
    data = draw(st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=4))
    if draw(st.booleans()):
        data["type"] = draw(EVENT_TYPES)
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def lumbar_extension():
    return get_exercise("lumbar_extension")


@settings(**FUZZ, max_examples=150)
@given(payloads=st.lists(hostile_events(), min_size=1, max_size=4))
def test_fuzz_crafted_events_replay_or_refused_in_one_line(
    tmp_path_factory, lumbar_extension, payloads
):
    """Valid-CRC events with any JSON: refused with one line, or replayed through a real
    session engine without an exception."""
    path = _crafted(
        tmp_path_factory.mktemp("crafted") / "c.screc", [_record(EVENT, 0.2, p) for p in payloads]
    )
    try:
        replay = _open_checked(path)
    except RecordingError as exc:
        assert "\n" not in str(exc) and path.name in str(exc)
        return
    opts = RunOptions(
        choice=InputChoice("replay", str(path), "test"), exercise=lumbar_extension, headless=True
    )
    runner = Runner(opts, replay=replay)
    try:
        runner.run_headless()
    finally:
        runner.close()
    assert runner.stats.device_samples <= 5


# -- the command line ------------------------------------------------------------------------


def test_damaged_recording_replays_on_and_says_so(tmp_path, session):
    _path, blob, offsets = session
    damaged = tmp_path / "damaged.screc"
    damaged.write_bytes(_flip(blob, (offsets[13] + 300) * 8))
    out = tmp_path / "s.json"
    proc = run_main("--source", str(damaged), "--headless", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary["frames"] == N_POSES - 1
    assert summary["damaged_records_skipped"] == 1
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py: warning:")]
    assert len(warnings) == 1 and "damaged.screc: skipped 1 damaged record" in warnings[0]
    assert summary["source_warnings"] == [warnings[0].removeprefix("main.py: warning: ")]


def test_recording_cut_short_replays_and_says_so(tmp_path, session):
    """Before: a recording cut mid-record played 106 of its 193 poses without a word."""
    bundled = (ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc").read_bytes()
    cut = tmp_path / "cut.screc"
    cut.write_bytes(bundled[:100_000])
    out = tmp_path / "s.json"
    proc = run_main("--source", str(cut), "--headless", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(out.read_text())
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py: warning:")]
    assert warnings == [
        "main.py: warning: cut.screc: the file is cut short inside a record (a write or copy "
        f"that did not finish); replayed up to its last whole record ({summary['frames']} poses, "
        f"{open_replay(cut).poses[-1].timestamp:.1f} s)"
    ]
    assert (
        0
        < summary["frames"]
        < len(open_replay(ROOT / "assets/recordings/keraal_flank_stretch.screc"))
    )
    assert summary["source_warnings"] == [warnings[0].removeprefix("main.py: warning: ")]
    # Damage and a cut in one file: one line with both; a whole file: nothing to say.
    _path, blob, offsets = session
    both = tmp_path / "both.screc"
    both.write_bytes(_flip(blob, (offsets[40] + 200) * 8)[: offsets[-1] + 30])
    note = open_replay(both).damage_note
    assert note.startswith("both.screc: skipped 1 damaged record") and "cut short" in note
    assert open_replay(_path).damage_note == ""
    at_a_boundary = tmp_path / "boundary.screc"  # cut between records: cannot be told
    at_a_boundary.write_bytes(blob[: offsets[-1]])
    assert open_replay(at_a_boundary).damage_note == ""


@pytest.mark.parametrize(
    "case", ["safety event without a value", "event nested too deeply", "unknown command"]
)
def test_crafted_recording_on_the_command_line_is_exit_2_and_one_line(tmp_path, case):
    path = _crafted(tmp_path / "crafted.screc", CRAFTED[case][0])
    proc = run_main("--source", str(path), "--headless", timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("main.py: error: ")


def test_a_target_change_the_kernels_refuse_is_not_taken(lumbar_extension):
    # Found by the fuzz test above: a recorded "range_target -100 %" crashed the replay.
    from session.engine import SessionEngine

    engine = SessionEngine(lumbar_extension)
    before = engine.targets
    engine.feed(TargetChange(0.0, TargetKey.RANGE_TARGET, -1.0))
    engine.feed(TargetChange(0.0, TargetKey.RANGE_TARGET, -3.0))
    assert engine.targets == before
    engine.feed(TargetChange(0.0, TargetKey.RANGE_TARGET, -0.1))
    assert engine.targets.target != before.target
