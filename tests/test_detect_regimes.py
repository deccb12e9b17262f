"""Two regimes of the fall score, the slip/trip rhythm gate, and the threshold replay.

The thresholds are chosen by ``scripts/train_fall_thresholds.py``, which replays stops from a
recording of the score instead of re-streaming every trial for every candidate: the replay must
give exactly the alarms the streaming detector gives.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from controller.config import DetectSettings
from controller.detect import build_default
from controller.detect.base import Level
from controller.detect.fall import FallDetector
from controller.detect.orientation import Orientation
from controller.evaluate.harness import run_trial
from controller.evaluate.trial import Trial
from hardware.imu import STANDARD_GRAVITY_MPS2 as G
from hardware.imu import ImuSample
from tests.test_detect_orientation import walking

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (the scripts import each other by name: their folder
    goes on the path)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _script() -> ModuleType:
    return load_script("train_fall_thresholds")


def _fall_detector_logit(stepping: bool, settings: DetectSettings) -> Level:
    det = FallDetector(settings)
    o = Orientation(settings)
    o.armed = True
    o.dt_s = 0.005
    level = Level.OK
    for i in range(20):  # 0.1 s of a body dropping and tipping
        o.t_s = i * 0.005
        o.acc_norm_g = 0.6
        o.v_up_mps = -1.0
        o.tilt_rate_dps = 150.0
        o.cos_tilt = math.cos(math.radians(35.0))
        level = max(level, det.check(o, stepping).level)
    return level


def test_the_regime_selects_the_threshold() -> None:
    s = dataclasses.replace(DetectSettings(), model_logit=-5.0, model_logit_still=30.0)
    assert _fall_detector_logit(True, s) is Level.STOP
    assert _fall_detector_logit(False, s) is Level.OK
    s = dataclasses.replace(DetectSettings(), model_logit=30.0, model_logit_still=-5.0)
    assert _fall_detector_logit(True, s) is Level.OK
    assert _fall_detector_logit(False, s) is Level.STOP


def _trial(stream: list[ImuSample], kind: str = "fall") -> Trial:
    t = np.array([s.t_s for s in stream])
    acc = np.array([s.acc_mps2 for s in stream]) / G
    gyro = np.degrees(np.array([s.gyro_rads for s in stream]))
    return Trial("SYN", "syn.csv", "F09", kind, t, acc, gyro, None, None)


def _walk_then_fall() -> list[ImuSample]:
    """Standing, walking, then the trunk tips 90° forward while the waist drops."""
    out = list(walking(6.0, still_s=0.5, bias_dps=0.0))
    t0 = out[-1].t_s
    for k in range(1, 240):
        t = t0 + k / 200.0
        x = min(1.0, k / 140.0)
        theta = math.pi / 2 * x * x
        rate = math.pi / 2 * 2 * x / 0.7 if x < 1.0 else 0.0
        f = G * (0.4 if x < 1.0 else 1.0)
        # Sensor y down, z forward (as in walking()): pitch forward about x.
        out.append(ImuSample(t, len(out), (0.0, -f * math.cos(theta), f * math.sin(theta)),
                             (rate, 0.0, 0.0)))
    return out


@pytest.mark.parametrize(("gait", "still"), [(2.0, 30.0), (30.0, 2.0), (6.0, 9.0)])
def test_replay_gives_the_streaming_detectors_alarms(gait: float, still: float) -> None:
    mod = _script()
    trial = _trial(_walk_then_fall())
    recorded = mod.record_trial("kfall", trial)
    replayed = mod.replay(recorded, gait, still, DetectSettings().model_hold_s)
    s = dataclasses.replace(DetectSettings(), model_logit=gait, model_logit_still=still)
    streamed = run_trial(build_default(s), trial)
    assert replayed.alarm_starts_s == pytest.approx(streamed.alarm_starts_s)
    assert recorded.stepping.any() and not recorded.stepping.all()


def test_held_matches_the_held_timer() -> None:
    mod = _script()
    t = np.arange(10) / 200.0
    cond = np.array([0, 1, 1, 1, 1, 1, 0, 1, 1, 1], dtype=bool)
    # 0.02 s at 200 Hz: the fifth consecutive true sample.
    assert mod.held(cond, t, 0.02).tolist() == [False] * 5 + [True] + [False] * 4


def _sit_down_after_walking() -> list[ImuSample]:
    """Walking, standing still 0.8 s, then dropping fast into a chair (the trunk tips 40°
    forward at up to 200 °/s): what the first slip/trip gate ("a step in the last 2 s")
    stopped the belt for."""
    out = list(walking(6.0, still_s=0.5, bias_dps=0.0, lean_deg=0.0))
    t0 = out[-1].t_s
    n = len(out)
    for k in range(1, 160):  # 0.8 s standing
        out.append(ImuSample(t0 + k / 200.0, n + k, (0.0, -G, 0.0), (0.0, 0.0, 0.0)))
    t0 = out[-1].t_s
    n = len(out)
    for k in range(1, 200):  # 0.4 s tipping to 40° and back over 0.6 s, seated
        t = k / 200.0
        if t < 0.4:
            rate = math.radians(200.0) * math.sin(math.pi * t / 0.4)
            theta = math.radians(200.0) * 0.4 / math.pi * (1 - math.cos(math.pi * t / 0.4))
        else:
            theta = max(0.0, math.radians(51.0) * (1 - (t - 0.4) / 0.6))
            rate = -math.radians(51.0) / 0.6 if theta > 0 else 0.0
        out.append(ImuSample(t0 + t, n + k, (0.0, -G * math.cos(theta), G * math.sin(theta)),
                             (rate, 0.0, 0.0)))
    return out


def test_sitting_down_just_after_walking_is_not_a_slip() -> None:
    det = build_default()
    det.reset()
    reasons = {str(det.update(s).reason) for s in _sit_down_after_walking()}
    assert "slip_trip" not in reasons


def test_a_slip_in_mid_stride_still_stops() -> None:
    """The same tipping without the pause: in the rhythm of stepping, it is a slip."""
    det = build_default()
    det.reset()
    stream = list(walking(6.0, still_s=0.5, bias_dps=0.0, lean_deg=0.0))
    t0 = stream[-1].t_s
    n = len(stream)
    for k in range(1, 120):
        t = k / 200.0
        rate = math.radians(230.0) * math.sin(math.pi * min(t, 0.4) / 0.4)
        theta = math.radians(230.0) * 0.4 / math.pi * (1 - math.cos(math.pi * min(t, 0.4) / 0.4))
        stream.append(ImuSample(t0 + t, n + k, (0.0, -G * math.cos(theta), G * math.sin(theta)),
                                (rate, 0.0, 0.0)))
    reasons = [str(det.update(s).reason) for s in stream]
    assert "slip_trip" in reasons
