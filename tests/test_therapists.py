"""Therapist accounts for the dashboard: password rules and salted scrypt records, sign-in with
lock-outs that grow (stored, counted under the account's row lock, so attempts at the same
instant all count), the audit log, and ``main.py therapist`` on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from access import pins
from access.audit import AuditAction
from access.lockout import LockoutPolicy
from access.therapists import BadPassword, Outcome, TherapistGate, check_password, hash_password
from storage import NotFound, StorageError
from tests.helpers import ROOT
from tests.storage_backends import Backend

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_password_rules_and_records() -> None:
    for bad, why in (("short", "at least 10"), ("x" * 257, "at most 256"),
                     (" " * 12, "visible"), ("tab\there-and-more", "visible")):  # fmt: skip
        with pytest.raises(BadPassword, match=why):
            check_password(bad)
    rec = hash_password(PASSWORD)
    assert PASSWORD not in rec
    parsed = pins.parse_record(rec, "test")
    assert pins.verify(parsed, PASSWORD) and not pins.verify(parsed, PASSWORD + "!")
    assert json.loads(rec)["salt"] != json.loads(hash_password(PASSWORD))["salt"]


def test_sign_in_locks_out_for_longer_each_time(backend: Backend) -> None:
    clock = Clock()
    with backend.open() as store:
        store.add_therapist("anna", hash_password(PASSWORD))
        gate = TherapistGate(store, LockoutPolicy(max_failures=3, first_lockout_s=60), clock)
        assert gate.sign_in("anna", PASSWORD).outcome == Outcome.OK
        results = [gate.sign_in("anna", "wrong password!") for _ in range(3)]
        assert [r.outcome for r in results] == [Outcome.REFUSED] * 3
        assert [r.locked_out_now for r in results] == [False, False, True]
        # Locked: even the right password is refused, with the same answer.
        locked = gate.sign_in("anna", PASSWORD)
        assert (locked.outcome, locked.reason) == (Outcome.REFUSED, "locked out")
        clock.t += 61
        for _ in range(3):
            gate.sign_in("anna", "wrong password!")
        assert store.therapist_access("anna").lockouts == 2
        clock.t += 61  # the second lock-out lasts 120 s
        assert gate.sign_in("anna", PASSWORD).reason == "locked out"
        clock.t += 60
        assert gate.sign_in("anna", PASSWORD).outcome == Outcome.OK
        assert store.therapist_access("anna").lockouts == 0
        unknown = gate.sign_in("nobody", PASSWORD)
        assert (unknown.outcome, unknown.reason) == (Outcome.REFUSED, "unknown account")
        with pytest.raises(StorageError, match="already exists"):
            store.add_therapist("anna", hash_password(PASSWORD))
        with pytest.raises(ValueError, match="therapist name"):
            store.add_therapist("Anna Smith", hash_password(PASSWORD))


def test_attempts_at_the_same_instant_all_count(backend: Backend) -> None:
    """Each of four browsers gets a wrong password in at once: four failures, not fewer."""
    with backend.open() as store:
        store.add_therapist("anna", hash_password(PASSWORD))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def browser() -> None:
        try:
            with backend.open() as store:  # a connection of its own, like another dashboard
                gate = TherapistGate(store, LockoutPolicy(max_failures=10))
                barrier.wait()
                assert gate.sign_in("anna", "wrong password!").outcome == Outcome.REFUSED
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=browser) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with backend.open() as store:
        assert store.therapist_access("anna").failures == 4


def test_audit_log_keeps_who_did_what_to_whom(backend: Backend) -> None:
    with backend.open() as store:
        store.ensure_patient("LBP-1")
        store.ensure_patient("LBP-2")
        store.add_audit("anna", AuditAction.DOSE_CHANGED, patient_code="LBP-1",
                        detail='{"reps": [20, 15]}', client="127.0.0.1")  # fmt: skip
        store.add_audit("anna", AuditAction.REPORT_DOWNLOADED, patient_code="LBP-2")
        store.add_audit("", AuditAction.SIGN_IN_REFUSED, detail='{"account": "x"}')
        log = store.audit_log()
        assert [(e.therapist, e.action, e.patient_code) for e in log] == [
            ("", "sign_in_refused", ""),
            ("anna", "report_downloaded", "LBP-2"),
            ("anna", "dose_changed", "LBP-1"),
        ]
        assert [e.action for e in store.audit_log(patient_code="LBP-1")] == ["dose_changed"]
        with pytest.raises(NotFound):
            store.add_audit("anna", AuditAction.PATIENT_VIEWED, patient_code="LBP-9")


def _cli(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "therapist", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_therapist_command(backend: Backend, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    db = ["--db", backend.url]
    done = _cli("add", "anna", *db, "--password-stdin", stdin=PASSWORD + "\n", env=env)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    for args, stdin, message in (
        (("add", "anna", *db, "--password-stdin"), PASSWORD, "already exists"),
        (("add", "Bad Name", *db, "--password-stdin"), PASSWORD, "therapist name"),
        (("add", "bob", *db, "--password-stdin"), "short", "at least 10"),
        (("add", "bob", *db, "--password-stdin"), f"{PASSWORD}\nmore", "alone on one line"),
        (("add", "bob", *db), "", "no terminal"),
        (("unlock", "carl", *db), "", "no therapist 'carl'"),
    ):
        done = _cli(*args, stdin=stdin, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
        assert lines[0].startswith("main.py therapist: error: ")
        assert "short" not in lines[0] or "at least" in lines[0]  # never the password itself
    listed = _cli("list", *db, env=env)
    assert listed.returncode == 0 and listed.stdout.split()[0] == "anna"
    audit = _cli("audit", *db, env=env)
    assert "therapist_added" in audit.stdout and '"account": "anna"' in audit.stdout
