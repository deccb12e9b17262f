"""Sensor health: is what the sensors say about the runner still worth believing?

Why here (``controller/``) and not in ``hardware/``: health turns sensor facts into
:class:`~controller.detect.base.Decision` objects for the supervisor, exactly like a detector,
and needs to know controller state (is the belt running, is the session armed). The drivers
stay dumb: they report samples and raise ``OSError``; they never decide.

A dead sensor must never look like a calm runner, so every condition below is a STOP (a
controlled, latched stop) with a stable reason name that reaches the supervisor and the log:

========================  ====================================================================
reason                    condition
========================  ====================================================================
``imu_stale``             no new IMU sample for ``stale_after_s`` (default 0.05 s), including
                          "none yet" and samples whose ``seq`` was already seen
``imu_stuck``             ``stuck_samples`` identical consecutive samples while the belt runs
``imu_implausible``       still (gyro below ``still_rate_dps``) yet the acceleration norm is
                          more than ``implausible_g`` from 1 g, for ``implausible_after_s``
``imu_saturated``         an accelerometer axis pinned at full scale for ``saturated_after_s``
                          (an impact saturates for a few ms; a broken chip for ever)
``i2c_error_budget``      more than ``i2c_errors_per_s`` bus errors within one second
``clip_moved``            the low-passed gravity direction moved more than ``clip_moved_deg``
                          from where it was at arming: the clip slipped or fell off
``rails_stale``           no handrail reading for ``stale_after_s`` (rails fitted)
``rails_stuck``           ``stuck_samples`` identical readings (forces and touch counts), or
                          identical force-ADC volts alone, while the belt runs; or one chip
                          frozen on its own (``FORCE_CHIP_FROZEN_READINGS`` identical
                          conversions of one ADS1115, ``TOUCH_CHIP_FROZEN_READINGS``
                          identical filtered data of all the MPR121's electrodes, both in
                          :mod:`controller.health_rails`) while the belt runs — the detail
                          names the chip
``rail_force_reset``      an ADS1115's config register read back wrong (a power-on reset: its
                          reset value 0x8583) while the belt runs; the detail names the chip
``rail_touch_reset``      the MPR121's ECR read back wrong (a reset: 0x00, not scanning) while
                          the belt runs; the detail names the chip
========================  ====================================================================

A chip whose configuration read back wrong once stays suspect until the controller restarts
(and sets the chips up again): the alternate layout's channel switch rewrites the ADS1115's
configuration every cycle, so a reset would otherwise be forgotten one reading later.

Usage from the loop, every cycle (all times from the injected clock)::

    try:
        for s in imu.read():
            imu_health.on_sample(s)
    except OSError as exc:
        imu_health.on_error(exc)
    decision = imu_health.check(clock.now_s(), belt_running)

The arming checklist calls ``check(now, belt_running=True)`` (the strict form) and then
:meth:`ImuHealth.arm` to fix the body frame.

This module holds what both sensors' health share (:class:`SensorHealth`: freshness, then the
error budget; :class:`StuckCounter`) and the IMU's health; the rails' is
:class:`controller.health_rails.RailsHealth`.

For a loop that already checks freshness and the error budget itself and feeds a detector
sample by sample, :class:`HealthCheckedDetector` wraps that detector so the sample-driven
conditions (stuck, implausible, saturated, clip moved) travel the same path to the supervisor,
arming the clip orientation when the belt starts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from controller.config import HealthSettings
from controller.detect.base import OK, Decision, Detector, Level
from controller.stop_reasons import StopReason
from hardware.clock import Clock
from hardware.held import HeldTimer
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample
from hardware.rail_sample import RailSample

Vec3 = tuple[float, float, float]
Sample = TypeVar("Sample", ImuSample, RailSample)
Values = TypeVar("Values")

class ErrorBudget:
    """Counts bus errors in a sliding one-second window.

    Args:
        errors_per_s: errors allowed within any one second; one more is a STOP
            (``i2c_error_budget``). 0 = any error stops.
        clock: the injected clock.
        device: name used in the decision's detail (``"IMU"``, ``"rails"``).

    Memory is bounded: only the last ``errors_per_s + 1`` error times are kept.
    """

    def __init__(self, errors_per_s: int, clock: Clock, device: str) -> None:
        self._budget = errors_per_s
        self._clock = clock
        self._device = device
        self._times: deque[float] = deque(maxlen=errors_per_s + 1)
        self.total = 0
        self.last_error = ""

    def on_error(self, exc: OSError) -> None:
        self._times.append(self._clock.now_s())
        self.total += 1
        self.last_error = f"[errno {exc.errno}] {exc.strerror or exc}"

    def check(self, now_s: float) -> Decision:
        if len(self._times) > self._budget and now_s - self._times[0] <= 1.0:
            return Decision(
                Level.STOP, StopReason.I2C_ERROR_BUDGET,
                f"{self._device}: {len(self._times)} I²C errors within 1 s "
                f"(budget {self._budget}/s), last {self.last_error}",
            )
        return OK


class StuckCounter(Generic[Values]):
    """Consecutive identical readings. A live sensor's noise makes a long run of identical
    readings all but impossible, so such a run means a frozen chip (or a frozen bus bridge)
    that still answers — a dead sensor that looks alive."""

    def __init__(self) -> None:
        self._last: Values | None = None
        self._identical = 0  # consecutive readings equal to the one before

    def see(self, values: Values | None) -> None:
        """One reading's values; None = nothing measured (never counts as identical)."""
        same = values is not None and values == self._last
        self._identical = self._identical + 1 if same else 0
        self._last = values

    @property
    def in_a_row(self) -> int:
        """Identical readings in a row, counting the first of them (1 = the newest differs
        from the one before)."""
        return self._identical + 1


class SensorHealth(Generic[Sample]):
    """What the IMU's and the rails' health share: the ``[health]`` settings, the I²C error
    budget, the last fresh sample and the time-driven checks, freshness before the budget.

    Args:
        settings: ``[health]`` thresholds (``stale_after_s``, 0.05 s by default;
            ``i2c_errors_per_s``, 5).
        clock: the injected clock (error times, and the start of the wait for a first sample:
            a sensor that never delivers goes stale ``stale_after_s`` after the health was built).
        device: the name in the error budget's detail (``"IMU"``, ``"rails"``).
    """

    def __init__(self, settings: HealthSettings, clock: Clock, device: str) -> None:
        self._s = settings
        self.errors = ErrorBudget(settings.i2c_errors_per_s, clock, device)
        self._created_s = clock.now_s()
        self._last: Sample | None = None

    def on_error(self, exc: OSError) -> None:
        """A bus error from the sensor's driver: counted against the error budget."""
        self.errors.on_error(exc)

    def _seen(self, sample: Sample) -> bool:
        """True for a sample whose ``seq`` was already seen: not fresh, evidence of nothing."""
        return self._last is not None and sample.seq <= self._last.seq

    def _stale(self, age_s: float) -> Decision:
        """The STOP for no fresh sample for ``age_s`` seconds (each sensor words its own)."""
        raise NotImplementedError

    def _time_checks(self, now_s: float) -> Decision:
        """Freshness, then the error budget: :data:`OK` or the first STOP that applies. A
        silent sensor is "runner unknown", never calm, so these run every tick."""
        t_s = self._created_s if self._last is None else self._last.t_s
        if now_s - t_s > self._s.stale_after_s:
            return self._stale(now_s - t_s)
        return self.errors.check(now_s)


def _norm(v: Vec3) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _angle_deg(a: Vec3, b: Vec3) -> float:
    na, nb = _norm(a), _norm(b)
    if na == 0.0 or nb == 0.0:
        return 180.0  # no gravity at all: as far from the reference as it gets
    cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


class ImuHealth(SensorHealth[ImuSample]):
    """Health of the belt-clip IMU, fed every sample and every bus error.

    Args:
        settings: ``[health]`` thresholds.
        clock: the injected clock (used for error times; freshness uses sample times).
        accel_range_g: the IMU's configured full scale (``[imu] accel_range_g``), g: an axis
            at ±this is saturated. No default: a wrong one would hide saturation.
    """

    def __init__(self, settings: HealthSettings, clock: Clock, accel_range_g: int) -> None:
        super().__init__(settings, clock, "IMU")
        self._full_scale_mps2 = accel_range_g * STANDARD_GRAVITY_MPS2
        self._stuck: StuckCounter[tuple[Vec3, Vec3]] = StuckCounter()
        self._implausible = HeldTimer()  # on sample times
        self._saturated = HeldTimer()
        self._gravity: Vec3 | None = None  # low-passed specific force, sensor frame
        self._gravity_t_s = 0.0
        self._reference: Vec3 | None = None  # gravity direction at arming
        self.repeats = 0
        self.gaps = 0

    # ------------------------------------------------------------------ feeding
    def on_sample(self, sample: ImuSample) -> None:
        """One sample from the driver (in order)."""
        if self._seen(sample):
            self.repeats += 1
            return
        if self._last is not None and sample.seq > self._last.seq + 1:
            self.gaps += 1
        self._stuck.see((sample.acc_mps2, sample.gyro_rads))
        if not self._plausibility(sample):
            # A pinned accelerometer says nothing about where gravity is: keep the estimate.
            self._lowpass(sample)
        self._last = sample

    def _plausibility(self, s: ImuSample) -> bool:
        """Track the still-but-not-1-g and pinned-at-full-scale conditions; True if pinned."""
        norm = _norm(s.acc_mps2)
        still = math.degrees(_norm(s.gyro_rads)) < self._s.still_rate_dps
        off = abs(norm - STANDARD_GRAVITY_MPS2) > self._s.implausible_g * STANDARD_GRAVITY_MPS2
        self._implausible.update(still and off, s.t_s)
        # 0.995: the most positive count is 32767 × LSB, a little under the nominal range.
        pinned = max(abs(a) for a in s.acc_mps2) >= 0.995 * self._full_scale_mps2
        self._saturated.update(pinned, s.t_s)
        return pinned

    def _lowpass(self, s: ImuSample) -> None:
        if self._gravity is None:
            self._gravity, self._gravity_t_s = s.acc_mps2, s.t_s
            return
        dt = max(0.0, s.t_s - self._gravity_t_s)
        k = dt / (self._s.clip_lowpass_s + dt)
        g = self._gravity
        self._gravity = (g[0] + k * (s.acc_mps2[0] - g[0]),
                         g[1] + k * (s.acc_mps2[1] - g[1]),
                         g[2] + k * (s.acc_mps2[2] - g[2]))
        self._gravity_t_s = s.t_s

    # ------------------------------------------------------------------ clip orientation
    def arm(self) -> Decision:
        """Fix the body frame from the current gravity direction (the clip may be worn either
        way up). Returns STOP ``imu_stale`` if there is no gravity estimate yet."""
        if self._gravity is None or _norm(self._gravity) < 0.5 * STANDARD_GRAVITY_MPS2:
            return Decision(Level.STOP, StopReason.IMU_STALE,
                            "IMU: no gravity estimate to arm with")
        self._reference = self._gravity
        return OK

    def disarm(self) -> None:
        self._reference = None

    @property
    def gravity_mps2(self) -> Vec3 | None:
        """Low-passed specific force (≈ gravity), sensor frame; None before the first sample."""
        return self._gravity

    def to_body(self, v: Vec3) -> Vec3:
        """Rotate a sensor-frame vector into the body frame fixed at :meth:`arm` (gravity
        reaction along +z). Identity before arming."""
        ref = self._reference
        if ref is None:
            return v
        n = _norm(ref)
        u = (ref[0] / n, ref[1] / n, ref[2] / n)
        # Rodrigues rotation taking u onto +z: axis u × z, cos = u_z.
        ax, ay = u[1], -u[0]
        c = u[2]
        s = math.hypot(ax, ay)
        if s < 1e-9:
            return v if c > 0 else (v[0], -v[1], -v[2])  # already up, or upside down: flip
        ax, ay = ax / s, ay / s
        dot = ax * v[0] + ay * v[1]
        cross = (ay * v[2], -ax * v[2], ax * v[1] - ay * v[0])
        return (v[0] * c + cross[0] * s + ax * dot * (1 - c),
                v[1] * c + cross[1] * s + ay * dot * (1 - c),
                v[2] * c + cross[2] * s)

    # ------------------------------------------------------------------ verdict
    def _stale(self, age_s: float) -> Decision:
        if self._last is None:
            return Decision(Level.STOP, StopReason.IMU_STALE, "IMU: no sample received yet")
        return Decision(Level.STOP, StopReason.IMU_STALE,
                        f"IMU: last sample {1000 * age_s:.0f} ms old "
                        f"(limit {1000 * self._s.stale_after_s:.0f} ms)")

    def check(self, now_s: float, belt_running: bool) -> Decision:
        """The IMU's health now: :data:`OK` or a STOP with a named reason (first that applies,
        most fundamental first: no data, bad bus, frozen data, nonsense data, moved clip)."""
        s = self._s
        timed = self._time_checks(now_s)
        if timed is not OK:
            return timed
        last = self._last
        if last is None:
            return OK
        if belt_running and self._stuck.in_a_row >= s.stuck_samples:
            return Decision(Level.STOP, StopReason.IMU_STUCK,
                            f"IMU: {self._stuck.in_a_row} identical samples in a row: frozen "
                            f"(a live chip's noise never repeats)")
        saturated_s = self._saturated.held_s(last.t_s)
        if saturated_s is not None and saturated_s >= s.saturated_after_s:
            return Decision(Level.STOP, StopReason.IMU_SATURATED,
                            f"IMU: accelerometer pinned at ±{self._full_scale_mps2:.0f} m/s² for "
                            f"{1000 * saturated_s:.0f} ms")
        implausible_s = self._implausible.held_s(last.t_s)
        if implausible_s is not None and implausible_s >= s.implausible_after_s:
            norm_g = _norm(last.acc_mps2) / STANDARD_GRAVITY_MPS2
            return Decision(Level.STOP, StopReason.IMU_IMPLAUSIBLE,
                            f"IMU: still but |a| = {norm_g:.2f} g (expected 1 ± "
                            f"{s.implausible_g:g} g)")
        if self._reference is not None and self._gravity is not None:
            moved = _angle_deg(self._gravity, self._reference)
            if moved > s.clip_moved_deg:
                return Decision(Level.STOP, StopReason.CLIP_MOVED,
                                f"IMU: clip orientation changed by {moved:.0f}° since arming "
                                f"(limit {s.clip_moved_deg:g}°): check the belt clip")
        return OK


class HealthCheckedDetector:
    """A :class:`~controller.detect.base.Detector` that runs :class:`ImuHealth` on every sample
    beside an inner detector, returning the more severe decision (health first on a tie: a
    detector's verdict on bad data is not worth reporting).

    The body frame is armed when ``belt_running()`` becomes true and disarmed when it becomes
    false, so ``clip_moved`` compares against the clip's orientation at the start of each run.
    Freshness and the I²C error budget are time-driven: the loop checks those itself (or calls
    :meth:`ImuHealth.check` every tick).

    Args:
        inner: the detector(s) the loop would otherwise call.
        health: the IMU's health.
        belt_running: True while the belt may be moving (e.g. supervisor state RUNNING).
    """

    def __init__(self, inner: Detector, health: ImuHealth,
                 belt_running: Callable[[], bool]) -> None:
        self.name = f"imu_health+{inner.name}"
        self.inner = inner
        self.health = health
        self._belt_running = belt_running
        self._was_running = False

    def update(self, sample: ImuSample) -> Decision:
        self.health.on_sample(sample)
        running = self._belt_running()
        armed = OK
        if running and not self._was_running:
            armed = self.health.arm()
        elif self._was_running and not running:
            self.health.disarm()
        self._was_running = running
        inner = self.inner.update(sample)
        health = armed if armed is not OK else self.health.check(sample.t_s, running)
        return health if health.level >= inner.level and health is not OK else inner

    def reset(self) -> None:
        self.inner.reset()
        self.health.disarm()
        self._was_running = False
