"""Patient sign-in and PIN rules: PIN records, growing lock-outs, the gate on a real SQLite
file, and the therapist's ``main.py patient`` command."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import stat

import pytest

from access import pins
from access.alerts import AlertKind, AlertLog
from access.errors import BadPin, PinRecordError
from access.lockout import Lockout, LockoutPolicy, LockoutState, after_failure
from access.patients import PatientGate, SignIn
from devtools.kiosk_fixtures import PATIENTS, FakeClock, store_with_patients
from storage import open_store
from tests.helpers import run_main

CODE, PIN = "4711", PATIENTS["4711"]


@pytest.fixture
def store(tmp_path):
    s = store_with_patients(tmp_path / "clinic.sqlite")
    yield s
    s.close()


# -- PIN rules and records -----------------------------------------------------------------


@pytest.mark.parametrize("pin", ["١٣٥٧", "１３５７", "13²7", "13 7", "1357\n", "", "123"])
def test_only_ascii_digits_of_the_right_length_are_a_pin(pin):
    with pytest.raises(BadPin) as err:
        pins.check_pin(pin, pins.PATIENT_MIN_DIGITS)
    assert pin.strip() not in str(err.value) or not pin.strip()  # the PIN is never echoed


def test_pin_lengths():
    assert pins.check_pin("1357", pins.PATIENT_MIN_DIGITS) == "1357"
    with pytest.raises(BadPin, match="6 to 12 digits, got 4"):
        pins.check_pin("1357", pins.THERAPIST_MIN_DIGITS)
    with pytest.raises(BadPin, match="got 13"):
        pins.check_pin("1" * 13, pins.PATIENT_MIN_DIGITS)


def test_record_round_trip_and_strict_reading():
    text = pins.hash_pin(PIN, 4)
    rec = pins.parse_record(text, "test")
    assert pins.verify(rec, PIN) and not pins.verify(rec, "1358")
    assert PIN not in text and rec.min_digits == 4
    for bad in ('{"kdf": "scrypt", "n": true}', '{"kdf": "md5"}', "[]", "{", "[" * 50_000, "1"):
        with pytest.raises(PinRecordError, match="test"):
            pins.parse_record(bad, "test")
    # A record that asks for more memory than allowed is refused, not computed.
    huge = text.replace('"n": 16384', '"n": 1048576')
    with pytest.raises(PinRecordError, match="not allowed"):
        pins.parse_record(huge, "test")


# -- lock-outs -----------------------------------------------------------------------------


def test_lockouts_double_up_to_a_day_and_are_forgotten_after_a_quiet_day():
    p = LockoutPolicy()
    assert [p.duration_s(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert p.duration_s(30) == p.duration_s(3000) == 86400
    s, now = LockoutState(), 0.0
    for _ in range(5):
        s = after_failure(s, now, p)
    assert s.lockouts == 1 and s.locked_for(now, p) == 60
    now += 61
    for _ in range(5):
        s = after_failure(s, now, p)
    assert s.lockouts == 2 and s.locked_for(now, p) == 120
    now += 2 * 86400  # two quiet days: the next wrong try starts counting afresh
    s = after_failure(s, now, p)
    assert s.failures == 1 and s.lockouts == 0


def test_a_clock_set_back_cannot_lock_longer_than_the_longest_lockout():
    p = LockoutPolicy()
    s = LockoutState(0, 1, locked_until=1e12)
    assert s.locked_for(0.0, p) == p.longest_lockout_s


def test_bad_policies_are_refused():
    for kw in ({"first_lockout_s": float("nan")}, {"growth": 0.5}, {"max_failures": 0}):
        with pytest.raises(ValueError):
            LockoutPolicy(**kw)


def test_memory_lockout_counts_tries_left():
    clock = FakeClock()
    lock = Lockout(LockoutPolicy(max_failures=3), clock)
    assert not lock.failure() and lock.tries_left == 2
    assert not lock.failure()
    assert lock.failure() and lock.locked_for() == 60


# -- the gate on a real database ------------------------------------------------------------


def test_unknown_code_no_pin_wrong_pin_and_locked_all_refused_alike(store, monkeypatch):
    """Before: any code typed at the kiosk started a session and created the patient."""
    clock = FakeClock(1.7e9)
    gate = PatientGate(store, clock=clock)
    store.ensure_patient("6006")  # no PIN: a desk patient
    calls = []
    real = hashlib.scrypt

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    for code, pin in (("9999", PIN), ("6006", PIN), (CODE, "0000"), ("not a code!", PIN)):
        calls.clear()
        assert gate.sign_in(code, pin) == SignIn.REFUSED
        assert len(calls) == 1, code  # one hash whatever the reason: same time for all
    assert gate.sign_in(CODE, PIN) == SignIn.OK
    assert {p.code for p in store.list_patients()} == {*PATIENTS, "6006"}


def test_patient_lockout_is_stored_grows_and_raises_an_alert(tmp_path):
    path = tmp_path / "clinic.sqlite"
    store = store_with_patients(path)
    clock = FakeClock(1.7e9)
    alerts = AlertLog(lambda a: store.add_access_alert(a.kind.value, a.message, a.patient_code))
    gate = PatientGate(store, clock=clock, on_alert=alerts)
    for _ in range(5):
        assert gate.sign_in(CODE, "0000") == SignIn.REFUSED
    assert gate.sign_in(CODE, PIN) == SignIn.REFUSED  # locked out
    assert gate.sign_in("5150", PATIENTS["5150"]) == SignIn.OK  # others are not
    store.close()

    store = open_store(path)  # a restart (or another kiosk) keeps the lock-out
    gate = PatientGate(store, clock=clock, on_alert=alerts)
    assert gate.sign_in(CODE, PIN) == SignIn.REFUSED
    clock.now += 61
    for _ in range(5):
        gate.sign_in(CODE, "0000")
    access = store.patient_access(CODE)
    assert access.lockouts == 2 and access.locked_until == pytest.approx(clock.now + 120)
    clock.now += 119
    assert gate.sign_in(CODE, PIN) == SignIn.REFUSED
    clock.now += 2
    assert gate.sign_in(CODE, PIN) == SignIn.OK
    assert store.patient_access(CODE).lockouts == 0
    saved = store.access_alerts()
    assert [a.kind for a in saved] == [AlertKind.PATIENT_LOCKED.value] * 2
    assert saved[0].patient_code == CODE and "locked for 1 min" in saved[0].message
    assert "locked for 2 min" in saved[1].message and saved[1].station
    store.close()


def test_a_damaged_pin_record_is_refused_and_logged(store, caplog):
    conn = sqlite3.connect(store.location)
    conn.execute('UPDATE patients SET pin_record = \'{"kdf": "scrypt"}\' WHERE code = ?', (CODE,))
    conn.commit()
    conn.close()
    assert PatientGate(store).sign_in(CODE, PIN) == SignIn.REFUSED
    assert "PIN record of patient 4711" in caplog.text


def test_the_pin_record_never_leaves_in_an_export(store, tmp_path):
    from storage.export import export_patient

    written = export_patient(store, CODE, "json", tmp_path / "p.json")
    text = written[0].read_text()
    assert "scrypt" not in text and store.patient_access(CODE).pin_record[-40:-5] not in text


# -- main.py patient --------------------------------------------------------------------------


def test_therapist_adds_a_patient_and_the_pin_works(tmp_path):
    db = tmp_path / "clinic.sqlite"
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text("24680\n")
    proc = run_main("patient", "add", "8008", "--db", str(db), "--pin-file", str(pin_file))
    assert proc.returncode == 0, proc.stderr
    assert "24680" not in proc.stdout + proc.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    again = run_main("patient", "add", "8008", "--db", str(db), "--pin-file", str(pin_file))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert again.stderr.count("\n") == 1
    with open_store(db) as store:
        assert PatientGate(store).sign_in("8008", "24680") == SignIn.OK
        assert PatientGate(store).sign_in("8008", "24681") == SignIn.REFUSED
    listing = run_main("patient", "list", "--db", str(db))
    assert "8008" in listing.stdout and "kiosk PIN set" in listing.stdout


@pytest.mark.parametrize(
    "pin_text, says",
    [
        ("١٣٥٧\n", "only the digits 0-9"),
        ("12\n", "4 to 12 digits, got 2"),
        ("1357\n2468\n", "one line"),
    ],
)
def test_patient_add_refuses_bad_pins_with_one_line(tmp_path, pin_text, says):
    db = tmp_path / "clinic.sqlite"
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(pin_text)
    proc = run_main("patient", "add", "8008", "--db", str(db), "--pin-file", str(pin_file))
    assert proc.returncode == 2 and says in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not db.exists()  # nothing created


def test_patient_pin_is_asked_twice_without_echo_or_refused_without_a_terminal(
    tmp_path, monkeypatch, capsys
):
    from access import cli

    db = str(tmp_path / "clinic.sqlite")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["add", "8008", "--db", db]) == 2
    assert "no terminal" in capsys.readouterr().err
    answers = iter(["2468", "2469"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["add", "8008", "--db", db]) == 2
    assert "differ" in capsys.readouterr().err
    answers = iter(["2468", "2468"])
    assert cli.main(["add", "8008", "--db", db]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("97531\n"))
    assert cli.main(["set-pin", "8008", "--db", db, "--pin-stdin"]) == 0
    with open_store(db) as store:
        assert PatientGate(store).sign_in("8008", "97531") == SignIn.OK


def test_unlock_and_alerts_commands(tmp_path, capsys):
    from access import cli

    path = tmp_path / "clinic.sqlite"
    store = store_with_patients(path)
    alerts = AlertLog(lambda a: store.add_access_alert(a.kind.value, a.message, a.patient_code))
    gate = PatientGate(store, on_alert=alerts)
    for _ in range(5):
        gate.sign_in(CODE, "0000")
    assert gate.sign_in(CODE, PIN) == SignIn.REFUSED
    store.close()
    assert cli.main(["alerts", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "patient_pin_lockout" in out and "patient 4711" in out
    assert cli.main(["unlock", CODE, "--db", str(path)]) == 0
    with open_store(path) as store:
        assert PatientGate(store).sign_in(CODE, PIN) == SignIn.OK
    assert cli.main(["unlock", "0000", "--db", str(path)]) == 2
    assert cli.main(["list", "--db", str(tmp_path / "missing.sqlite")]) == 2
    assert not (tmp_path / "missing.sqlite").exists()
