"""Before a set: can the camera see what the exercise judges? No verdict without a clear view.

The patient is asked to fix one thing at a time: show the whole body (every landmark the
exercise's signal and rules read, well seen and inside the picture), come closer when the body
is small in the picture, and turn to the view the exercise is judged from (side or front,
estimated from how far apart the shoulders are against the trunk's length).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from kernels.frame import VIEW_FRONT, VIEW_SIDE

MIN_VISIBILITY = 0.5
EDGE = 0.01  # a landmark this close to the picture's edge may be cut off
MIN_SIZE = 0.25  # the body seen spans at least this share of the picture


class SetupProblem(StrEnum):
    """What the patient must change before the set starts; the value is the cue key."""

    WHOLE_BODY = "setup.whole_body"
    STEP_CLOSER = "setup.step_closer"
    TURN_SIDE = "setup.turn_side"
    FACE_CAMERA = "setup.face_camera"


def setup_problem(
    image: np.ndarray, judged: tuple[int, ...], view_needed: str, view_seen: int
) -> SetupProblem | None:
    """``image`` (33, 4) x, y, z, visibility; ``judged`` the landmarks the exercise reads on
    the working side; ``view_needed`` "side", "front" or "any"; ``view_seen`` VIEW_*."""
    if judged:
        pts = image[list(judged)]
        if not bool(np.all(pts[:, 3] >= MIN_VISIBILITY)):  # NaN: not seen
            return SetupProblem.WHOLE_BODY
        xy = pts[:, :2]
        if bool(np.any((xy < EDGE) | (xy > 1.0 - EDGE))):
            return SetupProblem.WHOLE_BODY
    # The size of the whole body seen, not only of the landmarks judged (a trunk rule reads
    # four landmarks that lie close together on anyone at a good distance).
    seen = image[image[:, 3] >= MIN_VISIBILITY, :2]
    if seen.shape[0] >= 2:
        span = seen.max(axis=0) - seen.min(axis=0)
        if float(span.max()) < MIN_SIZE:
            return SetupProblem.STEP_CLOSER
    if view_needed == "side" and view_seen == VIEW_FRONT:
        return SetupProblem.TURN_SIDE
    if view_needed == "front" and view_seen == VIEW_SIDE:
        return SetupProblem.FACE_CAMERA
    return None
