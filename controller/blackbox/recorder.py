"""The loop's side of the black box: what is recorded, taken between the end of a tick and the
next, and handed to the writer thread through a bounded queue (never the disk).

Recorded (tables in :mod:`controller.blackbox.store`):

- **events**: every line of the event log (state changes, stops and their reasons, cautions,
  inputs and refusals, faults), and at the start the software version and the configuration's
  SHA-256;
- **telemetry**: ``telemetry_hz`` (10 Hz) while the belt may move (countdown, running,
  stopping), ``idle_telemetry_hz`` (1 Hz) while latched or ready: commanded and read-back
  speed, tilt and tipping rate, cadence and steps, the fall model's score, rail contact and
  force, and the largest tick lateness since the previous row;
- **imu**: every IMU sample with the detector scores (fall score, tilt, tipping rate, as of the
  end of the tick that read it) from ``burst_before_s`` (8 s) before each stop and caution to
  ``burst_after_s`` (2 s) after it: a ring buffer in memory, queued when the event happens;
  overlapping bursts are written once;
- the session's row: its id, start and end (UTC), runner and session id (nullable, set through
  :meth:`Recorder.set_session` / :meth:`Recorder.new_session`), and the loop's lateness (p50,
  p99, max, missed deadlines, longest gap), refreshed every 10 s and at the end.

Cost in the tick: one tuple per IMU sample into a deque, a row every 0.1 s, a copy of at most
``burst_before_s`` of samples when a stop or caution happens. A failure in here is counted and
never reaches the loop.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import math
import secrets
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from controller.app import AnySystem
from controller.blackbox.store import SESSION_COLUMNS, Store, StoreError
from controller.blackbox.writer import BoundedQueue, Item, Writer
from controller.detect.base import Decision, Level
from controller.events import Event, EventKind
from controller.supervisor import State

SUMMARY_EVERY_S: Final = 10.0
IMU_FLUSH_EVERY_S: Final = 0.1
MOVING: Final = (State.COUNTDOWN, State.RUNNING, State.STOPPING)
RING_SAMPLES_PER_S: Final = 250  # above the IMU's 208 Hz
LEVEL_CALM_S: Final = 0.5
"""A fall of the detectors' level is recorded once it has held this long, s."""


def new_session_id() -> str:
    """``20261129T232240Z-3f2a``: the start in UTC and a random suffix (unique across files)."""
    now = datetime.datetime.now(datetime.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("treadguard")
    except PackageNotFoundError:
        return "unknown"


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class Recorder:
    """Feeds one system's black box. Built by :func:`start_blackbox`.

    Attributes:
        state_dir: where the files are.
        errors: exceptions caught in :meth:`on_tick` (never raised into the loop).
    """

    def __init__(self, system: AnySystem, state_dir: Path, queue: BoundedQueue,
                 writer: Writer) -> None:
        self._system = system
        self.state_dir = state_dir
        self._queue = queue
        self.writer = writer
        bb = system.settings.blackbox
        self._bb = bb
        self._ring: deque[tuple[Any, ...]] = deque(
            maxlen=max(1, math.ceil(bb.burst_before_s * RING_SAMPLES_PER_S)))
        self._burst_wanted = False
        self._burst_until_s = -math.inf
        self._last_imu_t = -math.inf
        self._next_imu_flush_s = -math.inf
        self._next_telemetry_s = -math.inf
        self._next_summary_s = -math.inf
        self._was_moving = False
        self._level: tuple[Level, str] = (Level.OK, "")
        self._calm_since_s: float | None = None
        self.errors = 0
        self.closed = False

    @property
    def session(self) -> str:
        """The current black-box session id."""
        return str(self.writer.session["id"])

    # ------------------------------------------------------------------ API for others
    def set_session(self, runner: str | None, session_id: str | None) -> None:
        """Name the runner and the session id of the current recording (thread-safe)."""
        self._queue.put(Item("session", changes={"runner": runner, "session_id": session_id}))

    def new_session(self, runner: str | None = None, session_id: str | None = None) -> str:
        """End the current recording and start another (thread-safe); returns its id."""
        new = {"id": new_session_id(), "started_utc": _utc_now(), "runner": runner,
               "session_id": session_id, **{k: self.writer.session.get(k) for k in
                                            ("config_path", "config_sha256", "version")}}
        self._queue.put(Item("session", changes={"ended_utc": _utc_now()}))
        self._queue.put(Item("session", changes={"new": new}))
        return str(new["id"])

    def status(self) -> str:
        w = self.writer
        line = f"black box: {self.state_dir}, {w.items_written} items written"
        lost = self._queue.dropped_telemetry + w.telemetry_lost
        if lost:
            line += f", {lost} telemetry items dropped"
        if w.problem:
            line += f"; NOT WRITING: {w.problem}"
        return line

    # ------------------------------------------------------------------ from the loop
    def on_event(self, event: Event) -> None:
        if self.closed:
            return
        if event.kind is EventKind.STATE and self._system.supervisor.state is State.COUNTDOWN:
            self._armed()  # before the event: the arming belongs to the new recording
        self._queue.put(Item("event", [(event.t_s, str(event.kind), event.message)]))
        if event.kind in (EventKind.STOP, EventKind.CAUTION):
            self._burst_wanted = True

    def on_tick(self) -> None:
        try:
            self._tick()
        except Exception:
            self.errors += 1

    def _tick(self) -> None:
        system = self._system
        loop = system.loop
        now = system.clock.now_s()
        det = system.detector
        score = tilt = tipping = None
        if det is not None:
            score = _finite(det.fall.last_logit)
            tilt = det.orientation.tilt_deg()
            tipping = det.orientation.tilt_rate_dps
        for s in loop.tick_samples:
            self._ring.append((s.t_s, *s.acc_mps2, *s.gyro_rads, score, tilt, tipping))
        if det is not None:
            self._detector_level(now, det.last)
        bb = self._bb
        if self._burst_wanted:
            self._burst_wanted = False
            self._burst_until_s = max(self._burst_until_s, now + bb.burst_after_s)
            self._flush_imu(now - bb.burst_before_s)
            self._next_imu_flush_s = now + IMU_FLUSH_EVERY_S
        elif now >= self._next_imu_flush_s and self._last_imu_t < self._burst_until_s:
            self._flush_imu(-math.inf, until_s=self._burst_until_s)
            self._next_imu_flush_s = now + IMU_FLUSH_EVERY_S

        sup = system.supervisor
        moving = sup.state in MOVING
        if moving and not self._was_moving:
            self._next_telemetry_s = now
        self._was_moving = moving
        if now >= self._next_telemetry_s:
            self._next_telemetry_s = now + 1.0 / (bb.telemetry_hz if moving
                                                  else bb.idle_telemetry_hz)
            link = system.link
            rail = loop.last_rail
            cadence = steps = None
            if det is not None:
                cadence, steps = det.steps.cadence_spm(now), det.steps.steps
            self._queue.put(Item("telemetry", [(
                now, sup.state.value,
                link.commanded_kmh if link else None, link.actual_speed_kmh if link else None,
                tilt, tipping, cadence, steps, score, int(loop.rail_contact),
                rail.force_left_n if rail else None, rail.force_right_n if rail else None,
                loop.lateness.take_window_max() * 1000.0)]))
        if now >= self._next_summary_s:
            self._next_summary_s = now + SUMMARY_EVERY_S
            self._queue.put(Item("session", changes=self._lateness()))

    def _detector_level(self, now: float, decision: Decision) -> None:
        """Record a change of the IMU detectors' level: a rise at once, a fall once it has
        held ``LEVEL_CALM_S`` (a caution that flickers for a few samples is one record)."""
        level = (decision.level, decision.reason)
        if level == self._level:
            self._calm_since_s = None
            return
        if decision.level < self._level[0]:
            if self._calm_since_s is None:
                self._calm_since_s = now
            if now - self._calm_since_s < LEVEL_CALM_S:
                return
        self._calm_since_s = None
        self._level = level
        text = f"detectors: {decision.level.name.lower()}"
        self._queue.put(Item("event", [(now, str(EventKind.LEVEL),
                                        text + (f" ({decision.reason})" if decision.reason
                                                else ""))]))

    def _armed(self) -> None:
        """A start was accepted: if a runner's program runs, this run is that runner's
        recording (``treadguard log list --runner NAME``); without one the recording goes on."""
        plan = getattr(self._system.supervisor.program, "plan", None)
        runner = getattr(plan, "runner", None)
        if isinstance(runner, str):
            self.new_session(runner)

    def _flush_imu(self, since_s: float, until_s: float = math.inf) -> None:
        start = max(since_s, self._last_imu_t)
        rows = []
        for row in reversed(self._ring):
            if row[0] <= start:
                break
            if row[0] <= until_s:
                rows.append(row)
        if rows:
            rows.reverse()
            self._last_imu_t = rows[-1][0]
            self._queue.put(Item("imu", rows))

    def _lateness(self) -> dict[str, Any]:
        s = self._system.loop.lateness.summary()
        return {"lateness_p50_ms": s.p50_s * 1000, "lateness_p99_ms": s.p99_s * 1000,
                "lateness_max_ms": s.max_s * 1000, "missed_deadlines": s.missed,
                "longest_gap_ms": s.longest_gap_s * 1000}

    def close(self) -> None:
        """After the shutdown: the end, the lateness, a last commit; the writer ends."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ValueError):
            self._system.loop.after_tick.remove(self.on_tick)
        self._flush_imu(-math.inf, until_s=self._burst_until_s)
        self._queue.put(Item("session", changes={**self._lateness(), "ended_utc": _utc_now()}))
        self.writer.close()


def start_blackbox(system: AnySystem, state_dir: Path, log: Callable[[str], None], *,
                   max_pages: int | None = None,
                   today: Callable[[], datetime.date] | None = None,
                   on_commit: Callable[[list[Item]], None] | None = None) -> Recorder | None:
    """Start recording ``system`` into ``state_dir`` (None when ``[blackbox] enabled`` is
    false). A state directory that cannot be used is said through ``log`` and the controller
    runs on without a black box; a database that fails later is said the same way.

    Args:
        max_pages, today, on_commit: test hooks (:class:`~controller.blackbox.writer.Writer`).
    """
    bb = system.settings.blackbox
    if not bb.enabled:
        return None
    try:
        store = Store(state_dir, int(bb.file_max_mb * 1e6), bb.retention_days,
                      int(bb.retention_mb * 1e6), max_pages=max_pages)
    except StoreError as exc:
        log(f"black box: NOT RECORDING: {exc}")
        return None
    config = Path(system.settings.path)
    try:
        sha = hashlib.sha256(config.read_bytes()).hexdigest()
    except OSError:
        sha = None
    session: dict[str, Any] = dict.fromkeys(SESSION_COLUMNS)
    session.update(id=new_session_id(), started_utc=_utc_now(), config_path=str(config),
                   config_sha256=sha, version=_version())
    queue = BoundedQueue(bb.queue_items)
    writer = Writer(store, queue, session, bb.commit_every_s, log, today=today,
                    on_commit=on_commit)
    recorder = Recorder(system, state_dir, queue, writer)
    queue.put(Item("event", [(system.clock.now_s(), str(EventKind.INFO),
                              f"black box: treadguard {session['version']}, config {config} "
                              f"sha256 {sha}")]))
    system.events.subscribe(recorder.on_event)
    system.loop.after_tick.append(recorder.on_tick)
    writer.start()
    return recorder


@contextlib.contextmanager
def blackbox_dir(state: str | None) -> Iterator[Path]:
    """``treadguard sim --state DIR``: DIR, kept; without it a temporary directory, removed."""
    if state is not None:
        yield Path(state)
        return
    with tempfile.TemporaryDirectory(prefix="treadguard-sim-") as tmp:
        yield Path(tmp)
