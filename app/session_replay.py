"""Replays a whole recorded session through the engine in the order it was recorded: poses,
machine sample batches (as the display frames delivered them), safety events, and the
patient's and therapist's commands. Same inputs in the same order give the same session."""

from __future__ import annotations

import numpy as np

from recording.format import DEVICE, EVENT, POSE
from vision.replay import PoseReplay

REPLAYED_EVENTS = ("machine_frame", "safety", "command", "adjust", "end")


def is_full_session(replay: PoseReplay) -> bool:
    """True when the recording holds more than poses (machine data or commands)."""
    return any(ev.data.get("type") in REPLAYED_EVENTS for ev in replay.events)


def replay_session(runner, replay: PoseReplay) -> None:
    """Feed everything to ``runner.engine`` in record order (headless, as fast as it goes)."""
    eng = runner.engine
    pending = []  # device records since the last machine_frame marker
    for kind, i in replay.timeline:
        if kind == POSE:
            pose = replay.poses[i]
            eng.on_pose(pose.timestamp, pose)
            runner.stats.poses += 1
            if runner.opts.max_frames and runner.stats.poses >= runner.opts.max_frames:
                break
        elif kind == DEVICE:
            pending.append(replay.device[i])
        elif kind == EVENT:
            ev = replay.events[i]
            data = ev.data
            kind_ = data.get("type")
            if kind_ == "machine_frame":
                batch, pending = pending[: data["n"]], pending[data["n"] :]
                runner.stats.device_samples += len(batch)
                eng.on_machine(
                    np.array([d.time for d in batch]),
                    np.array([d.angle_deg for d in batch]),
                    np.array([d.force_n for d in batch]),
                )
            elif kind_ == "safety":
                eng.on_safety(ev.time, data["kind"], data["value"], data["limit"])
            elif kind_ == "command":
                eng.command(data["name"], ev.time)
            elif kind_ == "adjust":
                eng.adjust(data["key"], data["delta"], ev.time)
            elif kind_ == "end":
                eng.finish(ev.time)
        runner.store_progress()
