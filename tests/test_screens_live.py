"""Every screen drawn from real engine snapshots of live sessions, not prepared ones: the
bundled recording through the runner (floor work) and the machine simulator on a pty
(machine work). Prepared snapshots can carry values a live session never produces; this is
what would have caught the Tempo label that stayed blank in every live session."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import pygame
import pytest

from app.inputs import InputChoice
from app.loop import Runner, RunOptions
from exercises.library import get_exercise
from feedback.patient_view import TEMPO_LABELS, PatientView
from feedback.therapist_view import TherapistView
from kernels.reps import RepPhase
from session.snapshot import ScreenPhase, Snapshot
from tests.helpers import bundled_live_snapshots

SIZE = (1280, 720)


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield
    pygame.quit()


def _floor_snapshots() -> list[Snapshot]:
    """The bundled recording through the runner's engine, a snapshot after every pose as a
    window shows them."""
    return [snap for snap, _ in bundled_live_snapshots()]  # type: ignore[misc]


def _machine_snapshots(seconds: float) -> list[Snapshot]:
    runner = Runner(
        RunOptions(
            InputChoice("none", "none", "machine only"),
            get_exercise("lumbar_extension"),
            headless=True,
            device="sim:lumbar_extension",
            simulator_args=("--start-delay=1",),
        )
    )
    snaps = []
    try:
        # Until the first rep is done, then a little more: every phase on the way is drawn.
        while runner.engine.rep_count < 1 or runner.clock() < seconds:
            runner.pump(1 / 60)
            snaps.append(runner.snapshot())
            assert runner.clock() < 60, "the simulated machine never finished a rep"
    finally:
        runner.close()
    return snaps


@pytest.fixture(scope="module")
def floor() -> list[Snapshot]:
    return _floor_snapshots()


@pytest.fixture(scope="module")
def machine() -> list[Snapshot]:
    return _machine_snapshots(8.0)


def _tempo_title(snap: Snapshot) -> pygame.Surface:
    view = PatientView(mirror=False)
    view.update(snap)
    surface = pygame.Surface(SIZE)
    view.draw(surface)
    box = view.layout_for(SIZE).tempo_box
    return surface.subsurface(box).copy()


def _same(a: pygame.Surface, b: pygame.Surface) -> bool:
    return pygame.image.tobytes(a, "RGB") == pygame.image.tobytes(b, "RGB")


@pytest.mark.parametrize("source", ["floor", "machine"])
def test_every_live_snapshot_draws_on_every_screen(source, request):
    snaps: list[Snapshot] = request.getfixturevalue(source)
    assert len(snaps) > 30
    patient, therapist = PatientView(mirror=False), TherapistView()
    surface = pygame.Surface(SIZE)
    for snap in snaps:  # raises on any snapshot a view cannot draw
        patient.update(snap)
        patient.draw(surface)
        therapist.update(snap)
        therapist.draw(surface)
    phases = {s.phase for s in snaps}
    assert ScreenPhase.WORKING in phases


@pytest.mark.parametrize("source", ["floor", "machine"])
def test_the_tempo_box_names_the_part_of_the_rep_during_reps(source, request):
    snaps: list[Snapshot] = request.getfixturevalue(source)
    moving = [s for s in snaps if s.tempo_phase in TEMPO_LABELS]
    assert {s.tempo_phase for s in moving} >= {RepPhase.OUT, RepPhase.BACK}
    for snap in (moving[0], moving[len(moving) // 2], moving[-1]):
        # The same frame without a rep in progress: the box must look different.
        assert not _same(_tempo_title(snap), _tempo_title(replace(snap, tempo_phase=None)))
    at_rest = next(s for s in snaps if s.tempo_phase == RepPhase.REST)
    assert _same(_tempo_title(at_rest), _tempo_title(replace(at_rest, tempo_phase=None)))
