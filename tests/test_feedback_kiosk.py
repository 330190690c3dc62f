"""Kiosk flows driven by synthetic pygame events through the real Screen and keypad, with
patients signed in against a real SQLite store."""

import os
import stat

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import hashlib
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pygame
import pytest

from access.alerts import AlertKind, AlertLog
from access.errors import AccessError
from access.lockout import LockoutPolicy
from access.patients import PatientGate
from access.pins import hash_pin
from devtools.kiosk_fixtures import PATIENTS, THERAPIST_PIN, FakeClock, store_with_patients
from devtools.kiosk_fixtures import click as _click
from devtools.kiosk_fixtures import sign_in as _sign_in
from devtools.kiosk_fixtures import type_keys as _type_keys
from feedback import kiosk_view, style
from feedback.app_window import THERAPIST, Screen
from feedback.intents import EndSession, EnterPatient, ExitKiosk, OpenSettings
from feedback.kiosk import (
    REFUSED,
    TOO_MANY,
    Kiosk,
    KioskState,
    PinGuard,
    PinResult,
    PinStore,
)
from session.snapshot import Cue, Severity, Snapshot, SourceStatus
from tests.helpers import ROOT, file_kind, foreign_sqlite, special_files

SIZE = (1280, 720)
PIN = THERAPIST_PIN
CODE, CODE_PIN = "4711", PATIENTS["4711"]


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


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = store_with_patients(tmp_path_factory.mktemp("db") / "kiosk.sqlite")
    yield s
    s.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def alerts():
    return AlertLog()


@pytest.fixture
def screen(pin_file, store, clock, alerts):
    for code in PATIENTS:  # every test starts without lock-outs
        store.set_patient_pin(code, store.patient_access(code).pin_record)
    kiosk = Kiosk(
        PinGuard(PinStore(pin_file), clock=clock, on_alert=alerts),
        PatientGate(store, clock=clock, on_alert=alerts),
        idle_timeout_s=60.0,
        summary_s=10.0,
        clock=clock,
        on_alert=alerts,
    )
    s = Screen(SIZE, kiosk=kiosk, mirror=False, clock=clock, alerts=alerts)
    s.draw(pygame.Surface(SIZE))
    return s


def click(screen, key):
    return _click(screen, key, SIZE)


def type_keys(screen, keys, touch=False):
    return _type_keys(screen, keys, SIZE, touch)


def sign_in(screen, code=CODE, pin=CODE_PIN):
    return _sign_in(screen, code, pin, SIZE)


def esc():
    return pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, unicode="", mod=0, scancode=0)


def patient_snapshot(person: bool = True, phase: str = "working") -> Snapshot:
    lm = np.full((33, 2), np.nan)
    if person:
        lm[11:29] = np.linspace(0.3, 0.7, 36).reshape(18, 2)
    return Snapshot(
        t=30.0,
        exercise_id="bridge",
        exercise_name="Glute bridge for patient 4711",
        phase=phase,
        landmarks=lm if person else None,
        rep_count=5,
        reps_target=10,
        cue=Cue("bridge.hips", "Lift your hips higher", Severity.WARNING, 29.0),
        patient_code="4711",
    )


def pixels(screen) -> np.ndarray:
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    return pygame.surfarray.array3d(surf)


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
    assert not a.verify("246811")
    with pytest.raises(ValueError, match="6 to 12 digits"):
        a.set_pin("1234")
    with pytest.raises(ValueError, match="only the digits 0-9"):
        a.set_pin("12a456")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["pin.json"]  # no temp files


def test_code_then_personal_pin_starts_the_session(screen):
    assert screen.kiosk.state == KioskState.WELCOME
    assert type_keys(screen, CODE) == []
    assert screen.kiosk.state == KioskState.SIGN_IN
    assert screen.showing_kiosk  # the PIN pad, not the patient view
    assert type_keys(screen, CODE_PIN) == [EnterPatient(CODE)]
    assert screen.kiosk.state == KioskState.SESSION
    assert not screen.showing_kiosk


def test_code_entry_by_touch_and_keyboard(screen):
    assert type_keys(screen, "5150", touch=True) == []
    assert type_keys(screen, PATIENTS["5150"], touch=True) == [EnterPatient("5150")]
    screen.end_session()
    out = []
    for ch in CODE + "\r" + CODE_PIN + "\r":
        key = pygame.K_RETURN if ch == "\r" else ord(ch)
        out += screen.handle_event(
            pygame.event.Event(pygame.KEYDOWN, key=key, unicode=ch, mod=0, scancode=0)
        )
    assert out == [EnterPatient(CODE)]


def test_non_ascii_digits_from_a_keyboard_are_not_typed(screen):
    for ch in "٤٧١١":  # Arabic-Indic digits: str.isdigit() is True for them
        screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=0, unicode=ch, mod=0))
    assert screen.kiosk.entry == ""


def test_mouse_copy_of_a_touch_is_not_counted_twice(screen):
    rect = dict(kiosk_view.keypad_layout(SIZE, KioskState.WELCOME))["7"]
    screen.handle_event(
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1, touch=True)
    )
    screen.handle_event(
        pygame.event.Event(pygame.FINGERDOWN, x=rect.centerx / SIZE[0], y=rect.centery / SIZE[1])
    )
    assert screen.kiosk.entry == "7"


def test_short_code_is_refused_with_a_message(screen):
    assert type_keys(screen, "12") == []
    assert screen.kiosk.state == KioskState.WELCOME
    assert "4 to 8" in screen.kiosk.message


def test_unknown_code_and_wrong_pin_look_and_cost_the_same(screen, store, monkeypatch):
    """Before: any code typed started a session under it (creating unknown patients)."""
    calls = []
    real = hashlib.scrypt

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    seen = []
    for code, pin in (("9999", "1357"), (CODE, "0000"), ("99999999", "0000")):
        calls.clear()
        assert sign_in(screen, code, pin) == []
        assert screen.kiosk.state == KioskState.WELCOME
        assert len(calls) == 1  # one scrypt each: an unknown code takes as long as a known one
        seen.append((screen.kiosk.message, pixels(screen)))
    assert seen[0][0] == seen[1][0] == seen[2][0] == REFUSED
    assert np.array_equal(seen[0][1], seen[1][1]) and np.array_equal(seen[1][1], seen[2][1])
    assert {p.code for p in store.list_patients()} == set(PATIENTS)  # nothing was created


def test_patient_without_a_pin_cannot_sign_in(screen, store):
    store.ensure_patient("6006")  # e.g. created by a desk session before kiosk PINs existed
    assert sign_in(screen, "6006", "") == [] and screen.kiosk.message == REFUSED
    assert sign_in(screen, "6006", "1234") == [] and screen.kiosk.message == REFUSED


def test_refused_sign_ins_lock_the_keypad_longer_each_time(screen, clock, alerts):
    k = screen.kiosk
    for _ in range(4):
        sign_in(screen, "9999", "1111")
        assert k.message == REFUSED and k.locked_for() == 0
    sign_in(screen, "9998", "1111")  # different codes count together: it is one keypad
    assert k.message == TOO_MANY and k.locked_for() == pytest.approx(60.0)
    assert alerts.recent[-1].kind == AlertKind.KEYPAD_LOCKED
    assert sign_in(screen, CODE, CODE_PIN) == []  # locked: even a right sign-in waits
    assert k.state == KioskState.WELCOME and k.entry == ""
    # The digits are greyed out; the staff button is not.
    px = pixels(screen)
    lay = dict(kiosk_view.keypad_layout(SIZE, KioskState.WELCOME))
    assert tuple(px[lay["5"].x + 6, lay["5"].centery]) == style.TRACK
    assert tuple(px[lay[kiosk_view.STAFF].x + 6, lay[kiosk_view.STAFF].centery]) != style.TRACK
    clock.now += 61
    for _ in range(5):
        sign_in(screen, "9999", "1111")
    assert k.locked_for() == pytest.approx(120.0)  # the second lock-out lasts twice as long
    clock.now += 121
    assert sign_in(screen, CODE, CODE_PIN) == [EnterPatient(CODE)]


def test_therapist_pin_lifts_the_keypad_lock(screen):
    for _ in range(5):
        sign_in(screen, "9999", "1111")
    assert screen.kiosk.locked_for() > 0
    click(screen, kiosk_view.STAFF)
    assert type_keys(screen, PIN) == [OpenSettings()]
    assert screen.kiosk.locked_for() == 0


def test_wrong_patient_pins_lock_that_patient_out_and_alert(screen, clock, store, alerts):
    k = screen.kiosk
    for i in range(5):
        sign_in(screen, CODE, "0000")
        if i < 4:
            clock.now += 1000  # slow enough that the keypad never locks
            k.keypad.success()
    assert store.patient_access(CODE).lockouts == 1
    assert alerts.recent[-1].kind == AlertKind.PATIENT_LOCKED
    assert alerts.recent[-1].patient_code == CODE
    k.keypad.success()
    assert sign_in(screen, CODE, CODE_PIN) == []  # locked out: refused like any wrong PIN
    assert k.message == REFUSED
    clock.now += 61
    assert sign_in(screen, CODE, CODE_PIN) == [EnterPatient(CODE)]


def test_cancel_on_the_personal_pin_returns_to_welcome(screen):
    type_keys(screen, CODE)
    click(screen, "1")
    assert click(screen, "cancel") == []
    assert screen.kiosk.state == KioskState.WELCOME and screen.kiosk.entry == ""


def test_wrong_pins_lock_the_pad_longer_each_time_then_right_pin_works(screen, clock, alerts):
    sign_in(screen)
    screen.handle_event(esc())
    assert screen.kiosk.state == KioskState.PIN
    for _ in range(4):
        assert type_keys(screen, "111111") == []
    assert screen.kiosk.guard.failures == 4
    type_keys(screen, "111111")  # fifth wrong PIN
    assert screen.kiosk.guard.locked_for() == pytest.approx(60.0)
    assert alerts.recent[-1].kind == AlertKind.THERAPIST_LOCKED
    # Locked: even the right PIN is refused, and the digits are greyed out on screen.
    assert type_keys(screen, PIN) == []
    assert screen.kiosk.guard.check(PIN) == PinResult.LOCKED
    key5 = dict(kiosk_view.keypad_layout(SIZE, KioskState.PIN))["5"]
    assert tuple(pixels(screen)[key5.x + 6, key5.centery]) == style.TRACK
    clock.now += 61
    for _ in range(5):
        type_keys(screen, "111111")
    assert screen.kiosk.guard.locked_for() == pytest.approx(120.0)
    clock.now += 121
    assert type_keys(screen, PIN) == [ExitKiosk()]


def test_no_key_ends_the_kiosk_without_the_pin(screen):
    """Before: Q during a session quit the kiosk (found by the soak test)."""
    sign_in(screen)
    for key, char in ((pygame.K_q, "q"), (pygame.K_F4, ""), (pygame.K_ESCAPE, "")):
        ev = pygame.event.Event(pygame.KEYDOWN, key=key, unicode=char, mod=0, scancode=0)
        assert screen.handle_event(ev) == []
    assert screen.kiosk.state == KioskState.PIN  # Esc asks for the PIN
    click(screen, "cancel")
    assert screen.handle_event(pygame.event.Event(pygame.QUIT)) == []
    assert screen.kiosk.state == KioskState.PIN


def test_right_pin_exits_and_staff_button_opens_settings(screen):
    assert click(screen, kiosk_view.STAFF) == []
    assert screen.kiosk.state == KioskState.PIN
    assert type_keys(screen, PIN) == [OpenSettings()]
    assert screen.kiosk.state == KioskState.WELCOME
    screen.handle_event(pygame.event.Event(pygame.QUIT))
    assert screen.kiosk.state == KioskState.PIN
    assert type_keys(screen, PIN) == [ExitKiosk()]


def test_cancel_returns_to_the_session_without_pin(screen):
    sign_in(screen)
    screen.handle_event(esc())
    click(screen, "1")
    assert click(screen, "cancel") == []
    assert screen.kiosk.state == KioskState.SESSION


def test_therapist_view_needs_the_pin_in_the_kiosk(screen, alerts):
    sign_in(screen)
    t_key = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_t, unicode="t", mod=0, scancode=0)
    screen.handle_event(t_key)
    assert screen.view != THERAPIST
    assert screen.kiosk.state == KioskState.PIN
    type_keys(screen, PIN)
    assert screen.view == THERAPIST
    screen.update(patient_snapshot())
    assert screen.therapist.access_note == alerts.note() == "none"
    screen.handle_event(t_key)  # back to the patient view locks it again
    screen.handle_event(t_key)
    assert screen.view != THERAPIST and screen.kiosk.state == KioskState.PIN


def fresh_welcome(pin_file, clock) -> np.ndarray:
    fresh = Screen(SIZE, kiosk=Kiosk(PinGuard(PinStore(pin_file), clock=clock), clock=clock))
    return pixels(fresh)


def test_idle_returns_to_a_welcome_screen_without_patient_data(screen, clock, pin_file):
    pristine = fresh_welcome(pin_file, clock)
    sign_in(screen)
    for _ in range(3):
        clock.now += 50  # a person in view keeps the session alive past the timeout
        assert screen.update(patient_snapshot(person=True)) == []
    assert not np.array_equal(pixels(screen), pristine)

    clock.now += 30
    assert screen.update(patient_snapshot(person=False)) == []
    clock.now += 31
    assert screen.update(patient_snapshot(person=False)) == [EndSession("idle")]
    assert screen.kiosk.state == KioskState.WELCOME
    screen.update(patient_snapshot(person=True))  # the engine may still send frames
    assert np.array_equal(pixels(screen), pristine)


def test_ended_session_shows_its_summary_then_welcome(screen, clock, pin_file):
    """Before: with a person still in view the last patient's screen stayed up for good."""
    pristine = fresh_welcome(pin_file, clock)
    sign_in(screen)
    screen.update(patient_snapshot(person=True))
    clock.now += 5
    assert screen.update(patient_snapshot(person=True, phase="done")) == []
    assert not np.array_equal(pixels(screen), pristine)  # the summary shows
    clock.now += 9.9
    assert screen.update(patient_snapshot(person=True, phase="done")) == []
    clock.now += 0.2  # summary_s = 10 after the end, with the person still in front of it
    assert screen.update(patient_snapshot(person=True, phase="done")) == [EndSession("done")]
    assert screen.kiosk.state == KioskState.WELCOME
    screen.update(patient_snapshot(person=True, phase="done"))
    assert np.array_equal(pixels(screen), pristine)


def test_half_typed_code_is_cleared_when_idle(screen, clock):
    click(screen, "4")
    click(screen, "7")
    clock.now += 61
    screen.update(None)
    assert screen.kiosk.entry == ""


def test_half_done_sign_in_is_dropped_when_idle(screen, clock):
    type_keys(screen, CODE)
    click(screen, "1")
    clock.now += 61
    assert screen.update(None) == []
    assert screen.kiosk.state == KioskState.WELCOME and screen.kiosk.entry == ""
    # The code typed before is gone: a PIN now is taken as a new code, not as its PIN.
    assert type_keys(screen, CODE_PIN) == [] and screen.kiosk.state == KioskState.SIGN_IN


def test_source_loss_in_session_draws_the_banner(screen):
    sign_in(screen)
    snap = replace(
        patient_snapshot(), camera=SourceStatus("camera", "lost", message="unplugged"), frame=None
    )
    screen.update(snap)
    surf = pygame.Surface(SIZE)
    screen.draw(surf)
    banner = screen.patient.layout_for(SIZE).status_banner
    assert tuple(surf.get_at((banner.right - 6, banner.centery)))[:3] == style.YELLOW


def test_window_events_do_not_keep_a_session_alive(screen, clock):
    sign_in(screen)
    clock.now += 59
    screen.handle_event(pygame.event.Event(pygame.WINDOWEXPOSED))
    clock.now += 2
    assert screen.update(patient_snapshot(person=False)) == [EndSession("idle")]


def test_a_broken_frame_shows_a_notice_not_a_traceback(screen, caplog):
    sign_in(screen)
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
    assert Kiosk().state == KioskState.WELCOME


def test_safety_stop_shows_over_the_pin_pad(screen):
    sign_in(screen)
    screen.handle_event(esc())
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


# -- therapist PIN: lock-outs that outlive a restart, the PIN file, --set-pin -----------------


def test_therapist_lockout_survives_a_restart_and_grows(pin_file, tmp_path, clock):
    store = PinStore(tmp_path / "pin.json")
    store.set_pin(PIN)
    guard = PinGuard(store, clock=clock, persist=True)
    for _ in range(5):
        guard.check("000000")
    assert guard.locked_for() == pytest.approx(60.0)
    assert stat.S_IMODE(store.lockout_path.stat().st_mode) == 0o600
    again = PinGuard(store, clock=clock, persist=True)  # the kiosk was restarted
    assert again.check(PIN) == PinResult.LOCKED
    clock.now += 61
    for _ in range(5):
        again.check("000000")
    assert PinGuard(store, clock=clock, persist=True).locked_for() == pytest.approx(120.0)


def test_ten_thousand_guesses_take_years_not_hours():
    """Before: 5 tries a minute, every minute: all 10,000 four-digit PINs in about 33 hours."""
    from access.lockout import Lockout

    t = [0.0]
    lock = Lockout(LockoutPolicy(), clock=lambda: t[0])
    for _ in range(10_000):
        t[0] += max(lock.locked_for(), 1.0)  # the attacker waits out each lock-out at once
        lock.failure()
    assert t[0] / 86400 > 365 * 5


@pytest.mark.parametrize(
    "content",
    [
        '{"kdf": "scrypt", "n": 16384, "r": 8, "p": 1, "salt": 5, "hash": "00"}',
        '{"kdf": "scrypt", "n": "16384", "r": 8, "p": 1, "salt": "00", "hash": "00"}',
        '{"kdf": "scrypt", "n": 1073741824, "r": 8, "p": 1, "salt": "' + "00" * 16 + '"}',
        '["kdf", "scrypt"]',
        "[" * 100_000 + "]" * 100_000,
        "not json",
        "",
        '{"kdf": "scrypt", "n": 16384, "r": 8, "p": 1, "salt": "'
        + "ab" * 16
        + '", "hash": "'
        + "cd" * 64
        + '"}',  # a valid record from before the 6-digit rule
    ],
)
def test_malformed_pin_file_refuses_the_therapist_and_the_kiosk_goes_on(
    tmp_path, content, caplog, clock, store
):
    """Before: a TypeError from the PIN check ended the kiosk."""
    path = tmp_path / "pin.json"
    path.write_text(content)
    kiosk = Kiosk(PinGuard(PinStore(path), clock=clock), PatientGate(store), clock=clock)
    screen = Screen(SIZE, kiosk=kiosk)
    assert PinStore(path).problem() is not None
    screen.handle_event(esc())
    assert type_keys(screen, PIN) == []
    assert kiosk.message == "No valid therapist PIN on this kiosk"
    assert "therapist PIN refused" in caplog.text and "Traceback" not in caplog.text
    assert len([r for r in caplog.records if "therapist PIN" in r.getMessage()]) == 1
    click(screen, "cancel")
    assert sign_in(screen) == [EnterPatient(CODE)]  # patients are still served


def test_pin_file_that_is_a_folder_is_refused(tmp_path, clock):
    (tmp_path / "pin.json").mkdir()
    guard = PinGuard(PinStore(tmp_path / "pin.json"), clock=clock)
    assert guard.check(PIN) == PinResult.BROKEN
    assert "is a folder" in PinStore(tmp_path / "pin.json").problem()


def set_pin(monkeypatch, argv, answers):
    from feedback import kiosk as kiosk_mod

    it = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(it))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    return kiosk_mod.main(["--set-pin", *argv])


def test_set_pin_command_and_tightening_an_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "pin.json"
    path.write_text(hash_pin("2468", 4))  # a PIN set under the old 4-digit rule
    path.chmod(0o644)
    assert set_pin(monkeypatch, ["--path", str(path)], ["135790", "135790"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PinStore(path).verify("135790")
    assert set_pin(monkeypatch, ["--path", str(path)], ["111111", "222222"]) == 2  # mismatch
    assert PinStore(path).verify("135790")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pin.json"]


@pytest.mark.parametrize(
    "pin, says",
    [
        ("٢٤٦٨١٠", "only the digits 0-9"),  # Arabic-Indic: can never be typed on the keypad
        ("２４６８１０", "only the digits 0-9"),  # full-width
        ("2468", "6 to 12 digits, got 4"),  # no four-digit therapist PINs
        ("24681012141618", "6 to 12 digits, got 14"),
    ],
)
def test_set_pin_refuses_what_the_keypad_cannot_type_or_too_short(
    tmp_path, monkeypatch, capsys, pin, says
):
    path = tmp_path / "pin.json"
    assert set_pin(monkeypatch, ["--path", str(path)], [pin, pin]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and pin not in err
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_set_pin_to_a_folder_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch, capsys):
    """Before: os.replace failed on the folder and left a .tmp file holding the hash."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    assert set_pin(monkeypatch, ["--path", str(folder)], [PIN, PIN]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_set_pin_from_a_file_or_stdin(tmp_path, monkeypatch, capsys):
    from feedback import kiosk as kiosk_mod

    src = tmp_path / "new-pin.txt"
    src.write_text("975310\n")
    path = tmp_path / "pin.json"
    assert kiosk_mod.main(["--set-pin", "--path", str(path), "--pin-file", str(src)]) == 0
    assert PinStore(path).verify("975310")
    src.write_text("975310\n123456\n")
    assert kiosk_mod.main(["--set-pin", "--path", str(path), "--pin-file", str(src)]) == 2
    assert "one line" in capsys.readouterr().err
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("864200\n"))
    assert kiosk_mod.main(["--set-pin", "--path", str(path), "--pin-stdin"]) == 0
    assert PinStore(path).verify("864200")
    assert json.loads(path.read_text())["min_digits"] == 6


def _set_pin_process(path: str) -> subprocess.CompletedProcess:
    """``python -m feedback.kiosk --set-pin`` as a therapist runs it, the PIN on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "feedback.kiosk", "--set-pin", "--path", path, "--pin-stdin"],
        cwd=ROOT,
        input="135790\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_set_pin_replaces_only_a_pin_file(tmp_path, monkeypatch, capsys):
    """Before: a database given as --path was replaced by the PIN record (exit 0), and so was
    a device node or a pipe."""
    db = foreign_sqlite(tmp_path / "clinic.sqlite")
    proc = _set_pin_process(str(db))
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"python -m feedback.kiosk: error: --path: {db} exists and is not a therapist PIN "
        "file; refusing to replace it (move it aside if it is no longer needed)\n"
    )
    others = [tmp_path / "notes.txt", tmp_path / "empty.json", tmp_path / "big.json"]
    others[0].write_text("kiosk notes")
    others[1].write_bytes(b"")
    others[2].write_text(hash_pin("246813", 6) + " " * 5000)  # a record, then more than fits
    before = {p: p.read_bytes() for p in [db, *others]}
    for path in [db, *others]:
        assert set_pin(monkeypatch, ["--path", str(path)], [PIN, PIN]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is not a therapist PIN file" in err, err
        with pytest.raises(AccessError, match="not a therapist PIN file"):
            PinStore(path).set_pin(PIN)  # the same rule without the command line
    assert {p: p.read_bytes() for p in before} == before
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT name FROM contacts").fetchall() == [("x",)]
    conn.close()
    kinds = {p: file_kind(p) for p in special_files(tmp_path)}
    for path in kinds:
        assert set_pin(monkeypatch, ["--path", str(path)], [PIN, PIN]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"expected a file name, got a special file {path}" in err
    assert {p: file_kind(p) for p in kinds} == kinds
    assert not list(tmp_path.glob(".*.tmp"))
    pin_file = tmp_path / "pin.json"
    pin_file.write_text(hash_pin("246813", 6))
    assert set_pin(monkeypatch, ["--path", str(pin_file)], [PIN, PIN]) == 0  # a PIN file: yes
    assert PinStore(pin_file).verify(PIN)


def test_set_pin_path_too_long_for_the_system_is_one_line(tmp_path):
    """Before: OSError File name too long, a traceback, exit 1."""
    path = str(tmp_path / ("a" * 5000))
    proc = _set_pin_process(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr == (
        "python -m feedback.kiosk: error: argument --path: path too long for the system "
        f"({len(path)} characters): {path[:50]}...{path[-20:]}\n"
    )
    assert list(tmp_path.iterdir()) == []
