"""The part of a store both SQL backends share: every ``Store`` method is the same SQL on
SQLite and PostgreSQL. A backend opens its connection (``storage.sql_db.SqlDb``) and its
checks, sets ``_db`` and calls ``_ready()``."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from storage import sql_access, sql_clinic, sql_therapists
from storage.access_records import (
    AccessAlertRecord,
    AuditRecord,
    PatientAccess,
    TherapistAccess,
)
from storage.base import SessionWriter, Store, check_pain_score, check_patient_code
from storage.clinic_records import (
    AssessmentRun,
    DoseChange,
    DoseDecision,
    Programme,
    Visit,
    VisitItem,
    VisitStatus,
)
from storage.errors import NotFound, StorageError
from storage.journal import now_utc
from storage.records import (
    Assessment,
    PainScore,
    Patient,
    ProgrammeItem,
    SessionInfo,
    SessionKey,
    SessionRecord,
)
from storage.sql_db import SqlDb
from storage.sql_db import from_sql as _f
from storage.sql_db import to_sql as _n
from storage.sql_read import load_session, pain_rows, session_info
from storage.sql_writer import SqlSessionWriter, is_live
from storage.station_status import StationStatus, read_statuses

# An active session with nothing recorded for this long is over, whoever wrote it.
STALE_AFTER_S = 12 * 3600.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    return True


_ITEMS = (
    f"SELECT {sql_clinic.ITEM_COLUMNS} FROM programme_items i "
    "JOIN programmes p ON p.id = i.programme_id "
)


def _programme_items(rows: list) -> tuple[ProgrammeItem, ...]:
    return tuple(map(sql_clinic.item_from_row, rows))


_PATIENT = "code, display_name, created_at, sex, birth_year"


def _patient(r: object) -> Patient:
    return Patient(r[0], r[1], r[2], r[3] or "", r[4])


class SqlStore(Store):
    _db: SqlDb
    _writers: list[SqlSessionWriter]

    def _ready(self) -> None:
        """Writes an earlier session could not make go in before its session is judged
        interrupted; a database that cannot take them yet keeps them waiting."""
        self.replay_journals()
        self.recover_interrupted()

    @property
    def location(self) -> str:
        return self._db.path

    def close(self) -> None:
        for w in list(self._writers):
            if not w.finished:
                # Database unavailable: the next open marks it interrupted.
                with contextlib.suppress(StorageError):
                    w.abandon("store closed before the session finished")
        self._db.close()

    def resume_session(self, key: SessionKey) -> SqlSessionWriter:
        rows = self._db.query(
            "SELECT s.patient_id, p.code, s.exercise_id, s.started_at FROM sessions s "
            "JOIN patients p ON p.id = s.patient_id WHERE s.id = ?",
            (key.session_id,),
            "find the session of a journal",
        )
        found = tuple(rows[0])[1:] if rows else None
        if found != (key.patient_code, key.exercise_id, key.started_at):
            raise NotFound(
                f"the journal's session {key.session_id} ({key.patient_code}, "
                f"{key.exercise_id}, started {key.started_at}) is not in {self._db.path}",
                path=self._db.path,
            )
        return SqlSessionWriter(self._db, key, int(rows[0][0]), live=False)

    def _patient_id(self, code: str) -> int:
        rows = self._db.query(
            "SELECT id FROM patients WHERE code = ?", (check_patient_code(code),), "find patient"
        )
        if not rows:
            raise NotFound(f"no patient with code {code!r} in {self._db.path}", path=self._db.path)
        return int(rows[0][0])

    def ensure_patient(self, code: str, display_name: str | None = None) -> Patient:
        check_patient_code(code)
        with self._db.transaction("add patient") as c:
            c.execute(
                "INSERT INTO patients (code, display_name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (code) DO NOTHING",
                (code, display_name, now_utc()),
            )
        return self.get_patient(code)

    def get_patient(self, code: str) -> Patient:
        rows = self._db.query(
            f"SELECT {_PATIENT} FROM patients WHERE code = ?", (check_patient_code(code),)
        )
        if not rows:
            raise NotFound(f"no patient with code {code!r} in {self._db.path}", path=self._db.path)
        return _patient(rows[0])

    def list_patients(self) -> tuple[Patient, ...]:
        rows = self._db.query(f"SELECT {_PATIENT} FROM patients ORDER BY code")
        return tuple(map(_patient, rows))

    def patient_access(self, code: str) -> PatientAccess:
        return sql_access.patient_access(self._db, code)

    def set_patient_pin(self, code: str, pin_record: str | None) -> None:
        sql_access.set_patient_pin(self._db, code, pin_record)

    def save_patient_lockout(self, code: str, access: PatientAccess) -> None:
        sql_access.save_patient_lockout(self._db, code, access)

    def add_access_alert(self, kind: str, message: str, patient_code: str = "") -> int:
        return sql_access.add_access_alert(self._db, kind, message, patient_code)

    def access_alerts(self, limit: int = 100) -> tuple[AccessAlertRecord, ...]:
        return sql_access.access_alerts(self._db, limit)

    def save_programme(
        self,
        patient_code: str,
        items: Sequence[ProgrammeItem],
        name: str = "",
        *,
        created_by: str = "",
        auto_progress: bool = False,
        assessment_run_id: int | None = None,
    ) -> tuple[ProgrammeItem, ...]:
        self.ensure_patient(patient_code)
        pid = self._patient_id(patient_code)
        with self._db.transaction("save programme") as c:
            # Read back in the same transaction: once it commits, another station may already
            # have saved a newer programme for this patient.
            _, stored = sql_clinic.insert_programme(
                c, pid, items, name, created_by, auto_progress, assessment_run_id
            )
        return stored

    def programme(self, patient_code: str) -> tuple[ProgrammeItem, ...]:
        rows = self._db.query(
            _ITEMS + "WHERE p.patient_id = ? AND p.active = 1 ORDER BY i.id",
            (self._patient_id(patient_code),),
        )
        return _programme_items(rows)

    def add_assessment(self, patient_code: str, assessment: Assessment) -> int:
        self.ensure_patient(patient_code)
        a = assessment
        with self._db.transaction("save assessment") as c:
            return int(
                c.execute(
                    "INSERT INTO assessments (patient_id, assessed_at, exercise_id, side, "
                    "rom_deg, max_force_n, pain_free_rom_deg, test_angle_deg, notes) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        self._patient_id(patient_code),
                        a.assessed_at or now_utc(),
                        a.exercise_id,
                        a.side,
                        _n(a.rom_deg),
                        _n(a.max_force_n),
                        _n(a.pain_free_rom_deg),
                        _n(a.test_angle_deg),
                        a.notes,
                    ),
                ).fetchone()[0]
            )

    def assessments(self, patient_code: str) -> tuple[Assessment, ...]:
        rows = self._db.query(
            "SELECT exercise_id, side, assessed_at, rom_deg, max_force_n, pain_free_rom_deg, "
            "test_angle_deg, notes FROM assessments WHERE patient_id = ? "
            "ORDER BY assessed_at, id",
            (self._patient_id(patient_code),),
        )
        return tuple(
            Assessment(r[0], r[1], r[2], _f(r[3]), _f(r[4]), _f(r[5]), _f(r[6]), r[7]) for r in rows
        )

    def add_pain_score(
        self,
        patient_code: str,
        score: float,
        moment: str = "before",
        session_id: int | None = None,
        *,
        visit_id: int | None = None,
    ) -> int:
        score = check_pain_score(score, moment)
        if visit_id is not None:
            pid = self._patient_id(patient_code)
            return sql_clinic.add_visit_pain(self._db, pid, visit_id, score, moment, session_id)
        self.ensure_patient(patient_code)
        with self._db.transaction("save pain score") as c:
            return int(
                c.execute(
                    "INSERT INTO pain_scores (patient_id, session_id, recorded_at, moment, score) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (self._patient_id(patient_code), session_id, now_utc(), moment, score),
                ).fetchone()[0]
            )

    def pain_scores(self, patient_code: str) -> tuple[PainScore, ...]:
        return pain_rows(self._db, "patient_id = ?", self._patient_id(patient_code))

    def set_patient_details(self, code: str, *, sex: str | None, birth_year: int | None) -> Patient:
        sql_clinic.check_details(sex, birth_year, datetime.now(UTC).year)
        sql_clinic.set_patient_details(self._db, self._patient_id(code), sex, birth_year)
        return self.get_patient(code)

    def active_programme(self, patient_code: str) -> Programme | None:
        return sql_clinic.active_programme(self._db, self._patient_id(patient_code))

    def add_assessment_run(self, patient_code: str, run: AssessmentRun) -> int:
        return sql_clinic.add_assessment_run(self._db, self._patient_id(patient_code), run)

    def assessment_runs(self, patient_code: str) -> tuple[AssessmentRun, ...]:
        return sql_clinic.assessment_runs(self._db, self._patient_id(patient_code))

    def begin_visit(self, patient_code: str, programme_id: int | None, station: str = "") -> int:
        pid = self._patient_id(patient_code)
        return sql_clinic.begin_visit(self._db, pid, programme_id, station or socket.gethostname())

    def add_visit_item(self, patient_code: str, visit_id: int, item: VisitItem) -> int:
        return sql_clinic.add_visit_item(self._db, self._patient_id(patient_code), visit_id, item)

    def finish_visit(
        self,
        patient_code: str,
        visit_id: int,
        status: VisitStatus,
        *,
        flagged: bool = False,
        flag_reason: str = "",
    ) -> None:
        pid = self._patient_id(patient_code)
        sql_clinic.finish_visit(self._db, pid, visit_id, status, flagged, flag_reason)

    def visits(self, patient_code: str) -> tuple[Visit, ...]:
        return sql_clinic.visits(self._db, self._patient_id(patient_code), patient_code)

    def add_dose_proposals(
        self, patient_code: str, changes: Sequence[DoseChange]
    ) -> tuple[int, ...]:
        return sql_clinic.add_dose_proposals(self._db, self._patient_id(patient_code), changes)

    def apply_dose_changes(
        self,
        patient_code: str,
        items: Sequence[ProgrammeItem],
        changes: Sequence[DoseChange],
        *,
        by: str,
        resolves: Sequence[tuple[int, DoseDecision]] = (),
        name: str | None = None,
        based_on: int | None = None,
    ) -> Programme:
        pid = self._patient_id(patient_code)
        return sql_clinic.apply_dose_changes(
            self._db, pid, items, changes, by=by, resolves=resolves, name=name, based_on=based_on
        )

    def decline_dose_proposals(self, patient_code: str, ids: Sequence[int], *, by: str) -> None:
        sql_clinic.decline_proposals(self._db, self._patient_id(patient_code), ids, by)

    def dose_changes(self, patient_code: str) -> tuple[DoseChange, ...]:
        return sql_clinic.dose_changes(self._db, self._patient_id(patient_code))

    def begin_session(
        self,
        patient_code: str,
        exercise_id: str,
        *,
        side: str = "",
        programme_item_id: int | None = None,
        source: str = "",
        machine_serial: str = "",
        notes: str = "",
    ) -> SessionWriter:
        self.ensure_patient(patient_code)
        pid = self._patient_id(patient_code)
        started = now_utc()
        with self._db.transaction("start session") as c:
            sid = int(
                c.execute(
                    "INSERT INTO sessions (patient_id, programme_item_id, exercise_id, side, "
                    "started_at, status, source, machine_serial, app_version, writer_host, "
                    "writer_pid, last_activity_at, notes) "
                    "VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        pid,
                        programme_item_id,
                        exercise_id,
                        side,
                        started,
                        source,
                        machine_serial,
                        _app_version(),
                        socket.gethostname(),
                        os.getpid(),
                        started,
                        notes,
                    ),
                ).fetchone()[0]
            )
        key = SessionKey(sid, patient_code, exercise_id, started)
        writer = SqlSessionWriter(self._db, key, pid)
        self._writers.append(writer)
        return writer

    def sessions(self, patient_code: str) -> tuple[SessionInfo, ...]:
        rows = self._db.query(
            "SELECT id FROM sessions WHERE patient_id = ? ORDER BY started_at, id",
            (self._patient_id(patient_code),),
        )
        return tuple(session_info(self._db, r[0]) for r in rows)

    def load_session(self, session_id: int) -> SessionRecord:
        return load_session(self._db, session_id)

    def add_therapist(self, name: str, password_record: str) -> None:
        sql_therapists.add_therapist(self._db, name, password_record)

    def therapist_access(self, name: str) -> TherapistAccess:
        return sql_therapists.therapist_access(self._db, name)

    def list_therapists(self) -> tuple[TherapistAccess, ...]:
        return sql_therapists.list_therapists(self._db)

    def set_therapist_password(self, name: str, password_record: str) -> None:
        sql_therapists.set_therapist_password(self._db, name, password_record)

    def update_therapist_lockout(
        self, name: str, change: Callable[[TherapistAccess], TherapistAccess]
    ) -> TherapistAccess:
        return sql_therapists.update_therapist_lockout(self._db, name, change)

    def add_audit(
        self,
        therapist: str,
        action: str,
        *,
        patient_code: str = "",
        detail: str = "",
        client: str = "",
    ) -> int:
        return sql_therapists.add_audit(
            self._db, therapist, action, patient_code=patient_code, detail=detail, client=client
        )

    def audit_log(self, limit: int = 200, patient_code: str = "") -> tuple[AuditRecord, ...]:
        return sql_therapists.audit_log(self._db, limit, patient_code)

    def station_statuses(self) -> tuple[StationStatus, ...]:
        return read_statuses(self._db)

    def recover_interrupted(self) -> tuple[int, ...]:
        host = socket.gethostname()
        stale_before = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_S)
        rows = self._db.query(
            "SELECT id, writer_host, writer_pid, COALESCE(last_activity_at, started_at) "
            "FROM sessions WHERE status = 'active'"
        )
        dead = []
        for sid, whost, wpid, last in rows:
            if whost != host or wpid is None:
                # Another machine's session: only it can tell whether it still runs, unless
                # nothing has been recorded for longer than any session lasts.
                if datetime.fromisoformat(last) < stale_before:
                    dead.append(int(sid))
                continue
            mine = wpid == os.getpid()
            if not (is_live(self._db.path, sid) if mine else pid_alive(int(wpid))):
                dead.append(int(sid))
        if dead:
            with self._db.transaction("mark interrupted sessions") as c:
                for sid in dead:
                    c.execute(
                        "UPDATE sessions SET status = 'interrupted', "
                        "ended_at = COALESCE(last_activity_at, started_at), "
                        "end_reason = 'writer stopped without finishing (crash or power loss)' "
                        "WHERE id = ? AND status = 'active'",
                        (sid,),
                    )
        return tuple(dead)


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("spinecoach")
    except Exception:  # not installed as a package: a source checkout
        return "source"
