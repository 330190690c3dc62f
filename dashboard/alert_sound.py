"""The dashboard's alert sound: the patient screens' safety alarm (``feedback.audio``), as a
WAV file shipped in ``dashboard/static`` (the browser plays it; nothing is fetched from
elsewhere). ``python -m dashboard.alert_sound`` writes it again after the alarm changes."""

from __future__ import annotations

import io
import wave
from pathlib import Path

ALERT_WAV = Path(__file__).with_name("static") / "alert.wav"
SAMPLE_RATE = 22050


def alert_wav_bytes() -> bytes:
    from feedback.audio import synthesize, to_int16

    samples = to_int16(synthesize("alarm", SAMPLE_RATE), 1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


if __name__ == "__main__":
    ALERT_WAV.write_bytes(alert_wav_bytes())
    print(f"wrote {ALERT_WAV}")
