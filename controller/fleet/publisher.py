"""Publishing one treadmill to the gym's MQTT broker, and taking its one remote command, stop.

Nothing here runs in the loop's tick but :meth:`FleetPublisher._on_event` and
:meth:`FleetPublisher.post_session`, which only append to bounded deques (O(1), no lock, no
allocation without bound). Everything else runs on two threads of the publisher's own:

- paho-mqtt's network thread (``loop_start``): connecting, reconnecting with a backoff from 1 s
  to ``[fleet] reconnect_max_s``, the Last Will, the remote commands (:meth:`_on_message`);
- the publisher's thread: the retained status every ``status_interval_s`` (the control
  socket's :func:`~controller.control_socket.snapshot`, read between ticks as the socket reads
  it), the events from the buffer at QoS 1, in order, and the session summaries.

Safety never depends on the network: the broker down at start-up, gone, slow, flooding or
sending garbage changes nothing the loop does; events wait in the bounded buffer
(``[fleet] event_buffer``) and go out in order on reconnect; when it is full the oldest are
dropped and the next event sent says how many (``dropped_before``, and its ``seq`` jumps by as
many). The only thing the publisher can do to the belt is :meth:`Program.request_stop` — the
same stop the control socket asks for, latched until a person resets at the machine. There is
no code here that starts a belt or sets a speed.
"""

from __future__ import annotations

import collections
import datetime
import itertools
import json
import math
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller import config as cfg
from controller.app import System
from controller.control_socket import snapshot
from controller.events import Event, EventKind
from controller.fleet import topics
from controller.fleet.url import BrokerAddress, parse_broker_url
from controller.profiles import RunnerLimits
from controller.program import Plan, Program
from hardware.clock import Clock

POLL_S: Final = 0.05
"""The publisher's thread looks at the event buffer this often (the tick never wakes it: a
wake-up takes a lock, an append does not)."""
MAX_UNACKED: Final = 50
"""Events handed to paho and not yet acknowledged (PUBACK): the rest wait in our own bounded
buffer, so what a dead connection holds is bounded too (paho resends these on reconnect)."""
ACKED_KEPT: Final = 1000
"""Acknowledged message ids not (yet) noted as events' (a PUBACK can come back before
``publish`` returns), the newest kept."""
MAX_COMMAND_BYTES: Final = 1024
"""A remote command's payload longer than this is ignored (a stop is ``{"by": "..."}``)."""
MAX_BY_CHARS: Final = 64
COMMANDS_PER_S: Final = 50.0
COMMAND_BURST: Final = 20.0
"""Messages under ``cmd/`` handled at most this fast (after a burst): beyond it paho's network
thread sleeps in :meth:`FleetPublisher._on_message`, so the socket backs up and the broker
holds or drops the rest. A flood then costs this process a bounded sliver of CPU — a Python
thread parsing tens of thousands of messages a second would hold the GIL and make the loop's
thread wait for it (measured: ticks up to 117 ms late before this limit)."""
LOG_BURST: Final = 5
LOG_WINDOW_S: Final = 10.0
"""Remote-command log lines: at most :data:`LOG_BURST` per :data:`LOG_WINDOW_S` (a flood of
garbage must not fill the event log); the ones left out are counted in the next line."""
SESSIONS_KEPT: Final = 20
CLOSE_FLUSH_S: Final = 2.0
"""At shutdown, the events still buffered (the shutdown's stop) get this long to go out."""
SKIPPED_KINDS: Final = frozenset({EventKind.SPEED, EventKind.LEVEL})
"""Not sent as events: every 0.1 km/h step of a ramp (the status carries the speeds) and the
detectors' level changes (the status carries the level)."""


class FleetError(cfg.ConfigError):
    """The ``[fleet]`` section cannot be used (a password or certificate file that cannot be
    read): one line naming the file and the option; the daemon refuses to start."""


def iso_utc(wall_s: float) -> str:
    """ISO-8601 UTC with milliseconds (``2026-11-30T02:08:16.123Z``)."""
    stamp = datetime.datetime.fromtimestamp(wall_s, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FleetCounters:
    """What the publisher did, for tests and the log."""

    connects: int = 0
    statuses: int = 0
    events_sent: int = 0
    events_dropped: int = 0
    sessions_sent: int = 0
    remote_stops: int = 0
    ignored_commands: int = 0
    errors: int = 0


class RateLimitedLog:
    """At most ``burst`` lines per ``window_s`` (on ``now``'s clock); the lines left out are
    counted and said in the next line that goes through."""

    def __init__(self, write: Callable[[str, EventKind], None], now: Callable[[], float],
                 burst: int = LOG_BURST, window_s: float = LOG_WINDOW_S) -> None:
        self._write = write
        self._now = now
        self._burst = burst
        self._window_s = window_s
        self._sent: collections.deque[float] = collections.deque(maxlen=burst)
        self.suppressed = 0
        self._lock = threading.Lock()

    def __call__(self, line: str, kind: EventKind = EventKind.INFO) -> None:
        with self._lock:
            now = self._now()
            if len(self._sent) == self._burst and now - self._sent[0] < self._window_s:
                self.suppressed += 1
                return
            self._sent.append(now)
            if self.suppressed:
                line += f" ({self.suppressed} more remote-command lines not logged)"
                self.suppressed = 0
        self._write(line, kind)


class Pacer:
    """A token bucket for one thread: :meth:`wait` returns at once while the burst lasts, then
    sleeps so that calls go at most ``rate_per_s`` (``now``/``sleep``: the clock, for tests)."""

    def __init__(self, rate_per_s: float, burst: float,
                 now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._now = now
        self._sleep = sleep
        self._tokens = burst
        self._at = now()

    def wait(self) -> None:
        now = self._now()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return
        self._sleep((1.0 - self._tokens) / self._rate)
        self._tokens, self._at = 0.0, self._now()


class FleetPublisher:
    """Publishes ``system`` (and, once :meth:`start` gives it, its program) as
    ``treadguard/<site>/<treadmill>`` on the broker of ``settings.fleet``.

    Built before the program (:func:`controller.sessions.start_services`): the constructor
    reads the password and certificate files (:class:`FleetError` if it cannot) and subscribes
    to the event log; :meth:`start` connects in the background and returns at once, whether the
    broker answers or not.

    Args:
        settings: the configuration (``[fleet]``, and its path for messages).
        system: the built system (its events, clock, supervisor, link, detectors).
        wall: the wall clock (time stamps only; never a decision).
    """

    def __init__(self, settings: cfg.Settings, system: System[Any],
                 wall: Callable[[], float] = time.time) -> None:
        fleet = settings.fleet
        address = parse_broker_url(fleet.broker_url)
        if not isinstance(address, BrokerAddress):  # config.load checked it already
            raise FleetError(f"{settings.path}: [fleet] broker_url: {address}")
        self.address = address
        self.site, self.treadmill = fleet.site, fleet.treadmill
        self._fleet = fleet
        self._system = system
        self._clock: Clock = system.clock
        self._wall = wall
        self._program: Program | None = None
        self.counters = FleetCounters()
        self._seq = itertools.count(1)
        self._buffer: collections.deque[tuple[int, Event]] = collections.deque(
            maxlen=fleet.event_buffer)
        self._last_seq = 0  # the last event taken from the buffer (the publisher's thread)
        self._sessions: collections.deque[tuple[float, dict[str, Any]]] = collections.deque(
            maxlen=SESSIONS_KEPT)
        self._unacked: set[int] = set()
        self._acked_early: dict[int, None] = {}
        self._unacked_lock = threading.Lock()
        self._connected = threading.Event()
        self._status_due = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_command = RateLimitedLog(self._log, time.monotonic)
        self._said_unreachable = False
        self._pace = Pacer(COMMANDS_PER_S, COMMAND_BURST)
        self._client = self._make_client(settings)
        system.events.subscribe(self._on_event)

    # ------------------------------------------------------------------ set-up
    def _make_client(self, settings: cfg.Settings) -> mqtt.Client:
        fleet = settings.fleet
        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"treadguard-{self.site}-{self.treadmill}",
                             clean_session=True)
        if fleet.username:
            password = None
            if fleet.password_file:
                password = first_line(settings.path, "password_file", fleet.password_file)
            client.username_pw_set(fleet.username, password)
        if self.address.tls:
            try:
                client.tls_set(ca_certs=fleet.ca_file or None, certfile=fleet.cert_file or None,
                               keyfile=fleet.key_file or None,
                               tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError, ValueError) as exc:
                which = "cert_file" if fleet.cert_file else "ca_file"
                raise FleetError(f"{settings.path}: [fleet] {which}: cannot load the TLS "
                                 f"files: {exc}") from None
        client.will_set(self.topic(topics.ONLINE),
                        json.dumps({"online": False, "wall": None}), qos=1, retain=True)
        client.reconnect_delay_set(1, fleet.reconnect_max_s)
        client.max_inflight_messages_set(MAX_UNACKED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_connect_fail = self._on_connect_fail
        return client

    def topic(self, leaf: str) -> str:
        return topics.topic(self.site, self.treadmill, leaf)

    def start(self, program: Program) -> None:
        """Connect in the background (retrying with backoff) and start publishing."""
        self._program = program
        self._log(f"fleet: publishing as {topics.base(self.site, self.treadmill)} to "
                  f"{self.address.url} (connecting in the background)")
        self._client.connect_async(self.address.host, self.address.port,
                                   keepalive=self._fleet.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="fleet-publisher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Send what is buffered (at most :data:`CLOSE_FLUSH_S`), say offline (retained),
        disconnect. After the system's shutdown, so the shutdown's stop goes out too."""
        deadline = time.monotonic() + CLOSE_FLUSH_S
        while self._connected.is_set() and (self._buffer or self._unacked) \
                and time.monotonic() < deadline:
            time.sleep(POLL_S)  # the publisher's thread is sending; a bounded wait at exit
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._connected.is_set():
            info = self._client.publish(self.topic(topics.ONLINE),
                                        self._online_payload(False), qos=1, retain=True)
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        self._client.disconnect()
        self._client.loop_stop()

    # ------------------------------------------------------------------ from the tick
    def _on_event(self, event: Event) -> None:
        """The event log's listener, inside the tick: an append to a bounded deque."""
        if event.kind not in SKIPPED_KINDS:
            self._buffer.append((next(self._seq), event))

    def post_session(self, plan: Plan, summary: dict[str, Any],
                     progressed: RunnerLimits | None) -> None:
        """A finished session (the program's ``on_session_end``, inside the tick: an append)."""
        self._sessions.append((self._clock.now_s(), summary))

    # ------------------------------------------------------------------ the publisher's thread
    def _run(self) -> None:
        next_status = time.monotonic()
        while not self._stopping.is_set():
            try:
                if self._connected.is_set():
                    now = time.monotonic()
                    if self._status_due.is_set() or now >= next_status:
                        self._status_due.clear()
                        next_status = now + self._fleet.status_interval_s
                        self.publish_status()
                    self._send_events()
                    self._send_sessions()
            except Exception as exc:  # a bug here must not end the thread (nor the loop)
                self.counters.errors += 1
                self._log(f"fleet: publisher error: {type(exc).__name__}: {exc}")
            self._stopping.wait(POLL_S)

    def publish_status(self) -> None:
        program = self._program
        if program is None:
            return
        payload = status_payload(snapshot(self._system, program), self._system,
                                 self.site, self.treadmill, iso_utc(self._wall()))
        self._client.publish(self.topic(topics.STATUS), json.dumps(payload), qos=0, retain=True)
        self.counters.statuses += 1

    def _send_events(self) -> None:
        while self._buffer:
            with self._unacked_lock:
                if len(self._unacked) >= MAX_UNACKED:
                    return
            seq, event = self._buffer.popleft()
            dropped = seq - self._last_seq - 1
            self._last_seq = seq
            self.counters.events_dropped += dropped
            payload = {"schema": topics.SCHEMA, "seq": seq,
                       "wall": iso_utc(self._wall_of(event.t_s)), "t_s": round(event.t_s, 3),
                       "kind": str(event.kind), "message": event.message,
                       "dropped_before": dropped}
            # Never call paho holding our lock: paho calls on_publish holding its own.
            info = self._client.publish(self.topic(topics.EVENTS), json.dumps(payload), qos=1)
            with self._unacked_lock:
                if self._acked_early.pop(info.mid, False) is not None:  # else: PUBACK first
                    self._unacked.add(info.mid)
            self.counters.events_sent += 1

    def _send_sessions(self) -> None:
        while self._sessions:
            t_s, summary = self._sessions.popleft()
            payload = {"schema": topics.SCHEMA, "site": self.site, "treadmill": self.treadmill,
                       "wall": iso_utc(self._wall_of(t_s)), "t_s": round(t_s, 3), **summary}
            self._client.publish(self.topic(topics.SESSION), json.dumps(payload), qos=1)
            self.counters.sessions_sent += 1

    def _wall_of(self, t_s: float) -> float:
        return self._wall() - (self._clock.now_s() - t_s)

    def _online_payload(self, online: bool) -> str:
        return json.dumps({"online": online, "wall": iso_utc(self._wall())})

    # ------------------------------------------------------------------ paho's network thread
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._log(f"fleet: {self.address.url} refused the connection: {reason}; retrying")
            return
        self.counters.connects += 1
        client.publish(self.topic(topics.ONLINE), self._online_payload(True), qos=1, retain=True)
        client.subscribe(self.topic("cmd/#"), qos=1)
        self._connected.set()
        self._status_due.set()
        self._log(f"fleet: connected to {self.address.url}")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if self.counters.connects == 0 and not self._said_unreachable:
            self._said_unreachable = True
            self._log(f"fleet: {self.address.url} unreachable; retrying in the background "
                      f"(the controller runs on without it)")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason: Any, properties: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and not self._stopping.is_set():
            self._log(f"fleet: connection to {self.address.url} lost ({reason}); events wait "
                      f"in the buffer (up to {self._fleet.event_buffer})")

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int,
                    reason: Any, properties: Any) -> None:
        with self._unacked_lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:  # an event's ack before it was noted, or a status's, session's (kept few)
                self._acked_early[mid] = None
                if len(self._acked_early) > ACKED_KEPT:
                    del self._acked_early[next(iter(self._acked_early))]

    def _on_message(self, client: mqtt.Client, userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        self._pace.wait()  # paho's network thread: sleeping releases the GIL
        try:
            self._command(message.topic, bytes(message.payload), bool(message.retain))
        except Exception as exc:  # never let a message end paho's thread
            self.counters.errors += 1
            self._log_command(f"fleet: remote command failed: {type(exc).__name__}: {exc}")

    def _command(self, topic_name: str, payload: bytes, retained: bool) -> None:
        """One message under our ``cmd/``: a valid stop requests the stop; anything else is
        ignored and logged (rate-limited)."""
        parsed = topics.parse(topic_name)
        leaf = parsed[2] if parsed is not None else topic_name
        if parsed is None or parsed[:2] != (self.site, self.treadmill):
            return self._ignore(f"{topic_name[:80]!r}: not this treadmill's topic")
        user = topics.stop_sender(leaf)
        if user is None:
            return self._ignore(f"{leaf[:80]!r}: the only remote command is "
                                f"{topics.CMD_STOP}/<user>")
        if retained:
            return self._ignore(f"stop from {user}: a retained message (sent before this "
                                f"connection, not now)")
        if len(payload) > MAX_COMMAND_BYTES:
            return self._ignore(f"stop from {user}: payload of {len(payload)} bytes (at most "
                                f"{MAX_COMMAND_BYTES})")
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return self._ignore(f"stop from {user}: payload is not JSON "
                                f"({payload[:40].decode('utf-8', 'replace')!r})")
        if not isinstance(body, dict):
            return self._ignore(f"stop from {user}: payload is not a JSON object")
        by = body.get("by")
        claimed = ""
        if isinstance(by, str) and by.strip():
            shown = "".join(c for c in by if c.isprintable())[:MAX_BY_CHARS]
            claimed = f" (claimed by {shown!r}, as the sender wrote it)"
        why = f"remote stop from {user}{claimed}"
        program = self._program
        if program is None:
            return self._ignore(f"{why}: not started yet")
        program.request_stop(why)
        self.counters.remote_stops += 1
        self._log_command(f"fleet: {why}", EventKind.INPUT)

    def _ignore(self, what: str) -> None:
        self.counters.ignored_commands += 1
        self._log_command(f"fleet: remote command ignored: {what}")

    def _log(self, message: str, kind: EventKind = EventKind.INFO) -> None:
        self._system.events.add(self._clock.now_s(), kind, message)


def first_line(config_path: str, option: str, path: str) -> str:
    """The first line of ``path`` (a password), or :class:`FleetError` naming ``option``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetError(f"{config_path}: [fleet] {option}: cannot read {path}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    line = text.splitlines()[0] if text else ""
    if not line:
        raise FleetError(f"{config_path}: [fleet] {option}: {path} is empty")
    return line


def status_payload(snap: dict[str, Any], system: System[Any], site: str, treadmill: str,
                   wall: str) -> dict[str, Any]:
    """The ``status`` payload (:data:`topics.STATUS_KEYS`) from a control-socket snapshot."""
    detectors = snap.get("detectors", {})
    decision = system.detector.last if system.detector is not None else None
    in_session = snap.get("phase") not in (None, "idle")
    bout, bouts = snap.get("bout"), snap.get("bouts")
    session_s = snap.get("session_s") if in_session else None
    payload = {
        "schema": topics.SCHEMA, "site": site, "treadmill": treadmill, "wall": wall,
        "t_s": snap["t_s"], "state": snap["state"], "reason": snap["reason"] or None,
        "power_cut": snap["power_cut"], "runner": snap.get("runner"),
        "profile": snap.get("profile"), "phase": snap.get("phase"),
        "bout": f"{bout}/{bouts}" if in_session and bout and bouts else None,
        "commanded_kmh": _rounded(snap.get("commanded_kmh")),
        "actual_kmh": _rounded(snap.get("actual_kmh")),
        "levels": {
            "imu": decision.level.name.lower() if decision is not None else None,
            "imu_reason": (decision.reason or None) if decision is not None else None,
            "cadence_spm": detectors.get("cadence_spm"),
            "rail_contact": snap.get("rail_contact"),
        },
        "session_s": session_s,
        "cautions": detectors.get("cautions_this_session"),
        "steps": snap.get("steps") if in_session else detectors.get("steps"),
    }
    return payload


def _rounded(kmh: object) -> float | None:
    return round(kmh, 2) if isinstance(kmh, int | float) and math.isfinite(kmh) else None
