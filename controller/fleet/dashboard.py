"""``treadguard dashboard``: the gym's screen — every treadmill's tile, the day's events, and a
stop button per treadmill (``docs/dashboard.md``).

- ``treadguard dashboard --broker URL [--listen HOST:PORT] [--users FILE] [--broker-user U
  --broker-password-file F] [--ca-file F] [--stale-after-s S]``: serve the page until Ctrl-C or
  SIGTERM;
- ``treadguard dashboard user add NAME --role supervisor|viewer [--users FILE]``: add a user or
  change one's role and password (the password is read from the terminal, or as one line on
  standard input);
- ``treadguard dashboard user remove NAME [--users FILE]``: remove a user. A running dashboard
  checks every request's session against the file: a removed user, or one whose password
  changed, is signed out; a changed role applies at once.

The dashboard runs anywhere on the gym's network (not on a treadguard Pi): it holds no
treadmill and its only command, a stop, goes through the broker, whose ACL decides who may
send it. It never publishes anything else.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import secrets
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Final

from controller.fleet.dashboard_http import DashboardServer
from controller.fleet.dashboard_mqtt import BrokerLink, LinkError, parse_broker
from controller.fleet.dashboard_state import Board
from controller.fleet.users import ROLES, User, UsersError, add, load, remove

DEFAULT_USERS: Final = "/etc/treadguard/dashboard-users"
DEFAULT_LISTEN: Final = "127.0.0.1:8080"
log = logging.getLogger("treadguard.dashboard")


def register(sub: Any) -> None:
    dash = sub.add_parser("dashboard", help="the gym's web dashboard: every treadmill through "
                                            "the MQTT broker, a stop button each (and `user "
                                            "add` for its users)")
    dash.add_argument("--broker", metavar="URL",
                      help="the broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)")
    dash.add_argument("--listen", metavar="HOST:PORT", default=DEFAULT_LISTEN,
                      help=f"where to serve the page (default {DEFAULT_LISTEN}; 0.0.0.0:8080 "
                           f"for the gym's network)")
    dash.add_argument("--users", metavar="FILE", default=DEFAULT_USERS,
                      help=f"the users file (default {DEFAULT_USERS})")
    dash.add_argument("--broker-user", metavar="USER",
                      help="the dashboard's broker user (the last level of its stop topics)")
    dash.add_argument("--broker-password-file", metavar="FILE",
                      help="a file holding the broker user's password (its first line)")
    dash.add_argument("--ca-file", metavar="FILE",
                      help="the CA certificate that signed the broker's (mqtts:// only)")
    dash.add_argument("--tls-cert", metavar="FILE",
                      help="serve HTTPS with this certificate (PEM; with --tls-key): passwords "
                           "and the session cookie (then Secure) never cross the gym's network "
                           "in clear")
    dash.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    dash.add_argument("--stale-after-s", type=float, default=10.0, metavar="S",
                      help="a tile with no status for this long shows 'stale' (default 10)")
    dash.set_defaults(func=cmd_dashboard)
    users = dash.add_subparsers(dest="dashboard_command", metavar="user")
    user = users.add_parser("user", help="manage the dashboard's users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="add|remove")
    user_add = user_sub.add_parser("add", help="add a user or change one's role and password "
                                               "(password from the terminal or stdin)")
    user_add.add_argument("name", metavar="NAME")
    user_add.add_argument("--role", required=True, choices=ROLES)
    user_add.add_argument("--users", metavar="FILE", default=DEFAULT_USERS,
                          dest="user_users_file", help=f"the users file (default "
                                                       f"{DEFAULT_USERS})")
    user_add.set_defaults(func=cmd_user_add)
    user_remove = user_sub.add_parser("remove", help="remove a user (signed out of a running "
                                                     "dashboard at their next request)")
    user_remove.add_argument("name", metavar="NAME")
    user_remove.add_argument("--users", metavar="FILE", default=DEFAULT_USERS,
                             dest="user_users_file", help=f"the users file (default "
                                                          f"{DEFAULT_USERS})")
    user_remove.set_defaults(func=cmd_user_remove)


def _fail(message: str) -> int:
    print(f"treadguard dashboard: {message}", file=sys.stderr)
    return 2


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsersError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise UsersError("expected the password as a line on standard input, got nothing")
    return line.rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    path = Path(args.user_users_file)
    try:
        new = add(path, args.name, args.role, _read_password())
    except UsersError as exc:
        return _fail(str(exc))
    print(f"{'added' if new else 'changed'} {args.name} ({args.role}) in {path}")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    path = Path(args.user_users_file)
    try:
        gone = remove(path, args.name)
    except UsersError as exc:
        return _fail(str(exc))
    print(f"removed {gone.name} ({gone.role}) from {path}")
    return 0


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → ``(host, port)``; ValueError with a one-line reason."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 0.0.0.0:8080")
    return host.strip("[]"), int(port_text)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The HTTPS context of ``--tls-cert`` and ``--tls-key`` (None: plain HTTP); ValueError
    with a one-line reason."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("--tls-cert and --tls-key go together (the certificate and its key)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ValueError(f"--tls-cert {cert} / --tls-key {key}: {reason}") from None
    return context


def _broker_password(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LinkError(f"--broker-password-file {path}: {getattr(exc, 'strerror', None) or exc}"
                        ) from None
    if not lines or not lines[0]:
        raise LinkError(f"--broker-password-file {path}: the first line is empty")
    return lines[0]


class Dashboard:
    """The running dashboard: the board, its broker link and its web server.

    Raises :class:`LinkError`, :class:`UsersError` or :class:`OSError` (the port) at start,
    each with a one-line message.
    """

    def __init__(self, broker: str, listen: tuple[str, int], users_file: Path,
                 broker_user: str | None, broker_password: str | None,
                 ca_file: str | None = None, stale_after_s: float = 10.0,
                 tls: ssl.SSLContext | None = None) -> None:
        address = parse_broker(broker)
        self.users_file = users_file
        users = load(users_file)
        if not users:
            raise UsersError(f"{users_file}: no users (treadguard dashboard user add NAME "
                             f"--role supervisor --users {users_file})")
        self.board = Board(stale_after_s=stale_after_s)
        # A client id of its own: two dashboards with one id would throw each other off the
        # broker in turn (a second screen in the gym is normal).
        client_id = f"treadguard-dashboard-{socket.gethostname()[:40]}-{secrets.token_hex(4)}"
        self.link = BrokerLink(address, self.board, broker_user, broker_password, ca_file,
                               client_id)
        self.link.start()
        try:
            self.server = DashboardServer(listen, self.board, self._users, self.link.publish_stop,
                                          tls)
        except OSError as exc:
            self.link.close()
            raise OSError(f"--listen {listen[0]}:{listen[1]}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.2}, name="dashboard-http",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        scheme = "https" if self.server.tls is not None else "http"
        return f"{scheme}://{host!s}:{port}"

    def _users(self) -> dict[str, User]:
        # Read at every sign-in: `user add` takes effect without a restart.
        return load(self.users_file)

    def close(self) -> None:
        self.board.close()
        self.server.shutdown()
        self.server.server_close()
        self.link.close()


def cmd_dashboard(args: argparse.Namespace) -> int:
    if args.broker is None:
        return _fail("--broker URL is required (mqtt://HOST[:PORT] or mqtts://HOST[:PORT])")
    if not 0 < args.stale_after_s <= 3600:
        return _fail(f"--stale-after-s {args.stale_after_s:g}: expected 0 < S <= 3600")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        listen = parse_listen(args.listen)
        tls = tls_context(args.tls_cert, args.tls_key)
        dashboard = Dashboard(args.broker, listen, Path(args.users), args.broker_user,
                              _broker_password(args.broker_password_file), args.ca_file,
                              args.stale_after_s, tls)
    except (ValueError, LinkError, UsersError, OSError) as exc:
        return _fail(str(exc))
    done = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    print(f"treadguard dashboard: serving {dashboard.url} for broker {dashboard.board.broker}",
          file=sys.stderr, flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        dashboard.close()
    return 0
