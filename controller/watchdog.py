"""The loop watchdog: an independent thread that stops the belt when the control loop hangs.

The loop's own stall check (``[controller] stall_after_s``) measures the gap between two
ticks, so a loop that hangs is noticed only once it runs again. This thread does not wait for
it: every ``poll_s`` (10 ms) it reads the loop's tick counter; if the counter has not advanced
for ``[watchdog] loop_timeout_s`` (100 ms) it

1. opens the stop relay itself (:meth:`hardware.safety_io.SafetyIO.force_open`: the treadmill's
   safety-key loop opens, its power is cut) — first, because it needs nobody's help;
2. writes the stop command on the serial line itself
   (:meth:`hardware.trackmaster.TrackmasterLink.emergency_stop`);
3. leaves a trip for the loop (:meth:`take_trip`): if the loop ever ticks again, its first act
   is to latch ``loop_stall`` with the power cut, so the supervisor holds the relay open until a
   human reset.

**Who owns the port and the relay, and why two threads cannot fight over them.** The loop's
thread owns both; the watchdog touches them only through these two methods. Each write to the
port, the loop's and the watchdog's, holds the link's write lock: the loop holds it for one
command of a few bytes (bounded by the port's 50 ms write timeout), so the stop's bytes never
land in the middle of another command's. The relay's pin is written under a lock too, and the
watchdog sets a "forced open" flag *before* it writes: a loop that wakes up in the middle of a
tick and sets the relay from its stale supervisor keeps it open. The link refuses every command
but a stop once the watchdog has sent one, and faults at its next step (its picture of the line
is stale). If the loop holds the write lock for longer than 60 ms (stuck inside a write: the
line is wedged) the serial stop is skipped and the open relay is the stop. Worst case from the
last tick to the relay open: ``loop_timeout_s`` + ``poll_s`` (110 ms); to the stop bytes, 60 ms
more only if the loop is stuck in a write.

**systemd.** The same thread sends ``WATCHDOG=1`` (:mod:`controller.sdnotify`), only while the
tick counter advances on time, whatever the controller's state: a latched controller, even with
a dead sensor, is a healthy controller in its safe state. A loop that hangs stops the pings, and
systemd restarts the service (which comes up latched with the power cut). The loop itself never
does socket I/O. The external charge-pump heartbeat is toggled by the loop's tick: it stops with
the loop too, independently of this thread and of systemd.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, Protocol

from controller.realtime import set_fifo
from controller.sdnotify import Notifier
from hardware.clock import Clock

POLL_S: Final = 0.01
"""How often the thread reads the tick counter, s."""
STATUS_EVERY_S: Final = 0.5
"""How often systemd's ``STATUS=`` is refreshed (sent only when it changed), s."""


class Relay(Protocol):
    def force_open(self) -> None: ...


class EmergencyLine(Protocol):
    def emergency_stop(self, lock_timeout_s: float = ...) -> bool: ...


class LoopWatchdog:
    """Watches a tick counter from its own thread.

    Args:
        clock: the real monotonic clock (the watchdog judges real time whatever clock the loop
            runs on; a simulated loop frozen in a test is frozen in real time too).
        ticks: the loop's tick counter (``ControlLoop.ticks``), read without a lock (an int).
        timeout_s: no tick for this long is a hang (``[watchdog] loop_timeout_s``).
        relay: what opens the relay (``SafetyIO``).
        line: the serial link's emergency stop, or None (relay-only mode).
        notifier: systemd's notify socket (pinged while the loop is on time), or None.
        status: the text for systemd's ``STATUS=`` (read from this thread; cheap), or None.
        on_trip: told (from this thread) what happened, for the log; must not block.
        poll_s: how often the counter is read, s.
        fifo_priority: SCHED_FIFO priority for this thread (one above the loop's, so a loop
            spinning at its own priority cannot keep it from running), or None.

    Attributes:
        trips: how many hangs were caught.
        last_trip_stalled_s: how long the loop had not ticked when the relay was opened.
        last_stop_written_after_s: from the last tick to the stop bytes written (None: not
            written — relay-only, or the port was not free).
        tripped: set at each trip (tests wait on it).
    """

    def __init__(self, clock: Clock, ticks: Callable[[], int], timeout_s: float, relay: Relay,
                 line: EmergencyLine | None = None, notifier: Notifier | None = None,
                 status: Callable[[], str] | None = None,
                 on_trip: Callable[[str], None] | None = None, poll_s: float = POLL_S,
                 fifo_priority: int | None = None) -> None:
        self._clock = clock
        self._ticks = ticks
        self.timeout_s = timeout_s
        self._relay = relay
        self._line = line
        self._notifier = notifier
        self._status = status
        self._on_trip = on_trip
        self._poll_s = poll_s
        self._fifo_priority = fifo_priority
        self.fifo_problem: str | None = None
        """Why this thread did not get SCHED_FIFO, if it asked (None: it did, or did not ask)."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: str | None = None
        self.trips = 0
        self.pings = 0
        self.last_trip_stalled_s: float | None = None
        self.last_stop_written_after_s: float | None = None
        self.tripped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop watching (the loop has ended on purpose)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)

    def stand_down(self) -> None:
        """The loop has ended on purpose (the shutdown ticked its last): stop watching now,
        before the pins and the port are released."""
        self._stop.set()

    def take_trip(self) -> str | None:
        """For the loop, at the start of a tick: what the watchdog did while it hung (once)."""
        with self._lock:
            why, self._pending = self._pending, None
        return why

    def _run(self) -> None:
        if self._fifo_priority is not None:
            self.fifo_problem = set_fifo(self._fifo_priority)
        clock = self._clock
        last_ticks = self._ticks()
        progress_s = clock.now_s()
        stalled = False
        ping_every_s = self._notifier.ping_every_s if self._notifier is not None else None
        next_ping_s = next_status_s = progress_s
        while not self._stop.wait(self._poll_s):
            now = clock.now_s()
            ticks = self._ticks()
            if self._stop.is_set():
                return
            if ticks != last_ticks:
                last_ticks, progress_s, stalled = ticks, now, False
            silent_s = now - progress_s
            if silent_s > self.timeout_s:
                if not stalled:
                    stalled = True
                    self._trip(progress_s, silent_s)
                continue
            if self._notifier is not None:
                if ping_every_s is not None and now >= next_ping_s:
                    if self._notifier.watchdog():
                        self.pings += 1
                    next_ping_s = now + ping_every_s
                if self._status is not None and now >= next_status_s:
                    self._notifier.status(self._status())
                    next_status_s = now + STATUS_EVERY_S

    def _trip(self, last_tick_s: float, silent_s: float) -> None:
        problems = []
        try:
            self._relay.force_open()
        except Exception as exc:  # a closed or broken pin: say so, and still try the line
            problems.append(f"relay: {type(exc).__name__}: {exc}")
        written = False
        if self._line is not None:
            try:
                written = self._line.emergency_stop()
            except Exception as exc:
                problems.append(f"serial line: {type(exc).__name__}: {exc}")
        now = self._clock.now_s()
        self.trips += 1
        self.last_trip_stalled_s = silent_s
        self.last_stop_written_after_s = now - last_tick_s if written else None
        what = (f"no tick for {silent_s * 1000:.0f} ms: the watchdog thread opened the relay"
                + (f" and wrote the stop command {(now - last_tick_s) * 1000:.0f} ms after the "
                   "last tick" if written else
                   "" if self._line is None else " (the serial line was not free: no stop "
                   "command)")
                + "".join(f"; FAILED {p}" for p in problems))
        with self._lock:
            if self._pending is None:
                self._pending = what
        if self._notifier is not None:
            self._notifier.status(f"loop hung: {what}")
        if self._on_trip is not None:
            self._on_trip(what)
        self.tripped.set()
