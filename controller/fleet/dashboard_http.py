"""The dashboard's web server (standard library ``http.server``, one thread per request).

Routes (everything but the page, its two static files and ``/api/login`` needs a signed-in
session):

=========================  ==============================================================
``GET /``                  the page (``controller/fleet/static/index.html``), and
``GET /static/app.js``,    its script and style, from the package (no CDN, nothing
``GET /static/style.css``  fetched from elsewhere: the Content-Security-Policy says so)
``POST /api/login``        ``{"user", "password"}`` → session cookie (HttpOnly,
                           SameSite=Strict) and ``{"user", "role", "csrf"}``; 429 after
                           :data:`MAX_REFUSED_SIGN_INS` refused ones for that user from
                           that address within :data:`SIGN_IN_WINDOW_S`
``POST /api/logout``       ends the session
``GET /api/me``            ``{"user", "role", "csrf"}`` or 401
``GET /api/board``         the whole board (:meth:`Board.snapshot`)
``GET /api/live``          Server-Sent Events: ``board`` (all), ``tile``, ``event``, ``link``
``POST /api/stop``         ``{"site", "treadmill", "confirm": true}`` with header
                           ``X-CSRF-Token``: a supervisor's stop (202), a viewer's is
                           refused (403); both logged with the user
=========================  ==============================================================

Malformed requests get a 4xx with a one-line JSON ``error``; nothing a client sends can stop
the server.
"""

from __future__ import annotations

import http.cookies
import json
import logging
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final

from controller.fleet.dashboard_state import Board
from controller.fleet.users import User, UsersError, check

log = logging.getLogger("treadguard.dashboard")

COOKIE: Final = "tg_session"
HANDSHAKE_TIMEOUT_S: Final = 10.0
"""A client has this long to finish the TLS handshake (HTTPS only)."""
SESSION_S: Final = 12 * 3600.0
"""A sign-in lasts a working day (12 h), then the page asks again."""
MAX_BODY_BYTES: Final = 16 * 1024
LIVE_KEEPALIVE_S: Final = 5.0
"""A live page gets the whole board at least this often (ages, "stale"), and a comment line
that tells a dead connection apart."""
MAX_REFUSED_SIGN_INS: Final = 5
SIGN_IN_WINDOW_S: Final = 60.0
"""After this many refused sign-ins for one user name from one address within this long,
further tries for it from there are refused (429, logged) until the window has passed: slows
a password guesser to 5 tries a minute beside the scrypt cost. Keyed by address *and* name,
so behind a reverse proxy (one address for everyone) a guesser locks out only the name it
guesses, not the gym."""
MAX_SIGN_IN_KEYS: Final = 1024
"""Address-and-name pairs remembered (the oldest forgotten): bounded memory under a flood."""
STATIC: Final = {"/": ("index.html", "text/html; charset=utf-8"),
                 "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
                 "/static/style.css": ("style.css", "text/css; charset=utf-8")}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files by route, read once from the installed package."""
    folder = resources.files("controller.fleet").joinpath("static")
    return {route: (folder.joinpath(name).read_bytes(), kind)
            for route, (name, kind) in STATIC.items()}


@dataclass
class Session:
    user: User
    csrf: str
    expires_mono_s: float


class Sessions:
    """Signed-in sessions, in memory (a restarted dashboard asks everyone to sign in again)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def open(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), self._monotonic() + SESSION_S)
        with self._lock:
            now = self._monotonic()
            self._by_token = {t: s for t, s in self._by_token.items() if s.expires_mono_s > now}
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is None or session.expires_mono_s <= self._monotonic():
                self._by_token.pop(token, None)
                return None
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


class SignInLimit:
    """Refused sign-ins per (address, user name), for :data:`MAX_REFUSED_SIGN_INS` /
    :data:`SIGN_IN_WINDOW_S` (thread-safe; time from ``monotonic``)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._refused: dict[tuple[str, str], tuple[int, float]] = {}  # count, first refusal
        self._lock = threading.Lock()

    def wait_s(self, address: str, name: str) -> float:
        """Seconds before ``name`` may try again from ``address`` (0: now)."""
        with self._lock:
            count, first = self._refused.get((address, name), (0, 0.0))
            left = first + SIGN_IN_WINDOW_S - self._monotonic()
            if left <= 0:
                self._refused.pop((address, name), None)
                return 0.0
            return left if count >= MAX_REFUSED_SIGN_INS else 0.0

    def refused(self, address: str, name: str) -> None:
        with self._lock:
            now = self._monotonic()
            count, first = self._refused.pop((address, name), (0, now))
            if now - first >= SIGN_IN_WINDOW_S:
                count, first = 0, now
            self._refused[(address, name)] = (count + 1, first)  # re-inserted: the newest
            while len(self._refused) > MAX_SIGN_IN_KEYS:
                del self._refused[next(iter(self._refused))]

    def accepted(self, address: str, name: str) -> None:
        with self._lock:
            self._refused.pop((address, name), None)


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], board: Board,
                 users: Callable[[], dict[str, User]],
                 stop: Callable[[str, str, str], str],
                 tls: ssl.SSLContext | None = None) -> None:
        self.board = board
        self.users = users
        self.stop = stop
        self.sessions = Sessions()
        self.sign_ins = SignInLimit()
        self.files = static_files()
        self.failed_logins = 0
        self.tls = tls
        super().__init__(address, Handler)
        if tls is not None:
            # The handshake is done in the request's own thread (finish_request), never in
            # the accept loop, where one slow or silent client would hold up every other.
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(HANDSHAKE_TIMEOUT_S)
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:  # plain HTTP to an HTTPS port, a scanner
                log.info("TLS handshake with %s failed: %s", client_address[0],
                         getattr(exc, "reason", None) or exc)
                return
        super().finish_request(request, client_address)

    @property
    def cookie_flags(self) -> str:
        """The session cookie's attributes: ``Secure`` as well when served over HTTPS."""
        return "Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.tls else "")


class RequestError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"
    server_version = "treadguard-dashboard"
    timeout = 60
    """Seconds a connection may stay silent (a slow or idle client does not hold a thread
    forever; a live page is sent something at least every LIVE_KEEPALIVE_S)."""
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # --- dispatch ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, route: Callable[[str], None]) -> None:
        path = self.path.split("?", 1)[0]
        try:
            route(path)
        except RequestError as exc:
            self._json(exc.status, {"error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _get(self, path: str) -> None:
        if path in self.server.files:
            body, kind = self.server.files[path]
            self._send(HTTPStatus.OK, body, kind)
        elif path == "/api/me":
            session = self._session()
            self._json(HTTPStatus.OK, self._me(session))
        elif path == "/api/board":
            self._session()
            self._json(HTTPStatus.OK, self.server.board.snapshot())
        elif path == "/api/live":
            self._session()
            self._live()
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such page: {path[:100]}")

    def _post(self, path: str) -> None:
        body = self._body()
        origin = self.headers.get("Origin")
        if origin is not None and urllib.parse.urlsplit(origin).netloc != self.headers.get(
                "Host"):
            # Another site's page posting here (the cookie is SameSite=Strict as well).
            log.warning("request from another origin refused: %r", origin[:100])
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from another site are refused")
        if path == "/api/login":
            self._login(body)
        elif path == "/api/logout":
            self._csrf(self._session())
            self.server.sessions.close(self._token())
            self._json(HTTPStatus.OK, {"signed_out": True},
                       cookie=f"{COOKIE}=; Max-Age=0; {self.server.cookie_flags}")
        elif path == "/api/stop":
            self._stop(self._session(), body)
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such action: {path[:100]}")

    # --- actions ----------------------------------------------------------------------------

    def _login(self, body: dict[str, Any]) -> None:
        name, password = body.get("user"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "expected {\"user\": ..., \"password\": "
                                                       "...}")
        address, limit = str(self.client_address[0]), self.server.sign_ins
        name = name[:64]
        wait_s = limit.wait_s(address, name)
        if wait_s > 0:
            log.warning("sign-in for %r from %s refused unchecked: too many refused", name,
                        address)
            raise RequestError(HTTPStatus.TOO_MANY_REQUESTS, f"too many refused sign-ins: "
                                                             f"try again in {wait_s:.0f} s")
        try:
            users = self.server.users()
        except UsersError as exc:  # the file was broken after the dashboard started
            log.error("sign-in impossible: %s", exc)
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR,
                               "the dashboard's users file cannot be read: see its log") from None
        user = check(users, name, password)
        if user is None:
            self.server.failed_logins += 1
            limit.refused(address, name)
            log.warning("sign-in refused for %r from %s (%d refused so far)", name,
                        address, self.server.failed_logins)
            raise RequestError(HTTPStatus.UNAUTHORIZED, "wrong user or password")
        limit.accepted(address, name)
        token, session = self.server.sessions.open(user)
        log.info("%s (%s) signed in from %s", user.name, user.role, self.client_address[0])
        self._json(HTTPStatus.OK, self._me(session),
                   cookie=f"{COOKIE}={token}; {self.server.cookie_flags}; "
                          f"Max-Age={int(SESSION_S)}")

    def _stop(self, session: Session, body: dict[str, Any]) -> None:
        self._csrf(session)
        site, treadmill = body.get("site"), body.get("treadmill")
        if not isinstance(site, str) or not isinstance(treadmill, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "expected {\"site\", \"treadmill\", "
                                                       "\"confirm\": true}")
        where = f"{site[:32]}/{treadmill[:32]}"
        user = session.user
        if not user.may_stop:
            log.warning("STOP REFUSED for %s: %s is a viewer", where, user.name)
            self.server.board.add_local_event(site[:32], treadmill[:32], "stop_refused",
                                              f"stop refused: {user.name} is a viewer")
            raise RequestError(HTTPStatus.FORBIDDEN, f"{user.name} is a viewer: viewers cannot "
                                                     f"stop a treadmill")
        if body.get("confirm") is not True:
            raise RequestError(HTTPStatus.BAD_REQUEST, "a stop must be confirmed "
                                                       "(\"confirm\": true)")
        if not self.server.board.knows(site, treadmill):
            raise RequestError(HTTPStatus.NOT_FOUND, f"no treadmill {where} on this board")
        try:
            topic = self.server.stop(site, treadmill, user.name)
        except Exception as exc:  # the link's one-line reason, shown to the supervisor
            log.error("STOP FAILED for %s pressed by %s: %s", where, user.name, exc)
            self.server.board.add_local_event(site, treadmill, "stop_failed",
                                              f"stop by {user.name} NOT sent: {exc}")
            raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE,
                               f"stop NOT sent ({exc}): use the treadmill's own stop") from None
        log.warning("STOP SENT for %s pressed by %s (%s) on %s", where, user.name, user.role,
                    topic)
        self.server.board.stop_sent(site, treadmill, user.name)
        self._json(HTTPStatus.ACCEPTED, {"sent": True, "topic": topic, "by": user.name})

    def _live(self) -> None:
        board = self.server.board
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        snapshot = board.snapshot()
        version = int(snapshot["version"])
        self._event("board", snapshot)
        last_board = time.monotonic()
        while True:
            version, changes = board.changes_since(version, LIVE_KEEPALIVE_S)
            if version < 0:
                return
            if changes is None or time.monotonic() - last_board >= LIVE_KEEPALIVE_S:
                try:  # at every keepalive: a user removed meanwhile loses the stream too
                    self._session()
                except RequestError:
                    return
                snapshot = board.snapshot()
                version = int(snapshot["version"])
                self._event("board", snapshot)
                last_board = time.monotonic()
                continue
            for kind, data in changes:
                self._event(kind, data, flush=False)
            self.wfile.flush()

    # --- helpers ----------------------------------------------------------------------------

    def _event(self, kind: str, data: dict[str, Any], flush: bool = True) -> None:
        self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        if flush:
            self.wfile.flush()

    def _token(self) -> str | None:
        cookies = http.cookies.SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        morsel = cookies.get(COOKIE)
        return morsel.value if morsel is not None else None

    def _session(self) -> Session:
        """The request's session, checked against the users file as it is now: a user removed
        since signing in, or whose password changed, is signed out; a changed role applies."""
        token = self._token()
        session = self.server.sessions.get(token)
        if session is None:
            raise RequestError(HTTPStatus.UNAUTHORIZED, "sign in first")
        try:
            current = self.server.users().get(session.user.name)
        except UsersError as exc:  # the file was broken after the dashboard started
            log.error("session check impossible: %s", exc)
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR,
                               "the dashboard's users file cannot be read: see its log") from None
        if current is None or current.hash != session.user.hash:
            self.server.sessions.close(token)
            log.warning("%s signed out: removed from the users file or password changed",
                        session.user.name)
            raise RequestError(HTTPStatus.UNAUTHORIZED, "signed out: sign in again")
        if current.role != session.user.role:
            log.info("%s is now a %s", current.name, current.role)
            session.user = current
        return session

    def _csrf(self, session: Session) -> None:
        sent = self.headers.get("X-CSRF-Token", "")
        if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
            log.warning("request without a valid CSRF token refused (%s)", session.user.name)
            raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong CSRF token: reload the "
                                                     "page")

    @staticmethod
    def _me(session: Session) -> dict[str, Any]:
        return {"user": session.user.name, "role": session.user.role, "csrf": session.csrf}

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"a request body has at most {MAX_BODY_BYTES} bytes")
        if self.headers.get_content_type() != "application/json":
            self.rfile.read(length)
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not a JSON object")
        return body

    def _json(self, status: HTTPStatus, data: dict[str, Any], cookie: str | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", cookie)

    def _send(self, status: HTTPStatus, body: bytes, kind: str,
              cookie: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if cookie is not None:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)
