"""The black box's files: SQLite databases in the state directory, one per day (UTC) or per
``file_max_mb``, pruned by age and total size.

Durability: every file is in WAL mode with ``synchronous = FULL``: a commit is on the card once
``commit()`` returns (the WAL is synced), and a process killed at any moment — SIGKILL, a power
cut — leaves every committed transaction readable and the file consistent (SQLite replays or
ignores the WAL's tail when the file is next opened). The writer commits every
``commit_every_s`` (0.5 s), so a power cut loses at most that and the sync's time.

A black-box *session* (a row of ``sessions``) is one recording: from the start of ``treadguard
run`` or ``treadguard sim`` to its end, or between two calls of
:meth:`controller.blackbox.recorder.Recorder.new_session`. It has its own id (``20261129T232240Z
-3f2a``: the start in UTC and a random suffix) and, once known, the runner's name and the
session id of whoever runs the session (nullable: the black box records before either is
known). A session spanning files (midnight, a size rotation) has its row in each of them.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

FILE_RE: Final = re.compile(r"^blackbox-(\d{8})-(\d{3})\.sqlite$")

EVENT_COLUMNS: Final = ("t_s", "kind", "message")
TELEMETRY_COLUMNS: Final = (
    "t_s", "state", "commanded_kmh", "actual_kmh", "tilt_deg", "tipping_dps", "cadence_spm",
    "steps", "fall_score", "rail_contact", "rail_force_left_n", "rail_force_right_n",
    "lateness_max_ms")
IMU_COLUMNS: Final = (
    "t_s", "ax_mps2", "ay_mps2", "az_mps2", "gx_rads", "gy_rads", "gz_rads", "fall_score",
    "tilt_deg", "tipping_dps")
SESSION_COLUMNS: Final = (
    "id", "started_utc", "ended_utc", "runner", "session_id", "config_path", "config_sha256",
    "version", "lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms", "missed_deadlines",
    "longest_gap_ms")

SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_utc TEXT NOT NULL, ended_utc TEXT, runner TEXT,
    session_id TEXT, config_path TEXT, config_sha256 TEXT, version TEXT,
    lateness_p50_ms REAL, lateness_p99_ms REAL, lateness_max_ms REAL, missed_deadlines INTEGER,
    longest_gap_ms REAL);
CREATE TABLE IF NOT EXISTS events (session TEXT NOT NULL, {", ".join(
    c + (" REAL" if c == "t_s" else " TEXT") for c in EVENT_COLUMNS)});
CREATE TABLE IF NOT EXISTS telemetry (session TEXT NOT NULL, {", ".join(TELEMETRY_COLUMNS)});
CREATE TABLE IF NOT EXISTS imu (session TEXT NOT NULL, {", ".join(IMU_COLUMNS)});
CREATE INDEX IF NOT EXISTS events_by_session ON events (session, t_s);
"""


class StoreError(Exception):
    """The state directory or a database cannot be used (one line)."""


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    return con


def files(state_dir: Path) -> list[Path]:
    """The black box's files in ``state_dir``, oldest first."""
    if not state_dir.is_dir():
        return []
    return sorted(p for p in state_dir.iterdir() if FILE_RE.match(p.name))


def _size(path: Path) -> int:
    total = 0
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


class Store:
    """The writer's end: the current file, rotation and pruning. Used by one thread only.

    Args:
        state_dir: the directory (created if missing).
        file_max_bytes: rotate when the current file reaches this size.
        retention_days, retention_bytes: prune older files, and the oldest while the total is
            larger.
        max_pages: test hook: SQLite's ``max_page_count`` (a small one is a full disk).
    """

    def __init__(self, state_dir: Path, file_max_bytes: int, retention_days: int,
                 retention_bytes: int, max_pages: int | None = None) -> None:
        self.state_dir = state_dir
        self.file_max_bytes = file_max_bytes
        self.retention_days = retention_days
        self.retention_bytes = retention_bytes
        self._max_pages = max_pages
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the state directory {state_dir}: "
                             f"{exc.strerror or exc}") from None
        self.path: Path | None = None
        self._con: sqlite3.Connection | None = None
        self.pruned: list[str] = []

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            raise StoreError("no database open")
        return self._con

    def open_for(self, today: datetime.date) -> bool:
        """Make sure the current file is today's and not over size; True if a new one was
        opened (the caller writes the session's row into it)."""
        if (self.path is not None and self._con is not None
                and self.path.name.startswith(f"blackbox-{today:%Y%m%d}-")
                and _size(self.path) < self.file_max_bytes):
            return False
        self.close()
        prefix = f"blackbox-{today:%Y%m%d}-"
        existing = [p for p in files(self.state_dir) if p.name.startswith(prefix)]
        n = 0
        if existing:
            last = existing[-1]
            m = FILE_RE.match(last.name)
            n = int(m.group(2)) if m else 0
            if _size(last) >= self.file_max_bytes:
                n += 1
        path = self.state_dir / f"blackbox-{today:%Y%m%d}-{n:03d}.sqlite"
        try:
            con = _connect(path)
            if self._max_pages is not None:
                con.execute(f"PRAGMA max_page_count = {int(self._max_pages)}")
            con.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        self.path, self._con = path, con
        self.prune(today)
        return True

    def prune(self, today: datetime.date) -> None:
        """Delete files older than the retention, then the oldest while the total is too big;
        never the current file."""
        cutoff = today - datetime.timedelta(days=self.retention_days)
        keep: list[Path] = []
        for p in files(self.state_dir):
            m = FILE_RE.match(p.name)
            if p != self.path and m and datetime.datetime.strptime(
                    m.group(1), "%Y%m%d").date() < cutoff:
                _remove(p)
                self.pruned.append(p.name)
            else:
                keep.append(p)
        total = sum(_size(p) for p in keep)
        for p in keep:
            if total <= self.retention_bytes:
                break
            if p == self.path:
                continue
            total -= _size(p)
            _remove(p)
            self.pruned.append(p.name)

    def close(self) -> None:
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
        self._con = None


# ---------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SessionInfo:
    """One black-box session, merged over the files it spans."""

    id: str
    started_utc: str
    ended_utc: str | None
    runner: str | None
    session_id: str | None
    config_path: str | None
    config_sha256: str | None
    version: str | None
    lateness: dict[str, float | None]
    events: int
    stops: int
    telemetry_rows: int
    imu_rows: int
    files: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started_utc": self.started_utc, "ended_utc": self.ended_utc,
                "runner": self.runner, "session_id": self.session_id,
                "config_path": self.config_path, "config_sha256": self.config_sha256,
                "version": self.version, "lateness": self.lateness, "events": self.events,
                "stops": self.stops, "telemetry_rows": self.telemetry_rows,
                "imu_rows": self.imu_rows, "files": list(self.files)}


def _read(path: Path, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    try:
        con = sqlite3.connect(path, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from None
    try:
        return list(con.execute(sql, args))
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from None
    finally:
        con.close()


def sessions(state_dir: Path) -> list[SessionInfo]:
    """Every session in ``state_dir``, oldest first."""
    merged: dict[str, dict[str, Any]] = {}
    for path in files(state_dir):
        rows = _read(path, f"SELECT {', '.join(SESSION_COLUMNS)}, "
                           "(SELECT count(*) FROM events e WHERE e.session = s.id), "
                           "(SELECT count(*) FROM events e WHERE e.session = s.id "
                           "AND e.kind = 'stop' AND e.message LIKE 'STOP:%'), "
                           "(SELECT count(*) FROM telemetry t WHERE t.session = s.id), "
                           "(SELECT count(*) FROM imu i WHERE i.session = s.id) "
                           "FROM sessions s")
        for row in rows:
            values = dict(zip(SESSION_COLUMNS, row[:len(SESSION_COLUMNS)], strict=True))
            counts = row[len(SESSION_COLUMNS):]
            m = merged.setdefault(values["id"], {**values, "events": 0, "stops": 0,
                                                 "telemetry_rows": 0, "imu_rows": 0,
                                                 "files": []})
            for key, value in values.items():  # later files know more (the end, the runner)
                if value is not None and key != "started_utc":
                    m[key] = value
            for key, count in zip(("events", "stops", "telemetry_rows", "imu_rows"), counts,
                                  strict=True):
                m[key] += count
            m["files"].append(path.name)
    out = []
    for m in sorted(merged.values(), key=lambda v: (v["started_utc"], v["id"])):
        out.append(SessionInfo(
            m["id"], m["started_utc"], m["ended_utc"], m["runner"], m["session_id"],
            m["config_path"], m["config_sha256"], m["version"],
            {k: m[k] for k in ("lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms",
                               "missed_deadlines", "longest_gap_ms")},
            m["events"], m["stops"], m["telemetry_rows"], m["imu_rows"], tuple(m["files"])))
    return out


def find(state_dir: Path, key: str) -> SessionInfo:
    """The session whose black-box id — or recorded session id — is ``key``."""
    found = [s for s in sessions(state_dir) if key in (s.id, s.session_id)]
    if not found:
        raise StoreError(f"no session {key!r} in {state_dir} (treadguard log list shows them)")
    if len(found) > 1:
        raise StoreError(f"{key!r} names {len(found)} sessions in {state_dir}: use a black-box "
                         f"id ({', '.join(s.id for s in found)})")
    return found[0]


def rows(state_dir: Path, info: SessionInfo, table: str) -> Iterable[tuple[Any, ...]]:
    """The rows of one session from ``table`` (events, telemetry, imu), in time order."""
    columns = {"events": EVENT_COLUMNS, "telemetry": TELEMETRY_COLUMNS, "imu": IMU_COLUMNS}[table]
    out: list[tuple[Any, ...]] = []
    for name in info.files:
        out += _read(state_dir / name, f"SELECT {', '.join(columns)} FROM {table} "
                                       f"WHERE session = ? ORDER BY rowid", (info.id,))
    return out
