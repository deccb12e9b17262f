"""What the dashboard knows about the gym: the latest status and online flag of every
treadmill, the day's events, and whether the dashboard itself is connected to the broker.

Fed by the MQTT client's network thread (:meth:`Board.on_message`), read by the web server's
threads (:meth:`Board.snapshot`, :meth:`Board.changes_since`). Every change gets a number;
a live page (Server-Sent Events) waits for the next number and is sent only what changed, and
the whole board again if it fell too far behind.

Payloads are checked before anything is kept: a payload that is not a JSON object of the
schema in :mod:`controller.fleet.topics`, or that is too large, is dropped and counted
(``malformed``), and logged at most once a minute; it never raises. The treadmill a payload
speaks for is the one in its topic (the broker's ACL lets each Pi write only its own topics),
never a name inside the payload.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from controller.fleet import topics

log = logging.getLogger("treadguard.dashboard")

MAX_PAYLOAD_BYTES: Final = 64 * 1024
"""A status or event larger than this is malformed (a Pi's status is about 1 KiB)."""
MAX_VALUE_CHARS: Final = 2000
"""A single value whose JSON is longer than this is replaced by null (the page shows '—')."""
MAX_EVENTS: Final = 2000
"""The day's events kept (oldest dropped first, counted in ``events_dropped``)."""
MAX_CHANGES: Final = 4000
"""Changes a live page may fall behind before it is sent the whole board again."""
MAX_TREADMILLS: Final = 1000
"""Treadmills kept; messages about more are dropped and counted (a garbage flood cannot grow
memory without bound)."""
MALFORMED_LOG_EVERY_S: Final = 60.0


@dataclass
class Tile:
    """One treadmill as the dashboard last heard of it."""

    site: str
    treadmill: str
    online: bool | None = None
    online_wall: str | None = None
    status: dict[str, Any] | None = None
    status_mono_s: float | None = None
    """When the last status arrived, on the dashboard's monotonic clock (for "stale")."""
    status_received_wall: float | None = None
    """When the last status arrived, Unix seconds (publish → dashboard latency)."""
    last_stop: dict[str, Any] | None = None
    """The last stop this dashboard sent for the treadmill: ``{"by", "wall"}`` (what the
    treadguard made of it is in its own status and events)."""

    @property
    def key(self) -> str:
        return f"{self.site}/{self.treadmill}"

    def as_json(self, now_mono_s: float) -> dict[str, Any]:
        age = None if self.status_mono_s is None else round(now_mono_s - self.status_mono_s, 3)
        return {"key": self.key, "site": self.site, "treadmill": self.treadmill,
                "online": self.online, "online_wall": self.online_wall, "status": self.status,
                "age_s": age, "received_wall": self.status_received_wall,
                "last_stop": self.last_stop}


@dataclass
class Counters:
    connects: int = 0
    messages: int = 0
    malformed: int = 0
    malformed_logged: int = 0
    events_dropped: int = 0
    treadmills_refused: int = 0


@dataclass
class Board:
    """The gym as the dashboard sees it. Thread-safe.

    Args:
        stale_after_s: a tile whose last status is older than this is shown as stale (a Pi
            publishes every ``[fleet] status_interval_s``; keep this several intervals).
        monotonic: seconds, for ages (injected for tests).
        wall: the current time as an aware datetime (injected for tests); the day's events
            are those received since local midnight by this clock.
    """

    stale_after_s: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC).astimezone())
    broker: str = ""
    connected: bool = False
    disconnected_since_wall: str | None = None
    counters: Counters = field(default_factory=Counters)
    _tiles: dict[str, Tile] = field(default_factory=dict)
    _events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    _day: date | None = None
    _event_number: int = 0
    _version: int = 0
    _changes: deque[tuple[int, str, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=MAX_CHANGES))
    _closed: bool = False
    _malformed_logged_at: float | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    # --- fed by the MQTT client -------------------------------------------------------------

    def set_connected(self, connected: bool, why: str = "") -> None:
        """The dashboard's own link to the broker came up or went down."""
        with self._cond:
            if connected == self.connected:
                return
            self.connected = connected
            self.counters.connects += connected
            self.disconnected_since_wall = None if connected else self._wall_iso()
            self._changed("link", self._link_json())
        if connected:
            log.info("connected to the broker %s", self.broker)
        else:
            log.warning("disconnected from the broker %s%s", self.broker,
                        f": {why}" if why else "")

    def on_message(self, topic_name: str, payload: bytes) -> None:
        """One MQTT message under ``treadguard/#``. Never raises: whatever cannot be used is
        counted as malformed."""
        try:
            self._on_message(topic_name, payload)
        except Exception as exc:  # a malformed message must never stop the dashboard
            self._malformed(topic_name, f"{type(exc).__name__}: {exc}")

    def add_local_event(self, site: str, treadmill: str, kind: str, message: str) -> None:
        """An event of the dashboard's own (a stop pressed or refused) in the day's list."""
        with self._cond:
            self._add_event(site, treadmill, {"kind": kind, "message": message,
                                              "source": "dashboard"})

    def stop_sent(self, site: str, treadmill: str, by: str) -> None:
        """This dashboard's stop for one treadmill was acknowledged by the broker."""
        with self._cond:
            tile = self._tiles.get(f"{site}/{treadmill}")
            if tile is not None:
                tile.last_stop = {"by": by, "wall": self._wall_iso()}
                self._changed("tile", tile.as_json(self.monotonic()))
            self._add_event(site, treadmill, {"kind": "stop_sent",
                                              "message": f"stop sent by {by}",
                                              "source": "dashboard"})

    def close(self) -> None:
        """Wake every waiting live page so it can end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # --- read by the web server -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole board (JSON-ready): tiles sorted by site and treadmill, the day's events
        newest first, the link and the counters."""
        with self._cond:
            now = self.monotonic()
            return {"version": self._version, "stale_after_s": self.stale_after_s,
                    **self._link_json(),
                    "tiles": [t.as_json(now) for _, t in sorted(self._tiles.items())],
                    "events": list(reversed(self._events))}

    def knows(self, site: str, treadmill: str) -> bool:
        with self._cond:
            return f"{site}/{treadmill}" in self._tiles

    def changes_since(self, version: int, timeout_s: float
                      ) -> tuple[int, list[tuple[str, dict[str, Any]]] | None]:
        """Wait up to ``timeout_s`` for changes after ``version``: ``(new version, changes)``;
        changes is None when the caller fell too far behind (send the whole board) or the
        board is closing (then the version is -1)."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > version or self._closed, timeout_s)
            if self._closed:
                return -1, None
            if self._version == version:
                return version, []
            if not self._changes or self._changes[0][0] > version + 1:
                return self._version, None
            return self._version, [(kind, data) for n, kind, data in self._changes if n > version]

    def tile_json(self, key: str) -> dict[str, Any] | None:
        with self._cond:
            tile = self._tiles.get(key)
            return None if tile is None else tile.as_json(self.monotonic())

    # --- inside -----------------------------------------------------------------------------

    def _on_message(self, topic_name: str, payload: bytes) -> None:
        parsed = topics.parse(topic_name)
        if parsed is None:
            return self._malformed(topic_name, "not a treadguard/<site>/<treadmill>/ topic")
        site, treadmill, leaf = parsed
        if topics.NAME_RE.fullmatch(site) is None or topics.NAME_RE.fullmatch(treadmill) is None:
            return self._malformed(topic_name, "site or treadmill name not allowed")
        if len(payload) > MAX_PAYLOAD_BYTES:
            return self._malformed(topic_name, f"{len(payload)} bytes")
        received_wall = time.time()
        if not payload and leaf in (topics.ONLINE, topics.STATUS):
            return self._cleared(site, treadmill, leaf)  # a retained message deleted
        body = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
        if not isinstance(body, dict):
            return self._malformed(topic_name, "not a JSON object")
        with self._cond:
            self.counters.messages += 1
            if leaf == topics.ONLINE:
                if not isinstance(body.get("online"), bool):
                    return self._malformed(topic_name, "'online' is not true or false")
                tile = self._tile(site, treadmill)
                if tile is None:
                    return None
                tile.online = body["online"]
                tile.online_wall = _text(body.get("wall"), 40)
                self._changed("tile", tile.as_json(self.monotonic()))
            elif leaf == topics.STATUS:
                if body.get("schema") != topics.SCHEMA:
                    return self._malformed(topic_name, f"schema {body.get('schema')!r}")
                tile = self._tile(site, treadmill)
                if tile is None:
                    return None
                tile.status = {k: _value(body.get(k)) for k in topics.STATUS_KEYS}
                tile.status["site"], tile.status["treadmill"] = site, treadmill
                tile.status_mono_s = self.monotonic()
                tile.status_received_wall = received_wall
                self._changed("tile", tile.as_json(self.monotonic()))
            elif leaf == topics.EVENTS:
                if body.get("schema") != topics.SCHEMA or not isinstance(body.get("kind"), str):
                    return self._malformed(topic_name, "not an event of schema 1")
                self._add_event(site, treadmill, {
                    "kind": _text(body["kind"], 40), "message": _text(body.get("message"), 300),
                    "pi_wall": _text(body.get("wall"), 40), "seq": _value(body.get("seq")),
                    "dropped_before": _value(body.get("dropped_before")), "source": "pi"})
            elif leaf == topics.SESSION:
                summary = ", ".join(f"{k} {_text(v, 60)}" for k, v in body.items()
                                    if k in ("runner", "profile", "session_s", "steps", "stops")
                                    and v is not None)
                self._add_event(site, treadmill, {"kind": "session",
                                                  "message": f"session ended: {summary}",
                                                  "source": "pi"})
            # Nothing else is subscribed to (never cmd/: see dashboard_mqtt.SUBSCRIPTIONS).
        return None

    def _tile(self, site: str, treadmill: str) -> Tile | None:
        key = f"{site}/{treadmill}"
        tile = self._tiles.get(key)
        if tile is None:
            if len(self._tiles) >= MAX_TREADMILLS:
                self.counters.treadmills_refused += 1
                return None
            tile = self._tiles[key] = Tile(site, treadmill)
        return tile

    def _cleared(self, site: str, treadmill: str, leaf: str) -> None:
        with self._cond:
            tile = self._tiles.get(f"{site}/{treadmill}")
            if tile is None:
                return
            if leaf == topics.ONLINE:
                tile.online = None
            else:
                tile.status = tile.status_mono_s = tile.status_received_wall = None
            self._changed("tile", tile.as_json(self.monotonic()))

    def _add_event(self, site: str, treadmill: str, event: dict[str, Any]) -> None:
        now = self.wall()
        if self._day != now.date():
            self._day = now.date()
            self._events.clear()
        if len(self._events) == self._events.maxlen:
            self.counters.events_dropped += 1
        self._event_number += 1
        full = {"n": self._event_number, "key": f"{site}/{treadmill}", "site": site,
                "treadmill": treadmill, "wall": now.isoformat(timespec="seconds"), **event}
        self._events.append(full)
        self._changed("event", full)

    def _changed(self, kind: str, data: dict[str, Any]) -> None:
        self._version += 1
        self._changes.append((self._version, kind, data))
        self._cond.notify_all()

    def _link_json(self) -> dict[str, Any]:
        return {"connected": self.connected, "broker": self.broker,
                "disconnected_since": self.disconnected_since_wall,
                "messages": self.counters.messages, "malformed": self.counters.malformed}

    def _malformed(self, topic_name: str, why: str) -> None:
        with self._cond:
            self.counters.malformed += 1
            now = self.monotonic()
            if (self._malformed_logged_at is not None
                    and now - self._malformed_logged_at < MALFORMED_LOG_EVERY_S):
                return
            self._malformed_logged_at = now
            count = self.counters.malformed - self.counters.malformed_logged
            self.counters.malformed_logged = self.counters.malformed
        log.warning("ignored %d malformed message(s); the latest on %r: %s",
                    count, topic_name[:200], why[:200])

    def _wall_iso(self) -> str:
        return self.wall().isoformat(timespec="seconds")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON a browser can read")


def _value(value: Any) -> Any:
    """A payload value kept as it is unless its JSON is too long (then None)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value[:MAX_VALUE_CHARS] if isinstance(value, str) else value
    try:
        return value if len(json.dumps(value)) <= MAX_VALUE_CHARS else None
    except (TypeError, ValueError):
        return None


def _text(value: Any, limit: int) -> str:
    """A value as display text of at most ``limit`` characters ('' for None)."""
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value))[:limit]
