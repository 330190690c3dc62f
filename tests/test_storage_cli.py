"""``report`` and ``export`` command lines: files on success, one line and exit 2 on bad input,
and nothing created or changed on error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.storage_demo import record_demo_patient
from storage import open_store
from storage.cli import export_main, main, report_main


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "clinic.sqlite"
    with open_store(path) as store:
        record_demo_patient(store, "LBP-001", sessions=1)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_report_and_export_succeed(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.pdf"
    assert report_main(["--patient", "LBP-001", "--out", str(out), "--db", str(db)]) == 0
    assert out.stat().st_size > 10_000
    assert str(out) in capsys.readouterr().out
    fhir = tmp_path / "b.json"
    argv = ["--patient", "LBP-001", "--format", "fhir", "--out", str(fhir), "--db", str(db)]
    assert export_main([*argv, "--bundle-type", "transaction"]) == 0
    assert json.loads(fhir.read_text())["type"] == "transaction"
    assert (
        main(
            [
                "export",
                "--patient",
                "LBP-001",
                "--format",
                "csv",
                "--out",
                str(tmp_path / "csv"),
                "--db",
                str(db),
            ]
        )
        == 0
    )
    assert (tmp_path / "csv" / "reps.csv").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--patient", "NOPE", "--out", "{tmp}/r.pdf", "--db", "{db}"], ["no patient", "NOPE"]),
        (["--patient", "LBP-001", "--out", "{tmp}/r.doc", "--db", "{db}"], [".pdf, .png"]),
        (
            ["--patient", "LBP-001", "--out", "{tmp}/r.pdf", "--db", "{tmp}/none.sqlite"],
            ["no database", "none.sqlite"],
        ),
        (["--out", "{tmp}/r.pdf", "--db", "{db}"], ["--patient"]),
        (["--patient", "bad code", "--out", "{tmp}/r.pdf", "--db", "{db}"], ["patient code"]),
        (
            [
                "--patient",
                "LBP-001",
                "--out",
                "{tmp}/r.pdf",
                "--db",
                "postgresql://kiosk:pw@/db?host={tmp}&port=1",
            ],
            ["PostgreSQL server", "cannot be reached", "kiosk@/db"],
        ),
    ],
)
def test_report_bad_input(db: Path, tmp_path: Path, capsys, argv: list[str], words) -> None:
    argv = [a.format(tmp=tmp_path, db=db) for a in argv]
    assert report_main(argv) == 2
    _one_line_error(capsys, "spinecoach report: error:", *words)
    assert list(tmp_path.iterdir()) == []  # no report, no new database


def test_export_bad_input(db: Path, tmp_path: Path, capsys) -> None:
    base = ["--patient", "LBP-001", "--out", str(tmp_path / "x"), "--db", str(db)]
    assert export_main([*base, "--format", "xml"]) == 2
    _one_line_error(capsys, "invalid choice", "xml")
    assert export_main(base) == 2
    _one_line_error(capsys, "--format")
    assert main(["frobnicate"]) == 2
    _one_line_error(capsys, "report, export or migrate")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_database_via_cli_is_one_line_and_untouched(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 1000)
    before = bad.read_bytes()
    argv = ["--patient", "LBP-001", "--format", "json", "--out", str(tmp_path / "o.json")]
    assert export_main([*argv, "--db", str(bad)]) == 2
    _one_line_error(capsys, str(bad), "expected an SQLite 3 file")
    assert bad.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sqlite"]
