"""SIGHUP: re-read the configuration; a valid change takes effect at the next arming, never
during a run; an invalid one keeps the configuration in force and says why.

The signal handler only sets a flag. A thread of its own reads and validates the file (disk
I/O never runs in the loop's thread), with the same rules as at start-up
(:func:`controller.config.load`, :meth:`Settings.mixing_problem`). A valid, changed file waits
as :attr:`ConfigReload.pending`. The daemon applies it only while the belt cannot be moving and
nobody has armed it — the supervisor LATCHED or READY (a start not yet pressed) — by ending the
session's loop, shutting the system down as at exit (relay open, port closed), and building a
new one from the new file, which starts latched with the power cut like any start: the next
arming (a human reset, then a start) is with the new configuration. A change that arrives
during a countdown or a run waits for the stop. If the new file's hardware cannot be opened,
the old configuration is built again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import fields

from controller import config as cfg
from controller.supervisor import State, Supervisor

APPLY_IN: tuple[State, ...] = (State.LATCHED, State.READY)
"""States in which a pending configuration is applied (the belt stopped, not armed)."""


def changed_sections(old: cfg.Settings, new: cfg.Settings) -> list[str]:
    """The ``[sections]`` whose options differ."""
    return [f"[{f.name}]" for f in fields(cfg.Settings)
            if f.name != "path" and getattr(old, f.name) != getattr(new, f.name)]


class ConfigReload:
    """Watches for SIGHUP and validates the file it names.

    Args:
        path: the configuration file.
        current: the configuration in force.
        log: a thread-safe line printer.
        install: install the SIGHUP handler (the main thread only; tests call :meth:`request`).
    """

    def __init__(self, path: str, current: cfg.Settings, log: Callable[[str], None],
                 install: bool = True) -> None:
        self.path = path
        self.current = current
        self._log = log
        self.pending: cfg.Settings | None = None
        self._wanted = threading.Event()
        self._closed = False
        self.done = threading.Event()
        """Set after each request has been judged (tests wait on it)."""
        self._thread = threading.Thread(target=self._run, name="config-reload", daemon=True)
        self._thread.start()
        if install:
            signal.signal(signal.SIGHUP, lambda signum, frame: self.request())

    def request(self) -> None:
        """What SIGHUP does: only set a flag (safe in a signal handler)."""
        self._wanted.set()

    def due(self, supervisor: Supervisor) -> bool:
        """A valid change is waiting and the controller is in a state to take it."""
        return self.pending is not None and supervisor.state in APPLY_IN

    def applied(self, settings: cfg.Settings) -> None:
        """The daemon built a system from ``settings``."""
        self.current = settings
        self.pending = None

    def close(self) -> None:
        self._closed = True
        self._wanted.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closed:
                return
            self._judge()
            self.done.set()

    def _judge(self) -> None:
        try:
            new = cfg.load(self.path)
            problem = new.mixing_problem()
            if problem is not None:
                raise cfg.ConfigError(problem)
        except cfg.ConfigError as exc:
            self._log(f"SIGHUP: {exc}: keeping the configuration in force")
            return
        changes = changed_sections(self.current, new)
        if not changes:
            self.pending = None
            self._log(f"SIGHUP: {self.path} re-read: nothing changed")
            return
        self.pending = new
        self._log(f"SIGHUP: {self.path} re-read, valid; changed {', '.join(changes)}: takes "
                  f"effect at the next arming (once the belt is stopped and latched, or ready "
                  f"and not started; never during a run)")
