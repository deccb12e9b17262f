"""The black box's writer thread and the bounded queue that feeds it.

The loop's thread only appends to :class:`BoundedQueue` (a lock held for one ``append``, never
across disk I/O): it never waits on the disk. The writer thread wakes every
``commit_every_s``, takes everything queued in one swap, writes it in one transaction and
commits (synced: see :mod:`controller.blackbox.store`).

Overflow (the disk slower than the loop, or failing): the oldest *telemetry* (10 Hz rows, IMU
blocks) is dropped, counted, and logged once per episode; events and session changes are kept.
Only if the queue holds nothing but events — a disk failing for hours while people keep
pressing buttons — is the oldest event dropped, counted separately and logged.

A write that fails (disk full, I/O error) is said once (``on_problem``), its telemetry dropped
and counted, its events kept for the next attempt (up to ``RETRY_EVENTS_MAX``); the controller
never notices beyond that line. The writer retries at every commit interval, after pruning.
"""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from controller.blackbox.store import (
    EVENT_COLUMNS,
    IMU_COLUMNS,
    SESSION_COLUMNS,
    TELEMETRY_COLUMNS,
    Store,
    StoreError,
)
from controller.realtime import set_normal

RETRY_EVENTS_MAX: Final = 100_000


@dataclass
class Item:
    """One thing for the writer: ``kind`` is ``event``, ``session`` (keep) or ``telemetry``,
    ``imu`` (may be dropped); ``rows`` the table rows (``session``: one dict of changes)."""

    kind: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def droppable(self) -> bool:
        return self.kind in ("telemetry", "imu")


class BoundedQueue:
    """Events and telemetry on their way to the writer; never blocks the producer."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._keep: deque[Item] = deque()
        self._drop: deque[Item] = deque()
        self._lock = threading.Lock()
        self.dropped_telemetry = 0
        self.dropped_events = 0
        self.episode_started = False
        """Set when dropping starts; the writer logs it and clears it."""

    def put(self, item: Item) -> None:
        with self._lock:
            (self._drop if item.droppable else self._keep).append(item)
            if len(self._keep) + len(self._drop) > self.max_items:
                if self._drop:
                    self._drop.popleft()
                    self.dropped_telemetry += 1
                else:
                    self._keep.popleft()
                    self.dropped_events += 1
                self.episode_started = True

    def take(self) -> tuple[list[Item], list[Item]]:
        """Everything queued: (kept kinds, droppable kinds), each oldest first."""
        with self._lock:
            keep, drop = self._keep, self._drop
            self._keep, self._drop = deque(), deque()
        return list(keep), list(drop)

    def __len__(self) -> int:
        return len(self._keep) + len(self._drop)


class Writer:
    """Writes :class:`Item` batches to a :class:`Store` from its own thread.

    Args:
        store: the files.
        queue: what the recorder fills.
        session: the first session's row (``SESSION_COLUMNS`` keys).
        commit_every_s: the interval between commits, s.
        on_problem: told (from this thread) when writing fails, recovers, or drops telemetry.
        today: the UTC date (a test hook: rotation at midnight).
        on_commit: called after each commit with the kept items (events, session changes)
            it made durable (a test hook).
    """

    def __init__(self, store: Store, queue: BoundedQueue, session: dict[str, Any],
                 commit_every_s: float, on_problem: Callable[[str], None],
                 today: Callable[[], datetime.date] | None = None,
                 on_commit: Callable[[list[Item]], None] | None = None) -> None:
        self._store = store
        self._queue = queue
        self.session = dict(session)
        self._commit_every_s = commit_every_s
        self._on_problem = on_problem
        self._today = today or (lambda: datetime.datetime.now(datetime.UTC).date())
        self._on_commit = on_commit
        self._retry: list[Item] = []
        self._session_dirty = True
        self.problem: str | None = None
        self.telemetry_lost = 0
        self.events_lost = 0
        self.commits = 0
        self.items_written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="blackbox-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (one last commit) and end the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._store.close()

    def _run(self) -> None:
        set_normal()  # a long commit must never compete with the loop's ticks
        while True:
            stopping = self._stop.wait(self._commit_every_s)
            self.write_batch()
            if stopping:
                return

    def write_batch(self) -> None:
        keep, drop = self._queue.take()
        if self._queue.episode_started:
            self._queue.episode_started = False
            self._on_problem(f"black box: the writer fell behind: oldest telemetry dropped "
                             f"({self._queue.dropped_telemetry} so far"
                             + (f", and {self._queue.dropped_events} events" if
                                self._queue.dropped_events else "") + ")")
        keep = self._retry + keep
        if not keep and not drop and not self._session_dirty:
            return  # nothing to write: no commit, no sync (an idle card stays idle)
        try:
            self._write(keep, drop)
        except (sqlite3.Error, StoreError, OSError) as exc:
            self._failed(exc, keep, drop)
            return
        self._retry = []
        self.commits += 1
        self.items_written += len(keep) + len(drop)
        if self.problem is not None:
            self.problem = None
            self._on_problem("black box: writing again")
        if self._on_commit is not None:
            self._on_commit(keep)

    def _write(self, keep: list[Item], drop: list[Item]) -> None:
        store = self._store
        if store.open_for(self._today()):
            self._session_dirty = True
        con = store.con
        saved = dict(self.session)
        con.execute("BEGIN")
        try:
            for item in keep:
                if item.kind == "session":
                    if "new" in item.changes:
                        self._flush_session(con)
                        self.session = {c: None for c in SESSION_COLUMNS}
                        self.session.update(item.changes["new"])
                    else:
                        self.session.update(item.changes)
                    self._session_dirty = True
                    continue
                if self._session_dirty:
                    self._flush_session(con)
                self._insert(con, item)
            if self._session_dirty:
                self._flush_session(con)
            for item in drop:
                self._insert(con, item)
            con.execute("COMMIT")
        except BaseException:
            self.session = saved  # the retry replays this batch's session changes
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def _flush_session(self, con: sqlite3.Connection) -> None:
        con.execute(f"INSERT OR REPLACE INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(SESSION_COLUMNS))})",
                    [self.session.get(c) for c in SESSION_COLUMNS])
        self._session_dirty = False

    def _insert(self, con: sqlite3.Connection, item: Item) -> None:
        columns = {"event": EVENT_COLUMNS, "telemetry": TELEMETRY_COLUMNS,
                   "imu": IMU_COLUMNS}[item.kind]
        table = "events" if item.kind == "event" else item.kind
        con.executemany(f"INSERT INTO {table} (session, {', '.join(columns)}) VALUES "
                        f"(?, {', '.join('?' * len(columns))})",
                        [(self.session["id"], *row) for row in item.rows])

    def _failed(self, exc: BaseException, keep: list[Item], drop: list[Item]) -> None:
        self.telemetry_lost += sum(len(item.rows) for item in drop)
        if len(keep) > RETRY_EVENTS_MAX:
            self.events_lost += len(keep) - RETRY_EVENTS_MAX
            keep = keep[-RETRY_EVENTS_MAX:]
        self._retry = keep
        self._session_dirty = True
        problem = f"{type(exc).__name__}: {exc}"
        if problem != self.problem:
            self.problem = problem
            self._on_problem(f"black box: cannot write ({problem}); the controller runs on, "
                             f"events are kept in memory and retried, telemetry is dropped")
        with contextlib.suppress(OSError):
            self._store.prune(self._today())
