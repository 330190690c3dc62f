"""Per-frame numba kernels: plain arrays in, plain arrays out.

Each module keeps its ``@njit`` kernels private (``_name``) behind a public function that
validates shapes, dtypes and layout. All njit flags come from :mod:`kernels.config`.
"""
