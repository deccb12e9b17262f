"""The default detector set the loop runs: ``treadguard``.

One :class:`~controller.detect.orientation.Orientation` tracker is updated per sample and its
features are shared by the fall, gait-fall specialist, slip/trip, step and instability
detectors. The answer is the most severe of theirs (STOP before CAUTION; among STOPs the first
in the order fall, gait_fall, slip_trip).
"""

from __future__ import annotations

from controller.detect.base import OK, Decision, Level
from controller.detect.fall import FallDetector
from controller.detect.gait import InstabilityDetector, SlipTripDetector, StepCounter
from controller.detect.gait_fall import GaitFallDetector
from controller.detect.orientation import Orientation
from hardware.imu import ImuSample


class TreadguardDetector:
    """Fall + slip/trip (STOP), instability (CAUTION) and step counting, on one IMU stream.

    Attributes:
        orientation: the shared gravity tracker (tilt, vertical velocity, …).
        steps: the step counter other code queries (``steps.steps``, ``steps.cadence_spm()``).
        fall, gait_fall, slip_trip, instability: the sub-detectors (``gait_fall`` is None
            when ``[detect] gait_logit`` = 100 leaves the specialist out).
    """

    name = "treadguard"

    def __init__(self, orientation: Orientation, fall: FallDetector, steps: StepCounter,
                 slip_trip: SlipTripDetector, instability: InstabilityDetector,
                 gait_fall: GaitFallDetector | None = None) -> None:
        self.orientation = orientation
        self.fall = fall
        self.gait_fall = gait_fall
        self.steps = steps
        self.slip_trip = slip_trip
        self.instability = instability
        self.stepping = False
        """The regime of the last sample: the runner stepping (a step in the last 2 s)."""
        self.last: Decision = OK
        """The decision on the last sample (the black box records its level's changes)."""

    def reset(self) -> None:
        self.stepping = False
        self.last = OK
        self.orientation.reset()
        self.fall.reset()
        if self.gait_fall is not None:
            self.gait_fall.reset()
        self.steps.reset()
        self.slip_trip.reset()
        self.instability.reset()

    def update(self, sample: ImuSample) -> Decision:
        self.last = decision = self._decide(sample)
        return decision

    def _decide(self, sample: ImuSample) -> Decision:
        o = self.orientation
        if not o.update(sample):
            return OK
        self.steps.check(o)
        stepping = self.stepping = self.steps.stepping(o.t_s)
        if stepping:
            o.follow_gait_posture()
        d = self.fall.check(o, stepping)
        g = OK if self.gait_fall is None else self.gait_fall.check(o, stepping)
        s = self.slip_trip.check(o)
        c = self.instability.check(o)
        if o.t_s < o.settled_s:  # armed in motion: the features are still settling
            return OK
        if d.level is Level.STOP:
            return d
        if g.level is Level.STOP:
            return g
        if s.level is Level.STOP:
            return s
        return c
