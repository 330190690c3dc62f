"""Render every phrase with espeak-ng: ``python -m speech.build [OUT_DIR]`` (``make speech``).

A clip is rendered again only when its text, its voice settings or the espeak-ng version
change: ``manifest.json`` beside the clips keeps a hash of those per clip. Clips of phrases
that no longer exist are removed. Each clip is written to a temporary file and moved into
place, so an interrupted build never leaves a half-written WAV behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

from speech import SpeechError
from speech.phrases import SPEECH_DIR, VOICES, Voice, clip_path, languages, phrases

MANIFEST = "manifest.json"
FORMAT = 2  # bump when the way clips are made changes in a way the hash cannot see
ESPEAK = "espeak-ng"
TAIL_S = 0.06  # silence kept after the last sound; espeak-ng pads about 0.43 s
_QUIET = 200  # |sample| at or below this (of 32767) counts as silence


@dataclass(frozen=True, slots=True)
class BuildReport:
    directory: Path
    espeak_version: str
    built: int
    kept: int
    removed: int

    def line(self) -> str:
        return (
            f"speech: {self.built} built, {self.kept} up to date, {self.removed} removed "
            f"in {self.directory} ({self.espeak_version})"
        )


def espeak_version() -> str:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SpeechError(
            f"{ESPEAK} not found on PATH; install it (Debian: apt-get install -y espeak-ng)"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        raise SpeechError(f"{ESPEAK} --version failed: {out.stderr.strip() or out.returncode}")
    # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/..." - the data path is not the voice
    return out.stdout.split("Data at:")[0].strip()


def clip_hash(text: str, voice: Voice, version: str) -> str:
    blob = json.dumps([FORMAT, text, voice.args(), version], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        clips = data["clips"]
        return {k: v["hash"] for k, v in clips.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # missing or damaged: everything is rendered again


def render(text: str, voice: Voice, dest: Path) -> None:
    """One phrase into ``dest`` (16-bit mono WAV at espeak-ng's 22050 Hz)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    # Text on stdin, so no phrase can be read as an option.
    cmd = [ESPEAK, *voice.args(), "-b", "1", "-w", str(tmp), "--stdin"]
    out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    try:
        if out.returncode != 0:
            raise SpeechError(f"{ESPEAK} failed on {text!r}: {out.stderr.strip()}")
        _trim_tail(tmp, text)
        os.replace(tmp, dest)
    except (OSError, wave.Error, EOFError) as exc:
        raise SpeechError(f"{ESPEAK} wrote no readable WAV for {text!r}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _trim_tail(path: Path, text: str) -> None:
    """Cut espeak-ng's trailing silence, so a count-out is over when it sounds over."""
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        frames = w.readframes(params.nframes)
    if params.sampwidth != 2 or params.nchannels != 1:
        raise SpeechError(
            f"{ESPEAK} wrote {params.nchannels} x {params.sampwidth * 8} bit, not mono 16 bit"
        )
    samples = memoryview(frames).cast("h")
    last = next((i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > _QUIET), -1)
    if last < 0:
        raise SpeechError(f"{ESPEAK} produced no audio for {text!r}")
    end = min(len(samples), last + 1 + round(TAIL_S * params.framerate))
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(samples[:end].tobytes())


def build(directory: Path = SPEECH_DIR, langs: list[str] | None = None) -> BuildReport:
    """Bring ``directory`` up to date with every phrase of every language."""
    version = espeak_version()
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / MANIFEST
    old = _load_manifest(manifest_path)
    clips: dict[str, dict[str, str]] = {}
    built = kept = removed = 0
    for lang in langs or languages():
        voice = VOICES[lang]
        wanted = phrases(lang)
        for key, text in sorted(wanted.items()):
            ident = f"{lang}/{key}"
            h = clip_hash(text, voice, version)
            dest = clip_path(directory, lang, key)
            if old.get(ident) == h and dest.is_file():
                kept += 1
            else:
                render(text, voice, dest)
                built += 1
            clips[ident] = {"hash": h, "text": text, "voice": voice.name}
        for stale in (directory / lang).glob("*.wav"):
            if stale.stem not in wanted:
                stale.unlink()
                removed += 1
    data = {"format": FORMAT, "espeak": version, "clips": clips}
    tmp = manifest_path.with_name(MANIFEST + ".part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, manifest_path)
    return BuildReport(directory, version, built, kept, removed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="speech.build", description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?", type=Path, default=SPEECH_DIR)
    args = ap.parse_args(argv)
    try:
        report = build(args.out_dir)
    except (SpeechError, OSError) as exc:
        print(f"speech.build: error: {exc}", file=sys.stderr)
        return 2
    print(report.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
