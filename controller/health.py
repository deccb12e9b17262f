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
                          frozen on its own (:data:`FORCE_CHIP_FROZEN_READINGS` identical
                          conversions of one ADS1115, :data:`TOUCH_CHIP_FROZEN_READINGS`
                          identical filtered data of all the MPR121's electrodes) while the
                          belt runs — the detail names the chip
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

For a loop that already checks freshness and the error budget itself and feeds a detector
sample by sample, :class:`HealthCheckedDetector` wraps that detector so the sample-driven
conditions (stuck, implausible, saturated, clip moved) travel the same path to the supervisor,
arming the clip orientation when the belt starts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from controller.config import HealthSettings
from controller.detect.base import OK, Decision, Detector, Level
from controller.stop_reasons import RAIL_RESET_REASON, StopReason
from hardware.clock import Clock
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample
from hardware.rails import ChipReport, RailSample

Vec3 = tuple[float, float, float]

FORCE_CHIP_FROZEN_READINGS: Final = 20
"""Identical consecutive conversion codes of one ADS1115 that count as frozen (100 ms at
200 Hz). A frozen force chip hides a grab on its rail, so this is short; it is twice the
``stuck_samples`` default because one chip repeats a code far more often than two chips at
once: the twin (2 LSB rms noise) repeats a code up to 8 times in a row in 20 simulated minutes
(``scripts/rail_noise_runs.py``, 3 seeds, both layouts). A named constant rather than a
``[health]`` option for now."""

TOUCH_CHIP_FROZEN_READINGS: Final = 200
"""Identical consecutive filtered data of all the MPR121's enabled electrodes that count as
frozen (1 s at 200 Hz). A scanning chip's filtered data always carries a count or so of noise,
but with few electrodes a repeat is common (the twin, ±1 count on 2 electrodes: up to 13
identical readings in a row in 20 simulated minutes, same script), and a frozen touch chip
delays the no-runner check (40 s) or the hands-off check rather than hiding a grab, so the
margin is wide: 1 s. A named constant rather than a ``[health]`` option for now."""


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


def _norm(v: Vec3) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _angle_deg(a: Vec3, b: Vec3) -> float:
    na, nb = _norm(a), _norm(b)
    if na == 0.0 or nb == 0.0:
        return 180.0  # no gravity at all: as far from the reference as it gets
    cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


class ImuHealth:
    """Health of the belt-clip IMU, fed every sample and every bus error.

    Args:
        settings: ``[health]`` thresholds.
        clock: the injected clock (used for error times; freshness uses sample times).
        accel_range_g: the IMU's configured full scale (``[imu] accel_range_g``), g: an axis
            at ±this is saturated. No default: a wrong one would hide saturation.
    """

    def __init__(self, settings: HealthSettings, clock: Clock, accel_range_g: int) -> None:
        self._s = settings
        self._clock = clock
        self._full_scale_mps2 = accel_range_g * STANDARD_GRAVITY_MPS2
        self.errors = ErrorBudget(settings.i2c_errors_per_s, clock, "IMU")
        self._created_s = clock.now_s()
        self._last: ImuSample | None = None
        self._identical = 0
        self._implausible_since: float | None = None
        self._saturated_since: float | None = None
        self._gravity: Vec3 | None = None  # low-passed specific force, sensor frame
        self._gravity_t_s = 0.0
        self._reference: Vec3 | None = None  # gravity direction at arming
        self.repeats = 0
        self.gaps = 0

    # ------------------------------------------------------------------ feeding
    def on_sample(self, sample: ImuSample) -> None:
        """One sample from the driver (in order)."""
        last = self._last
        if last is not None:
            if sample.seq <= last.seq:
                self.repeats += 1  # seen before: not fresh, not evidence of anything
                return
            if sample.seq > last.seq + 1:
                self.gaps += 1
            same = sample.acc_mps2 == last.acc_mps2 and sample.gyro_rads == last.gyro_rads
            self._identical = self._identical + 1 if same else 0
        if not self._plausibility(sample):
            # A pinned accelerometer says nothing about where gravity is: keep the estimate.
            self._lowpass(sample)
        self._last = sample

    def on_error(self, exc: OSError) -> None:
        """A bus error from the IMU's driver."""
        self.errors.on_error(exc)

    def _plausibility(self, s: ImuSample) -> bool:
        """Track the still-but-not-1-g and pinned-at-full-scale conditions; True if pinned."""
        norm = _norm(s.acc_mps2)
        still = math.degrees(_norm(s.gyro_rads)) < self._s.still_rate_dps
        off = abs(norm - STANDARD_GRAVITY_MPS2) > self._s.implausible_g * STANDARD_GRAVITY_MPS2
        if still and off:
            if self._implausible_since is None:
                self._implausible_since = s.t_s
        else:
            self._implausible_since = None
        # 0.995: the most positive count is 32767 × LSB, a little under the nominal range.
        pinned = max(abs(a) for a in s.acc_mps2) >= 0.995 * self._full_scale_mps2
        if pinned:
            if self._saturated_since is None:
                self._saturated_since = s.t_s
        else:
            self._saturated_since = None
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
    def check(self, now_s: float, belt_running: bool) -> Decision:
        """The IMU's health now: :data:`OK` or a STOP with a named reason (first that applies,
        most fundamental first: no data, bad bus, frozen data, nonsense data, moved clip)."""
        s = self._s
        last = self._last
        if last is None:
            if now_s - self._created_s > s.stale_after_s:
                return Decision(Level.STOP, StopReason.IMU_STALE, "IMU: no sample received yet")
        elif now_s - last.t_s > s.stale_after_s:
            return Decision(Level.STOP, StopReason.IMU_STALE,
                            f"IMU: last sample {1000 * (now_s - last.t_s):.0f} ms old "
                            f"(limit {1000 * s.stale_after_s:.0f} ms)")
        budget = self.errors.check(now_s)
        if budget is not OK:
            return budget
        if last is None:
            return OK
        if belt_running and self._identical + 1 >= s.stuck_samples:
            return Decision(Level.STOP, StopReason.IMU_STUCK,
                            f"IMU: {self._identical + 1} identical samples in a row: frozen "
                            f"(a live chip's noise never repeats)")
        if (self._saturated_since is not None
                and last.t_s - self._saturated_since >= s.saturated_after_s):
            return Decision(Level.STOP, StopReason.IMU_SATURATED,
                            f"IMU: accelerometer pinned at ±{self._full_scale_mps2:.0f} m/s² for "
                            f"{1000 * (last.t_s - self._saturated_since):.0f} ms")
        if (self._implausible_since is not None
                and last.t_s - self._implausible_since >= s.implausible_after_s):
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


@dataclass
class _Chip:
    """What rails health remembers about one chip (by its :attr:`ChipReport.chip` name)."""

    kind: str  # "touch" or "force" (ChipReport.kind)
    frozen_after: int  # identical readings that count as frozen
    last: tuple[int, ...] = ()
    identical: int = 0  # consecutive readings equal to the one before
    fault: str = ""  # the first configuration read-back fault (kept: see the module doc)


class RailsHealth:
    """Health of the handrail sensors (only built when rails are fitted), as a whole and chip
    by chip (:attr:`RailSample.chips`).

    Args:
        settings: ``[health]`` thresholds (the same freshness and stuck limits as the IMU).
        clock: the injected clock.

    Every verdict is a STOP; those about frozen or reset chips only while the belt runs (and
    in the strict arming check, ``belt_running=True``): a stopped belt has nothing to stop.
    """

    def __init__(self, settings: HealthSettings, clock: Clock) -> None:
        self._s = settings
        self.errors = ErrorBudget(settings.i2c_errors_per_s, clock, "rails")
        self._created_s = clock.now_s()
        self._last: RailSample | None = None
        self._identical = 0
        self._identical_force = 0
        self._chips: dict[str, _Chip] = {}

    def _on_chip(self, report: ChipReport) -> None:
        chip = self._chips.get(report.chip)
        if chip is None:
            frozen_after = (TOUCH_CHIP_FROZEN_READINGS if report.kind == "touch"
                            else FORCE_CHIP_FROZEN_READINGS)
            chip = self._chips[report.chip] = _Chip(report.kind, frozen_after)
        if report.config_fault and not chip.fault:
            chip.fault = report.config_fault
        if report.raw:
            chip.identical = chip.identical + 1 if report.raw == chip.last else 0
            chip.last = report.raw

    def on_sample(self, sample: RailSample) -> None:
        last = self._last
        if last is not None and sample.seq <= last.seq:
            return
        for report in sample.chips:
            self._on_chip(report)
        if last is not None:
            # Everything the chips measured, identical: live ADCs and touch electrodes jitter.
            now = (sample.force_left_n, sample.force_right_n, sample.touch_counts)
            before = (last.force_left_n, last.force_right_n, last.touch_counts)
            same = now == before and any(v is not None for v in now)
            self._identical = self._identical + 1 if same else 0
            # The force ADCs on their own: a frozen ADS1115 beside a live MPR121 would
            # otherwise never count as stuck, and a grab or overload would go unseen. Raw
            # volts, because the forces are clamped to exactly 0 N with no hand on the rail.
            volts = sample.force_volts
            same_force = (volts is not None and volts == last.force_volts
                          and any(v is not None for v in volts))
            self._identical_force = self._identical_force + 1 if same_force else 0
        self._last = sample

    def on_error(self, exc: OSError) -> None:
        self.errors.on_error(exc)

    def check(self, now_s: float, belt_running: bool) -> Decision:
        s = self._s
        last = self._last
        t_s = self._created_s if last is None else last.t_s
        if now_s - t_s > s.stale_after_s:
            return Decision(Level.STOP, StopReason.RAILS_STALE,
                            f"rails: no reading for {1000 * (now_s - t_s):.0f} ms")
        budget = self.errors.check(now_s)
        if budget is not OK:
            return budget
        if not belt_running:
            return OK
        # A lost configuration first: it is the cause when a reset chip also reads frozen.
        for name, chip in self._chips.items():
            if chip.fault:
                return Decision(Level.STOP, RAIL_RESET_REASON[chip.kind],
                                f"rails: {name}: {chip.fault}")
        for name, chip in self._chips.items():
            if chip.identical + 1 >= chip.frozen_after:
                return Decision(Level.STOP, StopReason.RAILS_STUCK,
                                f"rails: {name}: {chip.identical + 1} identical readings "
                                f"in a row: frozen (limit {chip.frozen_after})")
        if self._identical + 1 >= s.stuck_samples:
            return Decision(Level.STOP, StopReason.RAILS_STUCK,
                            f"rails: {self._identical + 1} identical readings in a row: frozen")
        if self._identical_force + 1 >= s.stuck_samples:
            # Every force chip frozen at once (both rails, or the alternate layout's one chip).
            names = ", ".join(n for n, c in self._chips.items() if c.kind == "force")
            return Decision(Level.STOP, StopReason.RAILS_STUCK,
                            f"rails: {names + ': ' if names else ''}"
                            f"{self._identical_force + 1} identical force readings in a row: "
                            f"frozen")
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
