"""The assessment and progress reports (PDF and PNG), the session report's axis for a single
visit, and the FHIR Observations of an assessment with the norm as referenceRange."""

from __future__ import annotations

import io
import json
import math

import pytest
from matplotlib.patches import Rectangle

from app import clinic_demo
from assessment.norms import Sex, load_norms
from assessment.protocols import get_protocol
from assessment.results import TestResult
from clinic.assessments import save_run
from storage import open_store
from storage.clinic_report import assessment_figure, progress_figure
from storage.report import overview_figure
from tests.helpers import run_main

CODE = "4711"


@pytest.fixture
def demo(tmp_path):
    db = tmp_path / "clinic.sqlite"
    with open_store(db) as store:
        clinic_demo.run(store, CODE, out=io.StringIO())
    return db


def _camera_run(store, code: str, sex: str, birth_year: int):
    """A floor screen with a chair stand and side bridges: tests the norm file has norms for."""
    store.ensure_patient(code)
    store.set_patient_details(code, sex=sex, birth_year=birth_year)
    protocol = get_protocol("camera_floor_screen")
    results = [
        TestResult(
            "chair_stand_30s", "camera_count", "30-second chair stand", "stands", 9.0, trials=(9.0,)
        ),
        TestResult(
            "side_bridge_right",
            "camera_hold",
            "Side bridge, right side down",
            "s",
            60.0,
            trials=(60.0,),
        ),
        TestResult(
            "side_bridge_left",
            "camera_hold",
            "Side bridge, left side down",
            "s",
            80.0,
            trials=(80.0,),
        ),
    ]
    return save_run(store, code, protocol, results, device="camera 0")


def _texts(fig) -> str:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
        for table in ax.tables:
            out += [c.get_text().get_text() for c in table.get_celld().values()]
    return "\n".join(out)


def test_assessment_report_reads_like_a_clinic_document(demo, tmp_path) -> None:
    with open_store(demo) as store:
        run = store.assessment_runs(CODE)[-1]
        p = store.get_patient(CODE)
    fig = assessment_figure(CODE, p.sex, p.birth_year, run)
    text = _texts(fig)
    assert f"Assessment - patient {CODE} (female, {run.age_years} years)" in text
    assert "machine_lumbar_extension" in text and "norm file version 1" in text
    assert "Extension strength at 36 deg" in text and "no norm: see note" in text
    assert "outside the pain-free range measured" in text
    assert "No result of this assessment has a norm" in text  # says why the plot is empty
    for out in ("a.pdf", "a.png"):
        proc = run_main(
            "report",
            "--patient",
            CODE,
            "--db",
            str(demo),
            "--kind",
            "assessment",
            "--out",
            str(tmp_path / out),
        )
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")


def test_the_normal_band_is_drawn_and_the_table_gives_the_norm(tmp_path) -> None:
    with open_store(tmp_path / "c.sqlite") as store:
        saved = _camera_run(store, "5150", "female", 1998)  # 28 years: McGill's norms apply
        run = store.assessment_runs("5150")[-1]
    norm = load_norms().lookup("side_bridge_endurance_right", Sex.FEMALE, run.age_years)
    right = run.result("side_bridge_right")
    assert right.percent_of_norm == pytest.approx(100 * 60.0 / norm.mean)
    fig = assessment_figure("5150", "female", 1998, run)
    text = _texts(fig)
    assert f"{norm.mean:g} ({norm.sd:g})" in text and f"{right.percent_of_norm:.0f} %" in text
    ax = next(a for a in fig.axes if a.get_title() == "Patient against the norm")
    bands = [p for p in ax.patches if isinstance(p, Rectangle)]
    # One band per normed test, in percent of the norm's mean: (mean - 2 SD) to (mean + 2 SD).
    low = 100 * (norm.mean - 2 * norm.sd) / norm.mean
    assert any(math.isclose(b.get_x(), low, abs_tol=0.01) for b in bands)
    ratio = next(c for c in saved.compared if c.result.test_id == "side_bridge_ratio")
    assert ratio.result.value == pytest.approx(60.0 / 80.0)
    assert "Side bridge, right / left" in text


def test_progress_report_has_whole_visits_on_its_axes(demo, tmp_path) -> None:
    with open_store(demo) as store:
        fig = progress_figure(store, CODE)
        visits = store.visits(CODE)
    text = _texts(fig)
    assert f"Progress - patient {CODE}" in text and "3 visit(s)" in text
    assert "1 flagged for the therapist" in text and "pain rose by 3 points" in text
    assert "start: 1 x 20" in text and "now: 1 x 20" in text
    for title in (
        "Pain before and after each visit",
        "Dose at each visit",
        "Form quality per visit",
    ):
        ax = next(a for a in fig.axes if a.get_title() == title)
        assert ax.get_xlim() == (0.5, 3.5)
        assert [round(t) for t in ax.get_xticks()] == [1, 2, 3]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels[0].startswith("1\n") and visits[0].started_at[5:10] in labels[0]
    proc = run_main(
        "report",
        "--patient",
        CODE,
        "--db",
        str(demo),
        "--kind",
        "progress",
        "--out",
        str(tmp_path / "p.pdf"),
    )
    assert proc.returncode == 0 and (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")


def test_a_one_visit_report_has_a_whole_visit_axis_and_says_why_a_plot_is_empty(tmp_path) -> None:
    with open_store(tmp_path / "one.sqlite") as store:
        clinic_demo.run(store, CODE, visit_pain=((3.0, 3.0),), out=io.StringIO())
        fig = progress_figure(store, CODE)
        overview = overview_figure(store.history(CODE))
    pain = next(a for a in fig.axes if a.get_title() == "Pain before and after each visit")
    assert pain.get_xlim() == (0.5, 1.5) and list(pain.get_xticks()) == [1]
    # The session report's overview: before, a single session drew 0.945-1.05.
    for ax in overview.axes:
        if ax.get_xlabel() == "session":
            assert ax.get_xlim() == (0.5, 1.5), ax.get_title()
    with open_store(tmp_path / "none.sqlite") as store:
        store.ensure_patient("9")
        empty = progress_figure(store, "9")
    assert "No visits yet" in _texts(empty)


def test_fhir_observations_carry_the_norm_as_reference_range(tmp_path) -> None:
    db = tmp_path / "c.sqlite"
    with open_store(db) as store:
        _camera_run(store, "5150", "female", 1954)  # 72 years: the chair stand's norm applies
    out = tmp_path / "b.json"
    proc = run_main(
        "export", "--patient", "5150", "--db", str(db), "--format", "fhir", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    obs = {
        e["resource"]["code"]["coding"][0]["code"]: e["resource"]
        for e in json.loads(out.read_text())["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["system"] == "urn:spinecoach:assessment-test"
    }
    norm = load_norms().lookup("chair_stand_30s", Sex.FEMALE, 72)
    chair = obs["chair_stand_30s"]
    (rr,) = chair["referenceRange"]
    assert (rr["low"]["value"], rr["high"]["value"]) == (norm.normal_low, norm.normal_high)
    assert rr["type"]["coding"][0]["code"] == "normal" and "Rikli" in rr["text"]
    expected = "L" if norm.normal_low > 9.0 else "N"
    assert chair["interpretation"][0]["coding"][0]["code"] == expected
    assert chair["valueQuantity"]["code"] == "{#}"
    # Side bridges at 72: McGill's norms are for young adults: no norm, said in a note.
    bridge = obs["side_bridge_right"]
    assert "referenceRange" not in bridge and "No norm" in bridge["note"][0]["text"]
    # Not measured: why, not a value.
    flexion = obs["trunk_flexion"]
    assert "valueQuantity" not in flexion
    assert flexion["dataAbsentReason"]["coding"][0]["code"] == "not-performed"


def test_make_screenshots_draws_the_clinic_screens_and_both_report_pages(tmp_path) -> None:
    import numpy as np
    import pygame

    from app import clinic_screenshots

    assert clinic_screenshots.main([str(tmp_path)]) == 0
    expected = {
        "assessment_instruction",
        "assessment_countdown",
        "assessment_live_strength",
        "assessment_rest",
        "assessment_result_strength",
        "assessment_summary",
        "assessment_safety_stop",
        "visit_pain_scale",
        "visit_next_item",
        "visit_skip_reason",
        "visit_summary",
        "programme_view",
        "visit_no_programme",
        "report_assessment",
        "report_progress",
    }
    written = {p.stem for p in tmp_path.glob("*.png")}
    assert expected <= written
    pygame.init()
    for name in expected:
        img = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / f"{name}.png")))
        assert np.unique(img.reshape(-1, 3), axis=0).shape[0] > 8, name  # drawn, not blank
    pygame.quit()
