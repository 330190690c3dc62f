"""The windowed app under the dummy SDL driver: a vanishing camera, kiosk sessions, a real run."""

from __future__ import annotations

import time

import numpy as np
import pygame
import pytest

from app.inputs import InputChoice
from app.loop import Runner, RunOptions
from app.streams import VideoPoseStream
from exercises.library import get_exercise
from feedback.app_window import Screen
from feedback.intents import EnterPatient
from storage import open_store
from tests.helpers import run_main
from vision.errors import CameraUnavailable
from vision.estimator import PoseEstimator
from vision.sources import VideoFileSource


class UnpluggedCamera(VideoFileSource):
    """A real video that stops like a camera pulled out of its USB port."""

    live = True

    def __init__(self, path, frames: int) -> None:
        super().__init__(path)
        self.left = frames

    def read(self):
        self.left -= 1
        if self.left < 0:
            raise CameraUnavailable("camera 0 stopped delivering frames")
        return super().read()


def test_camera_unplugged_mid_session_shows_a_banner_not_an_exception(squat_video):
    runner = Runner(
        RunOptions(InputChoice("none", "none", "test"), get_exercise("squat"), headless=True)
    )
    runner.stream = VideoPoseStream(
        UnpluggedCamera(squat_video, 20), PoseEstimator(), lossless=False, paced=False
    ).start()
    runner.opts.choice = InputChoice("camera", "0", "test")
    pygame.init()
    surface = pygame.Surface((1280, 720))
    screen = Screen((1280, 720))
    try:
        for _ in range(400):
            runner.pump(0.02)
            snap = runner.snapshot()
            screen.update(snap)
            screen.draw(surface)
            if runner.stream.exhausted:
                break
        snap = runner.snapshot()
        assert snap.camera.state == "lost" and "stopped delivering" in snap.camera.message
        screen.update(snap)
        screen.draw(surface)  # the banner, drawn without an exception
        from feedback import style

        banner = screen.patient.layout_for((1280, 720)).status_banner
        xs = range(banner.x + 8, banner.right - 8, 40)
        # The yellow status banner is up (its top rows carry no text).
        assert all(surface.get_at((x, banner.y + 4))[:3] == style.YELLOW for x in xs)
    finally:
        runner.close()
        screen.close()
        pygame.quit()


def test_kiosk_patient_code_starts_a_stored_session(tmp_path):
    store = open_store(tmp_path / "kiosk.sqlite")
    opts = RunOptions(
        InputChoice("replay", "assets/recordings/keraal_flank_stretch.screc", "test"),
        get_exercise("flank_stretch"),
        headless=True,
        store=store,
    )
    runner = Runner(opts)
    from app.gui import _apply

    class _Screen:
        view = "patient"

    assert _apply(runner, _Screen(), EnterPatient("K-0815"))
    runner.run_headless()
    runner.close()
    runner.finish_storage()
    sessions = store.sessions("K-0815")
    assert len(sessions) == 1 and sessions[0].status == "finished"
    assert len(store.load_session(sessions[0].id).reps) == runner.engine.rep_count > 0
    store.close()


@pytest.mark.parametrize(
    "args", [["--seconds", "3", "--patient", "P-W"], ["--seconds", "3", "--kiosk"]]
)
def test_window_loop_runs_and_exits_cleanly(args, tmp_path):
    proc = run_main(
        *args, "--summary-json", str(tmp_path / "s.json"), "--db", str(tmp_path / "d.sqlite")
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert np.isfinite(__import__("json").loads((tmp_path / "s.json").read_text())["frames"])


def test_camera_plugged_back_in_is_reopened_and_the_session_goes_on(squat_video):
    attempts = []

    def reopen():
        attempts.append(1)
        if len(attempts) < 2:
            raise CameraUnavailable("camera 0 could not be opened (is it plugged in?)")
        return UnpluggedCamera(squat_video, 1000)

    runner = Runner(
        RunOptions(InputChoice("none", "none", "test"), get_exercise("squat"), headless=True)
    )
    runner.stream = VideoPoseStream(
        UnpluggedCamera(squat_video, 15),
        PoseEstimator(),
        lossless=False,
        paced=False,
        reopen=reopen,
    ).start()
    runner.opts.choice = InputChoice("camera", "0", "test")
    states, poses_when_lost = [], None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not runner.stream.exhausted:
            runner.pump(0.05)
            states.append(runner.snapshot().camera.state)
            if states[-1] == "lost" and poses_when_lost is None:
                poses_when_lost = runner.stats.poses
    finally:
        runner.close()
    assert poses_when_lost is not None and "ok" in states[states.index("lost") :]
    assert len(attempts) == 2
    assert runner.stats.poses > poses_when_lost + 10  # poses flow again after the reconnect
