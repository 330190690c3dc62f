"""The one place that sets numba's compile flags for every kernel."""

from __future__ import annotations

import os

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
