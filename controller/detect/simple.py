"""The first, simple detector: three physical thresholds with a hold time.

STOP when, for at least ``hold_s``:
- the specific-force norm is below ``free_fall_g`` (loss of support: falling bodies feel < 1 g),
- or above ``impact_g`` (an impact, or the violent jerk of a slip),
- or the trunk's angular-rate norm is above ``max_rate_dps`` (walking stays well under
  ~100 °/s at the waist; falls and slips exceed 150–300 °/s).

It needs no orientation and no baseline, which makes it robust and easy to reason about, and
late: it fires at the slip or the impact, not before. The detection issue replaces it as the
default with streaming fall/slip detectors measured on real recordings; it stays as a floor.
"""

from __future__ import annotations

import math

from controller.config import DetectSettings
from controller.detect.base import OK, Decision, Level
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample

RAD_TO_DEG = 180.0 / math.pi


class SimpleThresholdDetector:
    """Free fall / impact / angular-rate thresholds, each held for ``hold_s`` seconds."""

    name = "simple"

    def __init__(self, settings: DetectSettings) -> None:
        self._low_mps2 = settings.free_fall_g * STANDARD_GRAVITY_MPS2
        self._high_mps2 = settings.impact_g * STANDARD_GRAVITY_MPS2
        self._max_rate_rads = settings.max_rate_dps / RAD_TO_DEG
        self._hold_s = settings.hold_s
        self.reset()

    def reset(self) -> None:
        self._since: dict[str, float] = {}

    def _held(self, reason: str, active: bool, t_s: float) -> bool:
        if not active:
            self._since.pop(reason, None)
            return False
        start = self._since.setdefault(reason, t_s)
        return t_s - start >= self._hold_s

    def update(self, sample: ImuSample) -> Decision:
        ax, ay, az = sample.acc_mps2
        gx, gy, gz = sample.gyro_rads
        acc = math.sqrt(ax * ax + ay * ay + az * az)
        rate = math.sqrt(gx * gx + gy * gy + gz * gz)
        t = sample.t_s
        if self._held("free_fall", acc < self._low_mps2, t):
            return Decision(Level.STOP, "free_fall",
                            f"specific force {acc / STANDARD_GRAVITY_MPS2:.2f} g (loss of support)")
        if self._held("impact", acc > self._high_mps2, t):
            return Decision(Level.STOP, "impact",
                            f"specific force {acc / STANDARD_GRAVITY_MPS2:.2f} g")
        if self._held("trunk_rate", rate > self._max_rate_rads, t):
            return Decision(Level.STOP, "trunk_rate",
                            f"trunk angular rate {rate * RAD_TO_DEG:.0f} °/s")
        return OK
