"""The command line's one exception: bad arguments or input files."""

from __future__ import annotations


class UsageError(Exception):
    """Bad arguments or input files: one clear line for the user, exit code 2."""
