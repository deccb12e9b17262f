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
from controller.detect.fall import FallDetector, FallThresholds
from controller.detect.gait import InstabilityDetector, SlipTripDetector, StepCounter
from controller.detect.orientation import Orientation
from controller.detect.presence import NoRunnerDetector
from controller.detect.rails import RailDetector

__all__ = [
    "DETECTORS",
    "OK",
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


def _orientation(s: DetectSettings) -> Orientation:
    return Orientation(arm_s=s.arm_s, tau_s=s.orientation_tau_s, leak_s=s.velocity_leak_s)


def build_default(settings: DetectSettings | None = None) -> TreadguardDetector:
    """The default IMU detector set (``"treadguard"``) the loop runs, from ``[detect]``."""
    s = settings or DetectSettings()
    steps = StepCounter(threshold_mps2=s.step_threshold_mps2,
                        min_interval_s=s.step_min_interval_s)
    fall = FallDetector(FallThresholds(
        model_logit=s.model_logit, model_hold_s=s.model_hold_s,
        velocity_mps=s.fall_velocity_mps, tilt_deg=s.fall_tilt_deg, rate_dps=s.fall_rate_dps,
        hold_s=s.fall_hold_s, free_fall_g=s.free_fall_g, free_fall_hold_s=s.free_fall_hold_s,
        impact_g=s.impact_g, impact_tilt_deg=s.impact_tilt_deg))
    return TreadguardDetector(
        _orientation(s),
        fall,
        steps,
        SlipTripDetector(steps, rate_dps=s.slip_rate_dps, tilt_deg=s.slip_tilt_deg,
                         hold_s=s.slip_hold_s),
        InstabilityDetector(steps, sway_ratio=s.sway_ratio, sway_min_dps=s.sway_min_dps,
                            stumble_rate_dps=s.stumble_rate_dps,
                            stumble_ratio=s.stumble_ratio, step_cv=s.step_interval_cv),
    )


def build_kfall_threshold(settings: DetectSettings | None = None) -> KFallThresholdDetector:
    """The KFall paper's threshold baseline (for comparison only; never the loop's detector)."""
    s = settings or DetectSettings()
    return KFallThresholdDetector(orientation=_orientation(s))


def build_rails(settings: DetectSettings | None = None, *, hands_on: bool = False) -> RailDetector:
    """The handrail detector; ``hands_on`` for a mode that needs both hands on the rails."""
    s = settings or DetectSettings()
    return RailDetector(hands_on=hands_on, light_touch_n=s.rail_light_touch_n,
                        overload_n=s.rail_overload_n, grab_rise_n=s.rail_grab_rise_n,
                        hands_off_s=s.rail_hands_off_s)


def build_no_runner(settings: DetectSettings | None = None) -> NoRunnerDetector:
    """The no-runner detector (no steps, no rail contact while the belt runs)."""
    s = settings or DetectSettings()
    return NoRunnerDetector(absent_s=s.no_runner_s, countdown_s=s.no_runner_countdown_s)


DETECTORS: dict[str, Callable[[DetectSettings], Detector]] = {
    "treadguard": build_default,
    "kfall-threshold": build_kfall_threshold,
}
"""IMU detectors by name, for ``treadguard evaluate --detector NAME``."""


def build(name: str, settings: DetectSettings | None = None) -> Detector:
    """An IMU detector by name (``KeyError`` for an unknown name)."""
    return DETECTORS[name](settings or DetectSettings())
