"""Editing one programme item's dose from the dashboard's form: every field checked (whole
numbers where counts are meant, finite and positive values, a load band low <= high), the
change saved as a new active programme through ``Store.save_programme`` (the old one is kept)
and described for the audit log as before and after.

The fields are the dose the therapist view and the kiosk read from the programme; a field
added to ``ProgrammeItem`` later (issue 13's progression) is added to ``FIELDS`` here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from storage.records import ProgrammeItem


class DoseError(ValueError):
    """A form value that cannot be a dose; the message names the field."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the form field's name
    label: str
    unit: str
    whole: bool = False  # a count
    lo: float = 0.0
    hi: float = math.inf
    optional: bool = True  # empty: not part of the dose (NaN)


FIELDS = (
    Field("sets", "Sets", "", whole=True, lo=1, hi=20, optional=False),
    Field("reps", "Reps per set", "", whole=True, lo=1, hi=100, optional=False),
    Field("tempo_s", "Seconds per rep", "s", lo=0.5, hi=30),
    Field("hold_s", "Hold", "s", lo=0.5, hi=300),
    Field("load_low_n", "Load band low", "N", lo=0, hi=5000),
    Field("load_high_n", "Load band high", "N", lo=0, hi=5000),
    Field("range_target_deg", "Range target", "deg", lo=1, hi=180),
)


def form_values(item: ProgrammeItem) -> dict[str, str]:
    """The item's dose as the form shows it ("" for a value not set)."""
    raw = {
        "sets": item.sets,
        "reps": item.reps,
        "tempo_s": item.tempo_s,
        "hold_s": item.hold_s,
        "load_low_n": item.load_band_n[0],
        "load_high_n": item.load_band_n[1],
        "range_target_deg": item.range_target_deg,
    }
    return {k: "" if isinstance(v, float) and math.isnan(v) else f"{v:g}" for k, v in raw.items()}


def _number(f: Field, text: str) -> float:
    text = text.strip()
    if not text:
        if f.optional:
            return math.nan
        raise DoseError(f"{f.label}: expected a value")
    try:
        value = float(text)
    except ValueError:
        raise DoseError(f"{f.label}: expected a number, got {text[:20]!r}") from None
    if not math.isfinite(value) or not (f.lo <= value <= f.hi):
        raise DoseError(f"{f.label}: expected {f.lo:g} to {f.hi:g} {f.unit}".rstrip())
    if f.whole and value != int(value):
        raise DoseError(f"{f.label}: expected a whole number, got {text[:20]}")
    return value


def apply_form(item: ProgrammeItem, form: Mapping[str, str]) -> ProgrammeItem:
    """The item with the form's dose; ``DoseError`` names the first field that is wrong."""
    v = {f.name: _number(f, form.get(f.name, "")) for f in FIELDS}
    low, high = v["load_low_n"], v["load_high_n"]
    if math.isnan(low) != math.isnan(high):
        raise DoseError("Load band: expected both ends, or neither")
    if low > high:
        raise DoseError("Load band: expected low <= high")
    return replace(
        item,
        sets=int(v["sets"]),
        reps=int(v["reps"]),
        tempo_s=v["tempo_s"],
        hold_s=v["hold_s"],
        load_band_n=(low, high),
        range_target_deg=v["range_target_deg"],
        id=None,
    )


def changes(before: ProgrammeItem, after: ProgrammeItem) -> dict[str, list[str]]:
    """Field -> [before, after] for the fields that changed (the audit log's detail)."""
    a, b = form_values(before), form_values(after)
    return {k: [a[k], b[k]] for k in a if a[k] != b[k]}
