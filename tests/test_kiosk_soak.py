"""The kiosk left running: minutes of simulated kiosk life through the real window loop
(``devtools/kiosk_soak.py`` says what is driven and how). A longer run: ``bench/kiosk_soak.py``."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from devtools.kiosk_soak import FPS, run_soak

FRAMES = 6000  # five simulated minutes at 20 display frames a second
# Growth over the second half that a flat kiosk stays under (it measures 30-60 kB: bounded
# timing windows and the views of the session on at the end still filling); one float kept
# per display frame, as the unbounded timing lists did, makes it 130-180 kB.
MEMORY_BOUND = 96 * 1024


def test_kiosk_soak_stays_welcoming_private_and_flat(tmp_path):
    report = run_soak(tmp_path, FRAMES)
    assert report.problems == []
    assert report.frames == FRAMES and report.sim_s >= FRAMES / FPS - 1e-6
    # The script really exercised the kiosk: sessions, refusals, lock-outs, idle returns.
    assert report.sign_ins >= 2 and report.refused >= 10
    assert report.keypad_lockouts >= 1 and report.therapist_unlocks >= 1
    assert report.idle_checks >= 5 and report.pixel_checks >= 3
    assert report.max_threads <= 6  # no thread left behind per session
    assert report.memory_growth_bytes is not None
    assert report.memory_growth_bytes < MEMORY_BOUND, report.memory_growth_bytes
    assert report.exited  # the therapist PIN, and only it, ends the kiosk
