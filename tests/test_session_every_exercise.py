"""Every exercise in the library runs headless: floor exercises on a real landmark recording,
machine exercises on the simulator."""

from __future__ import annotations

import pytest

from app.inputs import BUNDLED_RECORDING, InputChoice
from app.loop import Runner, RunOptions, summarize
from exercises.library import load_library

LIBRARY = load_library()


@pytest.mark.parametrize("exercise_id", sorted(LIBRARY))
def test_exercise_runs_headless(exercise_id):
    ex = LIBRARY[exercise_id]
    if ex.signal.source == "machine":
        choice = InputChoice("none", "none", "machine only")
        device, seconds = f"sim:{ex.machine}", 2.5
        sim = ("--side=right",) if exercise_id.endswith("_right") else ()
    else:
        choice = InputChoice("replay", str(BUNDLED_RECORDING), "bundled recording")
        device, seconds, sim = None, None, ()
    runner = Runner(
        RunOptions(choice, ex, headless=True, device=device, seconds=seconds, simulator_args=sim)
    )
    try:
        runner.run_headless()
    finally:
        runner.close()
    s = summarize(runner)
    assert s["exercise"] == exercise_id
    if ex.signal.source == "machine":
        assert s["device_samples"] > 1000  # the simulator streamed at about 1 kHz
        assert s["safety_events"] == []
    else:
        assert s["frames"] == s["frames_with_pose"] == 193
    assert [t["to"] for t in s["transitions"]][-1] == "done"
