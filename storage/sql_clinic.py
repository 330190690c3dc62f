"""The clinic's method in SQL both backends share: patients' sex and birth year, assessment runs
and their results, programmes with their progression setting, visits, and changes of dose.

Each function takes the store's connection (``storage.sql_db.SqlDb``) and the patient's row id
the store has looked up; every write is one transaction, so a programme version and the dose
changes that made it are stored together or not at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from storage.base import check_pain_score
from storage.clinic_records import (
    SEXES,
    AssessmentResultRecord,
    AssessmentRun,
    Dose,
    DoseChange,
    DoseDecision,
    Programme,
    Visit,
    VisitItem,
    VisitOutcome,
    VisitStatus,
)
from storage.errors import NotFound, ProgrammeChanged, StorageError
from storage.journal import now_utc
from storage.records import PainScore, ProgrammeItem
from storage.sql_db import Conn, SqlDb
from storage.sql_db import from_sql as _f
from storage.sql_db import to_sql as _n

AUTOMATIC = "progression rules (automatic)"


# -- patients -------------------------------------------------------------------------------


def check_details(sex: str | None, birth_year: int | None, this_year: int) -> None:
    if sex is not None and sex not in SEXES:
        raise ValueError(f"sex: expected one of {', '.join(SEXES)}, got {sex!r}")
    if birth_year is not None and (
        isinstance(birth_year, bool)
        or not isinstance(birth_year, int)
        or not this_year - 120 <= birth_year <= this_year
    ):
        raise ValueError(
            f"birth year: expected a year from {this_year - 120} to {this_year}, got {birth_year!r}"
        )


def set_patient_details(db: SqlDb, pid: int, sex: str | None, birth_year: int | None) -> None:
    with db.transaction("save the patient's sex and birth year") as c:
        c.execute(
            "UPDATE patients SET sex = ?, birth_year = ? WHERE id = ?", (sex, birth_year, pid)
        )


# -- assessment runs ------------------------------------------------------------------------

_RESULT_COLUMNS = (
    "test_id, kind, label, unit, value, reason, trials, rejected, angle_deg, direction, side, "
    "at_least, norm_test, norm_mean, norm_sd, norm_low, norm_high, percent_of_norm, z_score, "
    "position, norm_source, norm_verified, no_norm, flag_note"
)


def add_assessment_run(db: SqlDb, pid: int, run: AssessmentRun) -> int:
    if run.status not in ("finished", "stopped"):
        raise ValueError(f"assessment status: expected finished or stopped, got {run.status!r}")
    started = run.started_at or now_utc()
    with db.transaction("save assessment") as c:
        run_id = int(
            c.execute(
                "INSERT INTO assessment_runs (patient_id, protocol_id, started_at, finished_at, "
                "device, machine_serial, norm_version, sex, age_years, status, notes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    pid, run.protocol_id, started, run.finished_at or now_utc(), run.device,
                    run.machine_serial, run.norm_version, run.sex, run.age_years, run.status,
                    run.notes,
                ),
            ).fetchone()[0]
        )  # fmt: skip
        for r in run.results:
            c.execute(
                f"INSERT INTO assessment_results (run_id, {_RESULT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, r.test_id, r.kind, r.label, r.unit, _n(r.value), r.reason,
                    json.dumps([float(x) for x in r.trials]), json.dumps(list(r.rejected)),
                    _n(r.angle_deg), r.direction, r.side, int(r.at_least), r.norm_test,
                    _n(r.norm_mean), _n(r.norm_sd), _n(r.norm_low), _n(r.norm_high),
                    _n(r.percent_of_norm), _n(r.z_score), r.position, r.norm_source,
                    int(r.norm_verified), r.no_norm, r.flag_note,
                ),
            )  # fmt: skip
    return run_id


def assessment_runs(db: SqlDb, pid: int) -> tuple[AssessmentRun, ...]:
    runs = db.query(
        "SELECT id, protocol_id, started_at, finished_at, device, machine_serial, norm_version, "
        "sex, age_years, status, notes FROM assessment_runs WHERE patient_id = ? "
        "ORDER BY started_at, id",
        (pid,),
    )
    out = []
    for r in runs:
        rows = db.query(
            f"SELECT {_RESULT_COLUMNS} FROM assessment_results WHERE run_id = ? ORDER BY id",
            (r[0],),
        )
        results = tuple(
            AssessmentResultRecord(
                test_id=x[0], kind=x[1], label=x[2], unit=x[3], value=_f(x[4]), reason=x[5],
                trials=tuple(json.loads(x[6])), rejected=tuple(json.loads(x[7])),
                angle_deg=_f(x[8]), direction=x[9], side=x[10], at_least=bool(x[11]),
                norm_test=x[12], norm_mean=_f(x[13]), norm_sd=_f(x[14]), norm_low=_f(x[15]),
                norm_high=_f(x[16]), percent_of_norm=_f(x[17]), z_score=_f(x[18]),
                position=x[19], norm_source=x[20], norm_verified=bool(x[21]), no_norm=x[22],
                flag_note=x[23],
            )
            for x in rows
        )  # fmt: skip
        out.append(
            AssessmentRun(
                protocol_id=r[1], results=results, started_at=r[2], finished_at=r[3] or "",
                device=r[4], machine_serial=r[5], norm_version=r[6], sex=r[7], age_years=r[8],
                status=r[9], notes=r[10], id=int(r[0]),
            )
        )  # fmt: skip
    return tuple(out)


# -- programmes -----------------------------------------------------------------------------

ITEM_COLUMNS = (
    "i.id, i.exercise_id, i.side, i.sets, i.reps, i.tempo_s, i.hold_s, i.load_low_n, "
    "i.load_high_n, i.range_target_deg, i.norm_rom_deg, i.pain_free_limit_deg, p.name, "
    "i.start_deg, i.rest_s, i.tested_max_n"
)


def item_from_row(r: Any) -> ProgrammeItem:
    return ProgrammeItem(
        id=r[0], exercise_id=r[1], side=r[2], sets=r[3], reps=r[4], tempo_s=_f(r[5]),
        hold_s=_f(r[6]), load_band_n=(_f(r[7]), _f(r[8])), range_target_deg=_f(r[9]),
        norm_rom_deg=_f(r[10]), pain_free_limit_deg=_f(r[11]), programme=r[12],
        start_deg=_f(r[13]), rest_s=_f(r[14]), tested_max_n=_f(r[15]),
    )  # fmt: skip


def insert_programme(
    c: Conn,
    pid: int,
    items: Sequence[ProgrammeItem],
    name: str,
    created_by: str,
    auto_progress: bool,
    assessment_run_id: int | None,
) -> tuple[int, tuple[ProgrammeItem, ...]]:
    """A new active programme version inside the caller's transaction; returns its id and
    items as stored (read back in the same transaction)."""
    # Locks the patient's row (SQLite's write lock already covers it), so two stations saving
    # one patient's programme at once on a shared server leave one active.
    c.execute("UPDATE patients SET code = code WHERE id = ?", (pid,))
    c.execute("UPDATE programmes SET active = 0 WHERE patient_id = ?", (pid,))
    prog = int(
        c.execute(
            "INSERT INTO programmes (patient_id, name, created_at, active, created_by, "
            "auto_progress, assessment_run_id) VALUES (?, ?, ?, 1, ?, ?, ?) RETURNING id",
            (pid, name, now_utc(), created_by, int(auto_progress), assessment_run_id),
        ).fetchone()[0]
    )
    ids = []
    for it in items:
        ids.append(
            c.execute(
                "INSERT INTO programme_items (programme_id, exercise_id, side, sets, reps, "
                "tempo_s, hold_s, load_low_n, load_high_n, range_target_deg, norm_rom_deg, "
                "pain_free_limit_deg, start_deg, rest_s, tested_max_n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    prog, it.exercise_id, it.side, it.sets, it.reps, _n(it.tempo_s),
                    _n(it.hold_s), _n(it.load_band_n[0]), _n(it.load_band_n[1]),
                    _n(it.range_target_deg), _n(it.norm_rom_deg), _n(it.pain_free_limit_deg),
                    _n(it.start_deg), _n(it.rest_s), _n(it.tested_max_n),
                ),
            ).fetchone()[0]
        )  # fmt: skip
    rows = c.execute(
        f"SELECT {ITEM_COLUMNS} FROM programme_items i JOIN programmes p "
        "ON p.id = i.programme_id WHERE p.id = ? ORDER BY i.id",
        (prog,),
    ).fetchall()
    by_id = {it.id: it for it in map(item_from_row, rows)}
    return prog, tuple(by_id[i] for i in ids)


def active_programme(db: SqlDb, pid: int) -> Programme | None:
    rows = db.query(
        "SELECT id, name, created_at, created_by, auto_progress, assessment_run_id "
        "FROM programmes WHERE patient_id = ? AND active = 1 ORDER BY id DESC LIMIT 1",
        (pid,),
    )
    if not rows:
        return None
    r = rows[0]
    items = db.query(
        f"SELECT {ITEM_COLUMNS} FROM programme_items i JOIN programmes p "
        "ON p.id = i.programme_id WHERE p.id = ? ORDER BY i.id",
        (r[0],),
    )
    return Programme(
        id=int(r[0]),
        name=r[1],
        created_at=r[2],
        items=tuple(map(item_from_row, items)),
        created_by=r[3],
        auto_progress=bool(r[4]),
        assessment_run_id=r[5],
    )


# -- dose changes ---------------------------------------------------------------------------

_CHANGE_COLUMNS = (
    "id, visit_id, programme_id, exercise_id, side, proposed_at, decided_at, decided_by, "
    "decision, action, rule_id, reason, source, dose_before, dose_after"
)


def _dose_json(d: Dose) -> str:
    return json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v)
                       for k, v in asdict(d).items()})  # fmt: skip


def _dose(text: str) -> Dose:
    raw = json.loads(text)
    return Dose(**{k: (math.nan if v is None else v) for k, v in raw.items()})


def _insert_change(c: Conn, pid: int, ch: DoseChange, programme_id: int | None) -> int:
    now = now_utc()
    decided = None if ch.decision is DoseDecision.PROPOSED else (ch.decided_at or now)
    return int(
        c.execute(
            f"INSERT INTO dose_changes ({_CHANGE_COLUMNS.replace('id, ', '', 1)}, patient_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                ch.visit_id, programme_id, ch.exercise_id, ch.side, ch.proposed_at or now,
                decided, ch.decided_by, ch.decision.value, ch.action, ch.rule_id, ch.reason,
                ch.source, _dose_json(ch.before), _dose_json(ch.after), pid,
            ),
        ).fetchone()[0]
    )  # fmt: skip


def add_dose_proposals(db: SqlDb, pid: int, changes: Sequence[DoseChange]) -> tuple[int, ...]:
    """Proposals waiting for the therapist; an older proposal for the same item is superseded."""
    ids = []
    with db.transaction("save dose proposals") as c:
        for ch in changes:
            c.execute(
                "UPDATE dose_changes SET decision = 'superseded', decided_at = ? "
                "WHERE patient_id = ? AND exercise_id = ? AND side = ? AND decision = 'proposed'",
                (now_utc(), pid, ch.exercise_id, ch.side),
            )
            ids.append(_insert_change(c, pid, ch, None))
    return tuple(ids)


def apply_dose_changes(
    db: SqlDb,
    pid: int,
    items: Sequence[ProgrammeItem],
    changes: Sequence[DoseChange],
    *,
    by: str,
    resolves: Sequence[tuple[int, DoseDecision]] = (),
    name: str | None = None,
    based_on: int | None = None,
) -> Programme:
    """A new programme version with ``items`` and the changes that made it, applied by ``by``;
    ``resolves`` marks earlier proposals (confirmed, overridden, declined). One transaction.
    ``based_on``: the version ``items`` were made from, still the active one or nothing is
    stored (``ProgrammeChanged``)."""
    with db.transaction("change the dose") as c:
        # The patient's row first (as insert_programme does): two changes at once on a server
        # are made one after the other, the second seeing the first's programme.
        c.execute("UPDATE patients SET code = code WHERE id = ?", (pid,))
        rows = c.execute(
            "SELECT id, name, auto_progress, assessment_run_id FROM programmes "
            "WHERE patient_id = ? AND active = 1 ORDER BY id DESC LIMIT 1",
            (pid,),
        ).fetchall()
        if not rows:
            raise NotFound(f"the patient has no programme in {db.path}", path=db.path)
        old = rows[0]
        if based_on is not None and int(old[0]) != based_on:
            raise ProgrammeChanged(
                f"the programme was changed meanwhile (version {old[0]} is active, the change "
                f"was made from version {based_on}); nothing was changed",
                path=db.path,
            )
        prog, _ = insert_programme(
            c, pid, items, old[1] if name is None else name, by, bool(old[2]), old[3]
        )
        now = now_utc()
        for change_id, decision in resolves:
            done = c.execute(
                "UPDATE dose_changes SET decision = ?, decided_at = ?, decided_by = ?, "
                "programme_id = ? WHERE id = ? AND patient_id = ? AND decision = 'proposed'",
                (decision.value, now, by,
                 prog if decision is DoseDecision.APPLIED else None, change_id, pid),
            )  # fmt: skip
            if done.rowcount != 1:
                raise StorageError(
                    f"dose proposal {change_id} is not waiting for a decision for this patient",
                    path=db.path,
                )
        for ch in changes:
            _insert_change(c, pid, ch, prog)
    found = active_programme(db, pid)
    assert found is not None
    return found


def decline_proposals(db: SqlDb, pid: int, ids: Sequence[int], by: str) -> None:
    with db.transaction("decline dose proposals") as c:
        for change_id in ids:
            done = c.execute(
                "UPDATE dose_changes SET decision = 'declined', decided_at = ?, decided_by = ? "
                "WHERE id = ? AND patient_id = ? AND decision = 'proposed'",
                (now_utc(), by, change_id, pid),
            )
            if done.rowcount != 1:
                raise StorageError(
                    f"dose proposal {change_id} is not waiting for a decision for this patient",
                    path=db.path,
                )


def dose_changes(db: SqlDb, pid: int) -> tuple[DoseChange, ...]:
    rows = db.query(
        f"SELECT {_CHANGE_COLUMNS} FROM dose_changes WHERE patient_id = ? ORDER BY proposed_at, id",
        (pid,),
    )
    return tuple(
        DoseChange(
            id=int(r[0]), visit_id=r[1], programme_id=r[2], exercise_id=r[3], side=r[4],
            proposed_at=r[5], decided_at=r[6], decided_by=r[7], decision=DoseDecision(r[8]),
            action=r[9], rule_id=r[10], reason=r[11], source=r[12], before=_dose(r[13]),
            after=_dose(r[14]),
        )
        for r in rows
    )  # fmt: skip


# -- visits ---------------------------------------------------------------------------------


def begin_visit(db: SqlDb, pid: int, programme_id: int | None, station: str) -> int:
    with db.transaction("start visit") as c:
        return int(
            c.execute(
                "INSERT INTO visits (patient_id, programme_id, started_at, station, status) "
                "VALUES (?, ?, ?, ?, 'open') RETURNING id",
                (pid, programme_id, now_utc(), station),
            ).fetchone()[0]
        )


def _visit_patient(c: Conn, visit_id: int, pid: int, db_path: str) -> None:
    """One patient's visit is never written into from another patient's sign-in."""
    rows = c.execute("SELECT patient_id FROM visits WHERE id = ?", (visit_id,)).fetchall()
    if not rows or int(rows[0][0]) != pid:
        raise NotFound(f"no visit {visit_id} of this patient in {db_path}", path=db_path)


def add_visit_item(db: SqlDb, pid: int, visit_id: int, item: VisitItem) -> int:
    with db.transaction("save visit item") as c:
        _visit_patient(c, visit_id, pid, db.path)
        return int(
            c.execute(
                "INSERT INTO visit_items (visit_id, programme_item_id, exercise_id, side, "
                "position, outcome, reason, session_id, sets_done, sets_target, reps_done, "
                "reps_target, fault_reps, hold_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    visit_id, item.programme_item_id, item.exercise_id, item.side, item.position,
                    VisitOutcome(item.outcome).value, item.reason, item.session_id,
                    item.sets_done, item.sets_target, item.reps_done, item.reps_target,
                    item.fault_reps, _n(item.hold_s),
                ),
            ).fetchone()[0]
        )  # fmt: skip


def add_visit_pain(
    db: SqlDb, pid: int, visit_id: int, score: float, moment: str, session_id: int | None
) -> int:
    score = check_pain_score(score, moment)
    with db.transaction("save pain score") as c:
        _visit_patient(c, visit_id, pid, db.path)
        return int(
            c.execute(
                "INSERT INTO pain_scores (patient_id, session_id, recorded_at, moment, score, "
                "visit_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (pid, session_id, now_utc(), moment, score, visit_id),
            ).fetchone()[0]
        )


def finish_visit(
    db: SqlDb, pid: int, visit_id: int, status: VisitStatus, flagged: bool, flag_reason: str
) -> None:
    with db.transaction("finish visit") as c:
        _visit_patient(c, visit_id, pid, db.path)
        c.execute(
            "UPDATE visits SET status = ?, ended_at = ?, flagged = ?, flag_reason = ? WHERE id = ?",
            (VisitStatus(status).value, now_utc(), int(flagged), flag_reason, visit_id),
        )


def visits(db: SqlDb, pid: int, code: str) -> tuple[Visit, ...]:
    rows = db.query(
        "SELECT id, programme_id, started_at, ended_at, station, status, flagged, flag_reason "
        "FROM visits WHERE patient_id = ? ORDER BY started_at, id",
        (pid,),
    )
    out = []
    for r in rows:
        items = db.query(
            "SELECT exercise_id, position, outcome, side, programme_item_id, reason, session_id, "
            "sets_done, sets_target, reps_done, reps_target, fault_reps, hold_s "
            "FROM visit_items WHERE visit_id = ? ORDER BY position",
            (r[0],),
        )
        pain = db.query(
            "SELECT score, moment, recorded_at, session_id FROM pain_scores WHERE visit_id = ? "
            "ORDER BY recorded_at, id",
            (r[0],),
        )
        out.append(
            Visit(
                id=int(r[0]), patient_code=code, started_at=r[2], status=VisitStatus(r[5]),
                programme_id=r[1], ended_at=r[3], station=r[4], flagged=bool(r[6]),
                flag_reason=r[7],
                items=tuple(
                    VisitItem(
                        exercise_id=x[0], position=x[1], outcome=VisitOutcome(x[2]), side=x[3],
                        programme_item_id=x[4], reason=x[5], session_id=x[6], sets_done=x[7],
                        sets_target=x[8], reps_done=x[9], reps_target=x[10], fault_reps=x[11],
                        hold_s=_f(x[12]),
                    )
                    for x in items
                ),
                pain=tuple(PainScore(float(p[0]), p[1], p[2], p[3], int(r[0])) for p in pain),
            )
        )  # fmt: skip
    return tuple(out)
