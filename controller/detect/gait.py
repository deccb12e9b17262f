"""Gait: steps and cadence, instability (CAUTION) and slip/trip (STOP) during walking/jogging.

All of it runs on the shared :class:`~controller.detect.orientation.Orientation` features, so
it is independent of how the clip is worn.

Steps: each step's push-off lifts the waist, seen as a peak in vertical acceleration. A step is
counted when the low-passed vertical acceleration rises above ``step_threshold_mps2`` after
having fallen below zero since the last step, and at least ``step_min_interval_s`` after it.
The last :data:`INTERVALS` step intervals are kept in a fixed ring for cadence and regularity.
"""

from __future__ import annotations

import math

from controller.config import DetectSettings
from controller.detect.base import OK, Decision, Level
from controller.detect.orientation import Orientation
from controller.stop_reasons import StopReason
from hardware.held import HeldTimer

INTERVALS = 8
"""Step intervals kept for cadence and irregularity (a fixed ring: bounded memory)."""

MAX_GAP_S = 2.0
"""No step for this long = not stepping (a new bout starts with the next step), s."""

STEP_LOWPASS_S = 0.04
"""Time constant of the smoothing of vertical acceleration before step detection, s."""

SWAY_SHORT_S = 1.0
"""Time constant of the short-term RMS tipping rate (``trunk_sway``), s."""

SWAY_LONG_S = 30.0
"""Time constant of the runner's own long-term RMS tipping rate (the baseline), s."""


class StepCounter:
    """Counts steps from vertical acceleration; cadence and step-timing irregularity.

    Query API (for the interval program: bouts of N backward steps):
        ``steps`` — steps counted since :meth:`reset` (int);
        ``bout_steps`` — steps in the current bout (a gap over :data:`MAX_GAP_S` starts a new
        one);
        :meth:`cadence_spm` — steps per minute over the recent intervals, 0 when not stepping;
        :meth:`irregularity` — coefficient of variation of the recent step intervals;
        :meth:`stepping` — True while steps keep coming (last one within :data:`MAX_GAP_S`).

    Args:
        settings: ``[detect]`` ``step_threshold_mps2`` (the vertical acceleration peak that
            counts as a step) and ``step_min_interval_s`` (steps closer than this are one).
    """

    name = "steps"

    def __init__(self, settings: DetectSettings) -> None:
        self.threshold_mps2 = settings.step_threshold_mps2
        self.min_interval_s = settings.step_min_interval_s
        self.max_gap_s = MAX_GAP_S
        self.lowpass_s = STEP_LOWPASS_S
        self._intervals = [0.0] * INTERVALS
        self.reset()

    def reset(self) -> None:
        self.steps = 0
        self.bout_steps = 0
        self.last_step_s: float | None = None
        self._lp = 0.0
        self._primed = True
        self._n = 0
        self._i = 0
        self._t = 0.0
        self._cv = 0.0
        for k in range(INTERVALS):
            self._intervals[k] = 0.0

    def check(self, o: Orientation) -> bool:
        """Consume one updated sample; True when it completes a step."""
        t = o.t_s
        self._t = t
        dt = o.dt_s
        k = dt / (self.lowpass_s + dt) if dt > 0.0 else 0.0
        lp = self._lp + k * (o.a_up_mps2 - self._lp)
        self._lp = lp
        if lp < 0.0:
            self._primed = True
            return False
        if not self._primed or lp < self.threshold_mps2:
            return False
        last = self.last_step_s
        if last is not None and t - last < self.min_interval_s:
            return False
        self._primed = False
        self.steps += 1
        self.last_step_s = t
        if last is not None and t - last <= self.max_gap_s:
            self.bout_steps += 1
            self._intervals[self._i] = t - last
            self._i = (self._i + 1) % INTERVALS
            self._n = min(self._n + 1, INTERVALS)
        else:
            self._n = 0
            self.bout_steps = 1
        self._cv = self._compute_cv()
        return True

    def stepping(self, t_s: float | None = None) -> bool:
        """True while steps keep coming: at least 3 in a row, the last within ``max_gap_s``."""
        t = self._t if t_s is None else t_s
        return self.last_step_s is not None and self._n >= 2 \
            and t - self.last_step_s <= self.max_gap_s

    def in_rhythm(self, t_s: float, ratio: float) -> bool:
        """True while stepping and the last step came less than ``ratio`` × the mean recent
        step interval ago: the runner is mid-stride, not stopping to sit or lie down."""
        if not self.stepping(t_s) or self._n == 0 or self.last_step_s is None:
            return False
        n = self._n
        mean = sum(self._intervals[:n]) / n if n < INTERVALS else sum(self._intervals) / INTERVALS
        return t_s - self.last_step_s < ratio * mean

    def cadence_spm(self, t_s: float | None = None) -> float:
        """Steps per minute over the recent intervals; 0.0 when not stepping."""
        if not self.stepping(t_s) or self._n == 0:
            return 0.0
        mean = sum(self._intervals[: self._n]) / self._n if self._n < INTERVALS \
            else sum(self._intervals) / INTERVALS
        return 60.0 / mean if mean > 0 else 0.0

    def irregularity(self) -> float:
        """Coefficient of variation (std/mean) of the recent step intervals; 0 with < 4.

        Computed once per step (not per sample)."""
        return self._cv

    def _compute_cv(self) -> float:
        n = self._n
        if n < 4:
            return 0.0
        xs = self._intervals[:n]
        mean = sum(xs) / n
        var = sum((x - mean) ** 2 for x in xs) / n
        return math.sqrt(var) / mean if mean > 0 else 0.0


class InstabilityDetector:
    """CAUTION when the runner is off balance, measured against the runner's own baseline.

    Reasons:
        ``trunk_sway`` — short-term RMS tipping rate (time constant :data:`SWAY_SHORT_S`)
            above ``sway_ratio`` × the long-term RMS (:data:`SWAY_LONG_S`, the runner's own
            baseline) and above ``sway_min_dps``;
        ``stumble`` — while stepping, tipping rate above both ``stumble_rate_dps`` and
            ``stumble_ratio`` × the runner's own long-term RMS tipping rate (jogging tips the
            trunk faster than walking; a stumble stands out from the runner's own gait);
        ``step_irregularity`` — step-interval coefficient of variation above
            ``step_interval_cv`` while stepping.
    All of them from the ``[detect]`` settings. ``stumble`` is not held back until a bout has
    a few steps: a stumble often comes in the first ones. A CAUTION slows the belt; it never
    stops it on its own.
    """

    name = "instability"

    def __init__(self, steps: StepCounter, settings: DetectSettings) -> None:
        self.steps = steps
        self.sway_ratio = settings.sway_ratio
        self.sway_min_dps = settings.sway_min_dps
        self.sway_short_s = SWAY_SHORT_S
        self.sway_long_s = SWAY_LONG_S
        self.stumble_rate_dps = settings.stumble_rate_dps
        self.stumble_ratio = settings.stumble_ratio
        self.step_cv = settings.step_interval_cv
        self.reset()

    def reset(self) -> None:
        self._short2 = 0.0
        self._long2 = 0.0
        self._elapsed_s = 0.0

    def check(self, o: Orientation) -> Decision:
        dt = o.dt_s
        r2 = o.tilt_rate_dps * o.tilt_rate_dps
        self._elapsed_s += dt
        self._short2 += (r2 - self._short2) * (dt / self.sway_short_s)
        # The baseline learns faster at first (time constant grows with elapsed time).
        tau = min(self.sway_long_s, max(self.sway_short_s, self._elapsed_s))
        self._long2 += (r2 - self._long2) * (dt / tau)
        stepping = self.steps.stepping(o.t_s)
        rate = o.tilt_rate_dps
        if stepping and rate > self.stumble_rate_dps \
                and rate * rate > self.stumble_ratio ** 2 * self._long2:
            return Decision(Level.CAUTION, "stumble", f"tipping {o.tilt_rate_dps:.0f}°/s")
        short = math.sqrt(self._short2)
        if short > self.sway_min_dps and self._elapsed_s > self.sway_short_s \
                and self._short2 > self.sway_ratio ** 2 * self._long2:
            return Decision(Level.CAUTION, "trunk_sway",
                            f"sway {short:.0f}°/s vs baseline {math.sqrt(self._long2):.0f}°/s")
        if stepping:
            cv = self.steps.irregularity()
            if cv > self.step_cv:
                return Decision(Level.CAUTION, "step_irregularity", f"step-time CV {cv:.2f}")
        return OK


class SlipTripDetector:
    """STOP on a slip or trip in mid-stride: the trunk tips fast and far within a step.

    While the runner is in the rhythm of stepping (:meth:`StepCounter.in_rhythm`: the last step
    less than ``slip_rhythm_ratio`` × the mean recent step interval ago), a tipping rate above
    ``slip_rate_dps`` together with a tilt beyond ``slip_tilt_deg`` for ``slip_hold_s``
    (``[detect]``) is a slip (feet run away: backward tip) or a trip (feet stopped: forward
    tip). Gait never combines both for long. The rhythm gate is what keeps sitting or lying
    down just after walking (the first version gated on "a step in the last 2 s") from
    stopping the belt: a person stops stepping before sitting down.
    """

    name = "slip_trip"

    def __init__(self, steps: StepCounter, settings: DetectSettings) -> None:
        self.steps = steps
        self.rate_dps = settings.slip_rate_dps
        self.tilt_deg = settings.slip_tilt_deg
        self._cos_tilt = math.cos(math.radians(self.tilt_deg))
        self.hold_s = settings.slip_hold_s
        self.rhythm_ratio = settings.slip_rhythm_ratio
        self.reset()

    def reset(self) -> None:
        self._tipping = HeldTimer()

    def check(self, o: Orientation) -> Decision:
        held_s = self._tipping.update(
            o.tilt_rate_dps > self.rate_dps and o.cos_tilt < self._cos_tilt
            and self.steps.in_rhythm(o.t_s, self.rhythm_ratio), o.t_s)
        if held_s is not None and held_s >= self.hold_s - 1e-9:
            return Decision(Level.STOP, StopReason.SLIP_TRIP,
                            f"tipping {o.tilt_rate_dps:.0f}°/s at tilt {o.tilt_deg():.0f}° "
                            f"in mid-stride")
        return OK
