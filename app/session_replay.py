"""Replays a whole recorded session through the engine in the order it was recorded: poses,
machine sample batches (as the display frames delivered them), safety reports, and the
patient's and therapist's commands and target changes. Same inputs in the same order give the
same session."""

from __future__ import annotations

from recording.replay import SessionReplay, recorded_inputs
from session.events import MachineBatch, PoseInput


def replay_session(runner, replay: SessionReplay) -> None:
    """Feed everything to ``runner`` in record order (headless, as fast as it goes)."""
    for inp in recorded_inputs(replay, runner.opts.max_frames):
        runner.feed(inp)
        if isinstance(inp, PoseInput):
            runner.stats.poses += 1
        elif isinstance(inp, MachineBatch):
            runner.stats.device_samples += inp.ts.shape[0]
        runner.dispatch()
