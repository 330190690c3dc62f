"""Dose editing from the dashboard's form (every field checked, before and after for the
audit log), the history plot for a patient without sessions and with one, and the shipped
alarm sound being the screens' alarm."""

from __future__ import annotations

import math

import pytest

from dashboard import dose
from dashboard.alert_sound import ALERT_WAV, alert_wav_bytes
from dashboard.plots import history_svg
from storage.records import Patient, PatientHistory, ProgrammeItem

ITEM = ProgrammeItem("lumbar_extension", sets=2, reps=20, tempo_s=4.8, load_band_n=(80.0, 160.0),
                     range_target_deg=40.0, id=7)  # fmt: skip


def _form(**kw: str) -> dict[str, str]:
    return {**dose.form_values(ITEM), **kw}


def test_a_form_becomes_a_checked_dose_with_its_changes() -> None:
    assert dose.form_values(ITEM)["hold_s"] == ""  # not set: empty, never 0
    new = dose.apply_form(ITEM, _form(reps="15", hold_s="", load_high_n="150"))
    assert (new.sets, new.reps, new.load_band_n, new.id) == (2, 15, (80.0, 150.0), None)
    assert math.isnan(new.hold_s)
    assert dose.changes(ITEM, new) == {"reps": ["20", "15"], "load_high_n": ["160", "150"]}
    assert dose.changes(ITEM, dose.apply_form(ITEM, _form())) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reps", "", "Reps per set: expected a value"),
        ("reps", "12.5", "Reps per set: expected a whole number"),
        ("sets", "0", "Sets: expected 1 to 20"),
        ("tempo_s", "nan", "Seconds per rep: expected 0.5 to 30 s"),
        ("tempo_s", "inf", "Seconds per rep: expected 0.5 to 30 s"),
        ("range_target_deg", "forty", "Range target: expected a number"),
        ("load_low_n", "", "Load band: expected both ends, or neither"),
        ("load_low_n", "170", "Load band: expected low <= high"),
    ],
)
def test_a_value_that_cannot_be_a_dose_is_refused_by_name(field, value, message) -> None:
    with pytest.raises(dose.DoseError, match=f"^{message}"):
        dose.apply_form(ITEM, _form(**{field: value}))


def test_history_plot_without_sessions_says_so() -> None:
    svg = history_svg(PatientHistory(Patient("LBP-1"), programme=(ITEM,))).decode()
    assert svg.startswith("<?xml") and "no reps recorded yet" in svg
    assert "no pain scores recorded" in svg


def test_the_shipped_alarm_is_the_screens_alarm() -> None:
    assert ALERT_WAV.read_bytes() == alert_wav_bytes()  # python -m dashboard.alert_sound
