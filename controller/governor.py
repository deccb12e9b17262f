"""The speed envelope: turns "what the session wants" into "what the wire may see".

The governor starts every run at ``start_speed_kmh``, approaches the session's target at no
more than ``ramp_mps2`` in 0.1 km/h steps, and never exceeds ``max_speed_kmh``.

On a caution (the runner is unsteady: slow down first, then build up again) it drops the speed
at once by ``CAUTION_STEP_KMH`` — so a byte that lowers the speed is on the wire in the same
tick, within the 150 ms budget from onset — then decelerates at the controlled-stop rate
(``stop_decel_mps2``) to the start speed and holds there for ``CAUTION_HOLD_S`` after the last
caution. 0.2 km/h is more than one 0.1 mph step, so it always changes the digits sent, and it
is far below the 0→0.89 m/s belt steps that perturbation studies use to *cause* a stumble.

It never produces a speed by itself when not running: the supervisor only asks it while the
belt is meant to run.
"""

from __future__ import annotations

import math
from typing import Final

from controller.config import LimitsSettings

KMH_PER_MPS: Final = 3.6
STEP_KMH: Final = 0.1
CAUTION_HOLD_S: Final = 5.0
CAUTION_STEP_KMH: Final = 0.2


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
        self.target_kmh = min(target_kmh, limits.max_speed_kmh)
        self._cap_steps = math.floor(limits.max_speed_kmh / STEP_KMH + 1e-9)
        self._ramp_kmh_per_s = limits.ramp_mps2 * KMH_PER_MPS
        self._caution_kmh_per_s = limits.stop_decel_mps2 * KMH_PER_MPS
        self.speed_kmh = 0.0
        self._last_s = 0.0
        self._caution_until_s = -math.inf

    def begin(self, now_s: float) -> float:
        """A new run: start at the start speed."""
        self.speed_kmh = min(self._limits.start_speed_kmh, self.target_kmh)
        self._last_s = now_s
        self._caution_until_s = -math.inf
        return self.speed_at(now_s)

    def caution(self, now_s: float) -> None:
        """Step down at once, slow to the start speed and hold there for CAUTION_HOLD_S."""
        if now_s >= self._caution_until_s:  # a new caution, not one already being acted on
            self.speed_at(now_s)
            floor = min(self._limits.start_speed_kmh, self.target_kmh)
            self.speed_kmh = max(floor, self.speed_kmh - CAUTION_STEP_KMH)
        self._caution_until_s = now_s + CAUTION_HOLD_S

    def speed_at(self, now_s: float) -> float:
        """The speed to command now, km/h: a multiple of 0.1, ramp-limited, never above the cap."""
        cautious = now_s < self._caution_until_s
        goal = self._limits.start_speed_kmh if cautious else self.target_kmh
        goal = min(goal, self.target_kmh, self._limits.max_speed_kmh)
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
        # Quantise down to the 0.1 km/h step so rounding never exceeds the ramp or the cap. The
        # cap need not be a multiple of the step (2.99999999 is a valid cap): the tolerance that
        # absorbs float error on the speed must never lift it past the cap's own step.
        steps = min(math.floor(self.speed_kmh / STEP_KMH + 1e-6), self._cap_steps)
        return round(steps * STEP_KMH, 1)
