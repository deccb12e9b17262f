"""The systemd notify protocol, with the standard library only.

A service of ``Type=notify`` tells systemd how it is doing by sending short datagrams
(``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=…``) to the Unix datagram socket named
in ``NOTIFY_SOCKET``: a path, or — starting with ``@`` — a name in Linux's abstract namespace.
``WATCHDOG_USEC`` (microseconds) is the service's ``WatchdogSec=``; when ``WATCHDOG_PID`` is set,
the watchdog is meant only for that process.

Sending never blocks and never raises: a missing or full socket costs a count
(:attr:`Notifier.errors`), never the controller's time. Without ``NOTIFY_SOCKET`` (run by hand,
in a test, in ``treadguard sim``) every call does nothing.

Who sends what (see ``controller/daemon.py`` and ``controller/watchdog.py``): ``READY=1`` once
the system is built and the loop about to run (latched: sent once); ``WATCHDOG=1`` only from the
watchdog thread and only while the loop's tick counter keeps advancing on time — whatever the
controller's state: a latched controller with a dead sensor is healthy (in its safe state) and
must not be killed and restarted again and again; ``STATUS=`` with the state; ``STOPPING=1``
when the shutdown begins.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Final

PINGS_PER_INTERVAL: Final = 4
"""``WATCHDOG=1`` is sent every ``WATCHDOG_USEC / 4``: at least twice per interval even if one
ping is late by a whole period (systemd's own advice is half the interval)."""


class Notifier:
    """The daemon's end of the notify socket.

    Args:
        environ: the environment to read (default ``os.environ``); ``NOTIFY_SOCKET``,
            ``WATCHDOG_USEC``, ``WATCHDOG_PID``.
        pid: this process's id (default ``os.getpid()``), compared with ``WATCHDOG_PID``.

    Attributes:
        address: where datagrams go (None: nobody listens, every call does nothing).
        watchdog_interval_s: ``WATCHDOG_USEC`` in seconds, or None when there is no watchdog
            for this process (unset, malformed, zero, or ``WATCHDOG_PID`` names another one).
        ready_sent: ``READY=1`` has gone (it is sent once).
        sent, errors: datagrams sent, and sends that failed.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval_s(env, os.getpid() if pid is None else pid)
        self.ready_sent = False
        self.sent = 0
        self.errors = 0
        self._last_status = ""
        self._sock: socket.socket | None = None
        if self.address is not None:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            except OSError:
                self._sock = None
                self.errors += 1

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    @property
    def ping_every_s(self) -> float | None:
        """How often ``WATCHDOG=1`` is due, s (None: no watchdog asked for)."""
        if self.watchdog_interval_s is None:
            return None
        return self.watchdog_interval_s / PINGS_PER_INTERVAL

    def send(self, message: str) -> bool:
        """Send one datagram (lines ``KEY=value``). True if it went out."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto(message.encode("utf-8", "replace"), self.address)
        except OSError:
            self.errors += 1
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "") -> None:
        """``READY=1`` (with a ``STATUS=``), once; later calls do nothing."""
        if self.ready_sent:
            return
        self.ready_sent = self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))
        if status:
            self._last_status = status

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: only the watchdog thread calls it, and only for a loop on time."""
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        """``STATUS=`` when the text changed (systemctl status shows it)."""
        if text != self._last_status and self.send(f"STATUS={text}"):
            self._last_status = text

    def stopping(self, status: str = "") -> None:
        """``STOPPING=1``: the shutdown has begun."""
        self.send("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(value: str) -> str | None:
    """``NOTIFY_SOCKET`` as an address for ``sendto``: ``@name`` is the abstract namespace
    (a leading NUL byte); a path must be absolute. Anything else (``vsock:``…) is not
    supported here and means "nobody listens"."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def _watchdog_interval_s(env: Mapping[str, str], pid: int) -> float | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    watchdog_pid = env.get("WATCHDOG_PID")
    if watchdog_pid:
        try:
            if int(watchdog_pid) != pid:
                return None
        except ValueError:
            return None
    return usec / 1e6
