"""The runner store: runners, their profile and limits, session summaries, the audit log and the
supervisor PIN's hash, in one SQLite file (``treadguard.db`` in ``[paths] state_dir``).

- The standard library's :mod:`sqlite3`, WAL mode (a reader — ``treadguard runner show`` while
  the daemon records a session — never blocks the writer), foreign keys on.
- The schema is versioned (``PRAGMA user_version``); :data:`MIGRATIONS` brings any older file
  up to date in one transaction when it is opened. A file from a newer version is refused.
- Every change is one transaction, and lands in the audit log with what changed, old → new,
  who and when (UTC wall-clock time: a record for people, never used for a decision except
  the sessions-per-week count).
- Nothing here runs inside the loop's tick: the daemon writes session summaries from its own
  thread (:class:`controller.program.SessionRecorder`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from controller.profiles import RunnerLimits, runner_options

DB_NAME: Final = "treadguard.db"
WEEK_S: Final = 7 * 24 * 3600.0

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: runners, limits, sessions, audit log, the supervisor's PIN.
    """
    CREATE TABLE runners (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        profile TEXT NOT NULL,
        body_mass_kg REAL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE limits (
        runner_id INTEGER NOT NULL REFERENCES runners(id) ON DELETE CASCADE,
        option TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (runner_id, option)
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        runner_id INTEGER NOT NULL REFERENCES runners(id) ON DELETE CASCADE,
        started_at REAL NOT NULL,
        ended_by TEXT NOT NULL,
        clean INTEGER NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        runner TEXT,
        what TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE TABLE supervisor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pin_hash TEXT,
        wrong_pins INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO supervisor (id, pin_hash, wrong_pins) VALUES (1, NULL, 0);
    """,
    # 2: look sessions up by runner and time (sessions per week).
    "CREATE INDEX sessions_by_runner ON sessions (runner_id, started_at);",
)
"""Each entry brings the schema from version i to i + 1 (``PRAGMA user_version``)."""


class StoreError(Exception):
    """A problem with the store or a request to it; ``str()`` is one line."""


@dataclass(frozen=True)
class Runner:
    """A runner as stored."""

    name: str
    profile: str
    body_mass_kg: float | None
    limits: RunnerLimits
    created_at: str


@dataclass(frozen=True)
class AuditEntry:
    at: str
    who: str
    runner: str | None
    what: str
    old: str | None
    new: str | None


class Store:
    """The runner store in ``state_dir`` (created if missing).

    Args:
        state_dir: the directory (``[paths] state_dir`` or ``--state``).
        wall_time: seconds since the epoch (tests pass their own).

    Raises:
        StoreError: the directory cannot be made, the file is not a store, or is newer.
    """

    def __init__(self, state_dir: str | Path, wall_time: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / DB_NAME
        self._wall_time = wall_time
        try:
            Path(state_dir).mkdir(mode=0o750, parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the runner store: {exc}") from None

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ schema
    @property
    def schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this "
                             f"treadguard's ({len(MIGRATIONS)}): upgrade treadguard")
        for i in range(version, len(MIGRATIONS)):
            with self._transaction() as db:
                for statement in _statements(MIGRATIONS[i]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {i + 1}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ------------------------------------------------------------------ runners
    def add_runner(self, name: str, profile: str, limits: RunnerLimits,
                   body_mass_kg: float | None, who: str) -> None:
        """A new runner with their first limits (each logged as ``— → value``).

        Raises:
            StoreError: the name is taken or empty.
        """
        if not name or name != name.strip():
            raise StoreError(f"runner name: expected a non-empty name without leading or "
                             f"trailing spaces, got {name!r}")
        with self._transaction() as db:
            if self._runner_id(name) is not None:
                raise StoreError(f"runner {name!r} already exists")
            cur = db.execute("INSERT INTO runners (name, profile, body_mass_kg, created_at) "
                             "VALUES (?, ?, ?, ?)", (name, profile, body_mass_kg, self._now()))
            runner_id = cur.lastrowid
            self._log(who, name, "added", None, f"profile {profile}")
            for option, value in dataclasses.asdict(limits).items():
                db.execute("INSERT INTO limits (runner_id, option, value) VALUES (?, ?, ?)",
                           (runner_id, option, json.dumps(value)))
                self._log(who, name, option, None, _show(value))

    def runner(self, name: str) -> Runner:
        """Raises StoreError when there is no such runner."""
        row = self._db.execute("SELECT id, name, profile, body_mass_kg, created_at FROM runners "
                               "WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise StoreError(f"no runner called {name!r} (see treadguard runner list)")
        values = {o: json.loads(v) for o, v in self._db.execute(
            "SELECT option, value FROM limits WHERE runner_id = ?", (row[0],))}
        known = {o.name for o in runner_options()}
        limits = RunnerLimits(**{k: v for k, v in values.items() if k in known})
        return Runner(row[1], row[2], row[3], limits, row[4])

    def runners(self) -> list[Runner]:
        names = [r[0] for r in self._db.execute("SELECT name FROM runners ORDER BY name")]
        return [self.runner(n) for n in names]

    def update_runner(self, name: str, who: str, *, profile: str | None = None,
                      limits: RunnerLimits | None = None, what: str = "") -> list[AuditEntry]:
        """Change a runner's profile and/or limits; every changed value is logged old → new
        (``what``: a note appended to the option's name, e.g. ``(progression)``)."""
        current = self.runner(name)
        changes: list[tuple[str, Any, Any]] = []
        if profile is not None and profile != current.profile:
            changes.append(("profile", current.profile, profile))
        if limits is not None:
            old, new = dataclasses.asdict(current.limits), dataclasses.asdict(limits)
            changes += [(k, old[k], new[k]) for k in new if new[k] != old[k]]
        entries = []
        with self._transaction() as db:
            runner_id = self._runner_id(name)
            for option, old_value, new_value in changes:
                if option == "profile":
                    db.execute("UPDATE runners SET profile = ? WHERE id = ?",
                               (new_value, runner_id))
                else:
                    db.execute("INSERT OR REPLACE INTO limits (runner_id, option, value) "
                               "VALUES (?, ?, ?)", (runner_id, option, json.dumps(new_value)))
                entries.append(self._log(who, name, option + (f" {what}" if what else ""),
                                         _show(old_value), _show(new_value)))
        return entries

    def _runner_id(self, name: str) -> int | None:
        row = self._db.execute("SELECT id FROM runners WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    # ------------------------------------------------------------------ sessions
    def record_session(self, name: str, summary: dict[str, Any], clean: bool,
                       progressed: RunnerLimits | None) -> None:
        """A session's summary and, in the same transaction, the limits progression decided
        (logged as ``who = progression``)."""
        with self._transaction() as db:
            runner_id = self._runner_id(name)
            if runner_id is None:
                raise StoreError(f"no runner called {name!r}")
            db.execute("INSERT INTO sessions (runner_id, started_at, ended_by, clean, summary) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (runner_id, self._wall_time(), _ended_by(summary),
                        int(clean), json.dumps(summary, sort_keys=True)))
        if progressed is not None:
            self.update_runner(name, "progression", limits=progressed)

    def sessions(self, name: str, last: int | None = None) -> list[dict[str, Any]]:
        """A runner's session summaries, newest first (``last``: at most that many)."""
        runner_id = self._runner_id(name)
        rows = self._db.execute(
            "SELECT started_at, ended_by, clean, summary FROM sessions WHERE runner_id = ? "
            "ORDER BY id DESC" + (" LIMIT ?" if last is not None else ""),
            (runner_id,) + ((last,) if last is not None else ())).fetchall()
        return [{"at": _iso(at), "ended_by": ended_by, "clean": bool(clean), **json.loads(s)}
                for at, ended_by, clean, s in rows]

    def session_count(self, name: str) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM sessions WHERE runner_id = ?",
                                      (self._runner_id(name),)).fetchone()[0]
        return count

    def sessions_this_week(self, name: str) -> int:
        """Sessions the runner started within the last 7 days."""
        count: int = self._db.execute(
            "SELECT COUNT(*) FROM sessions WHERE runner_id = ? AND started_at > ?",
            (self._runner_id(name), self._wall_time() - WEEK_S)).fetchone()[0]
        return count

    def record_event(self, who: str, what: str, result: str) -> None:
        """A machine event worth keeping with the runners' records (the stop-path test)."""
        with self._transaction():
            self._log(who, None, what, None, result)

    # ------------------------------------------------------------------ the supervisor's PIN
    def pin_hash(self) -> str | None:
        stored: str | None = self._db.execute(
            "SELECT pin_hash FROM supervisor WHERE id = 1").fetchone()[0]
        return stored

    def set_pin_hash(self, pin_hash: str, who: str) -> None:
        with self._transaction() as db:
            had = self.pin_hash() is not None
            db.execute("UPDATE supervisor SET pin_hash = ?, wrong_pins = 0 WHERE id = 1",
                       (pin_hash,))
            self._log(who, None, "supervisor PIN", "set" if had else None,
                      "changed" if had else "set")

    def wrong_pin(self, who: str, wanted: str) -> int:
        """Count and log a wrong PIN; returns how many wrong PINs since the PIN was set."""
        with self._transaction() as db:
            db.execute("UPDATE supervisor SET wrong_pins = wrong_pins + 1 WHERE id = 1")
            self._log(who, None, "wrong supervisor PIN", None, f"refused: {wanted}")
        return self.wrong_pins()

    def wrong_pins(self) -> int:
        count: int = self._db.execute(
            "SELECT wrong_pins FROM supervisor WHERE id = 1").fetchone()[0]
        return count

    # ------------------------------------------------------------------ the audit log
    def audit(self, runner: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first (``runner``: only that runner's entries)."""
        query = "SELECT at, who, runner, what, old, new FROM audit"
        rows = self._db.execute(query + (" WHERE runner = ?" if runner else "") + " ORDER BY id",
                                (runner,) if runner else ()).fetchall()
        return [AuditEntry(*row) for row in rows]

    def _log(self, who: str, runner: str | None, what: str, old: str | None,
             new: str | None) -> AuditEntry:
        entry = AuditEntry(self._now(), who, runner, what, old, new)
        self._db.execute("INSERT INTO audit (at, who, runner, what, old, new) "
                         "VALUES (?, ?, ?, ?, ?, ?)", dataclasses.astuple(entry))
        return entry

    def _now(self) -> str:
        return _iso(self._wall_time())


def _iso(t_s: float) -> str:
    return datetime.datetime.fromtimestamp(t_s, datetime.UTC).isoformat(timespec="seconds")


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _ended_by(summary: dict[str, Any]) -> str:
    """Why a session ended, from its summary (``program.ended_by``, else ``ended_by``)."""
    program = summary.get("program")
    if isinstance(program, dict) and program.get("ended_by"):
        return str(program["ended_by"])
    return str(summary.get("ended_by", ""))
