"""The speed envelope: turns "what the session wants" into "what the wire may see".

The governor starts every run at ``start_speed_kmh``, approaches the session's target at no
more than ``ramp_mps2`` in 0.1 km/h steps, and never exceeds ``max_speed_kmh``.

On a caution (the runner is unsteady: slow down first, then build up again) it drops the speed
at once by ``CAUTION_STEP_KMH`` — so a byte that lowers the speed is on the wire in the same
tick, within the 150 ms budget from onset — then decelerates at the controlled-stop rate
(``stop_decel_mps2``) to the start speed and holds there for ``CAUTION_HOLD_S`` after the last
caution. 0.2 km/h is more than one 0.1 mph step, so it always changes the digits sent, and it
is far below the 0→0.89 m/s belt steps that perturbation studies use to *cause* a stumble.

No rise without a warning. Every *upward segment* — leaving a steady speed to go higher: the
ramp after the start speed, the return after a caution hold — is announced first: the governor
raises a cue (:meth:`Governor.take_cue`, which the supervisor turns into a ``cue`` event and the
buzzer's ``speed_up`` pattern) and holds the speed for ``SPEED_UP_LEAD_S`` before the first
step up; the steps of one segment then follow at the ramp without further cues. After a start
the start speed is held ``START_SETTLE_S`` before that cue, so it never overlaps the
countdown's final long beep. Decreases never wait: lowering is the safe direction, and a
caution (which also cancels an announced rise) lowers the speed in the same tick.

It never produces a speed by itself when not running: the supervisor only asks it while the
belt is meant to run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

from controller.config import LimitsSettings
from hardware.units import KMH_PER_MPS

STEP_KMH: Final = 0.1
CAUTION_HOLD_S: Final = 5.0
CAUTION_STEP_KMH: Final = 0.2
SPEED_UP_LEAD_S: Final = 1.0
"""Seconds between the speed-up cue and the first step up of its segment (the speed holds)."""
START_SETTLE_S: Final = 1.0
"""Seconds at the start speed after a start before the first speed-up cue: the belt reaches the
start speed and the countdown's final beep (0.6 s) ends first."""


class Governor:
    """Ramped, capped speed for one run.

    Args:
        limits: the validated ``[limits]`` section.
        target_kmh: what the session asks for (capped to ``limits.max_speed_kmh``).
    """

    def __init__(self, limits: LimitsSettings, target_kmh: float) -> None:
        if not math.isfinite(target_kmh) or target_kmh < 0:
            raise ValueError(f"target speed must be finite and ≥ 0, got {target_kmh!r}")
        self._limits = limits
        self._machine_cap_kmh = limits.max_speed_kmh
        self.target_kmh = min(target_kmh, limits.max_speed_kmh)
        self._cap_steps = math.floor(limits.max_speed_kmh / STEP_KMH + 1e-9)
        self._ramp_kmh_per_s = limits.ramp_mps2 * KMH_PER_MPS
        self._caution_kmh_per_s = limits.stop_decel_mps2 * KMH_PER_MPS
        self.speed_kmh = 0.0
        self._last_s = 0.0
        self._caution_until_s = -math.inf
        self._cue_from_s = -math.inf  # no speed-up cue before this (start settle)
        self._rise_at_s = math.inf  # when the announced upward segment may begin (inf: none)
        self._rising = False  # inside an announced upward segment
        self._cue_kmh: float | None = None  # a cue not yet taken by the supervisor

    def set_target_kmh(self, target_kmh: float) -> None:
        """What the session asks for from now on (the session program's phase speed), capped.
        A rise is still announced and ramped by :meth:`speed_at`; a fall ramps down."""
        self.target_kmh = min(max(0.0, target_kmh), self._limits.max_speed_kmh)

    def set_cap_kmh(self, cap_kmh: float) -> None:
        """The runner's profile cap (only ever below ``[limits] max_speed_kmh``): set between
        runs, when a runner is chosen."""
        cap = min(cap_kmh, self._machine_cap_kmh)
        self._limits = dataclasses.replace(self._limits, max_speed_kmh=cap)
        self._cap_steps = math.floor(cap / STEP_KMH + 1e-9)
        self.target_kmh = min(self.target_kmh, cap)

    def begin(self, now_s: float) -> float:
        """A new run: start at the start speed, hold it ``START_SETTLE_S``, then cue the ramp."""
        self.speed_kmh = min(self._limits.start_speed_kmh, self.target_kmh)
        self._last_s = now_s
        self._caution_until_s = -math.inf
        self._cue_from_s = now_s + START_SETTLE_S
        self._rise_at_s = math.inf
        self._rising = False
        self._cue_kmh = None
        return self.speed_at(now_s)

    def caution(self, now_s: float) -> None:
        """Step down at once, slow to the start speed and hold there for CAUTION_HOLD_S."""
        if now_s >= self._caution_until_s:  # a new caution, not one already being acted on
            self.speed_at(now_s)
            floor = min(self._limits.start_speed_kmh, self.target_kmh)
            self.speed_kmh = max(floor, self.speed_kmh - CAUTION_STEP_KMH)
        self._caution_until_s = now_s + CAUTION_HOLD_S

    def take_cue(self) -> float | None:
        """The speed (km/h) an upward segment announced since the last call goes to, once; None
        when there is nothing new to announce. The rise follows ``SPEED_UP_LEAD_S`` after the
        :meth:`speed_at` call that raised the cue, so call this right after it (same tick)."""
        cue, self._cue_kmh = self._cue_kmh, None
        return cue

    def speed_at(self, now_s: float) -> float:
        """The speed to command now, km/h: a multiple of 0.1, ramp-limited, never above the cap,
        and never higher than the last speed until a cue has announced it SPEED_UP_LEAD_S ago."""
        cautious = now_s < self._caution_until_s
        goal = self._limits.start_speed_kmh if cautious else self.target_kmh
        goal = min(goal, self.target_kmh, self._limits.max_speed_kmh)
        goal = self._announce_rise(now_s, goal)
        dt = max(0.0, now_s - self._last_s)
        slowing = cautious and goal < self.speed_kmh
        rate = self._caution_kmh_per_s if slowing else self._ramp_kmh_per_s
        max_change = rate * dt
        if abs(goal - self.speed_kmh) <= max_change:
            self.speed_kmh = goal
        elif goal > self.speed_kmh:
            self.speed_kmh += max_change
        else:
            self.speed_kmh -= max_change
        self._last_s = now_s
        return self._quantise(self.speed_kmh)

    def _announce_rise(self, now_s: float, goal: float) -> float:
        """The goal allowed now: ``goal`` itself unless it is a rise not yet announced
        SPEED_UP_LEAD_S ago, in which case the current speed (hold) — raising the cue first."""
        if self._quantise(goal) <= self._quantise(self.speed_kmh):
            # Steady or going down: an announced rise is done, or cancelled (a caution) — the
            # next one needs a cue of its own.
            self._rising = False
            self._rise_at_s = math.inf
            return goal
        if not self._rising:
            if self._rise_at_s == math.inf and now_s >= self._cue_from_s:
                self._rise_at_s = now_s + SPEED_UP_LEAD_S
                self._cue_kmh = self._quantise(goal)
            if now_s < self._rise_at_s:
                return self.speed_kmh  # hold while the cue plays
            self._rising = True
        return goal

    def _quantise(self, speed_kmh: float) -> float:
        # Quantise down to the 0.1 km/h step so rounding never exceeds the ramp or the cap. The
        # cap need not be a multiple of the step (2.99999999 is a valid cap): the tolerance that
        # absorbs float error on the speed must never lift it past the cap's own step.
        steps = min(math.floor(speed_kmh / STEP_KMH + 1e-6), self._cap_steps)
        return round(steps * STEP_KMH, 1)
