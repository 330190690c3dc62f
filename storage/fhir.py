"""HL7 FHIR R4 export: a Bundle with the Patient (pseudonym only), a Procedure per session and
an Observation per measurement.

Codes: LOINC where a code exists (pain score 72514-3), SNOMED CT for the procedure (229065009
exercise therapy), otherwise a SpineCoach code system; units are UCUM. References between
entries are ``urn:uuid:`` fullUrls, resolved within the bundle. An assessment test's
Observation carries its norm as ``referenceRange`` (the normal band as low and high, the
norm's mean, SD, source and age band in its text), the band position as ``interpretation``
(L, N, H) and percent of norm and z-score as components; one that could not be measured
says why in ``dataAbsentReason``.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.metrics import session_figures
from storage.records import Assessment, PainScore, PatientHistory, RepRecord, SessionRecord

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
OBS_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
# Identifier and code systems owned by the clinic's installation; a clinic may set its own.
PSEUDONYM_SYSTEM = "urn:spinecoach:patient-pseudonym"
MEASURE_SYSTEM = "urn:spinecoach:measure"
EXERCISE_SYSTEM = "urn:spinecoach:exercise"
FAULT_SYSTEM = "urn:spinecoach:form-fault"

# unit as stored -> (UCUM code, human-readable unit)
UCUM_UNITS = {
    "deg": ("deg", "deg"),
    "N": ("N", "N"),
    "s": ("s", "s"),
    "count": ("{#}", "{#}"),
    "%": ("%", "%"),
    "1": ("1", "1"),
    "score": ("{score}", "{score}"),
    "stands": ("{#}", "{#}"),
    "ratio": ("1", "1"),
}

# local measure code -> display
MEASURES = {
    "range-of-motion": "Range of motion",
    "max-isometric-force": "Maximum isometric force",
    "pain-free-range-of-motion": "Pain-free range of motion",
    "test-angle": "Angle of the isometric test",
    "rep": "Exercise repetition",
    "min-angle": "Minimum angle in repetition",
    "max-angle": "Maximum angle in repetition",
    "range-fraction": "Share of the range-of-motion target reached",
    "rep-duration": "Repetition duration",
    "hold-time": "Hold time",
    "peak-force": "Peak force",
    "tempo-ok": "Tempo within target",
    "form-score": "Form score against the reference movement (0-100)",
    "rep-counted": "Repetition counted",
    "form-fault": "Form fault",
    "reps-counted": "Repetitions counted in session",
    "max-range-of-motion": "Largest range of motion in session",
    "mean-rep-duration": "Mean repetition duration in session",
    "tempo-compliance": "Share of repetitions within tempo",
    "mean-peak-force": "Mean peak force in session",
    "mean-form-score": "Mean form score of counted repetitions in session (0-100)",
    "safety-event": "Safety event",
    "safety-limit": "Safety limit",
    "percent-of-norm": "Result as percent of the normative mean",
    "z-score": "Result as z-score against the norm",
}
PAIN_LOINC = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
# Assessment tests have no standard code we could verify: the protocol's test id, locally.
TEST_SYSTEM = "urn:spinecoach:assessment-test"
PROTOCOL_SYSTEM = "urn:spinecoach:assessment-protocol"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_INTERPRET = {"below": ("L", "Low"), "above": ("H", "High"), "within": ("N", "Normal")}
EXERCISE_THERAPY_SCT = ("229065009", "Exercise therapy")


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _instant(text: str) -> str:
    """Stored timestamps are ISO 8601 with offset already; normalise to FHIR's format."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat(timespec="milliseconds")


def _plus(text: str, seconds: float) -> str:
    if not math.isfinite(seconds):
        return _instant(text)
    return (datetime.fromisoformat(_instant(text)) + timedelta(seconds=seconds)).isoformat(
        timespec="milliseconds"
    )


def quantity(value: float, unit: str) -> dict[str, Any] | None:
    if value is None or not math.isfinite(value):
        return None
    q: dict[str, Any] = {"value": value if isinstance(value, int) else round(float(value), 4)}
    if unit in UCUM_UNITS:
        code, text = UCUM_UNITS[unit]
        q.update(unit=text, system=UCUM, code=code)
    elif unit:
        q["unit"] = unit  # no UCUM code: free text only, no system (qty-3)
    return q


def _local(code: str, text: str | None = None) -> dict[str, Any]:
    cc: dict[str, Any] = {
        "coding": [{"system": MEASURE_SYSTEM, "code": code, "display": MEASURES[code]}]
    }
    if text:
        cc["text"] = text
    return cc


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def _exercise(exercise_id: str, side: str) -> dict[str, Any]:
    text = f"{exercise_id} ({side})" if side else exercise_id
    return {"coding": [{"system": EXERCISE_SYSTEM, "code": exercise_id}], "text": text}


class _Builder:
    def __init__(self, bundle_type: str) -> None:
        if bundle_type not in ("collection", "transaction"):
            raise ValueError(f"bundle type: expected collection or transaction, got {bundle_type}")
        self.type = bundle_type
        self.entries: list[dict[str, Any]] = []

    def add(self, resource: dict[str, Any], if_none_exist: str | None = None) -> str:
        url = _urn()
        entry: dict[str, Any] = {"fullUrl": url, "resource": resource}
        if self.type == "transaction":  # bdl-3: request only (and always) in batch/transaction
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
            if if_none_exist:
                entry["request"]["ifNoneExist"] = if_none_exist
        self.entries.append(entry)
        return url

    def observation(
        self,
        subject: str,
        code: dict[str, Any],
        category: str,
        when: str,
        *,
        value: dict[str, Any] | None = None,
        components: list[dict[str, Any]] | None = None,
        part_of: str | None = None,
        method: dict[str, Any] | None = None,
    ) -> str | None:
        if value is None and not components:
            return None  # nothing measured: no Observation rather than an empty one
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": _category(category),
            "code": code,
            "subject": {"reference": subject},
            "effectiveDateTime": when,
        }
        if part_of:
            obs["partOf"] = [{"reference": part_of}]
        if method:
            obs["method"] = method
        if value is not None:
            obs["valueQuantity"] = value
        if components:
            obs["component"] = components
        return self.add(obs)


def _component(code: str, **value: Any) -> dict[str, Any] | None:
    ((kind, v),) = value.items()
    if v is None:
        return None
    return {"code": _local(code), kind: v}


def _rep_components(r: RepRecord) -> list[dict[str, Any]]:
    parts = [
        _component("range-of-motion", valueQuantity=quantity(r.rom_deg, "deg")),
        _component("min-angle", valueQuantity=quantity(r.min_angle_deg, "deg")),
        _component("max-angle", valueQuantity=quantity(r.max_angle_deg, "deg")),
        _component("range-fraction", valueQuantity=quantity(r.range_fraction, "1")),
        _component("rep-duration", valueQuantity=quantity(r.duration_s, "s")),
        _component("hold-time", valueQuantity=quantity(r.hold_s, "s")),
        _component("peak-force", valueQuantity=quantity(r.peak_force_n, "N")),
        _component("form-score", valueQuantity=quantity(r.form_score, "score")),
        _component("tempo-ok", valueBoolean=bool(r.tempo_ok)),
        _component("rep-counted", valueBoolean=bool(r.counted)),
    ]
    for key in r.faults:
        parts.append(
            _component(
                "form-fault",
                valueCodeableConcept={
                    "coding": [{"system": FAULT_SYSTEM, "code": key}],
                    "text": key,
                },
            )
        )
    return [p for p in parts if p is not None]


def _procedure(s: SessionRecord, subject: str) -> dict[str, Any]:
    info = s.info
    if info.status == "active":
        status = "in-progress"
    elif info.status == "finished" and info.end_reason in ("completed", ""):
        status = "completed"
    else:
        status = "stopped"  # interrupted by a crash, or stopped early (safety, patient)
    proc: dict[str, Any] = {
        "resourceType": "Procedure",
        "status": status,
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": EXERCISE_THERAPY_SCT[0],
                    "display": EXERCISE_THERAPY_SCT[1],
                }
            ],
            "text": f"Exercise therapy: {_exercise(info.exercise_id, info.side)['text']}",
        },
        "subject": {"reference": subject},
        "performedPeriod": {"start": _instant(info.started_at)},
    }
    if info.ended_at:
        proc["performedPeriod"]["end"] = _instant(info.ended_at)
    if status == "stopped" and info.end_reason:
        proc["statusReason"] = {"text": info.end_reason}
    return proc


def _assessment(b: _Builder, a: Assessment, subject: str) -> None:
    when = _instant(a.assessed_at)
    method = _exercise(a.exercise_id, a.side)
    b.observation(
        subject,
        _local("range-of-motion"),
        "exam",
        when,
        value=quantity(a.rom_deg, "deg"),
        method=method,
    )
    angle = _component("test-angle", valueQuantity=quantity(a.test_angle_deg, "deg"))
    b.observation(
        subject,
        _local("max-isometric-force"),
        "exam",
        when,
        value=quantity(a.max_force_n, "N"),
        method=method,
        components=[angle] if angle and math.isfinite(a.max_force_n) else None,
    )
    b.observation(
        subject,
        _local("pain-free-range-of-motion"),
        "exam",
        when,
        value=quantity(a.pain_free_rom_deg, "deg"),
        method=method,
    )


def _run_result(b: _Builder, run: Any, r: Any, subject: str) -> None:
    """One assessment test: the value with the norm as referenceRange (the normal band, or
    the norm's mean in words when it has no band), the band position as interpretation, or
    why it could not be measured (dataAbsentReason)."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": _category("exam"),
        "code": {
            "coding": [{"system": TEST_SYSTEM, "code": r.test_id, "display": r.label}],
            "text": r.label,
        },
        "subject": {"reference": subject},
        "effectiveDateTime": _instant(run.started_at),
        "method": {
            "coding": [{"system": PROTOCOL_SYSTEM, "code": run.protocol_id}],
            "text": f"{run.protocol_id} ({run.device})" if run.device else run.protocol_id,
        },
    }
    value = quantity(r.value, r.unit) if r.measured else None
    if value is None:
        obs["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT, "code": "not-performed"}],
            "text": r.reason or "not measured",
        }
        b.add(obs)
        return
    obs["valueQuantity"] = value
    if r.at_least:
        obs["valueQuantity"]["comparator"] = ">="
    if not r.no_norm:
        rr: dict[str, Any] = {
            "type": {"coding": [{"system": RANGE_MEANING, "code": "normal"}]},
            "text": _norm_text(run, r),
        }
        low, high = quantity(r.norm_low, r.unit), quantity(r.norm_high, r.unit)
        if low is not None:
            rr["low"] = low
        if high is not None:
            rr["high"] = high
        obs["referenceRange"] = [rr]
        if r.position in _INTERPRET:
            code, display = _INTERPRET[r.position]
            obs["interpretation"] = [
                {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}
            ]
        comps = [
            _component("percent-of-norm", valueQuantity=quantity(r.percent_of_norm, "%")),
            _component("z-score", valueQuantity=quantity(r.z_score, "1")),
        ]
        comps = [c for c in comps if c is not None]
        if comps:
            obs["component"] = comps
    else:
        obs["note"] = [{"text": f"No norm: {r.no_norm}"}]
    if r.flag_note:  # a clinic's own flag (an asymmetry), not a published band
        obs.setdefault("note", []).append({"text": r.flag_note})
        if r.position in _INTERPRET:
            code, display = _INTERPRET[r.position]
            obs["interpretation"] = [
                {
                    "coding": [{"system": INTERPRETATION, "code": code, "display": display}],
                    "text": "clinic setting, not a published norm",
                }
            ]
    b.add(obs)


def _norm_text(run: Any, r: Any) -> str:
    who = f"{run.sex or 'sex ?'}, {run.age_years if run.age_years is not None else '?'} years"
    mean = f"mean {r.norm_mean:g}" if math.isfinite(r.norm_mean) else "no mean"
    sd = f", SD {r.norm_sd:g}" if math.isfinite(r.norm_sd) else ""
    verified = "" if r.norm_verified else "; not verified against the paper"
    return f"Norm for {who} ({r.norm_test}): {mean}{sd}; {r.norm_source}{verified}"


def _pain(b: _Builder, p: PainScore, subject: str, part_of: str | None) -> None:
    code = {
        "coding": [{"system": LOINC, "code": PAIN_LOINC[0], "display": PAIN_LOINC[1]}],
        "text": f"Pain score ({p.moment})",
    }
    b.observation(
        subject,
        code,
        "survey",
        _instant(p.recorded_at),
        value=quantity(p.score, "score"),
        part_of=part_of,
    )


def _session(b: _Builder, s: SessionRecord, subject: str) -> None:
    proc = b.add(_procedure(s, subject))
    start = s.info.started_at
    when = _instant(s.info.ended_at or start)
    method = _exercise(s.info.exercise_id, s.info.side)
    f = session_figures(s)
    for code, q in (
        ("reps-counted", quantity(f.reps_counted, "count")),
        ("max-range-of-motion", quantity(f.max_rom_deg, "deg")),
        ("mean-rep-duration", quantity(f.mean_duration_s, "s")),
        ("tempo-compliance", quantity(f.tempo_compliance * 100.0, "%")),
        ("mean-peak-force", quantity(f.mean_peak_force_n, "N")),
        ("mean-form-score", quantity(f.mean_form_score, "score")),
    ):
        b.observation(subject, _local(code), "therapy", when, value=q, part_of=proc, method=method)
    for st in s.sets:
        for r in st.reps:
            b.observation(
                subject,
                _local("rep", f"Set {st.index} rep {r.index}"),
                "therapy",
                _plus(start, r.end_s),
                components=_rep_components(r),
                part_of=proc,
                method=method,
            )
    for e in s.safety_events:
        limit = _component("safety-limit", valueQuantity=quantity(e.limit, e.unit))
        q = quantity(e.value, e.unit)
        b.observation(
            subject,
            _local("safety-event", f"{e.kind}: {e.message}".strip(": ")),
            "therapy",
            _plus(start, e.t_s),
            value=q,
            components=[limit] if limit and q else None,
            part_of=proc,
            method=method,
        )
    for p in s.pain_scores:
        _pain(b, p, subject, proc)


def bundle(
    history: PatientHistory,
    *,
    bundle_type: str = "collection",
    identifier_system: str = PSEUDONYM_SYSTEM,
) -> dict[str, Any]:
    """The patient's whole record as a FHIR R4 Bundle (a JSON-ready dict)."""
    b = _Builder(bundle_type)
    code = history.patient.code
    patient = {
        "resourceType": "Patient",
        "meta": {
            "security": [{"system": OBS_VALUE, "code": "PSEUDED", "display": "pseudonymized"}]
        },
        "identifier": [
            {
                "type": {"coding": [{"system": OBS_VALUE, "code": "PSEUDED"}]},
                "system": identifier_system,
                "value": code,
            }
        ],
    }
    subject = b.add(patient, if_none_exist=f"identifier={identifier_system}|{code}")
    for a in history.assessments:
        _assessment(b, a, subject)
    for run in history.assessment_runs:
        for r in run.results:
            _run_result(b, run, r, subject)
    for p in history.pain_scores:
        if p.session_id is None:
            _pain(b, p, subject, None)
    for s in history.sessions:
        _session(b, s, subject)
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn()},
        "type": bundle_type,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "entry": b.entries,
    }
