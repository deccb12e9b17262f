"""The orientation tracker: arming only when still, and the runner's own gait posture.

Regression from the field data: a recording whose first 0.1 s is walking armed "up" on a step,
the accelerometer correction never opened again and tilt drifted until the detectors fired.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from controller.config import DetectSettings
from controller.detect import build_default
from controller.detect.base import Level
from controller.detect.orientation import Orientation
from hardware.imu import STANDARD_GRAVITY_MPS2 as G
from hardware.imu import ImuSample

RATE_HZ = 200.0


def walking(duration_s: float, *, still_s: float = 0.0, lean_deg: float = 5.0,
            bias_dps: float = 1.0, cadence_hz: float = 1.8) -> Iterator[ImuSample]:
    """A waist clip (sensor y down, like KFall) on someone walking from the first sample.

    Fore-aft and vertical acceleration ±4 m/s² (peaking together at heel strike, as in the
    first samples), trunk pitch oscillating ±4° around ``lean_deg`` at the stride rate, and a
    constant gyro bias: what a belt clip sees.
    """
    bias = math.radians(bias_dps)
    w = 2 * math.pi * cadence_hz
    n = int(duration_s * RATE_HZ)
    for i in range(n):
        t = i / RATE_HZ
        moving = t >= still_s
        ph = w * (t - still_s)
        a_fwd = 4.0 * math.cos(ph) if moving else 0.0
        a_up = 4.0 * math.cos(ph) if moving else 0.0  # the first samples: a heel strike
        amp = math.radians(4.0) if moving else 0.0
        theta = math.radians(lean_deg) * (1.0 if moving else 0.0) + amp * math.sin(ph / 2)
        rate = amp * math.cos(ph / 2) * w / 2
        f_up = G + a_up
        # Body pitched by theta about x: world y = (0, cos, −sin), world z = (0, sin, cos).
        by = a_fwd * math.cos(theta) + f_up * math.sin(theta)
        bz = -a_fwd * math.sin(theta) + f_up * math.cos(theta)
        # Sensor frame: x = body x, y = −body z (y points down), z = body y.
        yield ImuSample(t, i, (0.0, -bz, by), (rate + bias, bias, 0.0))


def test_walking_from_the_first_sample_does_not_drift_tilt_or_stop() -> None:
    det = build_default()
    det.reset()
    worst = 0.0
    levels = []
    for s in walking(90.0):
        levels.append(det.update(s).level)
        if det.orientation.armed and s.t_s > 5.0:
            worst = max(worst, det.orientation.tilt_deg())
    assert Level.STOP not in levels
    assert worst < 15.0, f"tilt drifted to {worst:.0f}° in walking"
    assert not det.orientation.armed_still


def test_arms_on_a_still_window_and_not_on_a_step() -> None:
    o = Orientation(DetectSettings())
    armed_at = None
    for s in walking(3.0, still_s=1.0):
        if o.update(s) and armed_at is None:
            armed_at = s.t_s
    assert armed_at is not None and armed_at < 0.2
    assert o.armed_still


def test_a_body_that_never_keeps_still_is_armed_after_the_fallback() -> None:
    s = DetectSettings()
    o = Orientation(s)
    armed_at = None
    for x in walking(5.0):
        if o.update(x) and armed_at is None:
            armed_at = x.t_s
            # Up is the mean over the strides: the 5° lean, not a step's acceleration.
            assert o.tilt_deg() < 1.0
            up_y = o.uy
    assert armed_at is not None and abs(armed_at - s.arm_fallback_s) < 0.01
    assert up_y < -0.98  # sensor y points down


def test_tilt_is_measured_from_the_runners_own_gait_posture() -> None:
    """Standing upright at arming, then walking leaning 20° forward: the lean is posture."""
    det = build_default()
    det.reset()
    late = []
    for s in walking(40.0, still_s=0.5, lean_deg=20.0, bias_dps=0.0):
        det.update(s)
        if s.t_s > 30.0:
            late.append(det.orientation.tilt_deg())
    assert max(late) < 8.0
