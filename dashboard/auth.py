"""Signed-in therapists' browser sessions, kept in the dashboard's memory (a restart signs
everyone out), and their CSRF tokens.

The cookie holds only a random token (256 bits); the server keeps who it belongs to, when it
was made and last used, and the session's synchronizer token that every form that changes
something must send back. Tokens are compared in constant time."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

IDLE_S = 30 * 60.0  # signed out after this long without a request
LONGEST_S = 12 * 3600.0  # and after a working day, whatever happens
COOKIE = "sc_session"
LOGIN_COOKIE = "sc_login"  # the login form's own token, before anyone is signed in


@dataclass(frozen=True, slots=True)
class WebSession:
    therapist: str
    csrf: str
    created: float
    last_seen: float


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, WebSession] = {}

    def start(self, therapist: str) -> str:
        """A new session (a new token at every sign-in: a token known before is worthless)."""
        now = self._clock()
        token = new_token()
        with self._lock:
            self._drop_expired(now)
            self._by_token[token] = WebSession(therapist, new_token(), now, now)
        return token

    def get(self, token: str | None) -> WebSession | None:
        """The live session of ``token`` (touching it), or None."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            if now - s.last_seen > IDLE_S or now - s.created > LONGEST_S:
                del self._by_token[token]
                return None
            s = replace(s, last_seen=now)
            self._by_token[token] = s
            return s

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)

    def _drop_expired(self, now: float) -> None:
        for token, s in list(self._by_token.items()):
            if now - s.last_seen > IDLE_S or now - s.created > LONGEST_S:
                del self._by_token[token]
