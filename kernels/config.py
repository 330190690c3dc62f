"""The one place that sets numba's compile flags for every kernel, and where they are cached."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba


def _cache_dir() -> str:
    """One cache folder per version of the kernels' sources. numba checks a cached function
    against its own file only; a kernel that inlines one from another file (the session step
    inlines the rep counter) would otherwise keep running the old one after that file changed."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    base = os.environ.get("NUMBA_CACHE_DIR") or str(here.parent / ".cache" / "numba")
    return str(Path(base) / digest.hexdigest()[:16])


numba.config.CACHE_DIR = _cache_dir()

# cache=True keeps compiled kernels on disk so a warm start skips the ~1 s JIT per kernel.
# fastmath stays off: NaN marks "not visible" and fastmath may assume NaN never occurs.
JIT = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"

# Small helpers called inside kernels: inlined in numba's IR so no call and no array
# reference counting happen per rule or per sample.
JIT_INLINE = {**JIT, "inline": "always"}

# The per-input session step runs for about ten microseconds on the loop thread: releasing the
# interpreter lock around so short a call only invites another thread to take it for a whole
# switch interval (5 ms) before the loop gets it back.
JIT_STEP = {**JIT, "nogil": False}
