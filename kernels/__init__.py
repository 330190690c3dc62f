"""Per-frame numba kernels: plain arrays in, plain arrays out.

Each module keeps its ``@njit`` kernels private (``_name``) behind a public function that
validates shapes, dtypes and layout. All njit flags come from :mod:`kernels.config`.

``smoothing`` (One Euro filter), ``angles`` (joint angles), ``rules`` (posture rule table),
``rom`` (range of motion and the pain-free flag), ``reps`` (reps, tempo, hold timer),
``loading`` (load band, rate of force change, time under tension, smoothness, left / right),
``checks`` (all of them in one compiled call per frame) and ``batch`` (a recorded session
through the same frame kernel). ``docs/kernels.md`` describes the rule kinds and the rep
state machine.
"""
