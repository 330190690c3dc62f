"""Exports for clinic systems and spreadsheets: CSV (a folder of tables), JSON, FHIR R4.

Every file is written owner-only (0o600) and atomically (a temporary file renamed into
place), so an interrupted export never leaves a half-written file under the final name.
Display names never leave the database: exports carry the pseudonymous code only.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from storage import fhir, paths
from storage.base import Store
from storage.errors import StorageError
from storage.metrics import session_figures
from storage.records import Assessment, PatientHistory, RepRecord

FORMATS = ("csv", "json", "fhir")
CSV_FILES = (
    "sessions.csv",
    "reps.csv",
    "cues.csv",
    "safety_events.csv",
    "pain_scores.csv",
    "assessments.csv",
)
JSON_FORMAT_VERSION = 1


def _clean(x: Any) -> Any:
    """JSON has no NaN: a missing value becomes null, arrays become lists."""
    if isinstance(x, float):
        return None if not math.isfinite(x) else x
    if isinstance(x, np.ndarray):
        return [_clean(float(v)) for v in x.tolist()]
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def to_json_dict(h: PatientHistory, *, include_traces: bool = True) -> dict[str, Any]:
    sessions = []
    for s in h.sessions:
        d = {
            **asdict(s.info),
            "figures": asdict(session_figures(s)),
            "sets": [
                {
                    "index": st.index,
                    "target_reps": st.target_reps,
                    "load_band_n": list(st.load_band_n),
                    "started_s": st.started_s,
                    "reps": [{**asdict(r), "rom_deg": r.rom_deg} for r in st.reps],
                }
                for st in s.sets
            ],
            "cues": [asdict(c) for c in s.cues],
            "safety_events": [asdict(e) for e in s.safety_events],
            "pain_scores": [asdict(p) for p in s.pain_scores],
        }
        if include_traces:
            d["traces"] = [
                {"label": t.label, "unit": t.unit, "t": t.t, "values": t.values} for t in s.traces
            ]
        sessions.append(d)
    return _clean(
        {
            "format": "spinecoach-export",
            "format_version": JSON_FORMAT_VERSION,
            "exported_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "patient": {"code": h.patient.code, "created_at": h.patient.created_at},
            "programme": [asdict(p) for p in h.programme],
            "assessments": [asdict(a) for a in h.assessments],
            "pain_scores": [asdict(p) for p in h.pain_scores],
            "sessions": sessions,
        }
    )


def _cell(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return ""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, tuple | list):
        return ";".join(str(v) for v in x)
    return "" if x is None else x


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with paths.private_output(path) as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([_cell(v) for v in row])


def write_csv(h: PatientHistory, out: Path) -> list[Path]:
    """One CSV file per table in the folder ``out``; returns the files written."""
    if out.exists() and not out.is_dir():
        raise StorageError(f"CSV export: expected a folder at {out}, found a file", path=str(out))
    paths.ensure_private_dir(out)
    code = h.patient.code
    written = []

    def table(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        _write_csv(out / name, header, rows)
        written.append(out / name)

    info_cols = ["id", "exercise_id", "side", "started_at", "ended_at", "status", "end_reason"]
    fig_cols = [
        "reps_total",
        "reps_counted",
        "max_rom_deg",
        "mean_rom_deg",
        "mean_duration_s",
        "tempo_compliance",
        "mean_peak_force_n",
    ]
    table(
        "sessions.csv",
        ["patient", *[f"session_{c}" if c == "id" else c for c in info_cols], *fig_cols],
        (
            [
                code,
                *[getattr(s.info, c) for c in info_cols],
                *[getattr(session_figures(s), c) for c in fig_cols],
            ]
            for s in h.sessions
        ),
    )
    rep_cols = [f.name for f in fields(RepRecord)]
    table(
        "reps.csv",
        ["patient", "session_id", "exercise_id", "side", "set_index", *rep_cols, "rom_deg"],
        (
            [code, s.info.id, s.info.exercise_id, s.info.side, st.index]
            + [getattr(r, c) for c in rep_cols]
            + [r.rom_deg]
            for s in h.sessions
            for st in s.sets
            for r in st.reps
        ),
    )
    table(
        "cues.csv",
        ["patient", "session_id", "t_s", "key", "text", "severity"],
        ([code, s.info.id, c.t_s, c.key, c.text, c.severity] for s in h.sessions for c in s.cues),
    )
    table(
        "safety_events.csv",
        ["patient", "session_id", "t_s", "kind", "message", "value", "limit", "unit"],
        (
            [code, s.info.id, e.t_s, e.kind, e.message, e.value, e.limit, e.unit]
            for s in h.sessions
            for e in s.safety_events
        ),
    )
    table(
        "pain_scores.csv",
        ["patient", "session_id", "recorded_at", "moment", "score"],
        ([code, p.session_id, p.recorded_at, p.moment, p.score] for p in h.pain_scores),
    )
    table(
        "assessments.csv",
        ["patient", *[f.name for f in fields(Assessment)]],
        ([code, *_row(a)] for a in h.assessments),
    )
    return written


def _row(record: Any) -> list[Any]:
    return [getattr(record, f.name) for f in fields(record)]


def write_json(h: PatientHistory, out: Path) -> Path:
    with paths.private_output(out) as f:
        json.dump(to_json_dict(h), f, indent=1, allow_nan=False)
    return out


def write_fhir(h: PatientHistory, out: Path, *, bundle_type: str = "collection") -> Path:
    with paths.private_output(out) as f:
        json.dump(fhir.bundle(h, bundle_type=bundle_type), f, indent=1, allow_nan=False)
    return out


def export_patient(
    store: Store, patient_code: str, fmt: str, out: Path, *, bundle_type: str = "collection"
) -> list[Path]:
    """Export one patient's record; returns the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"export format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    for target in [out, *(out / name for name in CSV_FILES)] if fmt == "csv" else [out]:
        # Never write over the database or its journals, nor replace a device node or a pipe.
        store.check_output(target, folder_ok=fmt == "csv" and target == out)
    h = store.history(patient_code)
    if fmt == "csv":
        return write_csv(h, out)
    if fmt == "json":
        return [write_json(h, out)]
    return [write_fhir(h, out, bundle_type=bundle_type)]
