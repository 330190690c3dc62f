"""Snapshots for screenshots and manual checks, built from real recordings without ``vision``.

The landmarks come from a real BlazePose recording of a low-back-pain exercise (KERAAL,
BSD-2). A camera image can come from a video file (``load_frame``); the bundled squat video is
marked test-only in the test data's manifest, so images made from it stay out of ``docs/``.
Rule statuses, reps and machine force are made up for the picture: they show what each screen
looks like, not what the engine decided.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from body.landmarks import SKELETON, index_of
from kernels.reps import RepPhase
from session.snapshot import (
    Cue,
    RepView,
    RuleStatus,
    RuleView,
    Severity,
    Snapshot,
    SourceStatus,
    Trace,
)
from vision import replay as vision_replay

log = logging.getLogger(__name__)

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
KERAAL_JSON = TESTDATA / "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-CTK-P1T1-Unknown-C-0.json"
SQUAT_VIDEO = TESTDATA / "wissem_gym_rom/videos/squat.mp4"
FPS = 30.0  # assumed frame rate of the landmark recording


def load_keraal(path: Path = KERAAL_JSON) -> np.ndarray:
    """Landmarks (frames, 33, 2) normalised x, y from the KERAAL BlazePose JSON layout."""
    return np.array([p.image[:, :2] for p in vision_replay.load_keraal(path)], dtype=np.float64)


def load_frame(path: Path = SQUAT_VIDEO, index: int = 40) -> np.ndarray | None:
    """One RGB frame of a video, or None (dark canvas) when the file or OpenCV is missing."""
    try:
        import cv2
    except ImportError:
        log.info("OpenCV not installed: screenshots use the dark canvas")
        return None
    if not path.exists():
        log.info("%s not found: screenshots use the dark canvas", path)
        return None
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None


def _angle(p: np.ndarray, a: int, b: int, c: int, aspect: float) -> float:
    u = (p[a] - p[b]) * (aspect, 1.0)
    v = (p[c] - p[b]) * (aspect, 1.0)
    d = float(np.hypot(*u) * np.hypot(*v))
    return math.degrees(math.acos(np.clip(np.dot(u, v) / d, -1, 1))) if d > 0 else math.nan


def _segment_status(faulted: set[int], warned: set[int]) -> tuple[RuleStatus, ...]:
    out = []
    for a, b in SKELETON:
        if a in faulted and b in faulted:
            out.append(RuleStatus.FAULT)
        elif a in warned and b in warned:
            out.append(RuleStatus.WARNING)
        else:
            out.append(RuleStatus.OK)
    return tuple(out)


def _reps(n: int, faults: tuple[str, ...] = ()) -> tuple[RepView, ...]:
    reps = []
    for i in range(n):
        rf = 0.82 + 0.04 * ((i * 7) % 5)
        reps.append(
            RepView(
                index=i + 1,
                start_s=5.0 * i,
                end_s=5.0 * i + 4.7,
                min_angle_deg=92.0 + i % 3,
                max_angle_deg=168.0,
                range_fraction=rf,
                duration_s=4.6 + 0.1 * (i % 4),
                tempo_ok=i % 4 != 3,
                counted=i != 2,
                faults=faults if i % 3 == 1 else (),
            )
        )
    return tuple(reps)


def floor_series(aspect: float = 16 / 9) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks per frame, left-hip angle per frame) of the KERAAL recording."""
    lm = load_keraal()
    hip = np.array(
        [
            _angle(
                p, index_of("left_shoulder"), index_of("left_hip"), index_of("left_knee"), aspect
            )
            for p in lm
        ]
    )
    return lm, hip


def floor_snapshot(frame_index: int = 120) -> Snapshot:
    """Floor exercise from the real landmarks, a back-posture fault and its cue."""
    lm, hip = floor_series()
    i = min(frame_index, len(lm) - 1)
    t = i / FPS
    sh, hp = (
        (index_of("left_shoulder"), index_of("right_shoulder")),
        (index_of("left_hip"), index_of("right_hip")),
    )
    faulted = {*sh, *hp}
    warned = {index_of("left_knee"), index_of("left_hip")}
    lo = max(0, i - int(15 * FPS))
    ts = np.arange(lo, i + 1) / FPS
    progress = float(np.clip((180 - hip[i]) / 45.0, 0, 1.5)) if math.isfinite(hip[i]) else math.nan
    rules = (
        RuleView(
            "floor.trunk_upright",
            "Back straight",
            RuleStatus.FAULT,
            24.0,
            math.nan,
            15.0,
            "deg",
            (*sh, *hp),
        ),
        RuleView(
            "floor.knee_track", "Knees over toes", RuleStatus.WARNING, 9.5, math.nan, 8.0, "deg"
        ),
        RuleView("floor.hip_level", "Hips level", RuleStatus.OK, 2.1, -5.0, 5.0, "deg"),
        RuleView("floor.head_neutral", "Head neutral", RuleStatus.OK, 6.0, math.nan, 20.0, "deg"),
        RuleView(
            "floor.feet_visible",
            "Feet in view",
            RuleStatus.UNKNOWN,
            math.nan,
            math.nan,
            math.nan,
            "",
        ),
    )
    return Snapshot(
        t=t,
        exercise_id="knee_to_chest",
        exercise_name="Knee to chest",
        phase="working",
        frame=None,
        landmarks=lm[i].astype(np.float32),
        image_size=(1280, 720),
        segment_status=_segment_status(faulted, warned),
        angles=(("left hip", float(hip[i])),),
        rep_count=7,
        reps_target=12,
        set_index=2,
        sets_total=3,
        range_progress=progress,
        range_target=1.0,
        pain_free_limit=1.2,
        signal_value=float(hip[i]),
        signal_unit="deg",
        tempo_position=0.62,
        tempo_phase=RepPhase.BACK,
        hold_s=1.4,
        hold_target_s=3.0,
        cue=Cue("floor.trunk_upright", "Keep your back straight", Severity.FAULT, t - 1.0),
        rules=rules,
        reps=_reps(6, ("floor.trunk_upright",)),
        traces=(Trace("left hip angle", "deg", ts, hip[lo : i + 1]),),
        camera=SourceStatus("camera", "replay", rate_hz=30.0),
        pose_fps=29.6,
        patient_code="4711",
    )


def machine_snapshot(
    force_n: float = 182.0,
    safety: bool = False,
    camera_state: str = "ok",
    frame: np.ndarray | None = None,
) -> Snapshot:
    """Lumbar extension on the machine. With ``frame`` that image is the camera view (no
    skeleton: the recording's landmarks belong to another person); without, the recorded
    landmarks on the dark canvas."""
    landmarks = None
    if frame is None:
        landmarks = load_keraal()[120].astype(np.float32)
    t = 63.2
    ts = np.arange(0, 15 * 100) / 100.0 + (t - 15)
    phase = 2 * np.pi * ts / 4.8
    angle = 36 - 30 * np.cos(phase)  # machine angle over a 4.8 s rep
    force = 150 + 45 * np.sin(phase)
    if safety:  # a jump over the limit in the last 0.4 s
        force[ts > t - 0.4] = force_n
    force[-1] = force_n  # the trace ends at the value the bar shows
    cue = (
        Cue("machine.over_limit", "Force over your limit - ease off slowly", Severity.SAFETY, t)
        if safety
        else Cue("machine.tempo_slow", "Slower - follow the blue marker", Severity.WARNING, t - 2)
    )
    rules = (
        RuleView(
            "machine.load_band",
            "Load in band",
            RuleStatus.FAULT if safety else RuleStatus.OK,
            force_n,
            120.0,
            200.0,
            "N",
        ),
        RuleView("machine.tempo", "Tempo 4.5-5 s", RuleStatus.WARNING, 3.6, 4.5, 5.0, "s"),
        RuleView("machine.pelvis_still", "Pelvis still", RuleStatus.OK, 1.5, math.nan, 4.0, "cm"),
    )
    return Snapshot(
        t=t,
        exercise_id="lumbar_extension",
        exercise_name="Lumbar extension (machine)",
        phase="stopped" if safety else "working",
        frame=frame,
        landmarks=landmarks,
        image_size=(1280, 720),
        segment_status=tuple(RuleStatus.OK for _ in SKELETON),
        rep_count=14,
        reps_target=20,
        set_index=1,
        sets_total=2,
        range_progress=0.74,
        range_target=1.0,
        pain_free_limit=1.1,
        signal_value=float(angle[-1]),
        signal_unit="deg",
        force_n=force_n,
        load_band_n=(120.0, 200.0),
        load_limit_n=260.0,
        tempo_position=0.38,
        tempo_phase=RepPhase.OUT,
        cue=cue,
        safety_stop=safety,
        rules=rules,
        reps=_reps(14, ("machine.tempo",)),
        traces=(Trace("machine angle", "deg", ts, angle), Trace("force", "N", ts, force)),
        camera=SourceStatus(
            "camera",
            camera_state,
            rate_hz=30.0 if camera_state == "ok" else math.nan,
            dropped=3,
            errors=0 if camera_state == "ok" else 1,
            message="" if camera_state == "ok" else "no frame for 2.0 s",
        ),
        machine=SourceStatus("machine", "simulated", rate_hz=500.0, dropped=2, errors=0),
        pose_fps=27.8,
        patient_code="4711",
    )


def rest_snapshot() -> Snapshot:
    s = floor_snapshot(60)
    from dataclasses import replace

    return replace(
        s,
        phase="rest",
        rest_remaining_s=42.0,
        rep_count=12,
        set_index=1,
        cue=Cue("rest", "Breathe and relax", Severity.INFO, s.t),
        reps=_reps(12, ("floor.trunk_upright",)),
    )
