"""The progress line of a long analysis: on a terminal only, with what is done and left."""

from __future__ import annotations

import io
import subprocess
import sys

from app.progress import ProgressLine
from tests.helpers import ROOT, shared_data


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_frames_rate_and_time_left():
    out = _Terminal()
    line = ProgressLine("clip.mp4", 1000, out)
    line._t0 -= 10.0  # ten seconds in
    line.update(400, force=True)
    line.close(400)
    text = out.getvalue()
    assert "clip.mp4: 400/1000 frames (40 %)" in text
    assert "40.0 poses/s" in text and "15 s left" in text
    assert text.endswith("\n")


def test_a_pipe_or_file_gets_nothing():
    out = io.StringIO()
    line = ProgressLine("clip.mp4", 1000, out)
    line.update(400, force=True)
    line.close(1000)
    assert out.getvalue() == ""


def test_main_stays_quiet_when_its_output_is_not_a_terminal():
    keraal = shared_data(
        "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-ELK-P1T1-Unknown-C-0.json"
    )
    run = subprocess.run(
        [sys.executable, "main.py", "--source", str(keraal), "--exercise", "flank_stretch",
         "--headless"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "poses/s," not in run.stderr and "\r" not in run.stderr
