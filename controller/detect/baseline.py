"""Baseline: the KFall paper's threshold method, in the same harness as ``treadguard``.

Yu, Jang & Xiong (2021): alarm when the acceleration magnitude is below 0.8 g **and** the
vertical velocity is beyond 0.3 m/s downward **and** pitch or roll is beyond 25°, all at the
same sample. Here the vertical velocity and tilt come from the same
:class:`~controller.detect.orientation.Orientation` tracker as ``treadguard`` (the paper used
the sensor's own Euler angles); pitch and roll are the two components of tilt from the upright
pose at arming. Used only for comparison (``--detector kfall-threshold``).
"""

from __future__ import annotations

from controller.detect.base import OK, Decision, Level
from controller.detect.orientation import Orientation
from controller.stop_reasons import StopReason
from hardware.imu import ImuSample

# The paper's thresholds, fixed: a baseline that could be tuned would no longer be the paper's
# method (so they are not [detect] options).
KFALL_ACC_G = 0.8
KFALL_VELOCITY_MPS = 0.3
KFALL_ANGLE_DEG = 25.0


class KFallThresholdDetector:
    """The KFall threshold baseline (STOP ``kfall_threshold``); ``orientation`` is the same
    tracker ``treadguard`` uses."""

    name = "kfall-threshold"

    def __init__(self, orientation: Orientation) -> None:
        self.acc_g = KFALL_ACC_G
        self.velocity_mps = KFALL_VELOCITY_MPS
        self.angle_deg = KFALL_ANGLE_DEG
        self.orientation = orientation

    def reset(self) -> None:
        self.orientation.reset()

    def update(self, sample: ImuSample) -> Decision:
        o = self.orientation
        if not o.update(sample):
            return OK
        if o.acc_norm_g < self.acc_g and o.v_up_mps < -self.velocity_mps:
            pitch, roll = o.pitch_roll_deg()
            if abs(pitch) > self.angle_deg or abs(roll) > self.angle_deg:
                return Decision(Level.STOP, StopReason.KFALL_THRESHOLD,
                                f"{o.acc_norm_g:.2f} g, falling {-o.v_up_mps:.2f} m/s, "
                                f"pitch {pitch:.0f}°, roll {roll:.0f}°")
        return OK
