"""The dashboard over plain HTTP (a real ``main.py dashboard`` process on the test server's
database): nothing without signing in, cookie flags, CSRF tokens and Origin checks on every
change, lock-out, sign-out, escaping of what stations send, the event stream, body limits."""

from __future__ import annotations

import html
import http.client
import io
import json
import re
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from clinic import programme as prog
from clinic import progression
from storage.records import ProgrammeItem
from storage.station_status import StationStatus
from tests.dashboard_fixtures import PASSWORD, PATIENT, THERAPIST, Dashboard, make_clinic
from tests.pg_server import PostgresServer


class Browser:
    """A minimal cookie-keeping HTTP client."""

    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        self.host, self.port, self.origin = u.hostname, u.port, base
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, form: dict | None = None, headers=None,
                body: bytes | None = None):  # fmt: skip
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = {"Origin": self.origin} if method == "POST" else {}
        h.update(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(header)
            jar = SimpleCookie(header)
            for k, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = morsel.value
        conn.close()
        return resp, data.decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        resp, page = self.request("GET", path)
        assert resp.status == 200, (path, resp.status)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def sign_in(self, password: str = PASSWORD):
        token = self.csrf("/login")
        return self.request("POST", "/login",
                            {"csrf": token, "name": THERAPIST, "password": password})  # fmt: skip


@pytest.fixture
def clinic(pg_server: PostgresServer, tmp_path: Path):
    return make_clinic(pg_server.url(pg_server.new_database()), tmp_path)


@pytest.fixture
def dash(clinic):
    d = Dashboard(clinic)
    yield d
    d.close()


def test_nothing_without_signing_in(dash: Dashboard) -> None:
    b = Browser(dash.base)
    assert urlsplit(dash.base).hostname == "127.0.0.1"  # this machine only, by default
    for path in ("/", "/patients", f"/patients/{PATIENT}", f"/patients/{PATIENT}/report.pdf",
                 f"/patients/{PATIENT}/export.json", "/audit"):  # fmt: skip
        resp, body = b.request("GET", path)
        assert (resp.status, resp.headers["Location"]) == (303, "/login"), path
        assert PATIENT not in body
    assert b.request("GET", "/events")[0].status == 401
    resp, _ = b.request("POST", f"/patients/{PATIENT}/dose", {"reps": "5"})
    assert (resp.status, resp.headers["Location"]) == (303, "/login")


def test_sign_in_cookies_and_sign_out(dash: Dashboard) -> None:
    b = Browser(dash.base)
    resp, page = b.request("GET", "/login")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    # The login form's own token: a post without it is refused.
    resp, _ = b.request("POST", "/login", {"name": THERAPIST, "password": PASSWORD})
    assert resp.status == 403
    resp, page = b.sign_in("wrong password!!")
    assert resp.status == 401 and "Wrong name or password" in page
    resp, _ = b.sign_in()
    assert (resp.status, resp.headers["Location"]) == (303, "/")
    session_cookie = next(h for h in b.set_cookie_headers if h.startswith("sc_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Secure" not in session_cookie  # plain HTTP on this machine
    old = b.cookies["sc_session"]
    resp, page = b.request("GET", "/")
    assert resp.status == 200 and "Sign out" in page
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert b.request("POST", "/logout", {"csrf": "not-it"})[0].status == 403
    resp, _ = b.request("POST", "/logout", {"csrf": token})
    assert resp.status == 303 and "sc_session" not in b.cookies
    b.cookies["sc_session"] = old  # the old token is worth nothing now
    assert b.request("GET", "/patients")[0].status == 303


def test_behind_tls_the_cookie_is_secure(clinic) -> None:
    d = Dashboard(clinic, "--behind-tls")
    try:
        b = Browser(d.base)
        resp, _ = b.sign_in()
        assert resp.status == 303
        assert "Secure" in next(h for h in b.set_cookie_headers if h.startswith("sc_session="))
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        d.close()


def test_changes_need_the_sessions_token_and_this_origin(dash: Dashboard, clinic) -> None:
    b = Browser(dash.base)
    b.sign_in()
    resp, page = b.request("GET", f"/patients/{PATIENT}")
    form = dict(re.findall(r'<input[^>]*name="(\w+)" value="([^"]*)"', page))
    assert form["reps"] == "20"
    form["reps"] = "12"
    form["reason"] = "short of time today"
    bad = {**form, "csrf": "forged"}
    assert b.request("POST", f"/patients/{PATIENT}/dose", bad)[0].status == 403
    other_site = {"Origin": "http://evil.example"}
    assert b.request("POST", f"/patients/{PATIENT}/dose", form, other_site)[0].status == 403
    with clinic.store() as store:
        assert store.programme(PATIENT)[0].reps == 20  # nothing changed
    resp, _ = b.request("POST", f"/patients/{PATIENT}/dose", form)
    assert resp.status == 303
    # The form named the programme it came from: sent again, it meets a newer one.
    resp, page = b.request("POST", f"/patients/{PATIENT}/dose", form)
    assert resp.status == 409 and "changed meanwhile" in page
    with clinic.store() as store:
        assert store.programme(PATIENT)[0].reps == 12
        newest_first = [e.action for e in store.audit_log(patient_code=PATIENT)]
        assert newest_first[:2] == ["dose_changed", "patient_viewed"]


def _inputs(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input[^>]*name="(\w+)" value="([^"]*)"', page))


def _message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message bad"[^>]*>([^<]*)</p>', page).group(1))


@pytest.fixture
def either_clinic(backend, tmp_path: Path):
    """The clinic on a SQLite file or on the test server, with a programme item that has a
    pain-free limit and a tested maximum (the exercise stops at 75 % of it: 300 N)."""
    clinic = make_clinic(backend.url, tmp_path)
    with clinic.store() as store:
        store.save_programme(PATIENT, [ProgrammeItem(
            "lumbar_extension", sets=1, reps=20, load_band_n=(80.0, 160.0), range_target_deg=40.0,
            pain_free_limit_deg=50.0, tested_max_n=400.0,
        )], "from the assessment")  # fmt: skip
    return clinic


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"range_target_deg": "50"}, "lumbar_extension: range target 50 deg must stay below "
         "the pain-free limit 50 deg"),
        ({"range_target_deg": "62"}, "lumbar_extension: range target 62 deg must stay below "
         "the pain-free limit 50 deg"),
        ({"range_target_deg": "nan"}, "Range target: expected a number, got 'nan'"),
        ({"load_high_n": "NaN"}, "Load band high: expected a number, got 'NaN'"),
        ({"load_high_n": "300"}, "lumbar_extension: load band top 300 N reaches the load that "
         "stops the exercise (300 N = 75% of 400 N)"),
        ({"load_low_n": "250", "load_high_n": "900"}, "lumbar_extension: load band top 900 N "
         "reaches the load that stops the exercise (300 N = 75% of 400 N)"),
        ({"reps": "15", "reason": " "}, "why the dose changes: a reason is needed"),
    ],
)  # fmt: skip
def test_a_hostile_dose_is_refused_with_a_clear_message_and_changes_nothing(
    either_clinic, fields, message
) -> None:
    dash = Dashboard(either_clinic)
    try:
        b = Browser(dash.base)
        b.sign_in()
        with either_clinic.store() as store:
            before = store.active_programme(PATIENT)
        form = _inputs(b.request("GET", f"/patients/{PATIENT}")[1])
        assert form["programme"] == str(before.id) and form["range_target_deg"] == "40"
        resp, page = b.request(
            "POST", f"/patients/{PATIENT}/dose", {**form, "reason": "hostile", **fields}
        )
        assert resp.status == 400 and _message(page) == message
        assert 'class="dose"' in page  # the page as it is, with the programme's forms
    finally:
        dash.close()
    with either_clinic.store() as store:
        assert store.active_programme(PATIENT) == before
        assert store.dose_changes(PATIENT) == ()
        assert "dose_changed" not in [e.action for e in store.audit_log(patient_code=PATIENT)]


def test_proposals_after_a_visit_are_confirmed_declined_or_overridden(dash, clinic) -> None:
    """The progression rules' proposals on the patient's page, decided through
    ``clinic.progression`` with the therapist's name; each decision in the audit log."""
    from app import clinic_demo
    from storage.clinic_records import DoseDecision

    with clinic.store() as store:
        # assessment -> programme -> three visits; the third (pain 2 -> 5) waits.
        clinic_demo.run(store, PATIENT, out=io.StringIO())
        (first,) = store.dose_changes(PATIENT)[2:]
    b = Browser(dash.base)
    b.sign_in()
    page = b.request("GET", f"/patients/{PATIENT}")[1]
    row = re.search(rf'<tr data-proposal="{first.id}">(.*?)</tr>', page, re.S).group(1)
    assert "Pain rose by 2 points or more" in html.unescape(row) and "pain 2 before, 5 after" in row
    decide = {"csrf": _inputs(page)["csrf"], "programme": _inputs(page)["programme"],
              "proposal": str(first.id)}  # fmt: skip
    forged = {**decide, "csrf": "forged", "decision": "confirm"}
    assert b.request("POST", f"/patients/{PATIENT}/proposals", forged)[0].status == 403
    # Another therapist changes the programme meanwhile: the confirmation is not made on it.
    with clinic.store() as store:
        prog.set_dose(store, PATIENT, "lumbar_extension", "", {"sets": 2}, by="ben", reason="r")
        prog.set_dose(store, PATIENT, "lumbar_extension", "", {"sets": 1}, by="ben", reason="r")
    # (ben's own dose overrode the proposal: it waits no longer)
    resp, page = b.request("POST", f"/patients/{PATIENT}/proposals",
                           {**decide, "decision": "confirm"})  # fmt: skip
    assert resp.status == 409 and "changed meanwhile" in page
    with clinic.store() as store:
        assert store.dose_changes(PATIENT)[2].decision is DoseDecision.OVERRIDDEN
        clinic_demo.run_visit(store, PATIENT, 3.0, 7.0, seed=4)  # flagged: waits again
        clinic_demo.run_visit(store, PATIENT, 7.0, 7.0, seed=5)  # supersedes it
        waiting = [c for c in store.dose_changes(PATIENT) if c.decision is DoseDecision.PROPOSED]
    (second,) = waiting
    page = b.request("GET", f"/patients/{PATIENT}")[1]
    decide = {"csrf": _inputs(page)["csrf"], "programme": _inputs(page)["programme"]}
    resp, _ = b.request("POST", f"/patients/{PATIENT}/proposals",
                        {**decide, "proposal": str(second.id), "decision": "confirm"})  # fmt: skip
    assert (resp.status, resp.headers["Location"]) == (
        303,
        f"/patients/{PATIENT}?decided=1#proposals",
    )
    with clinic.store() as store:
        applied = next(c for c in store.dose_changes(PATIENT) if c.id == second.id)
        (item,) = store.active_programme(PATIENT).items
        clinic_demo.run_visit(store, PATIENT, 2.0, 6.0, seed=6)  # a rise of 4: waits
        (third,) = progression.pending(store, PATIENT)
    assert (applied.decision, applied.decided_by) == (DoseDecision.APPLIED, THERAPIST)
    assert applied.programme_id is not None
    assert applied.action == "step_back"  # pain 7
    assert item.range_target_deg == applied.after.range_target_deg < applied.before.range_target_deg
    page = b.request("GET", f"/patients/{PATIENT}")[1]
    decide = {"csrf": _inputs(page)["csrf"], "programme": _inputs(page)["programme"]}
    resp, _ = b.request("POST", f"/patients/{PATIENT}/proposals",
                        {**decide, "proposal": "all", "decision": "decline"})  # fmt: skip
    assert resp.status == 303
    resp, page = b.request("POST", f"/patients/{PATIENT}/proposals",
                           {**decide, "proposal": "all", "decision": "decline"})  # fmt: skip
    assert resp.status == 400 and _message(page) == f"no proposals waiting for {PATIENT}"
    with clinic.store() as store:
        declined = next(c for c in store.dose_changes(PATIENT) if c.id == third.id)
        assert (declined.decision, declined.decided_by) == (DoseDecision.DECLINED, THERAPIST)
        log = [e for e in store.audit_log(patient_code=PATIENT)
               if e.action.startswith("proposals_")]  # fmt: skip
    assert [e.action for e in log] == ["proposals_declined", "proposals_confirmed"]
    assert {e.therapist for e in log} == {THERAPIST}
    assert [p["id"] for p in json.loads(log[0].detail)["proposals"]] == [third.id]
    assert json.loads(log[1].detail)["proposals"][0]["id"] == second.id


def test_wrong_passwords_lock_the_account(dash: Dashboard, clinic) -> None:
    b = Browser(dash.base)
    for _ in range(5):
        assert b.sign_in("wrong password!!")[0].status == 401
    resp, page = b.sign_in()  # the right one, while locked: the same answer
    assert resp.status == 401 and "Wrong name or password" in page
    with clinic.store() as store:
        assert store.therapist_access(THERAPIST).lockouts == 1
        actions = [e.action for e in store.audit_log()]
        assert actions.count("locked_out") == 1 and "signed_in" not in actions


def test_what_stations_send_is_shown_as_text(dash: Dashboard, clinic) -> None:
    with clinic.store() as store:
        link = store.status_link()
        script = "<script>alert(1)</script>"
        link.publish(StationStatus("<b>gym</b>", 1, time.time(), cue_text=script, phase="working"))
        link.close()
    b = Browser(dash.base)
    b.sign_in()

    def grid():
        return b.request("GET", "/")[1]

    page = grid()
    for _ in range(200):  # the hub hears the station within a moment
        if "gym" in page:
            break
        time.sleep(0.05)
        page = grid()
    assert "&lt;b&gt;gym&lt;/b&gt;" in page and "<b>gym" not in page


def test_the_event_stream_starts_with_every_station(dash: Dashboard, clinic) -> None:
    with clinic.store() as store:
        link = store.status_link()
        link.publish(StationStatus("S1", 1, time.time(), patient_code=PATIENT, rep_count=4))
        link.close()
    b = Browser(dash.base)
    b.sign_in()
    conn = http.client.HTTPConnection(b.host, b.port, timeout=30)
    conn.request("GET", "/events", headers={"Cookie": f"sc_session={b.cookies['sc_session']}"})
    resp = conn.getresponse()
    assert resp.headers["Content-Type"] == "text/event-stream"
    stations: list = []
    while not stations:  # the hub may hear S1 just after this page connected
        line = resp.fp.readline().decode()
        if line.startswith("data: "):
            stations = json.loads(line[6:])["stations"]
    assert [(s["station"], s["rep_count"]) for s in stations] == [("S1", 4)]
    conn.close()


def test_large_bodies_are_refused(dash: Dashboard) -> None:
    b = Browser(dash.base)
    resp, _ = b.request("POST", "/login", body=b"x" * 70_000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert resp.status == 413
