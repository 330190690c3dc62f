"""Byte stream to frames: hunts for the sync word, checks length and CRC, resynchronises."""

from __future__ import annotations

from dataclasses import dataclass

from device_bridge.protocol import OVERHEAD, SYNC, crc16

_SYNC0 = SYNC[0]


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame whose CRC matched."""

    ftype: int
    seq: int
    payload: bytes


class FrameParser:
    """Incremental parser; feed it any chunking of the stream, get whole frames back.

    On a CRC mismatch it moves on by one byte, not by the claimed frame length: a corrupted
    length byte (or garbage that looks like a header) must not swallow the good frames that
    follow. A header whose claimed length reaches past the buffered bytes is dropped as soon
    as a whole good frame shows up inside that span, so it cannot hold good frames back.

    ``crc_errors`` counts rejected candidates, ``resyncs`` counts the times the parser lost
    the frame boundary and had to hunt for it, ``discarded_bytes`` what it skipped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        # Joining a stream mid-frame is not losing sync: count resyncs only after a good frame.
        self._hunting = True
        self.frames = 0
        self.crc_errors = 0
        self.resyncs = 0
        self.discarded_bytes = 0

    def reset(self) -> None:
        """Forget buffered bytes (a new connection); counters are kept."""
        self._buf.clear()
        self._hunting = True

    def _skip(self, n: int) -> None:
        if n <= 0:
            return
        if not self._hunting:
            self._hunting = True
            self.resyncs += 1
        self.discarded_bytes += n

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        buf = self._buf
        buf += data
        out: list[Frame] = []
        pos = 0
        n = len(buf)
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                # A trailing first sync byte may be half of the next frame's sync word.
                keep = n - 1 if n > pos and buf[n - 1] == _SYNC0 else n
                self._skip(keep - pos)
                pos = keep
                break
            self._skip(i - pos)
            pos = i
            if n - pos < OVERHEAD:
                break
            end = pos + OVERHEAD + buf[pos + 2]
            if end > n:
                if not self._complete_frame_after(pos + 2):
                    break
                # Frames never overlap, so a whole good frame inside the claimed span proves
                # this header false: skip it now rather than hold good frames back.
                ok = False
            else:
                ok = _crc_ok(buf, pos, end)
            if not ok:
                self.crc_errors += 1
                self._skip(1)
                pos += 1
                continue
            out.append(
                Frame(
                    buf[pos + 3], buf[pos + 4] | (buf[pos + 5] << 8), bytes(buf[pos + 6 : end - 2])
                )
            )
            self._hunting = False
            pos = end
        del buf[:pos]
        self.frames += len(out)
        return out

    def _complete_frame_after(self, start: int) -> bool:
        buf = self._buf
        n = len(buf)
        j = buf.find(SYNC, start)
        while 0 <= j <= n - OVERHEAD:
            end = j + OVERHEAD + buf[j + 2]
            if end <= n and _crc_ok(buf, j, end):
                return True
            j = buf.find(SYNC, j + 1)
        return False


def _crc_ok(buf: bytearray, pos: int, end: int) -> bool:
    body = memoryview(buf)[pos + 2 : end - 2]
    ok = crc16(body) == buf[end - 2] | (buf[end - 1] << 8)
    body.release()
    return ok
