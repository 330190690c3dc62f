"""File names for OpenCV, which takes them as UTF-8 text.

A name that is not valid UTF-8 (Python holds its stray bytes as surrogates) crashes OpenCV's
video reader and writer with a segmentation fault. Such a file is reached through a symbolic
link with a plain ASCII name in a private temporary folder; images are decoded from their
bytes, which needs no name at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np


def opencv_safe(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class CvName:
    """``name`` is what to hand OpenCV for ``path``; ``close()`` removes the link, if any.

    A link to a file that does not exist yet (a video about to be written) works too: the
    writer creates the file it points at. ``default_suffix`` stands in for a suffix that is
    itself not plain text."""

    def __init__(self, path: str | Path, default_suffix: str = "") -> None:
        self._dir: str | None = None
        self.name = str(path)
        if opencv_safe(self.name):
            return
        self._dir = tempfile.mkdtemp(prefix="spinecoach-cv-")  # owner-only
        suffix = Path(self.name).suffix
        # The suffix tells OpenCV's writer the container; a garbled one is replaced.
        link = os.path.join(self._dir, "file" + (suffix if suffix.isascii() else default_suffix))
        os.symlink(os.path.abspath(path), link)
        self.name = link

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def read_image(path: str | Path) -> np.ndarray | None:
    """BGR image, or None when the file cannot be read or decoded."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    try:
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        return None
