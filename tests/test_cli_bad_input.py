"""main.py as a careless user or a hostile file meets it: file names that are not UTF-8, paths
longer than the system allows, a port with no machine behind it, sources that cannot drive
the exercise, half a video, a damaged database, malformed files. Each is one clear line and
exit 2 (or, where the session can go on, a warning line and a true summary); never a
traceback, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recording.format import RecordingWriter
from tests.fuzz_toml import nested
from tests.helpers import ROOT, run_main, shared_data
from vision.cv_paths import CvName
from vision.sources import VideoFileSource

LONG = "/tmp/" + "a" * 5000
KERAAL_JSON = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-ELK-P1T1-Unknown-C-0.json"
BUNDLED = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"


def _bytes_name(folder: Path, raw: bytes) -> Path:
    """A path whose last part is the given bytes (not valid UTF-8)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + raw))


def _one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("main.py: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _summary(proc: subprocess.CompletedProcess, path: Path) -> dict:
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    return json.loads(path.read_text())


# -- file names OpenCV could not take (SIGSEGV, exit 139, before) ---------------------------


def test_video_and_overlay_video_with_names_that_are_not_utf8(tmp_path, squat_video):
    video = _bytes_name(tmp_path, b"squat\xff.mp4")
    shutil.copy(squat_video, video)
    overlay = _bytes_name(tmp_path, b"overlay\xfe.mp4")
    out = tmp_path / "s.json"
    proc = run_main("--source", str(video), "--headless", "--max-frames", "12",
                    "--record-video", str(overlay), "--summary-json", str(out))  # fmt: skip
    assert _summary(proc, out)["frames"] == 12
    written = VideoFileSource(overlay)
    try:
        assert written.frame_count == 12 and written.size == (898, 506)
    finally:
        written.close()


def test_opencv_name_is_a_private_link_removed_on_close(tmp_path):
    plain = CvName(tmp_path / "plain.mp4")
    assert plain.name == str(tmp_path / "plain.mp4")
    target = _bytes_name(tmp_path, b"v\xff.mp4")
    target.write_bytes(b"x")
    cv = CvName(target)
    link = Path(cv.name)
    assert cv.name.isascii() and link.suffix == ".mp4" and link.read_bytes() == b"x"
    assert (link.parent.stat().st_mode & 0o777) == 0o700
    cv.close()
    assert not link.parent.exists() and target.exists()


def test_image_folder_and_image_with_names_that_are_not_utf8(tmp_path):
    folder = _bytes_name(tmp_path, b"stills\xfe")
    folder.mkdir()
    for name, raw in (
        ("squat_cgi_side_standing.jpg", b"a\xff.jpg"),
        ("squat_cgi_side_bottom.jpg", b"b.jpg"),
    ):
        shutil.copy(shared_data(f"stills/{name}"), _bytes_name(folder, raw))
    out = tmp_path / "s.json"
    proc = run_main("--source", str(folder), "--headless", "--summary-json", str(out))
    summary = _summary(proc, out)
    assert summary["frames"] == 2 and summary["frames_with_pose"] == 2


# -- paths longer than the system allows ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--source", LONG],
        ["--source", LONG + ".screc"],
        ["--profile", LONG],
        ["--record", LONG],
        ["--summary-json", LONG],
        ["--db", LONG, "--patient", "P-1"],
        ["--check-exercises", LONG],
        ["report", "--db", LONG, "--patient", "P-1", "--out", "/tmp/r.pdf"],
    ],
    ids=lambda a: a[0] if a[0] != "--source" or a[1] == LONG else "--source.screc",
)
def test_path_longer_than_the_system_allows_is_one_line(args):
    # Before: OSError [Errno 36] tracebacks.
    if args[0] != "report":
        args = [*args, "--headless"]
    line = _one_line_error(run_main(*args), "path too long")
    assert len(line) < 300  # the path is shortened, not printed whole


def test_exercise_id_longer_than_a_file_name_is_one_line():
    _one_line_error(run_main("--exercise", "a" * 5000, "--headless"), "unknown exercise")


# -- machine and source combinations ---------------------------------------------------------


@pytest.mark.parametrize("port", ["null device", "silent pty"])
def test_machine_port_that_never_says_hello_is_refused(port, tmp_path):
    # Before: exit 0 with zero samples and no word (or no end at all with --source none).
    # The null device is a copy made here: a test never writes to the host's /dev/null.
    from tests.device_fixtures import ScriptedMachine

    silent = None
    if port == "null device":
        path = str(tmp_path / "null")
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs the right to (root)")
    else:
        silent = ScriptedMachine()  # a real pty whose machine never answers
        path = silent.path
    try:
        proc = run_main("--exercise", "lumbar_extension", "--device", path, "--source",
                        "none", "--headless", "--seconds", "30", timeout=120)  # fmt: skip
    finally:
        if silent is not None:
            silent.close()
    _one_line_error(proc, "--device", path, "no hello")


def _machine_recording(path: Path, exercise: str | None, samples: int = 40) -> Path:
    header = {"fps": 0.0, "source": "none"}
    if exercise is not None:
        header["exercise"] = exercise
    with RecordingWriter(path, header) as w:
        for i in range(samples):
            t = 0.01 * i
            w.device(t, i, t, 20.0 + i, 100.0)
            w.event(t, {"type": "machine_frame", "n": 1})
        w.event(samples * 0.01, {"type": "end"})
    return path


def test_machine_recording_replays_as_the_exercise_it_names(tmp_path):
    # Before: replayed as squat (an empty pose list made the recording look absent).
    rec = _machine_recording(tmp_path / "m.screc", "lumbar_extension")
    out = tmp_path / "s.json"
    summary = _summary(
        run_main("--source", str(rec), "--headless", "--summary-json", str(out)), out
    )
    assert summary["exercise"] == "lumbar_extension" and summary["device_samples"] == 40


@pytest.mark.parametrize(
    ("exercise", "fragment"), [(None, "names no exercise"), ("no_such_exercise", "does not have")]
)
def test_machine_recording_without_a_known_exercise_is_refused(tmp_path, exercise, fragment):
    rec = _machine_recording(tmp_path / "m.screc", exercise)
    _one_line_error(run_main("--source", str(rec), "--headless"), fragment, "--exercise")


def test_camera_exercise_on_a_machine_recording_is_refused(tmp_path):
    rec = _machine_recording(tmp_path / "m.screc", "lumbar_extension")
    proc = run_main("--source", str(rec), "--exercise", "squat", "--headless")
    _one_line_error(proc, "camera exercise", "holds no poses")


@pytest.mark.parametrize("source", ["keraal", "bundled"])
def test_machine_exercise_on_a_landmark_file_is_refused(source):
    # Before: the simulator ran silently for the whole machine session (129 s).
    path = shared_data(KERAAL_JSON) if source == "keraal" else BUNDLED
    proc = run_main("--source", str(path), "--exercise", "lumbar_extension", "--headless")
    _one_line_error(proc, "machine exercise", "holds no machine samples", "--device sim:")


# -- half a video ----------------------------------------------------------------------------


def _half(video: Path, folder: Path) -> Path:
    half = folder / "half.mp4"
    data = video.read_bytes()
    half.write_bytes(data[: len(data) // 2])  # what `head -c` leaves of a cut copy
    return half


def test_video_source_tells_a_cut_file_from_a_whole_one(tmp_path, squat_video):
    for path, early in ((squat_video, False), (_half(squat_video, tmp_path), True)):
        source = VideoFileSource(path)
        try:
            frames = 0
            while source.read() is not None:
                frames += 1
        finally:
            source.close()
        assert bool(source.ended_early) is early
        if early:
            assert f"{frames} of the 787 frames" in source.ended_early


@pytest.mark.slow
def test_half_a_video_plays_and_says_it_ended_early(tmp_path, squat_video):
    # Before: it played to the break without a word.
    half = _half(squat_video, tmp_path)
    out = tmp_path / "s.json"
    proc = run_main("--source", str(half), "--headless", "--summary-json", str(out))
    summary = _summary(proc, out)
    assert 300 < summary["frames"] < 787
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py: warning:")]
    assert len(warnings) == 1 and "half.mp4: the video ended early" in warnings[0]
    assert summary["source_warnings"] == [warnings[0].removeprefix("main.py: warning: ")]


# -- malformed files at the command line -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"code = {nested(3000, True)}\n", "nested too deeply"),
        ('code = "P-1"\nranges = 3\n', "ranges: expected a table"),
        (None, "found a folder"),
    ],
    ids=["nested", "wrong-type", "folder"],
)
def test_malformed_profile_is_exit_2_one_line(tmp_path, text, fragment):
    path = tmp_path / "p.toml"
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    proc = run_main("--profile", str(path), "--source", str(BUNDLED), "--headless")
    _one_line_error(proc, str(path), fragment)


def test_landmark_file_with_string_coordinates_is_exit_2_one_line(tmp_path):
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"positions": {"1.0": {"Nose": ["0.5", 0.1, 0.2]}}}))
    _one_line_error(run_main("--source", str(path), "--headless"), "Nose", "expected [x, y, z]")


def test_exercise_file_with_an_unknown_cue_is_invalid(tmp_path):
    path = tmp_path / "squat.toml"
    text = (ROOT / "exercises" / "definitions" / "squat.toml").read_text()
    path.write_text(text.replace('cue = "squat.trunk_lean"', 'cue = "squat.no_such_cue"'))
    proc = run_main("--check-exercises", str(path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "invalid" in proc.stdout and "squat.no_such_cue" in proc.stdout


def test_calibration_file_nested_too_deeply_is_one_line(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text('{"version": 1, "machines": ' + "[" * 100_000 + "]" * 100_000 + "}")
    proc = subprocess.run(
        [sys.executable, "-m", "device_bridge", "calibration", "--file", str(path), "show"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: expected calibration JSON, nested too deeply"
    ]


# -- a damaged database ----------------------------------------------------------------------


def test_damaged_text_in_the_database_names_the_file(tmp_path):
    # Before: a UnicodeDecodeError traceback that named no file, after the whole session.
    db = tmp_path / "clinic.sqlite"
    first = run_main("--source", str(BUNDLED), "--headless", "--db", str(db), "--patient", "P-7")
    assert first.returncode == 0, first.stderr[-2000:]
    blob = bytearray(db.read_bytes())
    at = blob.find(b"'finished'")  # in the sessions table's CHECK clause, kept as text
    assert at > 0
    while at > 0:
        blob[at + 2] = 0xFF
        at = blob.find(b"'finished'", at + 1)
    db.write_bytes(bytes(blob))
    proc = run_main("--source", str(BUNDLED), "--headless", "--db", str(db), "--patient", "P-7")
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 2), proc.stderr[-2000:]
    told = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py: ")]
    assert told and all(str(db) in ln for ln in told), proc.stderr[-2000:]
    assert any("damaged" in ln for ln in told)
