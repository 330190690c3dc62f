"""The one storage interface, implemented by a SQLite file (``sqlite_store``) and by a
PostgreSQL server a clinic's stations share (``pg_store``), both over the same SQL
(``sql_store``)."""

from __future__ import annotations

import contextlib
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from storage import paths
from storage.access_records import (
    AccessAlertRecord,
    AuditRecord,
    PatientAccess,
    TherapistAccess,
)
from storage.clinic_records import (
    AssessmentRun,
    DoseChange,
    DoseDecision,
    Programme,
    Visit,
    VisitItem,
    VisitStatus,
)
from storage.errors import StorageError
from storage.records import (
    Assessment,
    CueLike,
    PainScore,
    Patient,
    PatientHistory,
    ProgrammeItem,
    RepLike,
    SessionInfo,
    SessionKey,
    SessionRecord,
    SessionSummary,
    WriteStatus,
)

if TYPE_CHECKING:
    from storage.journal import ReplayReport, WriteOp
    from storage.station_status import StationStatus, StatusLink, StatusListener

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_patient_code(code: str) -> str:
    """Pseudonymous codes are short and plain so they cannot carry a name by accident of format."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(
            "patient code: expected 1-64 letters, digits, '.', '_' or '-' starting with a letter "
            f"or digit, got {code!r}"
        )
    return code


PAIN_MOMENTS = ("before", "during", "after", "assessment")


def check_not_store_file(
    path: str | os.PathLike[str], owned: Sequence[Path], location: str
) -> None:
    """``StorageError`` when writing ``path`` would overwrite one of ``owned``, the files of
    the store at ``location`` (``Store.owned_paths``, ``storage.store_files``)."""
    hit = paths.overwritten(path, owned)
    if hit is not None:
        what = (
            "the database itself"
            if str(hit) == location
            else f"{hit}, part of the database {location}"
        )
        raise StorageError(
            f"refusing to write {path}: it is {what}; choose another output path", path=str(path)
        )


def check_pain_score(score: float, moment: str = "after") -> float:
    score = float(score)
    if not (0.0 <= score <= 10.0):
        raise ValueError(f"pain score: expected 0..10, got {score}")
    if moment not in PAIN_MOMENTS:
        raise ValueError(f"pain score moment: expected one of {PAIN_MOMENTS}, got {moment!r}")
    return score


class SessionWriter(ABC):
    """Records one session as it happens. Every call is committed before it returns, so a crash
    loses at most the call in progress (in practice: the rep being performed).

    Usable as a context manager: leaving the block normally finishes the session as
    "completed"; leaving it by an exception marks it "interrupted".
    """

    session_id: int
    key: SessionKey

    @abstractmethod
    def apply(self, op: WriteOp, *, replay: bool = False) -> bool:
        """Write one recorded call (``storage.journal.WriteOp``) and commit. With ``replay``
        (a journal being written late) a write the database already holds is skipped, so
        nothing is stored twice; returns whether it wrote."""

    @abstractmethod
    def info(self) -> SessionInfo:
        """The session as the database has it now."""

    def detach(self) -> None:  # noqa: B027 - a plain writer has nothing to hand over
        """The rest of this session waits in a journal: stop treating the session as live here
        (closing the store leaves it alone; the journal's replay finishes it)."""

    def write_status(self) -> WriteStatus:
        """Writes that have not reached the database yet; none for a plain writer."""
        return WriteStatus()

    def retry_in(self) -> float | None:
        """Seconds until waiting writes should be tried again; None when nothing waits."""
        return None

    def retry(self, *, force: bool = False) -> bool:
        """Try the waiting writes again (if due, or ``force``); True when nothing waits."""
        return True

    @abstractmethod
    def begin_set(
        self,
        set_index: int | None = None,
        *,
        target_reps: int = 0,
        load_band_n: tuple[float, float] = (math.nan, math.nan),
        started_s: float = math.nan,
    ) -> int:
        """Start a set (1-based ``set_index``, default: the next one); returns its index."""

    @abstractmethod
    def add_rep(
        self, rep: RepLike, *, hold_s: float | None = None, peak_force_n: float | None = None
    ) -> None:
        """Store one finished rep (``RepView`` or alike) in the current set, and commit.
        ``hold_s`` / ``peak_force_n`` default to the rep's attributes of those names, or NaN."""

    @abstractmethod
    def add_cue(self, cue: CueLike, t_s: float | None = None) -> None:
        """Store a cue when it was shown (``t_s`` defaults to ``cue.since_s``)."""

    @abstractmethod
    def add_safety_event(
        self,
        kind: str,
        t_s: float,
        message: str = "",
        *,
        value: float = math.nan,
        limit: float = math.nan,
        unit: str = "",
    ) -> None: ...

    @abstractmethod
    def add_trace(
        self,
        label: str,
        unit: str,
        t: np.ndarray,
        values: np.ndarray,
        *,
        max_rate_hz: float | None = None,
    ) -> int:
        """Store a chunk of a signal (session-clock seconds), downsampled; returns points kept."""

    @abstractmethod
    def add_pain_score(self, score: float, moment: str = "after") -> None: ...

    @abstractmethod
    def finish(self, summary: SessionSummary | None = None) -> SessionInfo:
        """Mark the session finished; later calls raise ``StorageError``."""

    @abstractmethod
    def abandon(self, reason: str) -> None:
        """Mark the session interrupted (the live loop hit an error it cannot recover from)."""

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.finished:
            return
        if exc_type is None:
            self.finish()
            return
        # Keep the original error if this fails too; the next open marks it interrupted.
        with contextlib.suppress(StorageError):
            self.abandon(f"error: {exc_type.__name__}")

    @property
    @abstractmethod
    def finished(self) -> bool: ...


class Store(ABC):
    """Patients, programmes, assessments, calibrations and recorded sessions."""

    replayed: ReplayReport | None = None  # what the last ``replay_journals`` did

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data lives (a file path or a server URL), for messages."""

    @property
    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # patients -------------------------------------------------------------------------
    @abstractmethod
    def ensure_patient(self, code: str, display_name: str | None = None) -> Patient:
        """Return the patient with this code, creating it if new."""

    @abstractmethod
    def get_patient(self, code: str) -> Patient:
        """Raises ``NotFound`` for an unknown code."""

    @abstractmethod
    def list_patients(self) -> tuple[Patient, ...]: ...

    # kiosk sign-in ----------------------------------------------------------------------
    @abstractmethod
    def patient_access(self, code: str) -> PatientAccess:
        """The patient's PIN record and lock-out counts; ``NotFound`` for an unknown code."""

    @abstractmethod
    def set_patient_pin(self, code: str, pin_record: str | None) -> None:
        """Store a PIN record (``access.pins.hash_pin``), lifting any lock-out; ``None``
        removes kiosk sign-in. ``NotFound`` for an unknown code."""

    @abstractmethod
    def save_patient_lockout(self, code: str, access: PatientAccess) -> None:
        """Store the lock-out counts of ``access`` (its PIN record is not touched)."""

    @abstractmethod
    def add_access_alert(self, kind: str, message: str, patient_code: str = "") -> int: ...

    @abstractmethod
    def access_alerts(self, limit: int = 100) -> tuple[AccessAlertRecord, ...]:
        """The newest ``limit`` alerts, oldest first."""

    # therapist data ---------------------------------------------------------------------
    @abstractmethod
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
        """Make ``items`` the patient's active programme (the previous one is kept, inactive).
        Returns the items with their ids. ``auto_progress``: the progression rules' proposals
        after a visit without a pain flag are applied without waiting for the therapist."""

    @abstractmethod
    def programme(self, patient_code: str) -> tuple[ProgrammeItem, ...]:
        """The active programme's items, empty if none."""

    @abstractmethod
    def add_assessment(self, patient_code: str, assessment: Assessment) -> int: ...

    @abstractmethod
    def assessments(self, patient_code: str) -> tuple[Assessment, ...]: ...

    @abstractmethod
    def add_pain_score(
        self,
        patient_code: str,
        score: float,
        moment: str = "before",
        session_id: int | None = None,
        *,
        visit_id: int | None = None,
    ) -> int:
        """A pain score 0-10; with ``visit_id``, of that visit (``NotFound`` when the visit is
        not this patient's)."""

    @abstractmethod
    def pain_scores(self, patient_code: str) -> tuple[PainScore, ...]: ...

    # the clinic's method (storage.sql_clinic) ---------------------------------------------------
    @abstractmethod
    def set_patient_details(self, code: str, *, sex: str | None, birth_year: int | None) -> Patient:
        """Sex ("female" or "male") and birth year, which the norms need; None clears one.
        ``NotFound`` for an unknown code, ``ValueError`` for a value out of range."""

    @abstractmethod
    def active_programme(self, patient_code: str) -> Programme | None:
        """The active programme with its items and progression setting; None without one."""

    @abstractmethod
    def add_assessment_run(self, patient_code: str, run: AssessmentRun) -> int:
        """An assessment with every test's result and norm comparison, in one transaction."""

    @abstractmethod
    def assessment_runs(self, patient_code: str) -> tuple[AssessmentRun, ...]:
        """Oldest first."""

    @abstractmethod
    def begin_visit(self, patient_code: str, programme_id: int | None, station: str = "") -> int:
        """A kiosk visit starts (status open); returns its id."""

    @abstractmethod
    def add_visit_item(self, patient_code: str, visit_id: int, item: VisitItem) -> int:
        """What became of one programme item in the visit."""

    @abstractmethod
    def finish_visit(
        self,
        patient_code: str,
        visit_id: int,
        status: VisitStatus,
        *,
        flagged: bool = False,
        flag_reason: str = "",
    ) -> None: ...

    @abstractmethod
    def visits(self, patient_code: str) -> tuple[Visit, ...]:
        """Oldest first, each with its items and pain scores."""

    @abstractmethod
    def add_dose_proposals(
        self, patient_code: str, changes: Sequence[DoseChange]
    ) -> tuple[int, ...]:
        """Proposed changes waiting for the therapist (an older one for the same item is
        superseded); the programme is not changed."""

    @abstractmethod
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
        """A new programme version with ``items``, the ``changes`` that made it (applied by
        ``by``) and the decisions on earlier proposals, all in one transaction. ``based_on``:
        the programme version ``items`` were made from; ``ProgrammeChanged`` (nothing stored)
        when the active one is another by then."""

    @abstractmethod
    def decline_dose_proposals(self, patient_code: str, ids: Sequence[int], *, by: str) -> None: ...

    @abstractmethod
    def dose_changes(self, patient_code: str) -> tuple[DoseChange, ...]:
        """Every proposed and applied change of dose, oldest first."""

    # sessions ---------------------------------------------------------------------------
    @abstractmethod
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
        """Start recording a session (the patient is created if new)."""

    @abstractmethod
    def sessions(self, patient_code: str) -> tuple[SessionInfo, ...]:
        """The patient's sessions, oldest first."""

    @abstractmethod
    def load_session(self, session_id: int) -> SessionRecord: ...

    @abstractmethod
    def recover_interrupted(self) -> tuple[int, ...]:
        """Mark sessions whose writer died without finishing as "interrupted"; returns their ids."""

    # therapist accounts and the audit log (storage.sql_therapists) ---------------------------
    @abstractmethod
    def add_therapist(self, name: str, password_record: str) -> None:
        """A new dashboard account; ``StorageError`` when the name is taken."""

    @abstractmethod
    def therapist_access(self, name: str) -> TherapistAccess:
        """``NotFound`` for an unknown name."""

    @abstractmethod
    def list_therapists(self) -> tuple[TherapistAccess, ...]: ...

    @abstractmethod
    def set_therapist_password(self, name: str, password_record: str) -> None:
        """A new password record, lifting any lock-out."""

    @abstractmethod
    def update_therapist_lockout(
        self, name: str, change: Callable[[TherapistAccess], TherapistAccess]
    ) -> TherapistAccess:
        """Apply ``change`` to the lock-out counts with the account's row locked."""

    @abstractmethod
    def add_audit(
        self,
        therapist: str,
        action: str,
        *,
        patient_code: str = "",
        detail: str = "",
        client: str = "",
    ) -> int:
        """One line of who did what (``access.audit.AuditAction``), committed."""

    @abstractmethod
    def audit_log(self, limit: int = 200, patient_code: str = "") -> tuple[AuditRecord, ...]:
        """Newest first."""

    # the clinic's live view (storage.station_status) ----------------------------------------
    @abstractmethod
    def status_link(self) -> StatusLink:
        """A connection of its own for publishing this station's live status."""

    @abstractmethod
    def status_listener(self) -> StatusListener:
        """Every station's status, then each change as it comes (NOTIFY on a server; a file
        is read a few times a second)."""

    @abstractmethod
    def station_statuses(self) -> tuple[StationStatus, ...]:
        """Every station's latest status, by station name."""

    # late writes and the files the store owns ----------------------------------------------
    @property
    @abstractmethod
    def journal_dir(self) -> Path:
        """The local folder for journals of writes the database could not take."""

    @abstractmethod
    def resume_session(self, key: SessionKey) -> SessionWriter:
        """A writer for an existing session, for replaying its journal; ``StorageError`` when
        the database has no session that matches ``key``."""

    def replay_journals(self) -> ReplayReport:
        """Write the journals left by earlier sessions (of any process that no longer writes
        them) into the database, in order, skipping what it already holds."""
        from storage.journal import replay_folder

        self.replayed = replay_folder(self.journal_dir, self.resume_session)
        return self.replayed

    @abstractmethod
    def owned_paths(self) -> tuple[Path, ...]:
        """Files and folders the store keeps its data in (resolved), besides which nothing
        may be written."""

    def check_output(self, path: str | os.PathLike[str], *, folder_ok: bool = False) -> None:
        """Refuse an output file (report, export) that would overwrite the store's own data
        (the database, its journals, backups or pending writes) or replace a folder or a
        special file (a device node, a pipe); ``folder_ok`` for an output that is a folder."""
        problem = paths.not_a_file(Path(path), folder_ok=folder_ok)
        if problem:
            raise StorageError(problem, path=str(path))
        check_not_store_file(path, self.owned_paths(), self.location)

    def history(self, patient_code: str) -> PatientHistory:
        """Everything about one patient, for reports and exports."""
        return PatientHistory(
            patient=self.get_patient(patient_code),
            assessments=self.assessments(patient_code),
            programme=self.programme(patient_code),
            pain_scores=self.pain_scores(patient_code),
            sessions=tuple(self.load_session(s.id) for s in self.sessions(patient_code)),
            assessment_runs=self.assessment_runs(patient_code),
        )
