"""What the access package's command lines share (``main.py patient``, ``main.py therapist``):
a parser whose mistakes are one line, a new secret typed twice at the terminal without echo,
and ``main``'s one-line error with exit code 2."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from access.errors import AccessError

EXIT_OK, EXIT_USAGE = 0, 2


class UsageError(AccessError):
    """Bad arguments: one line for the user, exit code 2; nothing is changed."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(message)


def ask_twice(
    prompt: str,
    name: str,
    check: Callable[[str], str],
    error: type[AccessError],
    other_ways: str,
) -> str:
    """A new secret (``name``: "PIN", "password") asked at the terminal without echo, checked
    (``check`` raises what is wrong, never the secret) and asked again to confirm."""
    if not sys.stdin.isatty():
        raise error(f"no terminal to ask for the {name} on; use {other_ways}")
    first = check(getpass.getpass(prompt))
    if first != getpass.getpass("Repeat it: "):
        raise error(f"the two {name}s differ; nothing changed")
    return first


def main(prog: str, run: Callable[[list[str]], int], argv: Sequence[str] | None) -> int:
    """``run`` with the words after the subcommand; what goes wrong is one line on stderr."""
    from storage import StorageError

    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except (AccessError, StorageError, ValueError) as exc:
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, EOFError):
        print(f"{prog}: error: cancelled; nothing changed", file=sys.stderr)
        return EXIT_USAGE
