"""Replays a whole recorded session through the engine in the order it was recorded: poses,
machine sample batches (as the display frames delivered them), safety reports, and the
patient's and therapist's commands and target changes. Same inputs in the same order give the
same session."""

from __future__ import annotations

import numpy as np

from recording.events import INPUT_RECORDS, RecordType, decode_input, record_type
from recording.format import DEVICE, EVENT, POSE
from session.events import MachineBatch, PoseInput, SessionInput
from vision.replay import PoseReplay


def check_replayable(replay: PoseReplay) -> None:
    """Refuse a recording whose inputs the engine must not be fed (a crafted or foreign file;
    the recording format has already checked their fields and types): one clear line."""
    for ev in replay.events:
        decode_input(ev.time, ev.data, f"{replay.name}: event at {ev.time:.3f} s")


def is_full_session(replay: PoseReplay) -> bool:
    """True when the recording holds more than poses (machine data or commands)."""
    return any(record_type(ev.data) in INPUT_RECORDS for ev in replay.events)


def recorded_inputs(replay: PoseReplay, max_poses: int | None = None):
    """The recording's inputs in record order (a generator of ``SessionInput``)."""
    pending = []  # device records since the last machine_frame marker
    poses = 0
    for kind, i in replay.timeline:
        if kind == POSE:
            pose = replay.poses[i]
            yield PoseInput(pose.timestamp, pose)
            poses += 1
            if max_poses and poses >= max_poses:
                return
        elif kind == DEVICE:
            pending.append(replay.device[i])
        elif kind == EVENT:
            ev = replay.events[i]
            if record_type(ev.data) == RecordType.MACHINE_FRAME:
                # Fewer pending than n when damaged records were skipped: feed what is there.
                n = ev.data["n"]
                batch, pending = pending[:n], pending[n:]
                if batch:
                    yield MachineBatch(
                        np.array([d.time for d in batch]),
                        np.array([d.angle_deg for d in batch]),
                        np.array([d.force_n for d in batch]),
                    )
                continue
            inp: SessionInput | None = decode_input(ev.time, ev.data, replay.name)
            if inp is not None:
                yield inp


def replay_session(runner, replay: PoseReplay) -> None:
    """Feed everything to ``runner`` in record order (headless, as fast as it goes)."""
    for inp in recorded_inputs(replay, runner.opts.max_frames):
        runner.feed(inp)
        if isinstance(inp, PoseInput):
            runner.stats.poses += 1
        elif isinstance(inp, MachineBatch):
            runner.stats.device_samples += inp.ts.shape[0]
        runner.dispatch()
