"""The dashboard in a real browser: Playwright drives the system's Chromium (the OS package;
``.ci/run`` installs it). A therapist signs in, watches a station change live while a headless
session runs on the machine simulator, hears the alarm of its safety stop, edits a dose and
downloads a report. Every wait is for a condition, with a timeout.

``SPINECOACH_DASHBOARD_SHOTS=DIR`` also writes the screenshots the README shows into DIR
(``docs/screenshots``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from storage.station_status import StationStatus
from tests.dashboard_fixtures import (
    CHROMIUM_FLAGS,
    PASSWORD,
    PATIENT,
    SKIP_BROWSER_ENV,
    THERAPIST,
    Dashboard,
    chromium,
    make_clinic,
    wait_for,
)
from tests.helpers import ROOT
from tests.pg_server import PostgresServer

SHOTS_ENV = "SPINECOACH_DASHBOARD_SHOTS"


@pytest.fixture
def browser_page(tmp_path: Path):
    if os.environ.get(SKIP_BROWSER_ENV) == "1":
        pytest.skip(f"{SKIP_BROWSER_ENV}=1: browser test not run")
    binary = chromium()
    if binary is None:
        pytest.fail("no Chromium: install the 'chromium' package (.ci/run does), or set "
                    f"{SKIP_BROWSER_ENV}=1 to skip the browser test", pytrace=False)  # fmt: skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path, prefix="chromium-profile-"),  # a fresh profile
            executable_path=binary,
            args=list(CHROMIUM_FLAGS),
            headless=True,
            accept_downloads=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()


def _until(page, expression: str, timeout_s: float = 30.0) -> None:
    """Poll an expression from the test (page.wait_for_function would compile it inside the
    page, which the dashboard's Content-Security-Policy rightly forbids)."""
    wait_for(lambda: page.evaluate(expression), timeout_s, expression)


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get(SHOTS_ENV) or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_a_therapist_watches_a_station_hears_its_stop_edits_a_dose_and_downloads_a_report(
    pg_server: PostgresServer, tmp_path: Path, browser_page
) -> None:
    from playwright.sync_api import expect

    page, shots = browser_page, _shots(tmp_path)
    clinic = make_clinic(pg_server.url(pg_server.new_database()), tmp_path)
    dash = Dashboard(clinic)
    session = None
    try:
        # Signing in: a wrong password first, then the right one.
        page.goto(dash.base + "/patients")
        expect(page).to_have_url(dash.base + "/login")
        page.fill("input[name=name]", THERAPIST)
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        expect(page.locator(".message")).to_contain_text("Wrong name or password")
        page.fill("input[name=name]", THERAPIST)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(dash.base + "/")
        expect(page.locator("#link")).to_have_text("live")

        # A headless session on the machine simulator, overloaded after a few reps.
        session = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--exercise", "lumbar_extension",
             "--device", "sim:lumbar_extension", "--headless", "--db", clinic.url,
             "--patient", PATIENT, "--station", "S1", "--seconds", "90",
             "--sim-arg=--overload-at=16"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clinic.env,
        )  # fmt: skip
        card = page.locator("article.station[data-station='S1']")
        expect(card.locator(".patient")).to_have_text(f"Patient {PATIENT}", timeout=60_000)
        expect(card.locator(".exercise")).to_have_text("lumbar extension")
        expect(card.locator(".sources")).to_contain_text("machine simulated")
        # Live: the rep count moves on the page while the session runs, no reload.
        expect(card).to_have_attribute("data-reps", "1", timeout=60_000)
        expect(card).to_have_attribute("data-reps", "2", timeout=60_000)
        page.screenshot(path=str(shots / "dashboard_grid.png"))
        # The safety stop: an alert naming the station and patient, and the alarm played.
        alert = page.locator(".alert[data-station='S1']")
        expect(alert).to_contain_text("safety stop (overload)", timeout=60_000)
        expect(alert).to_contain_text(PATIENT)
        expect(card).to_have_class("station stopped")
        _until(page, "window.scStats.soundsPlayed >= 1")
        page.screenshot(path=str(shots / "dashboard_alert.png"))
        session.wait(timeout=120)
        # A kiosk visit's pain flag (tests/test_station_status.py brings it from the pain
        # scale to the status): the alert names the station and the patient.
        with clinic.store() as store:
            link = store.status_link()
            link.publish(StationStatus("S2", 1, time.time(), patient_code=PATIENT,
                                       phase="visit", pain_flag=True))  # fmt: skip
            link.close()
        pain = page.locator(".alert[data-station='S2']")
        expect(pain).to_contain_text(f"S2: patient {PATIENT} reports more pain")
        expect(page.locator("article.station[data-station='S2'] .flags")).to_have_text(
            "pain flagged"
        )
        _until(page, "window.scStats.soundsPlayed >= 2")

        # The patient's page: history plot, then a dose edit.
        page.click("nav >> text=Patients")
        page.click(f"text={PATIENT}")
        expect(page.locator("h1")).to_have_text(f"Patient {PATIENT}")
        plot = page.locator("img.plot")
        expect(plot).to_be_visible()
        _until(page, "document.querySelector('img.plot').naturalWidth > 0")
        form = page.locator("form.dose[data-exercise='lumbar_extension']")
        form.locator("input[name=reps]").fill("15")
        form.locator("input[name=load_high_n]").fill("150")
        form.locator("input[name=reason]").fill("after the stop: a lighter start")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(f"{dash.base}/patients/{PATIENT}?saved=1#programme")
        expect(form.locator("input[name=reps]")).to_have_value("15")
        _until(page, "document.querySelector('img.plot').naturalWidth > 0")
        page.screenshot(path=str(shots / "dashboard_patient.png"), full_page=True)
        # A bad value is refused by the clinic's checks with one line, nothing saved.
        form.locator("input[name=load_low_n]").fill("900")
        form.locator("input[name=reason]").fill("a slip")
        form.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_have_text(
            "lumbar_extension: load band: expected 0 < low < high, got 900-150 N"
        )

        # The report, downloaded.
        with page.expect_download(timeout=60_000) as dl:
            page.click("#report-pdf")
        pdf = tmp_path / "report.pdf"
        dl.value.save_as(pdf)
        assert pdf.read_bytes()[:5] == b"%PDF-"
        assert dl.value.suggested_filename == f"{PATIENT}-report.pdf"
    finally:
        if session is not None and session.poll() is None:
            session.kill()
            session.wait()
        dash.close()

    with clinic.store() as store:
        item = store.programme(PATIENT)[0]
        assert (item.reps, item.load_band_n) == (15, (80.0, 150.0))
        log = store.audit_log()
        by_action = {e.action: e for e in reversed(log)}
        change = by_action["dose_changed"]
        assert (change.therapist, change.patient_code) == (THERAPIST, PATIENT)
        assert json.loads(change.detail)["changed"] == {
            "reps": ["20", "15"], "load_high_n": ["160", "150"],
        }  # fmt: skip
        (dose_change,) = store.dose_changes(PATIENT)  # the clinic's history: who, when, why
        assert (dose_change.decided_by, dose_change.reason) == (
            THERAPIST, "after the stop: a lighter start",
        )  # fmt: skip
        assert by_action["report_downloaded"].therapist == THERAPIST
        assert by_action["sign_in_refused"].therapist == ""
        assert by_action["signed_in"].therapist == THERAPIST
        stored = store.sessions(PATIENT)[-1]
        assert stored.end_reason == "safety_stop"
