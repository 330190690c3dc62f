"""``main.py dashboard --db URL [--host 127.0.0.1] [--port 8080] [--behind-tls]``.

Listens on this machine only unless told otherwise (``--host``); for other computers put it
behind a reverse proxy that speaks TLS (docs/dashboard.md) and pass ``--behind-tls`` so the
session cookie is sent over TLS only. Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence

PROG = "main.py dashboard"
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser() -> _Parser:
    ap = _Parser(prog=PROG, description="The therapists' dashboard in the browser.")
    ap.add_argument("--db", required=True, metavar="URL",
                    help="the clinic's database: postgresql://... (or a SQLite file)")  # fmt: skip
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")  # fmt: skip
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--behind-tls", action="store_true",
                    help="a TLS reverse proxy is in front: Secure cookies, HSTS")  # fmt: skip
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return ap


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(argv: Sequence[str]) -> int:
    from dashboard.live import StatusHub
    from dashboard.server import make_app, serve
    from storage import open_store

    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise _UsageError(f"--port: expected 0-65535, got {args.port}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    store = open_store(args.db, create=False)
    hub = StatusHub(store.status_listener).start()
    try:
        try:
            server = serve(make_app(store, hub, secure=args.behind_tls), args.host, args.port)
        except OSError as exc:
            raise _UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        host, port = server.server_address[:2]
        print(f"{PROG}: http://{host}:{port}/ on {store.location} (Ctrl-C stops)", flush=True)
        if not _loopback(args.host) and not args.behind_tls:
            print(f"{PROG}: warning: listening on {args.host} without TLS: passwords and "
                  "patient data cross the network in clear; see docs/dashboard.md",
                  file=sys.stderr)  # fmt: skip
        try:
            server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        hub.close()
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from storage import StorageError

    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except (_UsageError, StorageError) as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
