"""Exports from a real database: FHIR R4 Bundle structure against the R4 rules the export
relies on, JSON and CSV contents against the store, owner-only files, no names."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devtools.storage_demo import record_demo_patient
from storage import StorageError, open_store
from storage.export import export_patient
from tests.storage_backends import Backend

NAME = "Ann Example"
CODE = "LBP-042"

# R4 value sets (required bindings) for the elements the export fills.
BUNDLE_TYPES = {
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
}
OBS_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
PROC_STATUS = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
OBS_CATEGORIES = {
    "social-history",
    "vital-signs",
    "imaging",
    "laboratory",
    "procedure",
    "survey",
    "exam",
    "therapy",
    "activity",
}
HTTP_VERBS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
UCUM_USED = {"deg", "N", "s", "{#}", "%", "1", "{score}"}
COMPONENT_VALUES = {
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
}
# R4 dateTime / instant regular expressions (datatypes page).
DATETIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3])"
    r":[0-5][0-9]|14:00)))?)?)?"
)
INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|"
    r"1[0-3]):[0-5][0-9]|14:00))"
)
URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CODE_TYPE = re.compile(r"[^\s]+( [^\s]+)*")
URI = re.compile(r"[a-z][a-z0-9+.-]*:\S+")


def _loinc_check_digit(body: str) -> int:
    """LOINC's mod-10 check digit (the number after the hyphen)."""
    digits = [int(c) for c in body]
    total = 0
    for pos, d in enumerate(reversed(digits)):
        if pos % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


_VD = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VP = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def _snomed_valid(sctid: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit; '00' before it marks a concept."""
    c = 0
    for i, ch in enumerate(reversed(sctid)):
        c = _VD[c][_VP[i % 8][int(ch)]]
    return c == 0 and sctid[-3:-1] == "00"


@pytest.fixture
def db(backend: Backend) -> str:
    """The same patient on a SQLite file and on a PostgreSQL database."""
    with backend.open() as store:
        store.ensure_patient(CODE, display_name=NAME)
        record_demo_patient(store, CODE, sessions=3, seed=7)
        store.add_pain_score(CODE, 2.5, moment="assessment")
        w = store.begin_session(CODE, "squat")  # left unfinished: a crash
        w.abandon("writer stopped without finishing (crash or power loss)")
    return backend.url


def _walk(node: Any, key: str) -> list[Any]:
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found += _walk(v, key)
    elif isinstance(node, list):
        for v in node:
            found += _walk(v, key)
    return found


def _check_coding(coding: dict[str, Any]) -> None:
    assert URI.fullmatch(coding["system"]), coding
    assert CODE_TYPE.fullmatch(coding["code"]), coding
    if coding["system"] == "http://loinc.org":
        body, check = coding["code"].split("-")
        assert _loinc_check_digit(body) == int(check), coding
    if coding["system"] == "http://snomed.info/sct":
        assert _snomed_valid(coding["code"]), coding
    if coding["system"] == "http://terminology.hl7.org/CodeSystem/observation-category":
        assert coding["code"] in OBS_CATEGORIES


def _check_quantity(q: dict[str, Any]) -> None:
    assert isinstance(q["value"], int | float) and math.isfinite(q["value"])
    if "code" in q:
        assert "system" in q  # qty-3
    if q.get("system") == "http://unitsofmeasure.org":
        assert q["code"] in UCUM_USED


def check_r4_bundle(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Checks the R4 rules this export relies on; returns resources by type."""
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] in BUNDLE_TYPES
    assert INSTANT.fullmatch(bundle["timestamp"])
    assert "total" not in bundle  # bdl-1: only for search and history
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)  # bdl-7
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in bundle["entry"]:
        assert URN_UUID.fullmatch(e["fullUrl"])
        assert "search" not in e and "response" not in e  # bdl-2, bdl-4
        if bundle["type"] in ("transaction", "batch"):  # bdl-3
            assert e["request"]["method"] in HTTP_VERBS and e["request"]["url"]
        else:
            assert "request" not in e
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    # Every reference resolves to an entry of the bundle.
    for ref in _walk(bundle["entry"], "reference"):
        assert ref in by_url, ref
    for cc in _walk(bundle["entry"], "coding"):
        for coding in cc:
            _check_coding(coding)
    for key in ("valueQuantity",):
        for q in _walk(bundle["entry"], key):
            _check_quantity(q)

    for obs in by_type.get("Observation", []):
        assert obs["status"] in OBS_STATUS
        assert obs["code"].get("coding") or obs["code"].get("text")
        assert by_url[obs["subject"]["reference"]]["resourceType"] == "Patient"
        assert DATETIME.fullmatch(obs["effectiveDateTime"])
        assert not ("dataAbsentReason" in obs and "valueQuantity" in obs)  # obs-6
        assert "valueQuantity" in obs or obs.get("component")
        for comp in obs.get("component", []):
            assert comp["code"] != obs["code"]  # obs-7
            values = [k for k in comp if k.startswith("value")]
            assert len(values) == 1 and values[0] in COMPONENT_VALUES, comp
        for part in obs.get("partOf", []):
            assert by_url[part["reference"]]["resourceType"] == "Procedure"
    for proc in by_type.get("Procedure", []):
        assert proc["status"] in PROC_STATUS
        assert by_url[proc["subject"]["reference"]]["resourceType"] == "Patient"
        period = proc["performedPeriod"]
        assert DATETIME.fullmatch(period["start"])
        if "end" in period:
            assert period["end"] >= period["start"]
    return by_type


def _local_code(obs: dict[str, Any]) -> str:
    return obs["code"]["coding"][0]["code"]


def test_fhir_bundle_structure_and_content(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out" / "bundle.json"
    with open_store(db) as store:
        export_patient(store, CODE, "fhir", out)
        history = store.history(CODE)
    bundle = json.loads(out.read_text())
    by_type = check_r4_bundle(bundle)
    assert bundle["type"] == "collection"

    (patient,) = by_type["Patient"]
    assert patient["identifier"][0]["value"] == CODE
    assert not {"name", "telecom", "address", "birthDate", "photo"} & patient.keys()
    assert NAME not in out.read_text()

    procedures = by_type["Procedure"]
    assert len(procedures) == len(history.sessions) == 4
    assert [p["status"] for p in procedures] == ["completed"] * 3 + ["stopped"]
    assert procedures[3]["statusReason"]["text"].startswith("writer stopped")

    obs = by_type["Observation"]
    codes = Counter(_local_code(o) for o in obs)
    n_reps = sum(len(s.reps) for s in history.sessions)
    assert codes["rep"] == n_reps == 48
    assert codes["72514-3"] == len(history.pain_scores) == 7
    assert codes["safety-event"] == 1
    assert codes["range-of-motion"] == codes["max-isometric-force"] == 1
    # Session figures equal what the store holds.
    reps_counted = [o for o in obs if _local_code(o) == "reps-counted"]
    assert [o["valueQuantity"]["value"] for o in reps_counted] == [
        sum(r.counted for r in s.reps) for s in history.sessions
    ]
    assert reps_counted[0]["valueQuantity"]["code"] == "{#}"
    first_rep = next(o for o in obs if _local_code(o) == "rep")
    stored = history.sessions[0].sets[0].reps[0]
    comps = {c["code"]["coding"][0]["code"]: c for c in first_rep["component"]}
    assert comps["peak-force"]["valueQuantity"] == {
        "value": round(stored.peak_force_n, 4),
        "unit": "N",
        "system": "http://unitsofmeasure.org",
        "code": "N",
    }
    assert comps["range-of-motion"]["valueQuantity"]["code"] == "deg"
    assert comps["rep-duration"]["valueQuantity"]["code"] == "s"
    assert comps["tempo-ok"]["valueBoolean"] is stored.tempo_ok
    assert out.stat().st_mode & 0o777 == 0o600


def test_fhir_transaction_bundle(db: str, tmp_path: Path) -> None:
    out = tmp_path / "tx.json"
    with open_store(db) as store:
        export_patient(store, CODE, "fhir", out, bundle_type="transaction")
    bundle = json.loads(out.read_text())
    check_r4_bundle(bundle)
    patient_entry = bundle["entry"][0]
    assert patient_entry["request"] == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": f"identifier=urn:spinecoach:patient-pseudonym|{CODE}",
    }
    assert {e["request"]["url"] for e in bundle["entry"]} == {"Patient", "Observation", "Procedure"}


def test_checker_rejects_broken_bundles(db: str, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    with open_store(db) as store:
        export_patient(store, CODE, "fhir", out)
    good = out.read_text()
    breakages = [
        lambda b: b["entry"][1]["resource"]["subject"].update(reference="urn:uuid:nowhere"),
        lambda b: b["entry"][1]["resource"].update(status="done"),
        lambda b: b["entry"][2].update(fullUrl=b["entry"][1]["fullUrl"]),
        lambda b: b["entry"][1].update(request={"method": "POST", "url": "Observation"}),
        lambda b: b["entry"][1]["resource"]["valueQuantity"].pop("system"),
        lambda b: b["entry"][1]["resource"].update(effectiveDateTime="2026-13-01T00:00:00Z"),
    ]
    for breakage in breakages:
        b = json.loads(good)
        breakage(b)
        with pytest.raises((AssertionError, KeyError)):
            check_r4_bundle(b)
    assert _loinc_check_digit("72514") == 3 and _loinc_check_digit("72515") != 3
    assert _snomed_valid("229065009") and not _snomed_valid("229065008")


def test_json_export_matches_the_store(db: str, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    with open_store(db) as store:
        export_patient(store, CODE, "json", out)
        history = store.history(CODE)
    text = out.read_text()
    assert NAME not in text and "NaN" not in text
    data = json.loads(text)
    assert data["patient"] == {"code": CODE, "created_at": history.patient.created_at}
    assert len(data["sessions"]) == 4
    s0, h0 = data["sessions"][0], history.sessions[0]
    assert [r["max_angle_deg"] for st in s0["sets"] for r in st["reps"]] == [
        r.max_angle_deg for r in h0.reps
    ]
    assert s0["traces"][0]["values"] == [float(v) for v in h0.traces[0].values]
    assert s0["sets"][0]["reps"][0]["hold_s"] == 1.0
    assert data["sessions"][3]["status"] == "interrupted"
    assert data["sessions"][3]["figures"]["max_rom_deg"] is None  # NaN -> null
    assert out.stat().st_mode & 0o777 == 0o600


def test_csv_export_matches_the_store(db: str, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    with open_store(db) as store:
        files = export_patient(store, CODE, "csv", out)
        history = store.history(CODE)
    assert {f.name for f in files} == {
        "sessions.csv",
        "reps.csv",
        "cues.csv",
        "safety_events.csv",
        "pain_scores.csv",
        "assessments.csv",
    }
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o600
        assert NAME not in f.read_text()
    assert out.stat().st_mode & 0o777 == 0o700
    with open(out / "reps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    reps = [r for s in history.sessions for r in s.reps]
    assert len(rows) == len(reps)
    assert [float(r["peak_force_n"]) for r in rows] == [r.peak_force_n for r in reps]
    assert [r["faults"] for r in rows] == [";".join(r.faults) for r in reps]
    with open(out / "sessions.csv", newline="") as f:
        sessions = list(csv.DictReader(f))
    assert sessions[3]["status"] == "interrupted" and sessions[3]["max_rom_deg"] == ""
    with pytest.raises(StorageError, match="expected a folder"), open_store(db) as store:
        export_patient(store, CODE, "csv", out / "reps.csv")
