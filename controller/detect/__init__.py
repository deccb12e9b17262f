"""Streaming detectors: one implementation, called by the loop, ``evaluate`` and ``sim`` alike.

Public API::

    det = build_default(settings.detect)      # Detector named "treadguard" (IMU)
    decision = det.update(imu_sample)          # every IMU sample, 200 Hz
    det.steps.steps, det.steps.cadence_spm()   # step counter for the interval program
    rails = build_rails(settings.detect, hands_on=False)
    decision = rails.update(rail_sample)       # every rail reading; rails.rail_contact
    presence = build_no_runner(settings.detect)
    decision = presence.update(t_s, belt_running, det.steps.steps, rails.rail_contact)
"""

from __future__ import annotations

from collections.abc import Callable

from controller.config import DetectSettings
from controller.detect.base import OK, Decision, Detector, Level
from controller.detect.baseline import KFallThresholdDetector
from controller.detect.combined import TreadguardDetector
from controller.detect.fall import FallDetector
from controller.detect.gait import InstabilityDetector, SlipTripDetector, StepCounter
from controller.detect.gait_fall import OFF_LOGIT, GaitFallDetector
from controller.detect.orientation import Orientation
from controller.detect.presence import NoRunnerDetector
from controller.detect.rail_grip import RailDetector

__all__ = [
    "DETECTORS",
    "OK",
    "SCORES",
    "Decision",
    "Detector",
    "FallDetector",
    "KFallThresholdDetector",
    "Level",
    "NoRunnerDetector",
    "Orientation",
    "RailDetector",
    "StepCounter",
    "TreadguardDetector",
    "build",
    "build_default",
    "build_kfall_threshold",
    "build_no_runner",
    "build_rails",
]


def build_default(settings: DetectSettings | None = None) -> TreadguardDetector:
    """The default IMU detector set (``"treadguard"``) the loop runs, from ``[detect]``."""
    s = settings or DetectSettings()
    steps = StepCounter(s)
    return TreadguardDetector(Orientation(s), FallDetector(s), steps, SlipTripDetector(steps, s),
                              InstabilityDetector(steps, s),
                              GaitFallDetector(s) if s.gait_logit < OFF_LOGIT else None)


def build_kfall_threshold(settings: DetectSettings | None = None) -> KFallThresholdDetector:
    """The KFall paper's threshold baseline (for comparison only; never the loop's detector)."""
    s = settings or DetectSettings()
    return KFallThresholdDetector(Orientation(s))


def build_rails(settings: DetectSettings | None = None, *, hands_on: bool = False) -> RailDetector:
    """The handrail detector; ``hands_on`` for a mode that needs both hands on the rails."""
    s = settings or DetectSettings()
    return RailDetector(s, hands_on=hands_on)


def build_no_runner(settings: DetectSettings | None = None) -> NoRunnerDetector:
    """The no-runner detector (no steps, no rail contact while the belt runs)."""
    s = settings or DetectSettings()
    return NoRunnerDetector(s)


DETECTORS: dict[str, Callable[[DetectSettings], Detector]] = {
    "treadguard": build_default,
    "kfall-threshold": build_kfall_threshold,
}
"""IMU detectors by name, for ``treadguard evaluate --detector NAME``."""

SCORES: dict[str, str] = {"treadguard": "gait_logit"}
"""The ``[detect]`` option that is the stop threshold on a detector's score, by detector name
(``treadguard evaluate --plots`` sweeps it); detectors of fixed rules have none. For
``treadguard`` it is the gait-fall specialist's: its earliest stop in falls from gait."""


def build(name: str, settings: DetectSettings | None = None) -> Detector:
    """An IMU detector by name (``KeyError`` for an unknown name)."""
    return DETECTORS[name](settings or DetectSettings())
