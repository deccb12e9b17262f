"""Writing finished sessions to the runner store, on a thread of its own.

The program finishes a session inside the loop's tick; SQLite is disk. :class:`SessionRecorder`
takes each finished session from a bounded queue (``post`` never blocks: a full queue drops and
counts) and writes the summary and the progressed limits in one transaction on its own thread,
with its own connection.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

from controller.profiles import RunnerLimits
from controller.program import Plan
from controller.progression import is_clean
from controller.store import Store

Item = tuple[str, dict[str, Any], bool, RunnerLimits | None] | tuple[str, str]
"""A finished session (runner, summary, clean, progressed), or an event (what, result)."""


class SessionRecorder:
    """Records finished sessions in the store at ``state_dir``.

    Attributes:
        dropped: sessions not recorded because the queue was full.
        errors: the store errors met (each one line), for the log.
    """

    def __init__(self, state_dir: str | Path, maxlen: int = 100) -> None:
        self._state_dir = state_dir
        self._queue: queue.Queue[Item | None] = queue.Queue(maxsize=maxlen)
        self.dropped = 0
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="session-recorder", daemon=True)
        self._thread.start()

    def post(self, plan: Plan, summary: dict[str, Any], progressed: RunnerLimits | None) -> None:
        """Queue a finished session (the program's ``on_session_end``; never blocks)."""
        try:
            self._queue.put_nowait((plan.runner, summary, is_clean(summary), progressed))
        except queue.Full:
            self.dropped += 1

    def post_event(self, what: str, result: str) -> None:
        """Queue a machine event for the audit log (never blocks)."""
        try:
            self._queue.put_nowait((what, result))
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        """Wait until every queued session is written."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5.0)

    def _run(self) -> None:
        store: Store | None = None
        while (item := self._queue.get()) is not None:
            try:
                if store is None:
                    store = Store(self._state_dir)
                if len(item) == 2:
                    store.record_event("treadguard", item[0], item[1])
                else:
                    runner, summary, clean, progressed = item
                    store.record_session(runner, summary, clean, progressed)
            except Exception as exc:  # a full disk must not end the thread; it is reported
                self.errors.append(f"{item[0]} not recorded: {exc}")
            finally:
                self._queue.task_done()
        self._queue.task_done()
        if store is not None:
            store.close()
