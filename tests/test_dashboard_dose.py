"""The dashboard's dose form (read into numbers, every refusal naming its field; what dose is
allowed is the clinic's, checked through ``clinic.programme.set_dose`` on both backends), the
history plot for a patient without sessions and with one, and the shipped alarm sound being
the screens' alarm."""

from __future__ import annotations

import math

import pytest

from clinic import programme as prog
from clinic.errors import ProgrammeError
from dashboard import dose
from dashboard.alert_sound import ALERT_WAV, alert_wav_bytes
from dashboard.plots import history_figure, history_svg
from storage.records import Patient, PatientHistory, ProgrammeItem, RepRecord

ITEM = ProgrammeItem("lumbar_extension", sets=2, reps=20, tempo_s=4.8, load_band_n=(80.0, 160.0),
                     range_target_deg=40.0, id=7)  # fmt: skip


def _form(**kw: str) -> dict[str, str]:
    return {**dose.form_values(ITEM), **kw}


def test_a_form_becomes_the_changes_of_a_dose() -> None:
    assert dose.form_values(ITEM)["hold_s"] == ""  # not set: empty, never 0
    changed = dose.read_form(ITEM, _form(reps="15", hold_s="", load_high_n="150"))
    assert changed == {"reps": 15, "load_band_n": (80.0, 150.0)}
    assert isinstance(changed["reps"], int)
    assert dose.read_form(ITEM, _form()) == {}
    cleared = dose.read_form(ITEM, _form(range_target_deg=" "))
    assert list(cleared) == ["range_target_deg"] and math.isnan(cleared["range_target_deg"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reps", "", "Reps per set: expected a value"),
        ("reps", "12.5", "Reps per set: expected a whole number"),
        ("sets", "nan", "Sets: expected a number, got 'nan'"),
        ("hold_s", "inf", "Hold: expected a number, got 'inf'"),
        ("range_target_deg", "forty", "Range target: expected a number, got 'forty'"),
        ("range_target_deg", "NaN", "Range target: expected a number, got 'NaN'"),
        ("load_high_n", "-inf", "Load band high: expected a number"),
    ],
)
def test_text_that_is_not_a_number_is_refused_by_name(field, value, message) -> None:
    with pytest.raises(dose.DoseError, match=f"^{message}"):
        dose.read_form(ITEM, _form(**{field: value}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"range_target_deg": "50"}, "range target 50 deg must stay below the pain-free limit 50"),
        ({"range_target_deg": "75"}, "must stay below the pain-free limit"),
        ({"load_high_n": "300"}, "load band top 300 N reaches the load that stops the exercise"),
        ({"load_low_n": "170"}, "load band: expected 0 < low < high"),
        ({"load_low_n": ""}, "load band: expected both ends or neither"),
        ({"sets": "0"}, "sets: expected 1 to 10"),
        ({"reps": "1000000000"}, "reps: expected 1 to 100"),
        ({"hold_s": "-5"}, "hold_s: expected a number >= 0"),
        ({"hold_s": "3600"}, "hold_s: expected at most 300"),
    ],
)
def test_the_form_goes_through_the_clinics_checks(backend, fields, message) -> None:
    """The dashboard's dose is the clinic's: refused by ``set_dose`` with one line, the
    programme and its history unchanged (a SQLite file and a PostgreSQL database)."""
    item = ProgrammeItem(
        "lumbar_extension", sets=1, reps=20, load_band_n=(80.0, 160.0), range_target_deg=40.0,
        pain_free_limit_deg=50.0, tested_max_n=400.0,  # the exercise stops at 75 %: 300 N
    )  # fmt: skip
    with backend.open() as store:
        store.ensure_patient("LBP-1")
        (saved,) = store.save_programme("LBP-1", [item], "start")
        before = store.active_programme("LBP-1")
        changed = dose.read_form(saved, {**dose.form_values(saved), **fields})
        with pytest.raises(ProgrammeError, match=message):
            prog.set_dose(store, "LBP-1", "lumbar_extension", "", changed, by="anna",
                          reason="hostile", based_on=before.id)  # fmt: skip
        assert store.active_programme("LBP-1") == before
        assert store.dose_changes("LBP-1") == ()


def test_history_plot_without_sessions_says_so() -> None:
    svg = history_svg(PatientHistory(Patient("LBP-1"), programme=(ITEM,))).decode()
    assert svg.startswith("<?xml") and "no reps recorded yet" in svg
    assert "no pain scores recorded" in svg


def _rep(index: int, score: float, counted: bool = True) -> RepRecord:
    return RepRecord(index, index * 4.0, index * 4.0 + 3.5, 95.0, 170.0, 0.9, 3.5, True, counted,
                     form_score=score)  # fmt: skip


def test_form_quality_is_the_mean_form_score_and_says_no_score_without_one(backend) -> None:
    """Sessions stored with their reps' form scores (and one whose reps have none: an exercise
    file without a reference movement, a session stored before reps were scored)."""
    with backend.open() as store:
        for reps in (
            [_rep(1, 80.0), _rep(2, 60.0), _rep(3, 5.0, counted=False)],
            [_rep(1, math.nan), _rep(2, math.nan)],
            [_rep(1, 90.0), _rep(2, math.nan)],  # the reps that have one
        ):
            with store.begin_session("LBP-1", "squat") as writer:
                writer.begin_set(target_reps=len(reps))
                for r in reps:
                    writer.add_rep(r)
        history = store.history("LBP-1")
    form = history_figure(history).axes[3]
    bars = [(p.get_x() + p.get_width() / 2, p.get_height()) for p in form.patches]
    assert bars == [(1.0, pytest.approx(70.0)), (3.0, pytest.approx(90.0))]
    assert [(t.get_text(), t.get_position()[0]) for t in form.texts] == [("no score", 2)]
    assert form.get_ylim() == (0.0, 100.0)
    svg = history_svg(history).decode()
    assert "mean form score" in svg and "no score" in svg


def test_the_shipped_alarm_is_the_screens_alarm() -> None:
    assert ALERT_WAV.read_bytes() == alert_wav_bytes()  # python -m dashboard.alert_sound
