"""The dashboard's dose form: a programme item's dose as the form shows it, and the form's text
read back as numbers (``DoseError`` names the field that is not one).

Only the reading of the form lives here. What dose is allowed (sets and reps, a range target
below the pain-free limit, a load band below the load that stops the exercise) and how a
change is stored (who, when, why; a waiting proposal overridden) is
``clinic.programme.set_dose``'s, as for the command line and the kiosk's therapist view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from storage.records import ProgrammeItem


class DoseError(ValueError):
    """A form value that is not a number; the message names the field."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the form field's name
    label: str
    unit: str
    whole: bool = False  # a count
    optional: bool = True  # empty: not part of the dose (NaN)


# The dose clinic.programme.EDITABLE lets a therapist set, as the kiosk's programme view edits
# it; the pain-free limit is shown beside it, not edited here.
FIELDS = (
    Field("sets", "Sets", "", whole=True, optional=False),
    Field("reps", "Reps per set", "", whole=True, optional=False),
    Field("hold_s", "Hold", "s"),
    Field("load_low_n", "Load band low", "N"),
    Field("load_high_n", "Load band high", "N"),
    Field("range_target_deg", "Range target", "deg"),
)


def _dose(item: ProgrammeItem) -> dict[str, float]:
    return {
        "sets": item.sets,
        "reps": item.reps,
        "hold_s": item.hold_s,
        "load_low_n": item.load_band_n[0],
        "load_high_n": item.load_band_n[1],
        "range_target_deg": item.range_target_deg,
    }


def form_values(item: ProgrammeItem) -> dict[str, str]:
    """The item's dose as the form shows it ("" for a value not set)."""
    return {k: "" if math.isnan(v) else f"{v:g}" for k, v in _dose(item).items()}


def _number(f: Field, text: str) -> float:
    text = text.strip()
    if not text:
        if f.optional:
            return math.nan
        raise DoseError(f"{f.label}: expected a value")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan" and "inf" are words, not doses
        raise DoseError(f"{f.label}: expected a number, got {text[:20]!r}")
    if f.whole and value != int(value):
        raise DoseError(f"{f.label}: expected a whole number, got {text[:20]}")
    return value


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def read_form(item: ProgrammeItem, form: Mapping[str, str]) -> dict[str, object]:
    """What the form changes in the item's dose, as ``clinic.programme.set_dose`` takes it."""
    v = {f.name: _number(f, form.get(f.name, "")) for f in FIELDS}
    now = _dose(item)
    out: dict[str, object] = {}
    for name in ("sets", "reps"):
        if v[name] != now[name]:
            out[name] = int(v[name])
    for name in ("hold_s", "range_target_deg"):
        if not _same(v[name], now[name]):
            out[name] = v[name]
    band = (v["load_low_n"], v["load_high_n"])
    if not all(_same(a, b) for a, b in zip(band, item.load_band_n, strict=True)):
        out["load_band_n"] = band
    return out


def changes(before: ProgrammeItem, after: ProgrammeItem) -> dict[str, list[str]]:
    """Field -> [before, after] for the fields that changed (the audit log's detail)."""
    a, b = form_values(before), form_values(after)
    return {k: [a[k], b[k]] for k in a if a[k] != b[k]}
