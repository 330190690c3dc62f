"""One exception family for frame and pose sources."""

from __future__ import annotations


class VisionError(Exception):
    """Base class: anything that goes wrong opening or reading a source."""


class SourceNotFound(VisionError):
    """The file, folder or camera named by the user does not exist."""


class NotAVideo(VisionError):
    """The file exists but cannot be decoded as a video, image folder or recording."""


class CameraUnavailable(VisionError):
    """The camera could not be opened, or stopped delivering frames."""


class RecordingError(VisionError):
    """A landmark recording is malformed: the message names the file, place and expectation."""
