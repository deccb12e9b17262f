"""The fixed-rate control loop: one tick = sensors → health → detectors → supervisor → outputs.

Each tick (default 200 Hz):

1. stall check: a tick that starts more than ``stall_after_s`` after the previous one ⇒ stop
   (``loop_stall``, power cut);
2. ``before_tick`` (simulation only: advance the simulated world to this time);
3. read every IMU sample that arrived (an I²C error goes to the IMU's error budget); each sample
   goes through the detector set (wrapped with the IMU's per-sample health); then the IMU's
   time-driven health — freshness (``stale_after_s``) and the error budget — is checked every
   tick, samples or not: a silent sensor is never a calm runner;
4. the handrails, where fitted: one reading, its health and the rail detector;
5. the no-runner detector (steps and rail contact while the belt runs);
6. safety I/O: heartbeat (only while the relay may be closed), buzzer/LED, and the stop chain —
   e-stop, safety key, relay feedback — whose faults stop with the power cut; reset (long
   press) and start (short press);
7. supervisor tick (speed envelope, stop deadlines, link faults), then the link steps and the
   relay is set.

Every decision goes to the one stop path (:meth:`Supervisor.on_decision` /
:meth:`Supervisor.request_stop`). Nothing slow happens here: events go to a bounded in-memory
log; printing, files and networks are readers of that log outside the tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller.detect.base import Detector, Level
from controller.detect.presence import NoRunnerDetector
from controller.detect.rail_grip import RailDetector
from controller.events import EventKind, EventLog
from controller.health import ImuHealth
from controller.health_rails import RailsHealth
from controller.lateness import LatenessStats
from controller.stop_chain import StopChain
from controller.stop_reasons import StopReason
from controller.supervisor import State, Supervisor
from hardware.clock import Clock
from hardware.imu import ImuSample
from hardware.rail_sample import RailSample
from hardware.safety_io import Press, SafetyIO


class Imu(Protocol):
    chip: str

    def read(self) -> list[ImuSample]: ...


class RailReader(Protocol):
    def read(self) -> RailSample: ...


class Link(Protocol):
    def step(self) -> None: ...


class StallGuard(Protocol):
    """The loop watchdog (:class:`controller.watchdog.LoopWatchdog`) as the loop sees it."""

    def take_trip(self) -> str | None: ...

    def stand_down(self) -> None: ...


@dataclass
class RailChannel:
    """The handrails as the loop sees them: the driver, its health, the rail detector."""

    driver: RailReader
    health: RailsHealth
    detector: RailDetector


class ControlLoop:
    """Runs the tick at ``rate_hz`` on ``clock``.

    Args:
        clock: the injected clock (real or simulated).
        imu: IMU driver, already set up.
        imu_health: the IMU's health (the same object the detector wrapper feeds per sample).
        detector: the detector set the loop feeds, sample by sample.
        supervisor: the state machine and stop path.
        link: the treadmill driver (None in relay-only mode).
        safety_io: safety I/O (e-stop, key, reset/start, stop relay and its feedback, heartbeat).
        stop_chain: the verdicts on ``safety_io``'s e-stop, key and relay feedback.
        events: the session's event log.
        rate_hz: loop rate (``[controller] loop_rate_hz``).
        stall_after_s: tick gap that counts as a stall (``[controller] stall_after_s``).
        rails: the handrails, or None when none are fitted.
        presence: the no-runner detector, with ``step_count`` (the step counter's total).
        before_tick: called first in every tick (the simulated world's lockstep).
    """

    def __init__(
        self,
        clock: Clock,
        imu: Imu,
        imu_health: ImuHealth,
        detector: Detector,
        supervisor: Supervisor,
        link: Link | None,
        safety_io: SafetyIO,
        stop_chain: StopChain,
        events: EventLog,
        rate_hz: float,
        stall_after_s: float,
        rails: RailChannel | None = None,
        presence: NoRunnerDetector | None = None,
        step_count: Callable[[], int] | None = None,
        before_tick: Callable[[], None] | None = None,
    ) -> None:
        if (presence is None) != (step_count is None):
            raise ValueError("presence and step_count go together")
        self._clock = clock
        self._imu = imu
        self.imu_health = imu_health
        self._detector = detector
        self.supervisor = supervisor
        self._link = link
        self._safety_io = safety_io
        self._stop_chain = stop_chain
        self._events = events
        self.period_s = 1.0 / rate_hz
        self._stall_after_s = stall_after_s
        self._rails = rails
        self._presence = presence
        self._step_count = step_count
        self._before_tick = before_tick
        self._last_tick_s: float | None = None
        self.ticks = 0
        self.samples = 0
        self.last_sample: ImuSample | None = None
        self.max_tick_gap_s = 0.0
        self.lateness = LatenessStats(self.period_s)
        """How late each tick began (p50/p99/max, missed deadlines, longest gap)."""
        self.tick_samples: list[ImuSample] = []
        """The IMU samples of the last tick (the black box's full-rate ring buffer)."""
        self.watchdog: StallGuard | None = None
        """The independent watchdog thread, if one runs: its trip is latched first thing."""
        self.after_tick: list[Callable[[], None]] = []
        """Called at the end of every tick (cheap readers only: the black box's recorder)."""
        self.last_rail: RailSample | None = None
        self.rail_contact = False
        """The last handrail reading and whether a hand touches a rail (for the black box)."""

    def tick(self) -> None:
        """One iteration. An unexpected exception anywhere in it stops the belt with the power
        cut *before* it propagates: a bug must never leave a belt running."""
        try:
            self._tick()
        except BaseException as exc:
            self.supervisor.request_stop(StopReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}",
                                         cut_power=True)
            self._safety_io.set_relay(False)
            if self._link is not None:
                self._link.step()  # get the stop onto the wire if the line is free
            raise

    def _tick(self) -> None:
        now = self._clock.now_s()
        sup = self.supervisor
        if self._last_tick_s is not None:
            gap = now - self._last_tick_s
            self.max_tick_gap_s = max(self.max_tick_gap_s, gap)
            self.lateness.record_gap(gap)
            if gap > self._stall_after_s:
                sup.request_stop(StopReason.LOOP_STALL, f"{gap * 1000:.0f} ms between ticks",
                                 cut_power=True)
        self._last_tick_s = now
        if self.watchdog is not None:
            tripped = self.watchdog.take_trip()
            if tripped is not None:
                # The watchdog thread opened the relay and sent the stop while we hung: latch
                # it with the power cut, which keeps the relay open from now on by itself.
                sup.request_stop(StopReason.LOOP_STALL, tripped, cut_power=True)
                self._safety_io.release_forced_open()
        if self._before_tick is not None:
            self._before_tick()
        running = sup.state is State.RUNNING

        try:
            samples = self._imu.read()
        except OSError as exc:
            samples = []
            self.imu_health.on_error(exc)
        self.tick_samples = samples
        for sample in samples:
            self.last_sample = sample
            self.samples += 1
            sup.on_decision(self._detector.update(sample))
        sup.on_decision(self.imu_health.check(now, running))

        rail_contact = False
        if self._rails is not None:
            rails = self._rails
            try:
                reading = rails.driver.read()
            except OSError as exc:
                rails.health.on_error(exc)
            else:
                rails.health.on_sample(reading)
                self.last_rail = reading
                sup.on_decision(rails.detector.update(reading))
            sup.on_decision(rails.health.check(now, running))
            rail_contact = rails.detector.rail_contact
        self.rail_contact = rail_contact
        if self._presence is not None and self._step_count is not None:
            sup.on_decision(self._presence.update(now, running, self._step_count(), rail_contact))

        # The heartbeat mirrors the relay: it stops only when power must be cut. Stopping it on
        # every latch would make each controlled stop a power-cut coast wherever the charge
        # pump's relay is wired into the key loop.
        self._safety_io.service(healthy=sup.relay_closed)
        chain = self._stop_chain.check(now)
        if chain.level is Level.STOP:
            # The stop chain itself is in doubt (e-stop, key, relay): cut power as well.
            sup.request_stop(chain.reason, chain.detail, cut_power=True)
        press = self._safety_io.poll_button()
        if press is Press.LONG:
            # A reset closes the relay again (power returns): refuse it while the stop chain is
            # in doubt. A welded relay is only visible while the relay is commanded open, i.e.
            # now, while latched with the power cut — once closed, its feedback agrees again and
            # the start checklist could no longer see it.
            chain_problems = self._stop_chain.problems()
            if self._safety_io.estop_pressed:
                self._events.add(now, EventKind.INPUT, "reset refused: e-stop pressed")
            elif chain_problems:
                self._events.add(now, EventKind.INPUT,
                                 "reset refused: " + "; ".join(chain_problems))
            else:
                sup.reset()
        elif press is Press.SHORT:
            sup.request_start()

        sup.tick()
        if self._link is not None:
            self._link.step()
        self._safety_io.set_relay(sup.relay_closed)
        self.ticks += 1
        for reader in self.after_tick:
            reader()

    def arming_problems(self) -> list[str]:
        """What this loop knows that forbids a start (the supervisor's arming checklist)."""
        now = self._clock.now_s()
        problems = []
        # The strict form (belt_running=True, as controller/health.py prescribes for arming):
        # a frozen IMU must fail the checklist, not be started and stopped one tick later.
        imu = self.imu_health.check(now, True)
        if imu.level is not Level.OK or self.last_sample is None:
            problems.append(f"{self._imu.chip}: {imu.detail or 'no sample yet'}")
        if self._rails is not None:
            rails = self._rails.health.check(now, True)  # strict, as for the IMU
            if rails.level is not Level.OK:
                problems.append(rails.detail)
        if self._safety_io.estop_pressed:
            problems.append("e-stop pressed")
        return problems

    def run(self, duration_s: float, on_tick: Callable[[], None] | None = None,
            keep_running: Callable[[], bool] | None = None) -> None:
        """Tick at the loop rate for ``duration_s`` seconds of clock time (ending early, between
        two ticks, once ``keep_running()`` is false)."""
        start = self._clock.now_s()
        n_ticks = round(duration_s / self.period_s)
        for i in range(1, n_ticks + 1):
            if keep_running is not None and not keep_running():
                return
            self._sleep_until(start + i * self.period_s)
            self.tick()
            if on_tick is not None:
                on_tick()

    def run_until(self, done: Callable[[], bool], max_s: float, min_s: float = 0.0) -> bool:
        """Tick at the loop rate until ``done()`` (checked after each tick, once ``min_s`` of
        clock time has passed) or for at most ``max_s``. Returns ``done()``."""
        start = self._clock.now_s()
        for i in range(1, max(1, math.ceil(max_s / self.period_s)) + 1):
            self._sleep_until(start + i * self.period_s)
            self.tick()
            if self._clock.now_s() - start >= min_s - 1e-9 and done():
                return True
        return done()

    def _sleep_until(self, due_s: float) -> None:
        """Wait for the next tick's time and count how late we woke."""
        self._clock.sleep_until(due_s)
        self.lateness.record(self._clock.now_s() - due_s)

    def run_forever(self, keep_running: Callable[[], bool],
                    idle: Callable[[], None] | None = None) -> None:
        """The daemon's loop: tick at the loop rate while ``keep_running()``; ``idle`` after
        each tick, in the time left before the next (the garbage collection policy of
        :mod:`controller.realtime`)."""
        next_s = self._clock.now_s()
        while keep_running():
            next_s += self.period_s
            self._sleep_until(next_s)
            self.tick()
            if idle is not None:
                idle()
            late = self._clock.now_s() - next_s
            if late > self.period_s:
                next_s = self._clock.now_s()  # do not try to catch up in a burst
