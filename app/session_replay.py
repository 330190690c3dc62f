"""Replays a whole recorded session through the engine in the order it was recorded: poses,
machine sample batches (as the display frames delivered them), safety events, and the
patient's and therapist's commands. Same inputs in the same order give the same session."""

from __future__ import annotations

import re

import numpy as np

from recording.format import DEVICE, EVENT, POSE
from session.engine import COMMANDS, TARGET_KEYS
from vision.errors import RecordingError
from vision.replay import PoseReplay

REPLAYED_EVENTS = ("machine_frame", "safety", "command", "adjust", "end")
_SAFETY_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")  # also names the cue: safety.<kind>


def check_replayable(replay: PoseReplay) -> None:
    """Refuse a recording whose events the engine must not be fed (a crafted or foreign file;
    the recording format has already checked their fields and types)."""
    for ev in replay.events:
        data, why = ev.data, ""
        kind = data.get("type")
        if kind == "command" and data["name"] not in COMMANDS:
            why = f"command {data['name']!r}: expected one of {', '.join(COMMANDS)}"
        elif kind == "adjust" and data["key"] not in TARGET_KEYS:
            why = f"adjust {data['key']!r}: expected one of {', '.join(TARGET_KEYS)}"
        elif kind == "safety" and not _SAFETY_KIND.fullmatch(data["kind"]):
            why = f"safety kind {data['kind'][:40]!r}: expected a name such as 'overload'"
        if why:
            raise RecordingError(f"{replay.name}: event at {ev.time:.3f} s: {why}")


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
                # Fewer pending than n when damaged records were skipped: feed what is there.
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
