"""Opening a recording to replay it: the project's own ``.screc`` sessions (poses, machine
samples and events in record order) here, landmark and skeleton files through ``vision``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from recording.events import INPUT_RECORDS, RecordType, decode_input, record_type
from recording.format import DEVICE, EVENT, POSE, DeviceRecord, EventRecord, read_recording
from session.events import MachineBatch, PoseInput, SessionInput
from vision.errors import SourceNotFound
from vision.replay import PoseReplay, is_landmark_path, open_landmarks


class SessionReplay(PoseReplay):
    """A whole recorded session: its poses for the pose stream, and its machine samples and
    events with the order everything was recorded in (``timeline``: (record kind, index))."""

    def __init__(
        self,
        poses: list,
        fps: float,
        name: str,
        device: list[DeviceRecord],
        events: list[EventRecord],
        header: dict,
        timeline: list[tuple[int, int]],
    ) -> None:
        self.device = device
        self.events = events
        self.timeline = timeline
        self.truncated = False  # the file ends inside a record (``Recording.truncated``)
        super().__init__(poses, fps, name, header)

    def has_content(self) -> bool:
        return bool(self.poses or self.device)

    @property
    def damage_note(self) -> str:
        """One line when records were skipped or the file is cut short, else "". A file cut
        exactly between two records cannot be told from a whole one (the format has no end
        marker)."""
        note = super().damage_note
        if not self.truncated:
            return note
        last = self.poses[-1].timestamp if self.poses else 0.0
        cut = (
            "the file is cut short inside a record (a write or copy that did not finish); "
            f"replayed up to its last whole record ({len(self.poses)} poses, {last:.1f} s)"
        )
        return f"{note}; {cut}" if note else f"{self.name}: {cut}"


def open_recording(path: str | Path) -> SessionReplay:
    path = Path(path)
    if not os.path.exists(path):  # never raises, not even for a name too long
        raise SourceNotFound(f"recording not found: {path}")
    rec = read_recording(path)
    fps = rec.fps if math.isfinite(rec.fps) and rec.fps > 0 else 30.0
    replay = SessionReplay(
        rec.poses, fps, path.name, rec.device, rec.events, rec.header, rec.timeline
    )
    replay.damaged, replay.damaged_bytes = rec.damaged, rec.damaged_bytes
    replay.truncated = rec.truncated
    return replay


def open_replay(path: str | Path, view: str | None = None) -> PoseReplay:
    """A ``.screc`` recording, or a KERAAL BlazePose ``.json`` file or Kinect skeleton file
    seen from ``view`` (``vision.replay.open_landmarks``)."""
    if is_landmark_path(str(path)):
        return open_landmarks(path, view)
    return open_recording(path)


def is_replay_path(spec: str) -> bool:
    return spec.endswith(".screc") or is_landmark_path(spec)


def check_replayable(replay: PoseReplay) -> None:
    """Refuse a recording whose inputs the engine must not be fed (a crafted or foreign file;
    the recording format has already checked their fields and types): one clear line."""
    for ev in getattr(replay, "events", ()):
        decode_input(ev.time, ev.data, f"{replay.name}: event at {ev.time:.3f} s")


def is_full_session(replay: PoseReplay) -> bool:
    """True when the recording holds more than poses (machine data or commands)."""
    return isinstance(replay, SessionReplay) and any(
        record_type(ev.data) in INPUT_RECORDS for ev in replay.events
    )


def recorded_inputs(replay: SessionReplay, max_poses: int | None = None) -> Iterator[SessionInput]:
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
