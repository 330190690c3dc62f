"""The demonstration screen: every library exercise's reference plays as a moving figure with
its key points, the dose and the camera's set-up; it shows before a set and on demand in a
rest (key D, the Show me button), never over a set or a safety stop."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from exercises.errors import ExerciseError
from exercises.library import get_exercise, load_library
from exercises.schema import parse_exercise
from feedback import style
from feedback.app_window import Screen
from feedback.demonstration_view import (
    NEAR,
    camera_text,
    demo_for,
    demo_layout,
    dose_text,
    draw_demonstration,
)
from session.snapshot import Snapshot

SIZE = (1280, 720)
LIBRARY = sorted(load_library())


@pytest.fixture(autouse=True, scope="module")
def _pygame():
    pygame.init()
    yield
    pygame.quit()


def _snap(ex_id: str = "squat", **kw) -> Snapshot:
    base = dict(t=2.0, exercise_id=ex_id, exercise_name=ex_id, phase="setup", reps_target=10,
                sets_total=3)  # fmt: skip
    return Snapshot(**{**base, **kw})


def _stage_pixels(snap: Snapshot, lang: str = "en") -> np.ndarray:
    surface = pygame.Surface(SIZE)
    lay = demo_layout(SIZE, pygame.Rect(10, 72, 1260, 515))
    draw_demonstration(surface, lay, snap, lang, mirror=True)
    return pygame.surfarray.array3d(surface.subsurface(lay.stage))


@pytest.mark.parametrize("exercise_id", LIBRARY)
def test_every_exercise_is_demonstrated_with_key_points_in_both_languages(exercise_id):
    ex = get_exercise(exercise_id)
    for lang in ("en", "de"):
        points = ex.key_points_in(lang)
        assert 2 <= len(points) <= 3 and all(points)
    assert ex.key_points_in("en") != ex.key_points_in("de")
    found = demo_for(exercise_id)
    assert found is not None and found[1] is not None
    # The figure is drawn, and it moves over the movement (holds keep still).
    a = _stage_pixels(_snap(exercise_id, t=found[1].window[0]))
    b = _stage_pixels(_snap(exercise_id, t=(found[1].window[0] + found[1].window[1]) / 2))
    fig_a, fig_b = np.all(a == NEAR, axis=2), np.all(b == NEAR, axis=2)
    assert fig_a.sum() > 500
    assert (ex.mode == "hold") == np.array_equal(fig_a[:, :-30], fig_b[:, :-30])
    _stage_pixels(_snap(exercise_id), "de")


def test_dose_and_camera_say_what_the_session_and_the_reference_need():
    squat, run = demo_for("squat")
    assert dose_text(_snap(), squat, "en") == "3 sets of 10 reps, rest 60 s between sets"
    plank = get_exercise("forearm_plank")
    hold = _snap("forearm_plank", reps_target=1, sets_total=3, hold_target_s=20.0)
    assert (
        dose_text(hold, plank, "de")
        == "3 Sätze mit je 1 Halten von 20 s, 45 s Pause zwischen den Sätzen"
    )
    # An open-ended analysis has no dose of its own: the exercise's.
    assert dose_text(_snap(reps_target=0, sets_total=1), squat, "en").startswith("3 sets of 10")
    text = camera_text(squat, run, "en")
    assert text.startswith("Camera from the side, about ") and "m above the floor" in text


def _screen(snap: Snapshot) -> Screen:
    s = Screen(SIZE)
    s.update(snap)
    return s


def _key(screen: Screen, key: int) -> None:
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=key, unicode="", mod=0))


def test_it_shows_before_a_set_and_on_demand_in_a_rest():
    s = _screen(_snap(phase="setup"))
    assert s.patient.demo_showing()  # getting into view before the first set
    s.update(_snap(phase="countdown", countdown_s=2.0))
    assert not s.patient.demo_showing()
    s.update(_snap(phase="working"))
    assert not s.patient.demo_showing() and not s.patient.toggle_demo()  # never over a set
    rest = _snap(phase="rest", rest_remaining_s=40.0)
    s.update(rest)
    assert not s.patient.demo_showing()  # early in the rest: the summary and the cards
    _key(s, pygame.K_d)
    assert s.patient.demo_showing()
    _key(s, pygame.K_d)
    assert not s.patient.demo_showing()
    s.update(replace(rest, rest_remaining_s=10.0))
    assert not s.patient.demo_showing()  # the patient closed it in this rest: it stays closed
    s.update(_snap(phase="countdown", set_index=2))
    s.update(_snap(phase="rest", set_index=2, rest_remaining_s=10.0))
    assert s.patient.demo_showing()  # the next rest: automatic again, shown before the set
    s.update(_snap(phase="rest", set_index=2, rest_remaining_s=10.0, safety_stop=True))
    assert not s.patient.demo_showing()  # a safety stop shows, nothing over it
    s.close()


def test_the_touch_button_opens_and_closes_it():
    s = _screen(_snap(phase="paused"))
    assert not s.patient.demo_showing()
    button = s.patient.demo_button(SIZE)
    assert button is not None
    s.handle_event(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=button.center, button=1))
    assert s.patient.demo_showing()
    close = s.patient.demo_button(SIZE)
    s.handle_event(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=close.center, button=1))
    assert not s.patient.demo_showing()
    surface = pygame.Surface(SIZE)
    s.draw(surface)  # the paused screen with its Show me button
    px = pygame.surfarray.array3d(surface.subsurface(button))
    assert np.all(px == style.BLUE, axis=2).mean() > 0.3
    s.close()


def test_an_exercise_without_a_reference_offers_no_demonstration(tmp_path):
    s = _screen(_snap("no_such_exercise", phase="setup"))
    assert not s.patient.demo_offered() and not s.patient.demo_showing()
    s.close()


KEY_POINT_CASES = {
    "too many": ({"en": ["a", "b", "c", "d"]}, "key_points.en", "1 to 3 key points"),
    "too long": ({"en": ["x" * 61]}, "key_points.en", "characters"),
    "unknown language": ({"en": ["a"], "xx": ["b"]}, "key_points.xx", "a language"),
    "no English": ({"de": ["a"]}, "key_points.en", "in English"),
    "not text": ({"en": [1]}, "key_points.en", "a list of strings"),
}


@pytest.mark.parametrize("case", sorted(KEY_POINT_CASES))
def test_malformed_key_points_are_refused(case):
    import tomllib

    from exercises.library import DEFINITIONS

    data = tomllib.loads((DEFINITIONS / "squat.toml").read_text())
    table, key, fragment = KEY_POINT_CASES[case]
    data["key_points"] = table
    with pytest.raises(ExerciseError) as info:
        parse_exercise(data, "squat.toml")
    assert info.value.key == key and fragment in str(info.value)
