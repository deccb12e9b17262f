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
from controller.detect.gait_fall import OFF_LOGIT
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


@pytest.mark.parametrize(("gait", "still", "slip_tilt", "impact"), [
    (2.0, 30.0, 25.0, 3.0), (30.0, 2.0, 25.0, 3.0), (6.0, 9.0, 25.0, 3.0),
    # The score off: slip/trip or impact decides, at the tilt and level the replay was given.
    (30.0, 30.0, 25.0, 3.0), (30.0, 30.0, 45.0, 3.0), (30.0, 30.0, 90.0, 1.5),
    (30.0, 30.0, 90.0, 8.0)])
def test_replay_gives_the_streaming_detectors_alarms(gait: float, still: float,
                                                     slip_tilt: float, impact: float) -> None:
    mod = _script()
    trial = _trial(_walk_then_fall())
    recorded = mod.record_trial("kfall", trial)
    replayed = mod.replay(recorded, mod.Setting(gait, still, slip_tilt, impact))
    s = dataclasses.replace(DetectSettings(), model_logit=gait, model_logit_still=still,
                            slip_tilt_deg=slip_tilt, impact_g=impact, gait_logit=OFF_LOGIT)
    streamed = run_trial(build_default(s), trial)
    assert replayed.alarm_starts_s == pytest.approx(streamed.alarm_starts_s)
    assert recorded.stepping.any() and not recorded.stepping.all()


def test_the_table_of_replays_is_the_replay() -> None:
    """``Replays`` (every setting at once, from index arrays) gives what ``replay`` gives."""
    mod = _script()
    recorded = mod.record_trial("kfall", _trial(_walk_then_fall()))
    grid = [mod.Setting(*c) for c in ((2.0, 30.0, 25.0, 3.0), (30.0, 30.0, 25.0, 3.0),
                                      (30.0, 30.0, 90.0, 1.5), (30.0, 30.0, 90.0, 8.0))]
    table = mod.Replays([recorded], grid)
    got = [table.results[g][0].alarm_starts_s for g in grid]
    assert got == [mod.replay(recorded, g).alarm_starts_s for g in grid]
    assert len(set(got)) > 1  # the settings do decide differently here


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


def test_the_thresholds_replay_at_the_shipped_setting_is_what_the_gait_trainer_records() -> None:
    """The gait trainer's nested cross-validation takes the rest of the detector's stops for
    each fold's setting from this replay: at the shipped setting it must be the stops the
    streaming detector (the specialist left out) gives."""
    thresholds = _script()
    gait = load_script("train_gait_model")
    trial = _trial(_walk_then_fall())
    d = DetectSettings()
    shipped = thresholds.Setting(d.model_logit, d.model_logit_still, d.slip_tilt_deg, d.impact_g)
    replayed = thresholds.stop_samples(thresholds.record_trial("kfall", trial), shipped)
    recorded = gait.record_trial("kfall", trial).stop
    assert recorded.any()
    assert replayed.tolist() == recorded.tolist()


def test_the_rule_prefers_the_false_alarm_target_then_sensitivity(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The four-way rule: no stop in walking or jogging, specificity ≥ 99 %, then settings
    with at most the target's SisFall false alarms per hour if any, then fall sensitivity."""
    mod = _script()
    empty = np.zeros(0, dtype=bool)
    # (file, task, kind, duration): two hours of clean daily activity, a stumble, walking,
    # two falls (SisFall: no onset labels, any stop detects).
    trials = ([(f"D05_{i}", "D05", "adl", 36.0) for i in range(200)]
              + [("D18", "D18", "adl", 36.0), ("D01", "D01", "adl", 100.0),
                 ("F01", "F01", "fall", 15.0), ("F10", "F10", "fall", 15.0)])
    recs = [mod.Recorded("sisfall", "SA99", f, task, kind, None, None,
                         np.zeros(0, dtype=np.float32), empty, empty, empty)
            for f, task, kind, _ in trials]
    clean: list[tuple[float, ...]] = [()] * 200
    loud, quiet, walks = (mod.Setting(9.0, 9.5, 25.0, 3.0), mod.Setting(9.0, 10.0, 30.0, 3.5),
                          mod.Setting(8.0, 9.0, 25.0, 3.0))
    alarms = {
        loud: [*clean, (1.0, 5.0, 10.0), (), (5.0,), (5.0,)],  # 1.5 /h in the stumble, both falls
        quiet: [*clean, (1.0,), (), (5.0,), ()],  # 0.5 /h, one fall
        walks: [*clean, (), (50.0,), (5.0,), (5.0,)],  # no false alarm, but a stop in walking
    }
    table = mod.Replays.__new__(mod.Replays)  # the outcomes given, nothing streamed
    table.recs, table.grid = recs, list(alarms)
    table.results = {g: [mod.TrialResult("SA99", f, task, kind, duration, starts)
                         for (f, task, kind, duration), starts in zip(trials, per_trial,
                                                                       strict=True)]
                     for g, per_trial in alarms.items()}
    every = range(len(recs))
    assert mod.choose(table, every) == quiet
    # With a target no setting meets, the rule falls back to the highest sensitivity.
    monkeypatch.setattr(mod, "SISFALL_FALSE_ALARMS_PER_H", 0.1)
    assert mod.choose(table, every) == loud
