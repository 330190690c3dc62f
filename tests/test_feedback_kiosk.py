"""Kiosk flows driven by synthetic pygame events through the real Screen and keypad."""

import os
import stat

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame
import pytest

from feedback import kiosk_view, style
from feedback.app_window import THERAPIST, Screen
from feedback.intents import EndSession, EnterPatient, ExitKiosk, OpenSettings
from feedback.kiosk import OK, Kiosk, KioskState, PinGuard, PinResult, PinStore
from session.snapshot import Cue, Severity, Snapshot, SourceStatus

SIZE = (1280, 720)
PIN = "2468"


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield
    pygame.quit()


@pytest.fixture(scope="module")
def pin_file(tmp_path_factory):
    store = PinStore(tmp_path_factory.mktemp("cfg") / "spinecoach" / "pin.json")
    store.set_pin(PIN)
    return store.path


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def screen(pin_file, clock):
    kiosk = Kiosk(PinGuard(PinStore(pin_file), clock=clock), idle_timeout_s=60.0, clock=clock)
    s = Screen(SIZE, kiosk=kiosk, mirror=False, clock=clock)
    s.draw(pygame.Surface(SIZE))
    return s


def patient_snapshot(person: bool = True) -> Snapshot:
    lm = np.full((33, 2), np.nan)
    if person:
        lm[11:29] = np.linspace(0.3, 0.7, 36).reshape(18, 2)
    return Snapshot(
        t=30.0,
        exercise_id="bridge",
        exercise_name="Glute bridge for patient 4711",
        phase="working",
        landmarks=lm if person else None,
        rep_count=5,
        reps_target=10,
        cue=Cue("bridge.hips", "Lift your hips higher", Severity.WARNING, 29.0),
        patient_code="4711",
    )


def click(screen: Screen, key: str) -> list:
    rect = dict(kiosk_view.keypad_layout(SIZE, screen.kiosk.state))[key]
    return screen.handle_event(
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1)
    )


def tap(screen: Screen, key: str) -> list:
    rect = dict(kiosk_view.keypad_layout(SIZE, screen.kiosk.state))[key]
    ev = pygame.event.Event(pygame.FINGERDOWN, x=rect.centerx / SIZE[0], y=rect.centery / SIZE[1])
    return screen.handle_event(ev)


def type_keys(screen: Screen, keys: str, press=click) -> list:
    out = []
    for k in keys:
        out += press(screen, k)
    return out + press(screen, OK)


def test_pin_file_holds_a_salted_hash_readable_by_owner_only(tmp_path):
    a = PinStore(tmp_path / "a" / "pin.json")
    b = PinStore(tmp_path / "b" / "pin.json")
    a.set_pin(PIN)
    b.set_pin(PIN)
    assert stat.S_IMODE(a.path.stat().st_mode) == 0o600
    text = a.path.read_text()
    assert PIN not in text
    assert text != b.path.read_text()  # different salt, different hash
    assert a.verify(PIN)
    assert not a.verify("2469")
    with pytest.raises(ValueError, match="4 to 12 digits"):
        a.set_pin("12a4")


def test_code_entry_on_the_keypad_starts_the_session(screen):
    assert screen.kiosk.state == KioskState.WELCOME
    assert type_keys(screen, "4711") == [EnterPatient("4711")]
    assert screen.kiosk.state == KioskState.SESSION
    assert not screen.showing_kiosk


def test_code_entry_by_touch_and_keyboard(screen):
    assert type_keys(screen, "1234", press=tap) == [EnterPatient("1234")]
    screen.end_session()
    out = []
    for ch in "98765":
        out += screen.handle_event(
            pygame.event.Event(pygame.KEYDOWN, key=ord(ch), unicode=ch, mod=0, scancode=0)
        )
    ret = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, unicode="\r", mod=0, scancode=0)
    assert out + screen.handle_event(ret) == [EnterPatient("98765")]


def test_mouse_copy_of_a_touch_is_not_counted_twice(screen):
    rect = dict(kiosk_view.keypad_layout(SIZE, KioskState.WELCOME))["7"]
    screen.handle_event(
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1, touch=True)
    )
    tap(screen, "7")
    assert screen.kiosk.entry == "7"


def test_short_code_is_refused_with_a_message(screen):
    assert type_keys(screen, "12") == []
    assert screen.kiosk.state == KioskState.WELCOME
    assert "4 to 8" in screen.kiosk.message


def test_wrong_pins_lock_the_pad_then_right_pin_works_after_lockout(screen, clock):
    type_keys(screen, "4711")
    screen.handle_event(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, unicode="", mod=0, scancode=0)
    )
    assert screen.kiosk.state == KioskState.PIN
    for _ in range(4):
        assert type_keys(screen, "1111") == []
    assert screen.kiosk.guard.failures == 4
    type_keys(screen, "1111")  # fifth wrong PIN
    assert screen.kiosk.guard.locked_for() == pytest.approx(60.0)
    # Locked: even the right PIN is refused, and the digits are greyed out on screen.
    assert type_keys(screen, PIN) == []
    assert screen.kiosk.guard.check(PIN) == PinResult.LOCKED
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    key5 = dict(kiosk_view.keypad_layout(SIZE, KioskState.PIN))["5"]
    assert tuple(surf.get_at((key5.x + 6, key5.centery)))[:3] == style.TRACK
    clock.now += 61
    assert type_keys(screen, PIN) == [ExitKiosk()]


def test_right_pin_exits_and_staff_button_opens_settings(screen):
    assert click(screen, kiosk_view.STAFF) == []
    assert screen.kiosk.state == KioskState.PIN
    assert type_keys(screen, PIN) == [OpenSettings()]
    assert screen.kiosk.state == KioskState.WELCOME
    screen.handle_event(pygame.event.Event(pygame.QUIT))
    assert screen.kiosk.state == KioskState.PIN
    assert type_keys(screen, PIN) == [ExitKiosk()]


def test_cancel_returns_to_the_session_without_pin(screen):
    type_keys(screen, "4711")
    screen.handle_event(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, unicode="", mod=0, scancode=0)
    )
    click(screen, "1")
    assert click(screen, "cancel") == []
    assert screen.kiosk.state == KioskState.SESSION


def test_therapist_view_needs_the_pin_in_the_kiosk(screen):
    type_keys(screen, "4711")
    t_key = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, unicode="t", mod=0, scancode=0)
    screen.handle_event(t_key)
    assert screen.view != THERAPIST
    assert screen.kiosk.state == KioskState.PIN
    type_keys(screen, PIN)
    assert screen.view == THERAPIST
    screen.handle_event(t_key)  # back to the patient view locks it again
    screen.handle_event(t_key)
    assert screen.view != THERAPIST and screen.kiosk.state == KioskState.PIN


def test_idle_returns_to_a_welcome_screen_without_patient_data(screen, clock, pin_file):
    fresh = Screen(SIZE, kiosk=Kiosk(PinGuard(PinStore(pin_file), clock=clock), clock=clock))
    pristine = pygame.Surface(SIZE)
    fresh.draw(pristine)

    type_keys(screen, "4711")
    surf = pygame.Surface(SIZE)
    for _ in range(3):
        clock.now += 50  # a person in view keeps the session alive past the timeout
        assert screen.update(patient_snapshot(person=True)) == []
    screen.draw(surf)
    assert not np.array_equal(pygame.surfarray.array3d(surf), pygame.surfarray.array3d(pristine))

    clock.now += 30
    assert screen.update(patient_snapshot(person=False)) == []
    clock.now += 31
    assert screen.update(patient_snapshot(person=False)) == [EndSession("idle")]
    assert screen.kiosk.state == KioskState.WELCOME
    screen.update(patient_snapshot(person=True))  # the engine may still send frames
    screen.draw(surf)
    assert np.array_equal(pygame.surfarray.array3d(surf), pygame.surfarray.array3d(pristine))


def test_half_typed_code_is_cleared_when_idle(screen, clock):
    click(screen, "4")
    click(screen, "7")
    clock.now += 61
    screen.update(None)
    assert screen.kiosk.entry == ""


def test_source_loss_in_session_draws_the_banner(screen):
    type_keys(screen, "4711")
    from dataclasses import replace

    snap = replace(
        patient_snapshot(), camera=SourceStatus("camera", "lost", message="unplugged"), frame=None
    )
    screen.update(snap)
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    banner = screen.patient.layout_for(SIZE).status_banner
    assert tuple(surf.get_at((banner.right - 6, banner.centery)))[:3] == style.YELLOW


def test_window_events_do_not_keep_a_session_alive(screen, clock):
    type_keys(screen, "4711")
    clock.now += 59
    screen.handle_event(pygame.event.Event(pygame.WINDOWEXPOSED))
    clock.now += 2
    assert screen.update(patient_snapshot(person=False)) == [EndSession("idle")]


def test_a_broken_frame_shows_a_notice_not_a_traceback(screen, caplog):
    type_keys(screen, "4711")
    bad = Snapshot(t=1.0, exercise_id="x", exercise_name="X", phase="working",
                   frame=np.zeros((4,), dtype=np.uint8))  # fmt: skip
    screen.update(bad)
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    assert "drawing failed" in caplog.text
    # Only the notice: the centre holds type, the panels of the patient view are absent.
    px = pygame.surfarray.array3d(surf)
    assert (px.min(axis=2) > 200).sum() > 200
    assert tuple(surf.get_at((SIZE[0] - 20, SIZE[1] // 2)))[:3] == style.BACKGROUND
    screen.update(patient_snapshot())
    screen.draw(surf)  # recovers with the next good snapshot
    assert tuple(surf.get_at((SIZE[0] - 20, SIZE[1] // 2)))[:3] != style.BACKGROUND


def test_default_pin_file_lives_in_the_user_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    k = Kiosk()
    assert k.guard.store.path == tmp_path / "spinecoach" / "therapist_pin.json"
    assert k.guard.check(PIN) == PinResult.NOT_SET  # no PIN yet: refused, nothing unlocked
    k.guard.store.set_pin(PIN)
    assert stat.S_IMODE(k.guard.store.path.parent.stat().st_mode) & 0o077 == 0
    assert k.guard.check(PIN) == PinResult.OK


def test_safety_stop_shows_over_the_pin_pad(screen):
    from dataclasses import replace

    type_keys(screen, "4711")
    screen.handle_event(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, unicode="", mod=0, scancode=0)
    )
    assert screen.showing_kiosk
    stop = replace(patient_snapshot(), safety_stop=True, phase="stopped")
    screen.update(stop)
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    band_y = round(SIZE[1] * 0.3 + SIZE[1] * 0.36 / 2)
    assert tuple(surf.get_at((SIZE[0] - 30, band_y)))[:3] == style.VERMILLION
    screen.update(patient_snapshot())
    screen.draw(surf)
    assert tuple(surf.get_at((SIZE[0] - 30, band_y)))[:3] != style.VERMILLION


def test_set_pin_command_and_tightening_an_existing_file(tmp_path, monkeypatch):
    from feedback import kiosk as kiosk_mod

    path = tmp_path / "pin.json"
    path.write_text("{}")
    path.chmod(0o644)
    answers = iter(["13579", "13579"])
    monkeypatch.setattr(kiosk_mod.getpass, "getpass", lambda prompt="": next(answers))
    assert kiosk_mod.main(["--set-pin", "--path", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PinStore(path).verify("13579")
    answers = iter(["1111", "2222"])
    assert kiosk_mod.main(["--set-pin", "--path", str(path)]) == 1  # mismatch: unchanged
    assert PinStore(path).verify("13579")
