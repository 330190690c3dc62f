"""The clinic's screens and report pages as PNG: ``python -m app.clinic_screenshots OUT_DIR``.

Every picture comes from a real run, not a mock-up: the lumbar extension assessment against
the simulator's patient (on a virtual clock), a side bridge measured on a real recording
(``../shared/testdata``, when present), the scripted clinic run for the visit screens, the
programme view and the two report pages (assessment, progress).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

from app import clinic_demo
from assessment.norms import Sex, load_norms
from assessment.protocols import get_protocol
from assessment.results import PatientFacts, compare_results, norm_note
from assessment.run import AssessmentRunner, RunPhase
from assessment.simulated import script_for
from clinic.progression import pending
from clinic.visit import VisitFlow
from device_bridge.sim_patient import AssessmentPatient, AssessmentScript, default_truth
from feedback.assessment_view import AssessmentScreen
from feedback.programme_view import ProgrammeData, ProgrammeView
from feedback.visit_view import VisitScreen
from storage import open_store
from storage.clinic_report import assessment_report, progress_report
from storage.records import ProgrammeItem

SIZE = (1280, 720)
TESTDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"


def _save(surface: pygame.Surface, out: Path, name: str, written: list[Path]) -> None:
    path = out / f"{name}.png"
    pygame.image.save(surface, str(path))
    written.append(path)


def assessment_shots(out: Path, written: list[Path]) -> None:
    """The lumbar extension assessment: one picture per phase, shot as it happens."""
    protocol = get_protocol("machine_lumbar_extension")
    patient = AssessmentPatient(
        default_truth("lumbar_extension"), AssessmentScript.from_json(script_for(protocol))
    )
    runner = AssessmentRunner(protocol)
    facts = PatientFacts(Sex.FEMALE, 58)
    norms = load_norms()

    def note(r):
        test = protocol.test(r.test_id)
        return norm_note(test.norm_test, test.no_norm, r.value, norms, facts)

    screen = AssessmentScreen("4711", note)
    surface = pygame.Surface(SIZE)
    wanted = {
        ("range_flexion", RunPhase.INSTRUCTION): "assessment_instruction",
        ("strength_36", RunPhase.COUNTDOWN): "assessment_countdown",
        ("strength_36", RunPhase.MEASURE): "assessment_live_strength",
        ("strength_36", RunPhase.REST): "assessment_rest",
        ("strength_36", RunPhase.RESULT): "assessment_result_strength",
    }
    taken: set[str] = set()
    dt, t = 1 / 200, 0.0
    while not runner.finished:
        ts = t + dt * np.arange(1, 5)
        s = np.array([patient.measure(float(x)) for x in ts])
        runner.feed_machine(ts, s[:, 0], s[:, 1])
        t = float(ts[-1])
        v = runner.view()
        name = wanted.get((v.test_id, v.phase))
        ready = v.phase != RunPhase.MEASURE or v.live > 0.9 * max(v.trials, default=560.0)
        if name and name not in taken and ready and (v.phase != RunPhase.INSTRUCTION or t > 2):
            screen.update(v)
            screen.draw(surface)
            _save(surface, out, name, written)
            taken.add(name)
    screen.compared = compare_results(protocol, runner.results, norms, facts)
    screen.update(runner.view())
    screen.draw(surface)
    _save(surface, out, "assessment_summary", written)
    # A safety stop: a sample over the test's force limit.
    stop = AssessmentRunner(protocol)
    ts = np.arange(1, 101) / 100.0
    stop.feed_machine(ts, np.full(100, 30.0), np.full(100, 8.0))
    stop.feed_machine(np.array([1.01]), np.array([30.0]), np.array([1040.0]))
    screen = AssessmentScreen("4711", note)
    screen.update(stop.view())
    screen.draw(surface)
    _save(surface, out, "assessment_safety_stop", written)


def camera_shots(out: Path, written: list[Path]) -> None:
    """A result with its percent of norm (a side bridge measured on a real recording) and a
    test the camera could not measure (KIMORE's front-view tilt seen from the side)."""
    from assessment.camera import run_on_poses
    from recording.replay import open_replay

    protocol = get_protocol("camera_floor_screen")
    facts = PatientFacts(Sex.FEMALE, 24)
    norms = load_norms()

    def note(r):
        test = protocol.test(r.test_id)
        return norm_note(test.norm_test, test.no_norm, r.value, norms, facts)

    surface = pygame.Surface(SIZE)
    clip = TESTDATA / "floor_clips" / "side_plank_front.mp4"
    if clip.exists():
        from vision.pose_cache import video_poses

        with tempfile.TemporaryDirectory() as cache:
            vp = video_poses(clip, cache)
        result = run_on_poses(protocol, vp.poses, vp.aspect, ["side_bridge_right"])[0]
        _result_screen(protocol, "side_bridge_right", result, note, surface)
        _save(surface, out, "assessment_result_norm", written)
    kimore = TESTDATA / "kimore_leowei31" / "JointPositionExercise2.csv"
    if kimore.exists():
        side = open_replay(kimore, "side")
        result = run_on_poses(protocol, side.poses, 16 / 9, ["lateral_flexion_left"])[0]
        _result_screen(protocol, "lateral_flexion_left", result, note, surface)
        _save(surface, out, "assessment_not_measured", written)


def _result_screen(protocol, test_id, result, note, surface) -> None:
    runner = AssessmentRunner(replace(protocol, tests=(protocol.test(test_id),), derived=()))
    view = replace(
        runner.view(),
        phase=RunPhase.RESULT,
        result=result,
        trials=result.trials,
        rejected=result.rejected,
        best=result.value,
    )
    screen = AssessmentScreen("4711", note)
    screen.update(view)
    screen.draw(surface)


def visit_and_programme_shots(out: Path, written: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "clinic.sqlite"
        with open_store(db) as store:
            clinic_demo.run(store, "4711", out=io.StringIO())
            programme = store.active_programme("4711")
            items = [replace(i, id=None) for i in programme.items]
            items.append(ProgrammeItem("side_plank", 2, 3, hold_s=10.0))
            store.save_programme(
                "4711", items, programme.name, created_by="therapist", auto_progress=True
            )
            surface = pygame.Surface(SIZE)
            view = VisitScreen()
            flow = VisitFlow(store, "4711", station_machine="lumbar_extension", camera=False)
            view.draw(surface, flow.view())
            view.chosen = 3  # tapped, not yet confirmed with OK
            view.draw(surface, flow.view())
            _save(surface, out, "visit_pain_scale", written)
            flow.pain(3)
            view.draw(surface, flow.view())
            _save(surface, out, "visit_next_item", written)
            flow.ask_skip()
            view.draw(surface, flow.view())
            _save(surface, out, "visit_skip_reason", written)
            flow.cancel_skip()
            from app.visit_items import simulate_machine_item

            flow.item_done(simulate_machine_item(store, "4711", flow.start_item(), seed=9))
            flow.pain(4)
            view.draw(surface, flow.view())
            _save(surface, out, "visit_summary", written)
            data = ProgrammeData(
                patient="4711",
                programme=store.active_programme("4711"),
                waiting=tuple(pending(store, "4711")),
                visits=store.visits("4711")[-3:],
            )
            pv = ProgrammeView()
            pv.show(data)
            pv.draw(surface)
            _save(surface, out, "programme_view", written)
            store.ensure_patient("5150")
            empty = VisitFlow(store, "5150", station_machine=None, camera=True)
            VisitScreen().draw(surface, empty.view())
            _save(surface, out, "visit_no_programme", written)
            for kind, make in (("assessment", assessment_report), ("progress", progress_report)):
                path = out / f"report_{kind}.png"
                make(store, "4711", path)
                written.append(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    pygame.display.init()
    pygame.font.init()
    written: list[Path] = []
    assessment_shots(out, written)
    camera_shots(out, written)
    visit_and_programme_shots(out, written)
    pygame.quit()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
