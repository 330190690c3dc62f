"""Spoken cues rendered offline: which phrases exist in each language, and the espeak-ng build.

Nothing here plays sound (that is ``feedback/``); this package only knows the phrases and
turns them into WAV files under ``build/speech/<lang>/<key>.wav``.
"""

from __future__ import annotations


class SpeechError(Exception):
    """A phrase catalogue that cannot be spoken, or a build that cannot run."""
