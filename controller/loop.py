"""The fixed-rate control loop: one tick = sensors → health → detectors → supervisor → outputs.

Each tick (default 200 Hz):

1. ``before_tick`` (simulation only: advance the simulated world to this time);
2. read every IMU sample that arrived; an I²C error counts against the per-second error budget;
3. freshness: no new sample for ``stale_after_s`` ⇒ stop (``imu_stale``): a silent sensor is
   never a calm runner;
4. each sample through the detector; its decision goes to the supervisor;
5. operator inputs: e-stop (⇒ stop, power cut), reset (long press), start (short press);
6. supervisor tick (speed envelope, stop deadlines, link faults), then the link steps and the
   relay is set;
7. stall check: a tick that starts more than ``stall_after_s`` after the previous one ⇒ stop
   (``loop_stall``, power cut).

Nothing slow happens here: events go to a bounded in-memory log; printing, files and networks are
readers of that log outside the tick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from controller.clock import Clock
from controller.detect.base import Detector
from controller.events import EventLog
from controller.supervisor import Supervisor
from hardware.imu import ImuSample
from hardware.operator_panel import OperatorPanel, Press

I2C_ERRORS_PER_S: Final = 5
"""I²C error budget: more errors than this within one second ⇒ sensor lost ⇒ stop."""


class Imu(Protocol):
    chip: str

    def read(self) -> list[ImuSample]: ...


class Link(Protocol):
    def step(self) -> None: ...


class ControlLoop:
    """Runs the tick at ``rate_hz`` on ``clock``.

    Args:
        clock: the injected clock (real or simulated).
        imu: IMU driver, already set up.
        detector: the detector set the loop feeds, sample by sample.
        supervisor: the state machine and stop path.
        link: the treadmill driver (None in relay-only mode).
        panel: e-stop, reset/start button, stop relay.
        events: the session's event log.
        rate_hz: loop rate (``[controller] loop_rate_hz``).
        stall_after_s: tick gap that counts as a stall (``[controller] stall_after_s``).
        stale_after_s: IMU silence that counts as sensor lost (``[health] stale_after_s``).
        before_tick: called first in every tick (the simulated world's lockstep).
    """

    def __init__(
        self,
        clock: Clock,
        imu: Imu,
        detector: Detector,
        supervisor: Supervisor,
        link: Link | None,
        panel: OperatorPanel,
        events: EventLog,
        rate_hz: float,
        stall_after_s: float,
        stale_after_s: float,
        before_tick: Callable[[], None] | None = None,
    ) -> None:
        self._clock = clock
        self._imu = imu
        self._detector = detector
        self.supervisor = supervisor
        self._link = link
        self._panel = panel
        self._events = events
        self.period_s = 1.0 / rate_hz
        self._stall_after_s = stall_after_s
        self._stale_after_s = stale_after_s
        self._before_tick = before_tick
        self._started_s = clock.now_s()
        self._last_sample_s = self._started_s
        self._last_tick_s: float | None = None
        self._error_times: list[float] = []
        self.ticks = 0
        self.samples = 0
        self.last_sample: ImuSample | None = None
        self.max_tick_gap_s = 0.0

    def tick(self) -> None:
        """One iteration. An unexpected exception anywhere in it stops the belt with the power
        cut *before* it propagates: a bug must never leave a belt running."""
        try:
            self._tick()
        except BaseException as exc:
            self.supervisor.request_stop("internal_error", f"{type(exc).__name__}: {exc}",
                                         cut_power=True)
            self._panel.set_relay(False)
            if self._link is not None:
                self._link.step()  # get the stop onto the wire if the line is free
            raise

    def _tick(self) -> None:
        now = self._clock.now_s()
        sup = self.supervisor
        if self._last_tick_s is not None:
            gap = now - self._last_tick_s
            self.max_tick_gap_s = max(self.max_tick_gap_s, gap)
            if gap > self._stall_after_s:
                sup.request_stop("loop_stall", f"{gap * 1000:.0f} ms between ticks",
                                 cut_power=True)
        self._last_tick_s = now
        if self._before_tick is not None:
            self._before_tick()

        try:
            samples = self._imu.read()
        except OSError as exc:
            samples = []
            self._error_times.append(now)
            self._error_times = [t for t in self._error_times if now - t < 1.0]
            if len(self._error_times) > I2C_ERRORS_PER_S:
                sup.request_stop("i2c_error_budget",
                                 f"{len(self._error_times)} I²C errors in 1 s, last: {exc}")
        for sample in samples:
            self._last_sample_s = now
            self.last_sample = sample
            self.samples += 1
            sup.on_decision(self._detector.update(sample))
        if now - self._last_sample_s > self._stale_after_s:
            sup.request_stop("imu_stale", f"no {self._imu.chip} sample for "
                                          f"{(now - self._last_sample_s) * 1000:.0f} ms")

        if self._panel.estop_pressed:
            sup.request_stop("estop", "emergency-stop button pressed or its wire broken",
                             cut_power=True)
        press = self._panel.poll_button()
        if press is Press.LONG:
            if self._panel.estop_pressed:
                self._events.add(now, "input", "reset refused: e-stop pressed")
            else:
                sup.reset()
        elif press is Press.SHORT:
            sup.request_start()

        sup.tick()
        if self._link is not None:
            self._link.step()
        self._panel.set_relay(sup.relay_closed)
        self.ticks += 1

    def arming_problems(self) -> list[str]:
        """What this loop knows that forbids a start (the supervisor's arming checklist)."""
        problems = []
        now = self._clock.now_s()
        if self.last_sample is None or now - self._last_sample_s > self._stale_after_s:
            problems.append(f"{self._imu.chip} has no fresh sample")
        if self._panel.estop_pressed:
            problems.append("e-stop pressed")
        return problems

    def run(self, duration_s: float, on_tick: Callable[[], None] | None = None) -> None:
        """Tick at the loop rate for ``duration_s`` seconds of clock time."""
        start = self._clock.now_s()
        n_ticks = round(duration_s / self.period_s)
        for i in range(1, n_ticks + 1):
            self._clock.sleep_until(start + i * self.period_s)
            self.tick()
            if on_tick is not None:
                on_tick()

    def run_forever(self, keep_running: Callable[[], bool]) -> None:
        """The daemon's loop: tick at the loop rate while ``keep_running()``."""
        next_s = self._clock.now_s()
        while keep_running():
            next_s += self.period_s
            self._clock.sleep_until(next_s)
            self.tick()
            late = self._clock.now_s() - next_s
            if late > self.period_s:
                next_s = self._clock.now_s()  # do not try to catch up in a burst
