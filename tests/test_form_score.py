"""Form score per rep: the reference scores full marks against itself, a rep scores lower the
further it strays, and on the labelled recordings correct executions outscore incorrect
ones; the score reaches the rep events and the headless summary."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.form_score import by_movement, roc_auc, run
from exercises.library import get_exercise
from exercises.reference import ASPECT, REFERENCES, load_reference
from session.engine import SessionConfig, SessionEngine
from session.events import EndInput, HoldDone, RepDone
from session.form_score import FormScorer, resample
from session.reference_check import replay_reference
from session.reference_inputs import reference_inputs
from tests.helpers import TESTDATA

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"
OPEN = SessionConfig(setup_s=0, countdown_s=0, open_ended=True)


def _replayed(ex_id: str, text: str | None, tmp_path: Path) -> SessionEngine:
    ex = get_exercise(ex_id)
    path = tmp_path / f"{ex_id}.toml"
    path.write_text(text if text is not None else (REFERENCES / f"{ex_id}.toml").read_text())
    return replay_reference(ex, load_reference(ex, path)).engine


@pytest.mark.parametrize("exercise_id", ["squat", "bird_dog", "trunk_rotation", "rotation_left"])
def test_the_reference_scores_full_marks_against_itself(exercise_id):
    ex = get_exercise(exercise_id)
    eng = replay_reference(ex, load_reference(ex)).engine
    assert [round(r.form_score, 6) for r in eng.reps] == [100.0]


def test_a_hold_is_scored_too():
    ex = get_exercise("forearm_plank")
    eng = replay_reference(ex, load_reference(ex)).engine
    assert [round(h.form_score, 6) for h in eng.holds] == [100.0]


def test_a_squat_scores_lower_the_further_it_strays(tmp_path):
    src = (REFERENCES / "squat.toml").read_text()
    scores = []
    for lean in (32, 40, 48):  # more trunk lean at the bottom than the reference's 32 deg
        eng = _replayed("squat", src.replace("trunk = 32", f"trunk = {lean}"), tmp_path)
        scores.append(eng.reps[0].form_score)
    shallow = _replayed("squat", src.replace("thigh = 114", "thigh = 130"), tmp_path)
    assert scores[0] == pytest.approx(100.0) and scores[0] > scores[1] > scores[2] > 0
    assert shallow.reps[0].form_score < 90


def test_pace_alone_does_not_cost_form(tmp_path):
    src = (REFERENCES / "squat.toml").read_text()
    slow = src.replace("t = 3.8", "t = 4.8").replace("t = 4.1", "t = 5.1")
    slow = slow.replace("t = 6.9", "t = 7.4").replace("t = 7.9", "t = 8.4")
    eng = _replayed("squat", slow, tmp_path)
    assert eng.reps[0].form_score > 90


def test_the_rep_and_hold_events_carry_the_score():
    ex = get_exercise("squat")
    eng = SessionEngine(ex, None, OPEN, aspect=ASPECT)
    for inp in reference_inputs(ex, load_reference(ex)):
        eng.feed(inp)
    eng.feed(EndInput(10.0))
    reps = [ev for ev in eng.take_events() if isinstance(ev, RepDone)]
    assert len(reps) == 1 and reps[0].rep.form_score == pytest.approx(100.0)
    plank = get_exercise("forearm_plank")
    eng = SessionEngine(plank, None, OPEN, aspect=ASPECT)
    for inp in reference_inputs(plank, load_reference(plank)):
        eng.feed(inp)
    holds = [ev for ev in eng.take_events() if isinstance(ev, HoldDone)]
    assert len(holds) == 1 and holds[0].form_score == pytest.approx(100.0)


def test_an_exercise_without_a_reference_has_no_score(tmp_path):
    import dataclasses

    ex = dataclasses.replace(get_exercise("squat"), source_file=str(tmp_path / "d" / "s.toml"))
    scorer = FormScorer(ex)
    assert not scorer.available
    scorer.record(0.0, 0.0, np.zeros(len(ex.rules)))
    scorer.record(1.0, 1.0, np.zeros(len(ex.rules)))
    assert math.isnan(scorer.score(0.0, 1.0))


def test_resampling_spreads_a_rep_over_fixed_points_and_skips_gaps():
    t = np.array([0.0, 1.0, 2.0, 4.0])
    rows = np.array([[0.0, np.nan], [1.0, 5.0], [2.0, np.nan], [4.0, 9.0]])
    out = resample(t, rows, 5)
    assert np.allclose(out[:, 0], [0.0, 1.0, 2.0, 3.0, 4.0])
    # Channel 2 has samples at 1 s and 4 s only: flat before the first, a line between.
    assert np.allclose(out[:, 1], [5.0, 5.0, 5.0 + 4 / 3, 5.0 + 8 / 3, 9.0])
    assert np.isnan(resample(t[:1], rows[:1], 5)).all()


def test_roc_auc_is_the_chance_a_correct_case_wins():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 3], [2, 2]) == 0.5
    assert math.isnan(roc_auc([1.0], []))


def test_headless_run_gives_a_form_score_on_each_rep(tmp_path):
    out = tmp_path / "s.json"
    proc = subprocess.run(
        [sys.executable, "main.py", "--source", str(BUNDLED), "--exercise", "flank_stretch",
         "--headless", "--summary-json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    reps = summary["reps"] + summary["partials"]
    assert len(reps) >= 2
    assert all(0.0 <= r["form_score"] <= 100.0 for r in reps)


# Correct executions outscore incorrect ones on the labelled recordings (bench/form_score.py,
# docs/accuracy.md). Measured at 23e40ef: push-ups (kaiakol landmark arrays, 50 correct,
# 50 incorrect) AUC 0.97; UI-PRMD side lunges (20/20) 0.94, deep squats (50/50) 0.77, inline
# lunges (20/20) 0.70. The bounds below leave room for small changes of the rules.
LABELLED = {
    "kaiakol_npy/pushup_*": ("push_up (kaiakol_npy)", 0.90),
    "uiprmd/m04_*": ("side_lunge (uiprmd)", 0.85),
    "uiprmd/m01_*": ("squat (uiprmd)", 0.70),
    "uiprmd/m03_*": ("lunge (uiprmd)", 0.60),
}


def test_correct_executions_outscore_incorrect_ones_on_the_labelled_sets():
    if not (TESTDATA / "ui_prmd").is_dir() or not (TESTDATA / "kaiakol_computervision").is_dir():
        pytest.skip("the shared recordings are not here")
    scores = run(",".join(LABELLED))
    found = {m.movement: m for m in by_movement(scores)}
    for movement, bound in LABELLED.values():
        m = found[movement]
        assert m.correct >= 20 and m.incorrect >= 20, m
        assert m.auc > bound, m
        assert m.mean_correct > m.mean_incorrect, m


# -- stored, exported and reported -----------------------------------------------------------


def test_the_score_is_stored_exported_and_reported(backend, tmp_path):
    from app.storage_sink import StorageSink
    from storage import SessionSummary
    from storage.export import export_patient
    from storage.report import write_report

    ex = get_exercise("squat")
    eng = SessionEngine(ex, None, OPEN, aspect=ASPECT)
    store = backend.open()
    try:
        store.ensure_patient("FS-1")
        sink = StorageSink.begin(store, "FS-1", eng, "reference")
        for inp in reference_inputs(ex, load_reference(ex)):
            eng.feed(inp)
            for ev in eng.take_events():
                sink.on_event(ev)
        sink.writer.finish(SessionSummary("end_of_source"))
        (info,) = store.sessions("FS-1")
        (rep,) = store.load_session(info.id).reps
        assert rep.form_score == pytest.approx(eng.reps[0].form_score, abs=1e-6)
        assert backend.count("SELECT count(*) FROM reps WHERE form_score IS NOT NULL") == 1
        out = tmp_path / "x.json"
        export_patient(store, "FS-1", "json", out)
        stored = json.loads(out.read_text())["sessions"][0]["sets"][0]["reps"][0]
        assert stored["form_score"] == pytest.approx(100.0, abs=1e-6)
        export_patient(store, "FS-1", "fhir", tmp_path / "x.fhir.json")
        assert '"form-score"' in (tmp_path / "x.fhir.json").read_text()
        write_report(store.history("FS-1"), tmp_path / "r.html")
        assert "<th>form score</th>" in (tmp_path / "r.html").read_text()
    finally:
        store.close()


def test_the_database_refuses_a_score_outside_0_to_100(backend):
    from storage import RepRecord, SessionSummary

    store = backend.open()
    try:
        store.ensure_patient("FS-2")
        w = store.begin_session("FS-2", "squat")
        w.begin_set(1)
        w.add_rep(RepRecord(1, 0.0, 2.0, 90.0, 160.0, 1.0, 2.0, True, True, form_score=87.5))
        w.finish(SessionSummary("completed"))
    finally:
        store.close()
    assert backend.sql("SELECT form_score FROM reps") == [(87.5,)]
    with pytest.raises(Exception, match=r"(?i)check"):
        backend.sql("UPDATE reps SET form_score = 120")


def test_the_screens_show_the_score_after_each_rep():
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from feedback.app_window import THERAPIST, Screen
    from feedback.patient_view import summarise
    from session.snapshot import RepView, Snapshot

    reps = tuple(
        RepView(i, i, i + 1.0, 90, 160, 1.0, 1.0, True, True, form_score=s)
        for i, s in enumerate((90.0, 70.0, math.nan), start=1)
    )
    snap = Snapshot(t=5.0, exercise_id="squat", exercise_name="Squat", phase="rest", reps=reps)
    assert summarise(snap).mean_form == pytest.approx(80.0)  # the rest's summary row
    pygame.init()
    try:
        screen = Screen((1280, 720))
        surface = pygame.Surface((1280, 720))
        for view in ("patient", THERAPIST):  # the reps box and the therapist's rep table
            screen.view = view
            screen.update(replace_phase(snap, "working"))
            screen.draw(surface)
        screen.close()
    finally:
        pygame.quit()


def replace_phase(snap, phase):
    import dataclasses

    return dataclasses.replace(snap, phase=phase)
