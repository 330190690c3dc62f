"""main.py sessions whose database fails under them, and outputs that cannot be written.

Each fault is made at a moment the session itself marks (after it prints a rep, with
``--verbose``), never at a wall-clock guess: a database locked by another program, a database
file that can no longer grow (the process's file-size limit, which SQLite meets exactly as a
full disk), a locked, full or read-only database at the start, and output targets that
cannot be written."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import open_store
from storage.journal import journal_files
from tests.helpers import ROOT, file_kind, run_main, shared_data, special_files

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""
SQUAT_REPS = 7  # ground truth for squat.mp4


class Holder:
    """Another program holding the database's write lock until released."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate("")


def _new_db(tmp_path: Path) -> Path:
    db = tmp_path / "clinic.sqlite"
    with open_store(db) as store:
        store.ensure_patient("P-1")
    return db


def _session(
    db: Path,
    video: Path,
    *extra: str,
    on_rep: Callable[[subprocess.Popen, int], None] = lambda proc, i: None,
    on_stderr: Callable[[str], None] = lambda line: None,
) -> tuple[int, list[tuple[int, float, float]], list[str]]:
    """Run a stored squat session; ``on_rep`` is called as each rep is printed (it has just
    been handed to storage). Returns the exit code, the printed reps, main.py's own stderr
    lines (the model's start-up chatter left out)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "GLOG_minloglevel": "2"}  # fmt: skip
    cmd = [sys.executable, str(ROOT / "main.py"), "--source", str(video), "--exercise", "squat",
           "--headless", "--verbose", "--db", str(db), "--patient", "P-1", *extra]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    errors: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            errors.append(line)
            on_stderr(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    printed = []
    try:
        for line in proc.stdout:
            if line.startswith("rep "):
                _, i, a, b = line.split()
                printed.append((int(i), float(a), float(b)))
                on_rep(proc, int(i))
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=30)
    assert not any("Traceback" in e for e in errors), "".join(errors)[-3000:]
    return proc.returncode, printed, [e.rstrip("\n") for e in errors if e.startswith("main.py")]


def _stored_like_printed(store, printed) -> None:
    (info,) = store.sessions("P-1")
    reps = store.load_session(info.id).reps
    assert [(r.index, round(r.start_s, 3), round(r.end_s, 3)) for r in reps] == printed


def test_database_locked_mid_session_loses_no_rep(tmp_path, squat_video):
    db = _new_db(tmp_path)
    holder: list[Holder] = []

    def lock_after_rep_1(proc, i):
        if i == 1:
            holder.append(Holder(db))

    def release_once_journaled(line):
        if line.startswith("main.py: warning:") and holder:
            holder[0].release()  # the session has said so: the other program lets go

    try:
        code, printed, said = _session(
            db, squat_video, on_rep=lock_after_rep_1, on_stderr=release_once_journaled
        )
    finally:
        for h in holder:
            h.release()
    assert code == 0 and len(printed) == SQUAT_REPS
    # One line when writes start waiting, one when they are all in; nothing else.
    assert len(said) == 2, said
    assert "locked by another program" in said[0] and ".pending" in said[0]
    assert "takes writes again" in said[1]
    with open_store(db) as store:
        assert store.replayed.written == 0  # nothing was left for the next start
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "end_of_source")
        _stored_like_printed(store, printed)
    assert journal_files(Path(f"{db}.pending")) == []


def test_database_full_mid_session_keeps_every_rep_for_the_next_start(tmp_path, squat_video):
    db = _new_db(tmp_path)
    summary = tmp_path / "summary.json"

    def fill_after_rep_1(proc, i):
        if i == 1:
            # The database's journal file may not grow any more: the write that needs one
            # more page fails as it does on a full disk.
            size = os.path.getsize(f"{db}-wal")
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (size, size))

    code, printed, said = _session(
        db, squat_video, "--summary-json", str(summary), on_rep=fill_after_rep_1
    )
    assert code == 0 and len(printed) == SQUAT_REPS
    assert len(said) == 2, said
    assert str(db) in said[0] and ".pending" in said[0]
    assert "is not finished in the database" in said[1]
    assert json.loads(summary.read_text())["rep_count"] == SQUAT_REPS  # the summary is there
    with sqlite3.connect(db) as con:  # as the full disk left it: never marked finished
        assert con.execute("SELECT status FROM sessions").fetchall() == [("active",)]
    (journal,) = journal_files(Path(f"{db}.pending"))
    assert os.stat(journal).st_mode & 0o777 == 0o600
    with open_store(db) as store:  # the next start, with room again
        assert store.replayed.sessions == (1,) and store.replayed.kept == ()
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "end_of_source")
        _stored_like_printed(store, printed)
    assert not journal.exists()


def test_ctrl_c_mid_session_is_stored_as_stopped_by_the_therapist(tmp_path, squat_video):
    db = _new_db(tmp_path)

    def interrupt_after_rep_2(proc, i):
        if i == 2:
            proc.send_signal(signal.SIGINT)

    code, printed, said = _session(db, squat_video, on_rep=interrupt_after_rep_2)
    assert code == 0 and said == [] and len(printed) >= 2
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "stopped_by_therapist")
        stored = store.load_session(info.id).reps[: len(printed)]
        assert [(r.index, round(r.start_s, 3)) for r in stored] == [p[:2] for p in printed]


def _read_only(db: Path) -> Callable[[], None]:
    """Make ``db`` unwritable even for root (immutable), or skip; returns the undo."""
    if os.geteuid() != 0:
        db.chmod(0o400)
        return lambda: db.chmod(0o600)
    done = subprocess.run(["chattr", "+i", str(db)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i refused)")
    return lambda: subprocess.run(["chattr", "-i", str(db)], check=True)


@pytest.mark.parametrize("fault", ["locked", "full", "read-only"])
def test_unusable_database_at_the_start_is_one_line(tmp_path, fault):
    clip = shared_data("kaiakol_computervision/data/squat/correct/squat_correct_007.mp4")
    db = tmp_path / "clinic.sqlite"
    open_store(db).close()
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "GLOG_minloglevel": "2"}
    cmd = [sys.executable, str(ROOT / "main.py"), "--source", str(clip), "--headless",
           "--db", str(db), "--patient", "P-1"]  # fmt: skip
    limit = None
    undo = lambda: None  # noqa: E731
    # A reader that stays in one snapshot keeps the WAL from starting over: every new write
    # must make it longer.
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    with open_store(db) as store:
        store.ensure_patient("P-1")
    holder = Holder(db) if fault == "locked" else None
    if fault == "full":
        # The WAL may not grow past its size now: opening works, the session's first write
        # finds the disk full.
        size = os.path.getsize(f"{db}-wal")
        limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))  # noqa: E731
    if fault == "read-only":
        undo = _read_only(db)
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, preexec_fn=limit
        )
    finally:
        undo()
        reader.close()
        if holder is not None:
            holder.release()
    said = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(said) == 1 and said[0].startswith("main.py: error: ") and str(db) in said[0]
    assert {"locked": "locked", "full": "disk", "read-only": "read-only"}[fault] in said[0]
    assert "reps," not in proc.stdout  # no session ran
    with open_store(db) as store:
        assert store.sessions("P-1") == ()


def _unwritable_targets(tmp_path: Path) -> list[Path]:
    """Targets that cannot be written whoever runs the tests (root included)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    return [Path("/proc/self/spinecoach.out"), Path("/sys/spinecoach.out"), blocker / "out"]


@pytest.mark.parametrize("flag", ["--summary-json", "--record", "--record-video"])
def test_unwritable_output_is_one_line_before_the_session(tmp_path, flag):
    clip = shared_data("kaiakol_computervision/data/squat/correct/squat_correct_007.mp4")
    for target in _unwritable_targets(tmp_path):
        if not target.parent.exists() and target.parent.parent == Path("/"):
            continue  # no /sys in this container: the other targets still run
        proc = run_main("--source", str(clip), "--headless", flag, str(target))
        said = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py")]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert len(said) == 1 and said[0].startswith(f"main.py: error: {flag}: "), said
        assert "reps," not in proc.stdout  # refused before the session, not after it


@pytest.mark.parametrize("flag", ["--summary-json", "--record", "--record-video"])
def test_session_output_onto_a_special_file_is_refused(tmp_path, flag):
    """The same check as export and report (``storage.paths.not_a_file``): a device node or a
    pipe is never replaced by a regular file."""
    source = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"
    targets = special_files(tmp_path)
    kinds = {p: file_kind(p) for p in targets}
    for target in targets:
        proc = run_main("--source", str(source), "--headless", "--max-frames", "5", flag,
                        str(target))  # fmt: skip
        said = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py")]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert said == [
            f"main.py: error: {flag}: expected a file name, got a special file {target}"
        ]
    assert {p: file_kind(p) for p in targets} == kinds


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (symlinks as where they point)."""
    return {
        str(p.relative_to(folder)): os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def _refused_before_the_session(proc: subprocess.CompletedProcess, flag: str) -> str:
    said = [ln for ln in proc.stderr.splitlines() if ln.startswith("main.py")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(said) == 1 and said[0].startswith(f"main.py: error: {flag}: refusing to write ")
    assert "reps," not in proc.stdout
    return said[0]


@pytest.mark.parametrize("flag", ["--summary-json", "--record", "--record-video"])
def test_session_outputs_never_overwrite_the_database(tmp_path, flag):
    """Before: the database became the summary (exit 0), a recording, or an empty video file;
    a recording written to the -wal file vanished."""
    db = _new_db(tmp_path)
    with open_store(db) as store:  # a database with its write-ahead log and shared memory
        store.ensure_patient("P-2")
        held = sqlite3.connect(db)  # keeps -wal and -shm in place while main.py runs
        held.execute("SELECT count(*) FROM patients").fetchone()
    os.symlink(db, tmp_path / "link.json")
    os.link(db, tmp_path / "hard.json")
    Path(f"{db}.pending").mkdir()
    before = _files(tmp_path)
    assert f"{db.name}-wal" in before and f"{db.name}-shm" in before
    source = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"
    run = ("--source", str(source), "--headless", "--max-frames", "5", "--db", str(db),
           "--patient", "P-1")  # fmt: skip
    try:
        for target, says in [
            (db, "it is the database itself"),
            (tmp_path / "link.json", "it is the database itself"),
            (tmp_path / "hard.json", "it is the database itself"),
            (Path(f"{db}-wal"), f"part of the database {db}"),
            (Path(f"{db}-shm"), f"part of the database {db}"),
            (Path(f"{db}-journal"), f"part of the database {db}"),
            (Path(f"{db}.pending") / "out", f"part of the database {db}"),
        ]:
            proc = run_main(*run, flag, str(target))
            assert says in _refused_before_the_session(proc, flag), proc.stderr
            assert _files(tmp_path) == before, target  # nothing written, nothing created
    finally:
        held.close()
    with open_store(db) as store:
        assert {p.code for p in store.list_patients()} == {"P-1", "P-2"}
        assert store.sessions("P-1") == ()


def test_session_outputs_never_overwrite_the_source_or_each_other(tmp_path):
    """Before: the replayed recording became the summary, the video the overlay video, and
    two outputs named alike left one of them (exit 0 each time)."""
    recording = tmp_path / "r.screc"
    recording.write_bytes(
        (ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc").read_bytes()
    )
    os.link(recording, tmp_path / "same.json")
    video = tmp_path / "v.mp4"
    video.write_bytes(
        shared_data(
            "kaiakol_computervision/data/squat/incorrect/squat_incorrect_003.mp4"
        ).read_bytes()
    )
    before = _files(tmp_path)
    for source, flag, target in [
        (recording, "--summary-json", recording),
        (recording, "--record", tmp_path / "same.json"),
        (video, "--record-video", video),
        (video, "--summary-json", video),
    ]:
        proc = run_main("--source", str(source), "--headless", "--max-frames", "5", flag,
                        str(target))  # fmt: skip
        said = _refused_before_the_session(proc, flag)
        assert f"it is the source {source} the session reads" in said
    pairs = [("--summary-json", "--record"), ("--record", "--record-video"),
             ("--summary-json", "--record-video")]  # fmt: skip
    for first, second in pairs:
        out = tmp_path / "out.bin"
        proc = run_main("--source", str(recording), "--headless", "--max-frames", "5",
                        first, str(out), second, str(out))  # fmt: skip
        said = _refused_before_the_session(proc, second)
        assert f"{first} writes it too" in said
    assert _files(tmp_path) == before


def test_session_outputs_are_owner_only_and_a_recording_ends_as_end_of_source(tmp_path):
    clip = shared_data("kaiakol_computervision/data/squat/incorrect/squat_incorrect_003.mp4")
    db = _new_db(tmp_path)
    summary, video, record = tmp_path / "s.json", tmp_path / "v.mp4", tmp_path / "r.screc"
    summary.write_text("{}")
    summary.chmod(0o644)  # an older summary, readable by all: overwritten owner-only
    proc = run_main("--source", str(clip), "--headless", "--db", str(db), "--patient", "P-1",
                    "--summary-json", str(summary), "--record-video", str(video),
                    "--record", str(record))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    for path in (summary, video, record, db):
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
    assert video.stat().st_size > 10_000 and json.loads(summary.read_text())["frames"] == 38
    assert not list(tmp_path.glob(".*.probe"))
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "end_of_source")


def test_frame_limit_is_stored_as_time_limit(tmp_path):
    clip = shared_data("kaiakol_computervision/data/squat/incorrect/squat_incorrect_003.mp4")
    db = _new_db(tmp_path)
    proc = run_main("--source", str(clip), "--headless", "--max-frames", "10",
                    "--db", str(db), "--patient", "P-1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", "time_limit")


def test_machine_overload_is_stored_as_safety_stop(tmp_path):
    db = _new_db(tmp_path)
    proc = run_main("--source", "none", "--exercise", "lumbar_extension", "--headless",
                    "--seconds", "5", "--sim-arg=--start-delay=1", "--sim-arg=--overload-at=2",
                    "--db", str(db), "--patient", "P-1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        rec = store.load_session(info.id)
        assert (info.status, info.end_reason) == ("finished", "safety_stop")
        assert [e.kind for e in rec.safety_events] == ["overload"]


KERAAL = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-CTK-P1T1-Unknown-C-0.json"


def test_a_crash_mid_session_is_stored_as_interrupted_by_a_crash(tmp_path, monkeypatch):
    from app import cli
    from app.loop import Runner

    db = _new_db(tmp_path)

    def crash(self, progress=False):
        self.pump()
        raise RuntimeError("a bug in the loop")

    monkeypatch.setattr(Runner, "run_headless", crash)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["--source", str(shared_data(KERAAL)), "--headless", "--db", str(db),
                  "--patient", "P-1"])  # fmt: skip
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("interrupted", "crash")


@pytest.mark.parametrize(
    ("ended_by", "reason"),
    [("therapist", "stopped_by_therapist"), ("idle", "stopped_by_patient")],
)
def test_who_ended_a_session_on_screen_is_stored(tmp_path, ended_by, reason):
    from app.cli import build_parser
    from app.session_setup import prepare

    db = _new_db(tmp_path)
    args = build_parser().parse_args(
        ["--source", str(shared_data(KERAAL)), "--headless", "--db", str(db), "--patient", "P-1"]
    )
    runner, _ = prepare(args)
    try:
        runner.pump()
        runner.command("finish")  # who ended it counts more than the source running out
        runner.finish_storage(ended_by=ended_by)  # as the screen's EndSession does
    finally:
        runner.close()
        runner.opts.store.close()
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert (info.status, info.end_reason) == ("finished", reason)


def test_the_screen_shows_writes_waiting_and_when_they_are_in(tmp_path):
    import pygame

    from app.cli import build_parser
    from app.session_setup import prepare
    from feedback import style
    from feedback.patient_view import PatientView
    from session.snapshot import RepView

    db = _new_db(tmp_path)
    args = build_parser().parse_args(
        ["--source", str(shared_data(KERAAL)), "--headless", "--db", str(db), "--patient", "P-1"]
    )
    runner, _ = prepare(args)
    pygame.init()
    try:
        writer = runner.sink.writer
        assert runner.snapshot().storage is None
        holder = Holder(db)
        try:
            writer.add_rep(RepView(1, 0.0, 2.0, 60.0, 170.0, 0.9, 2.0, True, True))
            writer.flush()  # the worker met the lock (after the 5 s busy timeout)
            storage = runner.snapshot().storage
            assert storage.name == "storage" and not storage.healthy
            assert storage.errors == 2 and "journal" in storage.message  # set 1 and rep 1
            view = PatientView()
            view.update(runner.snapshot())
            surf = pygame.Surface((1280, 720))
            view.draw(surf)
            banner = view.layout_for((1280, 720)).status_banner
            assert tuple(surf.get_at((banner.right - 6, banner.centery)))[:3] == style.YELLOW
        finally:
            holder.release()
        # The writer's own back-off brings them in (a bounded wait, no claim on how fast).
        for _ in range(600):
            if runner.snapshot().storage is None:
                break
            threading.Event().wait(0.1)
        assert runner.snapshot().storage is None and writer.write_status().written_later == 2
    finally:
        pygame.quit()
        runner.close()
        runner.finish_storage()
        runner.opts.store.close()
    with open_store(db) as store:
        (info,) = store.sessions("P-1")
        assert [r.index for r in store.load_session(info.id).reps] == [1]
