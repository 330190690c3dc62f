"""Therapist accounts and the audit log (the same SQL for SQLite and PostgreSQL). A failed
or successful sign-in changes the lock-out counts in one transaction that locks the account's
row, so two attempts at the same instant (two browsers, two dashboards) both count."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from storage.access_records import AuditRecord, TherapistAccess
from storage.base import check_patient_code
from storage.errors import NotFound, StorageError
from storage.journal import now_utc
from storage.sql_db import SqlDb

_NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
_ACCOUNT = (
    "SELECT name, password_record, failures, lockouts, locked_until, last_failure, disabled "
    "FROM therapists WHERE name = ?"
)


def check_therapist_name(name: str) -> str:
    """Account names are short, lower-case and plain: they show in the audit log."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            "therapist name: expected 2-32 lower-case letters, digits, '.', '_' or '-' "
            f"starting with a letter, got {name[:40] if isinstance(name, str) else name!r}"
        )
    return name


def _t(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _inf(x: float | None) -> float:
    return -math.inf if x is None else float(x)


def _access(r) -> TherapistAccess:
    return TherapistAccess(r[0], r[1], int(r[2]), int(r[3]), _inf(r[4]), _inf(r[5]), bool(r[6]))


def add_therapist(db: SqlDb, name: str, password_record: str) -> None:
    check_therapist_name(name)
    with db.transaction("add therapist") as c:
        n = c.execute(
            "INSERT INTO therapists (name, password_record, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (name, password_record, now_utc()),
        ).rowcount
    if n != 1:
        raise StorageError(f"therapist {name} already exists in {db.path}", path=db.path)


def therapist_access(db: SqlDb, name: str) -> TherapistAccess:
    rows = db.query(_ACCOUNT, (check_therapist_name(name),), "read therapist account")
    if not rows:
        raise NotFound(f"no therapist {name!r} in {db.path}", path=db.path)
    return _access(rows[0])


def list_therapists(db: SqlDb) -> tuple[TherapistAccess, ...]:
    rows = db.query(_ACCOUNT.replace(" WHERE name = ?", " ORDER BY name"))
    return tuple(_access(r) for r in rows)


def set_therapist_password(db: SqlDb, name: str, password_record: str) -> None:
    """A new password also lifts any lock-out."""
    with db.transaction("set therapist password") as c:
        n = c.execute(
            "UPDATE therapists SET password_record = ?, failures = 0, lockouts = 0, "
            "locked_until = NULL, last_failure = NULL WHERE name = ?",
            (password_record, check_therapist_name(name)),
        ).rowcount
    if n != 1:
        raise NotFound(f"no therapist {name!r} in {db.path}", path=db.path)


def update_therapist_lockout(
    db: SqlDb, name: str, change: Callable[[TherapistAccess], TherapistAccess]
) -> TherapistAccess:
    """Read the account with its row locked, apply ``change`` to the counts, store them;
    returns the account as stored."""
    with db.transaction("save therapist lock-out") as c:
        # Locks the row (SQLite's write lock already covers it) before reading the counts.
        c.execute("UPDATE therapists SET name = name WHERE name = ?", (check_therapist_name(name),))
        row = c.execute(_ACCOUNT, (name,)).fetchone()
        if row is None:
            raise NotFound(f"no therapist {name!r} in {db.path}", path=db.path)
        new = change(_access(row))
        c.execute(
            "UPDATE therapists SET failures = ?, lockouts = ?, locked_until = ?, "
            "last_failure = ? WHERE name = ?",
            (new.failures, new.lockouts, _t(new.locked_until), _t(new.last_failure), name),
        )
    return new


def add_audit(
    db: SqlDb,
    therapist: str,
    action: str,
    *,
    patient_code: str = "",
    detail: str = "",
    client: str = "",
) -> int:
    with db.transaction("write the audit log") as c:
        pid = None
        if patient_code:
            row = c.execute(
                "SELECT id FROM patients WHERE code = ?", (check_patient_code(patient_code),)
            ).fetchone()
            if row is None:
                raise NotFound(f"no patient with code {patient_code!r} in {db.path}", path=db.path)
            pid = row[0]
        return int(
            c.execute(
                "INSERT INTO audit_log (at, therapist, action, patient_id, detail, client) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (now_utc(), therapist, str(action), pid, detail, client),
            ).fetchone()[0]
        )


def audit_log(db: SqlDb, limit: int = 200, patient_code: str = "") -> tuple[AuditRecord, ...]:
    """The newest ``limit`` entries (of one patient, if given), newest first."""
    where, params = "", ()
    if patient_code:
        where, params = "WHERE p.code = ? ", (check_patient_code(patient_code),)
    rows = db.query(
        "SELECT a.at, a.therapist, a.action, COALESCE(p.code, ''), a.detail, a.client "
        "FROM audit_log a LEFT JOIN patients p ON p.id = a.patient_id "
        f"{where}ORDER BY a.id DESC LIMIT ?",
        (*params, int(limit)),
        "read the audit log",
    )
    return tuple(AuditRecord(*r) for r in rows)
