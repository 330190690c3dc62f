"""``export --out`` and ``report --out`` never write over the database they read, its WAL and
shared-memory files, its journals or backups: compared as resolved paths (relative paths,
symlinks) and as files (hard links). One line, exit 2, the database intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.storage_demo import record_demo_patient
from storage import open_store, store_files
from storage.cli import main
from tests.helpers import file_kind, special_files


def _db(tmp_path: Path, name: str = "clinic.sqlite") -> tuple[Path, str]:
    db = tmp_path / name
    with open_store(db) as store:
        record_demo_patient(store, "LBP-001", sessions=1)
    return db, "LBP-001"


def _intact(db: Path, code: str) -> None:
    with open_store(db, create=False) as store:
        assert len(store.sessions(code)) == 1
        assert store.load_session(store.sessions(code)[0].id).reps


def _refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "refusing to write" in err, err
    return err


@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_export_onto_the_database_is_refused(tmp_path, capsys, monkeypatch, fmt):
    db, code = _db(tmp_path)
    base = ["export", "--patient", code, "--format", fmt, "--db", str(db), "--out"]
    assert "the database itself" in _refused(capsys, [*base, str(db)])
    monkeypatch.chdir(tmp_path)  # the same file by a relative path
    _refused(capsys, [*base, "clinic.sqlite"])
    link = tmp_path / "bundle.json"
    link.symlink_to(db)
    _refused(capsys, [*base, str(link)])
    hard = tmp_path / "hard.json"
    os.link(db, hard)
    _refused(capsys, [*base, str(hard)])
    for side in ("-wal", "-shm", "-journal"):
        assert f"part of the database {db}" in _refused(capsys, [*base, f"{db}{side}"])
    _intact(db, code)
    assert main([*base, str(tmp_path / "fine.json")]) == 0  # any other file is written


def test_csv_export_into_the_journal_folder_is_refused(tmp_path, capsys):
    db, code = _db(tmp_path)
    base = ["export", "--patient", code, "--format", "csv", "--db", str(db), "--out"]
    _refused(capsys, [*base, f"{db}.pending"])
    _refused(capsys, [*base, str(db)])
    assert not Path(f"{db}.pending").exists()
    # A database named like one of the CSV tables, in the folder the export goes to.
    clash, code2 = _db(tmp_path / "x", "reps.csv")
    _refused(capsys, ["export", "--patient", code2, "--format", "csv", "--db", str(clash),
                      "--out", str(clash.parent)])  # fmt: skip
    _intact(clash, code2)
    _intact(db, code)


def test_report_onto_the_database_or_its_backup_is_refused(tmp_path, capsys):
    db, code = _db(tmp_path, "clinic.html")  # a database whose name is a report's
    backup = Path(f"{db}.v1.bak")
    backup.write_bytes(b"an older copy")
    base = ["report", "--patient", code, "--db", str(db), "--out"]
    _refused(capsys, [*base, str(db)])
    link = tmp_path / "report.pdf"
    link.symlink_to(db)
    _refused(capsys, [*base, str(link)])
    backup_link = tmp_path / "old.png"
    backup_link.symlink_to(backup)
    _refused(capsys, [*base, str(backup_link)])
    assert backup.read_bytes() == b"an older copy"
    _intact(db, code)


def test_the_files_of_a_database_are_known_before_it_is_opened(tmp_path):
    """A session checks its outputs against these before it opens (or creates) anything."""
    db, _ = _db(tmp_path)
    Path(f"{db}.v1.bak").write_bytes(b"an older copy")
    with open_store(db) as store:
        expected = (store.location, store.owned_paths())
    assert store_files(db) == store_files(str(db)) == store_files(f"sqlite:///{db}") == expected
    assert Path(f"{db}.v1.bak").resolve() in expected[1]
    new = tmp_path / "new.sqlite"
    assert store_files(new)[0] == str(new) and not new.exists()  # nothing created
    # A server database keeps no file here; its URL is shown without the password.
    assert store_files("postgresql://coach:secret@db.local/clinic") == (
        "postgresql://coach:***@db.local/clinic",
        (),
    )


def test_export_and_report_never_replace_a_special_file_or_a_folder(tmp_path, capsys):
    """Before: the device node or pipe became a regular file holding the export (exit 0); a
    folder gave a traceback from the rename."""
    db, code = _db(tmp_path)
    folder = tmp_path / "out.html"  # a report's name
    folder.mkdir()
    targets = special_files(tmp_path)
    kinds = {p: file_kind(p) for p in targets}
    for target in [*targets, folder]:
        for argv in (
            ["export", "--patient", code, "--format", "json", "--out", str(target)],
            ["export", "--patient", code, "--format", "fhir", "--out", str(target)],
            ["report", "--patient", code, "--out", str(target)],
        ):
            if argv[0] == "report" and target != folder:
                link = tmp_path / "report.html"  # a report's name, pointing at the device
                link.unlink(missing_ok=True)
                link.symlink_to(target)
                argv[-1] = str(link)
            assert main([*argv, "--db", str(db)]) == 2, argv
            err = capsys.readouterr().err
            kind = "the folder" if target == folder else "a special file"
            assert err.count("\n") == 1 and f"expected a file name, got {kind}" in err, err
    csv = ["export", "--patient", code, "--format", "csv", "--db", str(db), "--out"]
    assert main([*csv, str(targets[0])]) == 2
    assert "got a special file" in capsys.readouterr().err
    os.mkfifo(folder / "reps.csv")  # a table's name in the export folder
    assert main([*csv, str(folder)]) == 2
    assert "got a special file" in capsys.readouterr().err
    assert {p: file_kind(p) for p in targets} == kinds  # still the pipe and the device
    assert sorted(p.name for p in folder.iterdir()) == ["reps.csv"]
    _intact(db, code)
    assert main([*csv, str(tmp_path / "tables")]) == 0  # a folder is what CSV writes into
