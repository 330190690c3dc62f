"""Therapist view: traces, tables, source health and live target intents."""

import math
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame
import pytest

from feedback import style
from feedback.app_window import PATIENT, THERAPIST, Screen
from feedback.intents import AdjustTarget, Quit
from feedback.therapist_view import TherapistView, controls_for, therapist_layout
from session.snapshot import RuleStatus, RuleView, Snapshot, SourceStatus, Trace

SIZE = (1280, 720)


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield
    pygame.quit()


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, unicode="", mod=0, scancode=0)


def snapshot(machine: bool = True, **kw) -> Snapshot:
    t = np.arange(0, 20, 0.01)
    angle = 40 + 30 * np.sin(t)
    angle[1200:1300] = np.nan  # a pose dropout: the trace must break, not bridge
    base = dict(
        t=20.0,
        exercise_id="lumbar_extension",
        exercise_name="Lumbar extension",
        phase="working",
        traces=(Trace("angle", "deg", t, angle), Trace("force", "N", t, 150 + 40 * np.cos(t))),
        rules=(
            RuleView("r.a", "Pelvis still", RuleStatus.FAULT, 6.5, math.nan, 4.0, "cm"),
            RuleView("r.b", "Tempo", RuleStatus.OK, 4.8, 4.5, 5.0, "s"),
        ),
        load_band_n=(120.0, 200.0),
        load_limit_n=260.0,
        machine=SourceStatus("machine", "simulated", rate_hz=500.0) if machine else None,
        camera=SourceStatus("camera", "lost", errors=2, message="device unplugged"),
    )
    base.update(kw)
    return Snapshot(**base)


def draw(view: TherapistView) -> pygame.Surface:
    surf = pygame.Surface(SIZE)
    view.draw(surf)
    return surf


def colour_count(surf: pygame.Surface, rect: pygame.Rect, colour) -> int:
    px = pygame.surfarray.array3d(surf.subsurface(rect))
    return int(np.all(px == colour, axis=2).sum())


def test_traces_drawn_with_band_and_gap():
    view = TherapistView()
    view.update(snapshot())
    surf = draw(view)
    lay = therapist_layout(SIZE)
    assert colour_count(surf, lay.traces, style.SKY_BLUE) > 300  # angle trace
    assert colour_count(surf, lay.traces, style.ORANGE) > 300  # force trace
    assert colour_count(surf, lay.traces, style.VERMILLION) > 100  # load limit line
    # The dropout (t 12..13 s, i.e. 7..8 s before now in a 15 s window) leaves a blank column.
    plot_top = lay.traces.inflate(-16, -16)
    x_gap = round(
        plot_top.x
        + round(lay.text_size * 3.2)
        + (12.5 - 5) / 15 * (plot_top.w - round(lay.text_size * 3.2))
    )
    column = pygame.Rect(x_gap, plot_top.y, 1, plot_top.h // 2)
    assert colour_count(surf, column, style.SKY_BLUE) == 0


def test_rule_table_and_lost_camera_show_fault_shapes():
    view = TherapistView()
    view.update(snapshot())
    surf = draw(view)
    lay = therapist_layout(SIZE)
    assert colour_count(surf, lay.rules, style.VERMILLION) > 50
    assert colour_count(surf, lay.status, style.VERMILLION) > 50  # camera lost: fault square


def test_keys_select_and_adjust_targets():
    view = TherapistView()
    view.update(snapshot())
    controls = controls_for(view._snap)
    assert view.handle_event(key(pygame.K_DOWN), SIZE) == []
    assert view.handle_event(key(pygame.K_RIGHT), SIZE) == [
        AdjustTarget(controls[1].key, controls[1].step)
    ]
    assert view.handle_event(key(pygame.K_UP), SIZE) == []
    assert view.handle_event(key(pygame.K_MINUS), SIZE) == [
        AdjustTarget(controls[0].key, -controls[0].step)
    ]


def test_plus_button_click_adjusts_that_row():
    view = TherapistView()
    view.update(snapshot())
    draw(view)
    controls = controls_for(view._snap)
    rows = therapist_layout(SIZE).target_buttons(len(controls))
    _, minus, plus = rows[-1]
    ev = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=plus.center, button=1)
    assert view.handle_event(ev, SIZE) == [AdjustTarget("load_band_high_n", 5)]
    ev = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=minus.center, button=1)
    assert view.handle_event(ev, SIZE) == [AdjustTarget("load_band_high_n", -5)]


def test_load_targets_only_offered_for_machine_work():
    keys = {c.key for c in controls_for(snapshot(machine=False))}
    assert "load_band_low_n" not in keys and "range_target" in keys
    assert "load_limit_n" not in {c.key for c in controls_for(snapshot())}


def test_screen_toggles_views_with_t_and_quits_with_escape():
    screen = Screen(SIZE)
    screen.update(snapshot())
    assert screen.view == PATIENT
    screen.handle_event(key(pygame.K_t))
    assert screen.view == THERAPIST
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    lay = therapist_layout(SIZE)
    assert colour_count(surf, lay.traces, style.ORANGE) > 300
    assert screen.handle_event(key(pygame.K_RIGHT)) == [AdjustTarget("range_target", 0.05)]
    screen.handle_event(key(pygame.K_t))
    assert screen.view == PATIENT
    assert screen.handle_event(key(pygame.K_ESCAPE)) == [Quit()]


def test_empty_snapshot_draws():
    view = TherapistView()
    draw(view)
    view.update(Snapshot(t=0.0, exercise_id="x", exercise_name="X", phase="setup"))
    draw(view)


def test_touch_on_a_plus_button_counts_once():
    screen = Screen(SIZE)
    screen.update(snapshot())
    screen.handle_event(key(pygame.K_t))
    screen.draw(pygame.Surface(SIZE))
    _, _, plus = therapist_layout(SIZE).target_buttons(1)[0]
    finger = pygame.event.Event(
        pygame.FINGERDOWN, x=plus.centerx / SIZE[0], y=plus.centery / SIZE[1]
    )
    mouse_copy = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=plus.center, button=1, touch=True)
    assert screen.handle_event(finger) + screen.handle_event(mouse_copy) == [
        AdjustTarget("range_target", 0.05)
    ]


def test_sound_state_is_reported_to_the_therapist():
    from feedback.audio import Audio

    audio = Audio()
    try:
        screen = Screen(SIZE, audio=audio)
        screen.update(snapshot())
        assert screen.therapist.sound_note.startswith("on")
        screen.handle_event(key(pygame.K_m))
        screen.update(snapshot())
        assert audio.muted and screen.therapist.sound_note.startswith("muted")
    finally:
        screen.close()


def test_safety_stop_is_visible_on_the_therapist_view_too():
    screen = Screen(SIZE)
    screen.handle_event(key(pygame.K_t))
    surf = pygame.Surface(SIZE)
    screen.update(snapshot(safety_stop=True))
    screen.draw(surf)
    assert tuple(surf.get_at((SIZE[0] - 30, round(SIZE[1] * 0.12))))[:3] == style.VERMILLION
    lay = therapist_layout(SIZE)
    assert colour_count(surf, lay.traces, style.ORANGE) > 300  # force trace still readable
    screen.update(snapshot())
    screen.draw(surf)
    assert tuple(surf.get_at((SIZE[0] - 30, round(SIZE[1] * 0.12))))[:3] != style.VERMILLION
