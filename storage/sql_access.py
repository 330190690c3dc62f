"""Kiosk sign-in data (the same SQL for SQLite and PostgreSQL): a patient's PIN record and
lock-out counts, access alerts. Only patient identity; session data lives elsewhere."""

from __future__ import annotations

import math
import socket

from storage.access_records import AccessAlertRecord, PatientAccess
from storage.base import check_patient_code
from storage.errors import NotFound
from storage.journal import now_utc
from storage.sql_db import SqlDb


def _t(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _inf(x: float | None) -> float:
    return -math.inf if x is None else float(x)


def patient_access(db: SqlDb, code: str) -> PatientAccess:
    rows = db.query(
        "SELECT pin_record, pin_failures, pin_lockouts, pin_locked_until, pin_last_failure "
        "FROM patients WHERE code = ?",
        (check_patient_code(code),),
        "read sign-in data",
    )
    if not rows:
        raise NotFound(f"no patient with code {code!r} in {db.path}", path=db.path)
    r = rows[0]
    return PatientAccess(r[0], int(r[1]), int(r[2]), _inf(r[3]), _inf(r[4]))


def _update(db: SqlDb, code: str, action: str, sql: str, params: tuple) -> None:
    with db.transaction(action) as c:
        n = c.execute(sql + " WHERE code = ?", (*params, check_patient_code(code))).rowcount
    if n != 1:
        raise NotFound(f"no patient with code {code!r} in {db.path}", path=db.path)


def set_patient_pin(db: SqlDb, code: str, pin_record: str | None) -> None:
    """A new PIN record (from ``access.pins.hash_pin``) also lifts any lock-out."""
    _update(
        db, code, "set patient PIN",
        "UPDATE patients SET pin_record = ?, pin_failures = 0, pin_lockouts = 0, "
        "pin_locked_until = NULL, pin_last_failure = NULL",
        (pin_record,),
    )  # fmt: skip


def save_patient_lockout(db: SqlDb, code: str, access: PatientAccess) -> None:
    _update(
        db, code, "save sign-in lock-out",
        "UPDATE patients SET pin_failures = ?, pin_lockouts = ?, pin_locked_until = ?, "
        "pin_last_failure = ?",
        (access.failures, access.lockouts, _t(access.locked_until), _t(access.last_failure)),
    )  # fmt: skip


def add_access_alert(db: SqlDb, kind: str, message: str, patient_code: str = "") -> int:
    with db.transaction("save access alert") as c:
        pid = None
        if patient_code:
            row = c.execute(
                "SELECT id FROM patients WHERE code = ?", (check_patient_code(patient_code),)
            ).fetchone()
            pid = row[0] if row else None
        return int(
            c.execute(
                "INSERT INTO access_alerts (raised_at, kind, patient_id, station, message) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (now_utc(), kind, pid, socket.gethostname(), message),
            ).fetchone()[0]
        )


def access_alerts(db: SqlDb, limit: int = 100) -> tuple[AccessAlertRecord, ...]:
    """The newest ``limit`` alerts, oldest first."""
    rows = db.query(
        "SELECT a.raised_at, a.kind, a.message, COALESCE(p.code, ''), a.station "
        "FROM access_alerts a LEFT JOIN patients p ON p.id = a.patient_id "
        "ORDER BY a.id DESC LIMIT ?",
        (int(limit),),
    )
    return tuple(AccessAlertRecord(*r) for r in reversed(rows))
