"""The dashboard's web server: the standard library's threading HTTP server, one thread per
connection, every page rendered on the server (jinja2, autoescaped), assets from
``dashboard/static`` only.

Security, in one place: every page but the login needs a signed-in therapist; the session
cookie is HttpOnly, SameSite=Strict (and Secure behind TLS); every request that changes
something carries the session's synchronizer token and, when the browser sends one, an Origin
of this server; responses forbid framing, sniffing, caching and any script or asset from
elsewhere (Content-Security-Policy). Request bodies are small forms (limit 64 KB).
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import queue
import re
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from access.audit import AuditAction
from access.therapists import Outcome, TherapistGate
from clinic.errors import ClinicError
from clinic.programme import current, dose_text, set_dose
from clinic.progression import confirm, decline, pending
from dashboard import dose
from dashboard.auth import COOKIE, LOGIN_COOKIE, Sessions, WebSession, new_token, same_token
from dashboard.live import StatusHub
from dashboard.plots import history_svg
from storage import NotFound, PatientHistory, ProgrammeChanged, StorageError, Store
from storage.base import check_patient_code
from storage.clinic_records import DoseChange, Programme
from storage.metrics import session_figures

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"
MAX_BODY = 64 * 1024
MAX_CONNECTIONS = 64
KEEPALIVE_S = 15.0
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_PATIENT_URL = re.compile(r"/patients/([^/]+)(/.*)?")
EXPORTS = {"json": "application/json", "fhir": "application/fhir+json", "csv": "application/zip"}
REPORTS = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


@dataclass
class App:
    store: Store
    hub: StatusHub
    sessions: Sessions
    gate: TherapistGate
    secure: bool  # behind TLS: Secure cookies and HSTS
    templates: Environment
    store_lock: threading.Lock  # patient pages and edits: one at a time on the store's connection


def make_app(store: Store, hub: StatusHub, *, secure: bool = False) -> App:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",), default=True),
    )
    env.filters["nan"] = lambda v, fmt="{:.0f}": "-" if v != v else fmt.format(v)  # NaN: "-"
    return App(store, hub, Sessions(), TherapistGate(store), secure, env, threading.Lock())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SpineCoach"
    sys_version = ""
    timeout = 30  # a connection that sends nothing for this long is closed
    app: App  # set on the subclass the server makes

    # -- plumbing -----------------------------------------------------------------------------
    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _cookie(self, name: str) -> str | None:
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        return jar[name].value if name in jar else None

    def _set_cookie(self, name: str, value: str, max_age: int | None = None) -> str:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if self.app.secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts)

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str,
        *,
        cookies: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        for c in cookies:
            self.send_header("Set-Cookie", c)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _common_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on
        # its own form posts, and the Origin check would refuse them.
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        if self.app.secure:
            self.send_header("Strict-Transport-Security", "max-age=31536000")

    def _page(self, template: str, status: int = 200, cookies: tuple[str, ...] = (), **ctx) -> None:
        body = self.app.templates.get_template(template).render(**ctx).encode()
        self._send(status, body, "text/html; charset=utf-8", cookies=cookies)

    def _redirect(self, to: str, cookies: tuple[str, ...] = ()) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", cookies=cookies,
                   headers={"Location": to})  # fmt: skip

    def _error(self, status: int, message: str) -> None:
        self._page("error.html", status, message=message, session=self._session())

    def _session(self) -> WebSession | None:
        return self.app.sessions.get(self._cookie(COOKIE))

    def _client(self) -> str:
        return self.client_address[0]

    def _form(self) -> dict[str, str] | None:
        """The posted form (urlencoded); None (and a 413/400 sent) when refused."""
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True  # the body is not read: this connection ends here
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "That form is too large.")
            return None
        raw = self.rfile.read(n).decode("utf-8", "replace")
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype != "application/x-www-form-urlencoded":
            self._error(HTTPStatus.BAD_REQUEST, "Expected a form.")
            return None
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _same_origin(self) -> bool:
        """A browser that names where a request comes from must name this server."""
        origin = self.headers.get("Origin")
        if origin is None:
            return True
        host = self.headers.get("Host", "")
        return urlsplit(origin).netloc == host

    def _audit(self, who: str, action: AuditAction, patient: str = "", **detail) -> None:
        try:
            with self.app.store_lock:
                self.app.store.add_audit(
                    who, action, patient_code=patient,
                    detail=json.dumps(detail, sort_keys=True) if detail else "",
                    client=self._client(),
                )  # fmt: skip
        except StorageError as exc:
            log.error("audit log not written (%s %s): %s", who, action, exc)
            raise

    # -- routing ------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/static/"):
            return self._static(path[len("/static/") :])
        if path == "/login":
            return self._login_page()
        session = self._session()
        if session is None:
            if path == "/favicon.ico" or path == "/events":
                return self._send(HTTPStatus.UNAUTHORIZED, b"sign in first", "text/plain")
            return self._redirect("/login")
        try:
            if path == "/":
                return self._grid(session)
            if path == "/events":
                return self._events(session)
            if path == "/patients":
                return self._patients(session)
            if path == "/audit":
                return self._audit_page(session)
            m = _PATIENT_URL.fullmatch(path)
            if m:
                return self._patient_get(session, m.group(1), m.group(2) or "")
        except StorageError as exc:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"The database: {exc}")
        self._error(HTTPStatus.NOT_FOUND, "No such page.")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()  # read first: a body left unread would be taken for the next request
        if form is None:
            return
        if not self._same_origin():
            return self._error(HTTPStatus.FORBIDDEN, "That request came from another site.")
        if path == "/login":
            return self._login(form)
        session = self._session()
        if session is None:
            return self._redirect("/login")
        if not same_token(form.get("csrf"), session.csrf):
            return self._error(HTTPStatus.FORBIDDEN, "The form expired; reload the page.")
        try:
            if path == "/logout":
                self._audit(session.therapist, AuditAction.SIGNED_OUT)
                self.app.sessions.end(self._cookie(COOKIE))
                return self._redirect("/login", (self._set_cookie(COOKIE, "", 0),))
            m = _PATIENT_URL.fullmatch(path)
            if m and m.group(2) == "/dose":
                return self._dose(session, m.group(1), form)
            if m and m.group(2) == "/proposals":
                return self._proposals(session, m.group(1), form)
        except StorageError as exc:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"The database: {exc}")
        self._error(HTTPStatus.NOT_FOUND, "No such page.")

    # -- pages --------------------------------------------------------------------------------
    def _static(self, name: str) -> None:
        target = (STATIC / name).resolve()
        if STATIC.resolve() not in target.parents or not target.is_file():
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype)

    def _login_page(self, message: str = "", status: int = 200) -> None:
        # The browser's token stays the same while it has one: a second login page (another
        # tab, a request the browser makes on its own) must not void the first one's form.
        token = self._cookie(LOGIN_COOKIE) or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
            token = new_token()
        self._page("login.html", status, (self._set_cookie(LOGIN_COOKIE, token, 600),),
                   csrf=token, message=message, session=None)  # fmt: skip

    def _login(self, form: dict[str, str]) -> None:
        if not same_token(form.get("csrf"), self._cookie(LOGIN_COOKIE)):
            return self._login_page("The sign-in form expired; try again.", HTTPStatus.FORBIDDEN)
        name, password = form.get("name", "").strip(), form.get("password", "")
        result = self.app.gate.sign_in(name, password)
        if result.outcome == Outcome.OK:
            token = self.app.sessions.start(name)
            self._audit(name, AuditAction.SIGNED_IN)
            return self._redirect("/", (self._set_cookie(COOKIE, token),
                                        self._set_cookie(LOGIN_COOKIE, "", 0)))  # fmt: skip
        if result.outcome == Outcome.UNAVAILABLE:
            return self._login_page("The database cannot be reached; try again shortly.", 503)
        shown = name if re.fullmatch(r"[a-z][a-z0-9._-]{1,31}", name) else ""
        action = AuditAction.LOCKED_OUT if result.locked_out_now else AuditAction.SIGN_IN_REFUSED
        with contextlib.suppress(StorageError):  # logged; the refusal stands either way
            self._audit("", action, account=shown or "(not a valid name)", why=result.reason)
        self._login_page("Wrong name or password, or the account is locked for a while.", 401)

    def _grid(self, session: WebSession) -> None:
        self._page("grid.html", session=session, stations=self.app.hub.stations(),
                   now=time.time(), link_ok=self.app.hub.link_ok)  # fmt: skip

    def _events(self, session: WebSession) -> None:
        """Server-Sent Events: every station at once, then each change, until the page goes."""
        q = self.app.hub.subscribe()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self._common_headers()
            self.end_headers()
            self.close_connection = True
            token = self._cookie(COOKIE)
            while True:
                try:
                    item = q.get(timeout=KEEPALIVE_S)
                except queue.Empty:
                    if self.app.sessions.get(token) is None:
                        return  # signed out or expired: the stream ends with the session
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                if item is None:
                    return
                self.wfile.write(f"data: {item}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return
        finally:
            self.app.hub.unsubscribe(q)

    def _patients(self, session: WebSession) -> None:
        with self.app.store_lock:
            rows = []
            for p in self.app.store.list_patients():
                sessions = self.app.store.sessions(p.code)
                rows.append((p, len(sessions), sessions[-1].started_at if sessions else ""))
        self._page("patients.html", session=session, rows=rows)

    def _audit_page(self, session: WebSession) -> None:
        with self.app.store_lock:
            entries = self.app.store.audit_log(300)
        self._page("audit.html", session=session, entries=entries)

    def _patient_get(self, session: WebSession, code: str, rest: str) -> None:
        try:
            check_patient_code(code)
        except ValueError:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        if rest == "":
            try:
                page = self._patient_view(code)
            except NotFound:
                return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
            self._audit(session.therapist, AuditAction.PATIENT_VIEWED, code)
            return self._patient_page(session, page)
        try:
            with self.app.store_lock:
                history = self.app.store.history(code)
        except NotFound:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        if rest == "/history.svg":
            return self._send(HTTPStatus.OK, history_svg(history), "image/svg+xml")
        m = re.fullmatch(r"/report\.(pdf|html)", rest)
        if m:
            return self._report(session, history, m.group(1))
        m = re.fullmatch(r"/export\.(json|fhir|csv)", rest)
        if m:
            return self._export(session, history, m.group(1))
        self._error(HTTPStatus.NOT_FOUND, "No such page.")

    def _patient_view(self, code: str) -> PatientView:
        """Everything the patient's page shows, read at once; ``NotFound`` for no such patient."""
        with self.app.store_lock:
            store = self.app.store
            history = store.history(code)
            return PatientView(history, store.active_programme(code), tuple(pending(store, code)))

    def _patient_page(
        self, session: WebSession, view: PatientView, message: str = "", status: int = 200
    ) -> None:
        h = view.history
        sessions = [(s, session_figures(s)) for s in reversed(h.sessions)]
        items = view.programme.items if view.programme is not None else ()
        self._page("patient.html", status, session=session, h=h, sessions=sessions,
                   items=[(it, dose.form_values(it)) for it in items], fields=dose.FIELDS,
                   programme=view.programme, waiting=view.waiting, message=message,
                   dose_text=dose_text, code_url=quote(h.patient.code))  # fmt: skip

    def _refused(self, session: WebSession, code: str, exc: Exception) -> None:
        """A change not made: the page as it is now, saying why (409 when the programme
        changed since the therapist saw it)."""
        if isinstance(exc, ProgrammeChanged):
            message = "The programme was changed meanwhile; here it is as it is now."
            status = HTTPStatus.CONFLICT
        else:
            message, status = " ".join(str(exc).split()), HTTPStatus.BAD_REQUEST
        try:
            view = self._patient_view(code)
        except NotFound:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        self._patient_page(session, view, message, status)

    def _download(self, body: bytes, ctype: str, filename: str) -> None:
        disposition = f'attachment; filename="{filename}"'
        self._send(HTTPStatus.OK, body, ctype, headers={"Content-Disposition": disposition})

    def _report(self, session: WebSession, history, fmt: str) -> None:
        from storage.report import write_report

        code = history.patient.code
        with tempfile.TemporaryDirectory(prefix="spinecoach-report-") as tmp:
            out = write_report(history, Path(tmp) / f"{code}.{fmt}")
            body = out.read_bytes()
        self._audit(session.therapist, AuditAction.REPORT_DOWNLOADED, code, format=fmt)
        self._download(body, REPORTS[fmt], f"{code}-report.{fmt}")

    def _export(self, session: WebSession, history, fmt: str) -> None:
        from storage.export import write_csv, write_fhir, write_json

        code = history.patient.code
        with tempfile.TemporaryDirectory(prefix="spinecoach-export-") as tmp:
            if fmt == "csv":
                files = write_csv(history, Path(tmp) / "csv")
                zpath = Path(tmp) / "export.zip"
                with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
                    for f in files:
                        z.write(f, f"{code}/{f.name}")
                body, name = zpath.read_bytes(), f"{code}-export-csv.zip"
            else:
                writer = write_json if fmt == "json" else write_fhir
                body = writer(history, Path(tmp) / "export.json").read_bytes()
                name = f"{code}-{'fhir' if fmt == 'fhir' else 'export'}.json"
        self._audit(session.therapist, AuditAction.EXPORT_DOWNLOADED, code, format=fmt)
        self._download(body, EXPORTS[fmt], name)

    def _dose(self, session: WebSession, code: str, form: dict[str, str]) -> None:
        """A therapist's own dose for one item, through ``clinic.programme.set_dose``."""
        try:
            check_patient_code(code)
        except ValueError:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        where = (form.get("exercise", ""), form.get("side", ""))
        store = self.app.store
        try:
            with self.app.store_lock:
                # The form names the programme version it was made from: another therapist's
                # save since then is not overwritten without being seen (409).
                programme = current(store, code, _version(form))
                item = next((i for i in programme.items if (i.exercise_id, i.side) == where), None)
                if item is None:
                    return self._error(HTTPStatus.NOT_FOUND, "No such programme item.")
                changed = dose.read_form(item, form)
                saved = set_dose(store, code, *where, changed, by=session.therapist,
                                 reason=form.get("reason", ""), based_on=programme.id)  # fmt: skip
                new = next(i for i in saved.items if (i.exercise_id, i.side) == where)
                store.add_audit(
                    session.therapist, AuditAction.DOSE_CHANGED, patient_code=code,
                    detail=json.dumps({"exercise": item.exercise_id, "side": item.side,
                                       "changed": dose.changes(item, new),
                                       "reason": form.get("reason", "").strip()}, sort_keys=True),
                    client=self._client(),
                )  # fmt: skip
        except NotFound:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        except (ProgrammeChanged, ClinicError, dose.DoseError) as exc:
            return self._refused(session, code, exc)
        self._redirect(f"/patients/{quote(code)}?saved=1#programme")

    def _proposals(self, session: WebSession, code: str, form: dict[str, str]) -> None:
        """The progression rules' waiting proposals confirmed or declined, through
        ``clinic.progression`` (one, or "all")."""
        try:
            check_patient_code(code)
        except ValueError:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        decision = form.get("decision", "")
        if decision not in ("confirm", "decline"):
            return self._error(HTTPStatus.BAD_REQUEST, "Expected confirm or decline.")
        chosen = form.get("proposal", "")
        if chosen != "all" and not chosen.isdigit():
            return self._error(HTTPStatus.BAD_REQUEST, "No such proposal.")
        ids = None if chosen == "all" else [int(chosen)]
        store, by = self.app.store, session.therapist
        try:
            with self.app.store_lock:
                waiting = [c for c in pending(store, code) if ids is None or c.id in ids]
                if decision == "confirm":
                    confirm(store, code, ids, by, based_on=_version(form))
                    action = AuditAction.PROPOSALS_CONFIRMED
                else:
                    decline(store, code, ids, by)
                    action = AuditAction.PROPOSALS_DECLINED
                decided = [{"id": c.id, "exercise": c.exercise_id, "side": c.side,
                            "action": c.action, "after": dose_text(c.after)}
                           for c in waiting]  # fmt: skip
                detail = json.dumps({"proposals": decided}, sort_keys=True)
                store.add_audit(by, action, patient_code=code, detail=detail, client=self._client())
        except NotFound:
            return self._error(HTTPStatus.NOT_FOUND, "No such patient.")
        except (ProgrammeChanged, ClinicError) as exc:
            return self._refused(session, code, exc)
        self._redirect(f"/patients/{quote(code)}?decided=1#proposals")


def _version(form: dict[str, str]) -> int:
    """The programme version a form was made from; -1 (never a version) when it names none."""
    text = form.get("programme", "")
    return int(text) if text.isdigit() else -1


@dataclass(frozen=True, slots=True)
class PatientView:
    history: PatientHistory
    programme: Programme | None
    waiting: tuple[DoseChange, ...]  # the progression rules' proposals, oldest first


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):  # too many at once: refuse, stay up
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(app: App, host: str, port: int) -> _Server:
    """A server bound to ``host:port`` (port 0: a free one); call ``serve_forever``."""
    handler = type("BoundHandler", (Handler,), {"app": app})
    return _Server((host, port), handler)
