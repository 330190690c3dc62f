"""Chooses and opens the pose input named on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.split_stream import SplitVideoPoseStream, parts_for
from app.streams import PoseStream, ReplayPoseStream, VideoPoseStream
from recording.replay import is_replay_path, open_replay
from vision.errors import SourceNotFound
from vision.estimator import PoseEstimator
from vision.replay import PoseReplay
from vision.sources import VideoFileSource, camera_available, open_frame_source

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_RECORDING = ROOT / "assets" / "recordings" / "keraal_flank_stretch.screc"


@dataclass(frozen=True, slots=True)
class InputChoice:
    kind: str  # "camera", "video", "replay", "none"
    spec: str
    why: str  # shown to the user: why this input was chosen


def choose_input(spec: str | None) -> InputChoice:
    """``None``: camera 0 when there is one, else the bundled recording."""
    if spec is None:
        if camera_available(0):
            return InputChoice("camera", "0", "camera 0")
        return InputChoice(
            "replay", str(BUNDLED_RECORDING), "no camera found: playing the bundled recording"
        )
    if spec == "none":
        return InputChoice("none", spec, "machine only, no camera")
    if spec.isdigit():
        return InputChoice("camera", spec, f"camera {spec}")
    if not Path(spec).exists():
        raise SourceNotFound(f"--source: no such file, folder or camera: {spec}")
    if is_replay_path(spec):
        return InputChoice("replay", spec, f"recording {spec}")
    return InputChoice("video", spec, f"video {spec}")


def peek_replay(choice: InputChoice, view: str | None = None) -> PoseReplay | None:
    """``view``: where the virtual camera stands for a Kinect skeleton source."""
    return open_replay(choice.spec, view) if choice.kind == "replay" else None


def open_stream(
    choice: InputChoice,
    *,
    lossless: bool,
    paced: bool,
    replay: PoseReplay | None = None,
    split: bool = False,
) -> PoseStream | None:
    """Started stream for the choice; raises ``VisionError`` subclasses on bad input.
    ``split``: a video file may be cut into parts estimated at once (headless analysis that
    keeps no images)."""
    if choice.kind == "none":
        return None
    if choice.kind == "replay":
        return ReplayPoseStream(replay or open_replay(choice.spec), paced=paced).start()
    source = open_frame_source(choice.spec)
    if split and lossless and not paced and isinstance(source, VideoFileSource):
        parts = parts_for(source.frame_count)
        if parts > 1:
            source.close()
            return SplitVideoPoseStream(choice.spec, parts).start()
    estimator = PoseEstimator(video=True)
    reopen = (lambda: open_frame_source(choice.spec)) if source.live else None
    return VideoPoseStream(
        source, estimator, lossless=lossless and not source.live, paced=paced, reopen=reopen
    ).start()
