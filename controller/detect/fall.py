"""Fall / pre-impact detection (STOP), on the shared :class:`Orientation` features.

Physical picture: while walking, jogging, sitting or bending, the waist's downward speed stays
small or reverses within a step, and trunk tilt and tipping rate stay within what gait produces.
A fall is the combination held for a moment: the body is dropping (vertical velocity downward,
beyond ``velocity_mps``), the trunk has left upright (tilt beyond ``tilt_deg``) and is still
tipping (tipping rate beyond ``rate_dps``), all for ``hold_s``. That is the pre-impact stop.

Two backstops catch what the pre-impact rule misses, later but still in time to stop the belt
under a runner who is down:

* ``free_fall``: specific force below ``free_fall_g`` for ``free_fall_hold_s`` (loss of support
  for longer than a jogging flight phase or a hop);
* ``impact``: specific force above ``impact_g`` while the trunk is tilted beyond
  ``impact_tilt_deg`` (a hit on the ground, not a heel strike of an upright runner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.detect.base import OK, Decision, Level
from controller.detect.orientation import Orientation


@dataclass(frozen=True)
class FallThresholds:
    """Thresholds of :class:`FallDetector` (see :class:`controller.config.DetectSettings`)."""

    velocity_mps: float = 0.8
    tilt_deg: float = 15.0
    rate_dps: float = 90.0
    hold_s: float = 0.025
    free_fall_g: float = 0.3
    free_fall_hold_s: float = 0.25
    impact_g: float = 3.0
    impact_tilt_deg: float = 45.0


class FallDetector:
    """Pre-impact fall, free fall and impact (all STOP). Bounded state: three timers."""

    name = "fall"

    def __init__(self, th: FallThresholds | None = None) -> None:
        self.th = th or FallThresholds()
        self._cos_tilt = math.cos(math.radians(self.th.tilt_deg))
        self._cos_impact_tilt = math.cos(math.radians(self.th.impact_tilt_deg))
        self.reset()

    def reset(self) -> None:
        self._since_fall_s: float | None = None
        self._since_free_fall_s: float | None = None

    def check(self, o: Orientation) -> Decision:
        """Decision for the sample ``o`` was just updated with (``o.armed`` must be True)."""
        th = self.th
        t = o.t_s
        if o.v_up_mps < -th.velocity_mps and o.cos_tilt < self._cos_tilt \
                and o.tilt_rate_dps > th.rate_dps:
            if self._since_fall_s is None:
                self._since_fall_s = t
            if t - self._since_fall_s >= th.hold_s - 1e-9:
                return Decision(Level.STOP, "fall",
                                f"falling {-o.v_up_mps:.2f} m/s, tilt {o.tilt_deg():.0f}°, "
                                f"tipping {o.tilt_rate_dps:.0f}°/s")
        else:
            self._since_fall_s = None
        if o.acc_norm_g < th.free_fall_g:
            if self._since_free_fall_s is None:
                self._since_free_fall_s = t
            if t - self._since_free_fall_s >= th.free_fall_hold_s - 1e-9:
                return Decision(Level.STOP, "free_fall",
                                f"specific force {o.acc_norm_g:.2f} g for "
                                f"{t - self._since_free_fall_s:.2f} s")
        else:
            self._since_free_fall_s = None
        if o.acc_norm_g > th.impact_g and o.cos_tilt < self._cos_impact_tilt:
            return Decision(Level.STOP, "impact",
                            f"impact {o.acc_norm_g:.1f} g at tilt {o.tilt_deg():.0f}°")
        return OK
