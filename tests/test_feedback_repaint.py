"""Drawing only what changed: the patient view redraws the regions whose content changed and
returns their rectangles, and the window presents only those. Checked on a real pygame
surface over real engine snapshots of a live session (the bundled recording through the
runner, real camera frames from a test video): between two consecutive display frames every
changed pixel lies inside the returned rectangles, and the surface drawn piece by piece is
the one a whole redraw gives, pixel for pixel."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from education.cards import ROTATE_S
from feedback.app_window import Screen
from feedback.patient_view import PatientView, SoundState
from session.snapshot import Cue, ScreenPhase, Severity, Snapshot, SourceStatus
from tests.helpers import bundled_live_snapshots, shared_data
from vision.sources import VideoFileSource

SIZE = (1280, 720)
VIDEO = "wissem_gym_rom/videos/squat.mp4"


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield
    pygame.quit()


def _camera_frames(n: int) -> list[np.ndarray]:
    src = VideoFileSource(shared_data(VIDEO))
    try:
        frames = []
        while len(frames) < n and (f := src.read()) is not None:
            frames.append(f.image)
    finally:
        src.close()
    assert len(frames) == n
    return frames


def _live() -> list[tuple[Snapshot, bool]]:
    """(snapshot, new input) per display frame: after each pose of the bundled recording, a
    frame for it and one more with no new input, as a window shows them."""
    return bundled_live_snapshots(per_pose=2)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def story() -> list[tuple[Snapshot, bool]]:
    """A session's display frames: the landmark canvas, a camera (a new image every other
    pose, a 30 fps camera under a 60 fps display), nobody in view, a pause, the camera
    reconnecting, a rest whose clock runs and whose card turns (the demonstration in its last
    seconds), the countdown, a safety stop and the end. Phases past the recording are a live
    snapshot with the phase's own fields set, as the engine sets them."""
    live = _live()
    frames = _camera_frames(2)
    out = list(live[:120])
    cam = SourceStatus("camera", "ok", rate_hz=30.0)
    for k, (s, new) in enumerate(live[120:240]):
        out.append((replace(s, frame=frames[(k // 4) % 2], camera=cam), new))
    # Nobody in view: the camera's images go on, with no pose.
    for k in range(12):
        s = replace(live[240 + k][0], frame=frames[k % 2], camera=cam, landmarks=None, ghost=None)
        out.append((s, True))
    # Then one moment held still (a frozen image, no new pose), so that what changes is only
    # what each phase shows: its overlay, a source's banner, the rest's clock and card, the
    # countdown's number, the stop's cue.
    base = replace(live[252][0], frame=frames[0], camera=cam)
    out += [(replace(base, phase=ScreenPhase.PAUSED), False)] * 6
    lost = SourceStatus("camera", "reconnecting", message="no frames")
    out += [(base, False)] * 3 + [(replace(base, camera=lost), False)] * 6 + [(base, False)] * 3
    for k in range(40):  # a 60 s rest seen every 1.5 s: the clock, a card turn, the demo
        t, left = base.t + k * 1.5, 60 - k * 1.5
        out.append((replace(base, t=t, phase=ScreenPhase.REST, rest_remaining_s=left), False))
    assert ROTATE_S < 40 * 1.5
    for k in range(12):
        countdown = replace(base, phase=ScreenPhase.COUNTDOWN, countdown_s=3 - k * 0.25)
        out.append((countdown, False))
    stop = Cue("safety.overload", "STOP - load too high", Severity.SAFETY)
    for k in range(12):  # the stop's cue gives way to the plain one half way
        cue = stop if k < 6 else None
        out.append((replace(base, phase=ScreenPhase.STOPPED, safety_stop=True, cue=cue), False))
    out += [(replace(base, phase=ScreenPhase.PAUSED), False)] * 3  # acknowledged: a pause
    out += [(replace(base, phase=ScreenPhase.DONE), False)] * 4
    return out


def _pixels(surface: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface)  # (w, h, 3)


def _covered(rects: list[pygame.Rect]) -> np.ndarray:
    mask = np.zeros(SIZE, dtype=bool)
    for r in rects:
        r = r.clip(pygame.Rect((0, 0), SIZE))
        mask[r.left : r.right, r.top : r.bottom] = True
    return mask


def test_the_presented_rectangles_cover_every_pixel_that_changed(story):
    view, whole = PatientView(), PatientView()
    surface, reference = pygame.Surface(SIZE), pygame.Surface(SIZE)
    shares = []
    for i, (snap, new_input) in enumerate(story):
        sound = SoundState(0.8 if i < 200 else 0.6, False, True)  # the volume changes once
        for v in (view, whole):
            v.sound = sound
            v.show_ghost = not 180 <= i < 240  # the ghost switched off for a while
            v.update(snap)
        before = _pixels(surface)
        rects = view.draw(surface, full=False)
        after = _pixels(surface)
        changed = np.any(before != after, axis=2)
        outside = changed & ~_covered(rects)
        assert not outside.any(), (
            f"frame {i} ({snap.phase}): {outside.sum()} changed pixels outside {rects}"
        )
        whole.draw(reference)
        assert np.array_equal(after, _pixels(reference)), (
            f"frame {i} ({snap.phase}): drawn piece by piece, not what a whole redraw shows"
        )
        shares.append(_covered(rects).mean())
        if snap.frame is not None and not new_input and i < 240:
            # No new pose: the camera image, the skeleton and the cue stay as they are.
            lay = view.layout_for(SIZE)
            assert not any(r.colliderect(lay.image_area) for r in rects), f"frame {i}"
    phases = {s.phase for s, _ in story}
    assert phases >= {"working", "paused", "rest", "countdown", "stopped", "done"}
    # The whole window only when the arrangement changed; most frames present a small part.
    assert float(np.median(shares)) < 0.5


def test_a_frame_with_nothing_new_presents_nothing(story):
    snap = next(s for s, _ in story if s.frame is not None and s.phase == "working")
    view = PatientView()
    surface = pygame.Surface(SIZE)
    view.update(snap)
    assert view.draw(surface, full=False) == [surface.get_rect()]  # the first frame: whole
    view.update(snap)
    assert view.draw(surface, full=False) == []
    # A new camera image and pose: the image area, not the top bar.
    later = replace(snap, frame=snap.frame.copy(), landmarks=snap.landmarks.copy())
    view.update(later)
    rects = view.draw(surface, full=False)
    lay = view.layout_for(SIZE)
    assert lay.image_area in rects and lay.top_bar not in rects
    # Another surface, or a full draw asked for: drawn whole.
    other = pygame.Surface(SIZE)
    assert view.draw(other, full=False) == [other.get_rect()]
    assert view.draw(other) == [other.get_rect()]


def test_the_screen_draws_whole_after_another_view_or_an_uncovered_window(story):
    snap = next(s for s, _ in story if s.frame is not None and s.phase == "working")
    screen = Screen(SIZE, mirror=False)
    surface = pygame.Surface(SIZE)
    screen.update(snap)
    assert screen.draw(surface) == [surface.get_rect()]
    assert screen.draw(surface) == []
    screen.handle_event(pygame.event.Event(pygame.WINDOWEXPOSED))
    assert screen.draw(surface) == [surface.get_rect()]
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, unicode="t"))
    assert screen.draw(surface) is None  # the therapist view: the whole window, every frame
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, unicode="t"))
    assert screen.draw(surface) == [surface.get_rect()]  # back over the therapist's pixels
    assert screen.draw(surface) == []
