"""The default detector set the loop runs: ``treadguard``.

One :class:`~controller.detect.orientation.Orientation` tracker is updated per sample and its
features are shared by the fall, slip/trip, step and instability detectors. The answer is the
most severe of theirs (STOP before CAUTION; among STOPs the first in the order fall, slip_trip).
"""

from __future__ import annotations

from controller.detect.base import OK, Decision, Level
from controller.detect.fall import FallDetector
from controller.detect.gait import InstabilityDetector, SlipTripDetector, StepCounter
from controller.detect.orientation import Orientation
from hardware.imu import ImuSample


class TreadguardDetector:
    """Fall + slip/trip (STOP), instability (CAUTION) and step counting, on one IMU stream.

    Attributes:
        orientation: the shared gravity tracker (tilt, vertical velocity, …).
        steps: the step counter other code queries (``steps.steps``, ``steps.cadence_spm()``).
        fall, slip_trip, instability: the sub-detectors.
    """

    name = "treadguard"

    def __init__(self, orientation: Orientation, fall: FallDetector, steps: StepCounter,
                 slip_trip: SlipTripDetector, instability: InstabilityDetector) -> None:
        self.orientation = orientation
        self.fall = fall
        self.steps = steps
        self.slip_trip = slip_trip
        self.instability = instability
        self.stepping = False
        """The regime of the last sample: the runner stepping (a step in the last 2 s)."""

    def reset(self) -> None:
        self.stepping = False
        self.orientation.reset()
        self.fall.reset()
        self.steps.reset()
        self.slip_trip.reset()
        self.instability.reset()

    def update(self, sample: ImuSample) -> Decision:
        o = self.orientation
        if not o.update(sample):
            return OK
        self.steps.check(o)
        stepping = self.stepping = self.steps.stepping(o.t_s)
        if stepping:
            o.follow_gait_posture()
        d = self.fall.check(o, stepping)
        s = self.slip_trip.check(o)
        c = self.instability.check(o)
        if o.t_s < o.settled_s:  # armed in motion: the features are still settling
            return OK
        if d.level is Level.STOP:
            return d
        if s.level is Level.STOP:
            return s
        return c
