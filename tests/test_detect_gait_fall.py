"""The gait-fall specialist: streaming features equal the vectorised ones the training script
uses, any clip mounting gives the same features, the replay equals the streaming detector, the
gate (only while stepping), and the shipped weights (plain numbers, digest documented)."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import math
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from controller.config import DetectSettings
from controller.detect import build_default
from controller.detect import gait_fall_weights as w
from controller.detect.base import Level
from controller.detect.gait_fall import N_FEATURES, OFF_LOGIT, GaitFallFeatures, signals
from controller.evaluate.harness import run_trial
from hardware.imu import ImuSample
from tests.test_detect_orientation import walking
from tests.test_detect_regimes import _trial, _walk_then_fall, load_script

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "controller" / "detect" / "gait_fall_weights.py"


def _script() -> ModuleType:
    return load_script("train_gait_model")


ON = dataclasses.replace(DetectSettings(), gait_logit=50.0)
"""The specialist in the detector (the default leaves it out)."""


def _stream(stream: Iterable[ImuSample]) -> tuple[np.ndarray, np.ndarray]:
    """The tracker's signals from the first armed sample, and the streaming features at each
    block end, as the loop's detector computes them."""
    det = build_default()
    det.reset()
    xs: list[tuple[float, ...]] = []
    rows: list[list[float]] = []
    feats = GaitFallFeatures()
    for s in stream:
        det.update(s)
        if det.orientation.armed:
            x = signals(det.orientation)
            xs.append(x)
            if feats.update(x):
                rows.append(list(feats.values))
    return np.array(xs), np.array(rows)


def test_vectorised_features_equal_the_streaming_ones_on_a_recording() -> None:
    x, streamed = _stream(_walk_then_fall())
    vectorised = _script().features(x)
    assert streamed.shape == vectorised.shape == (len(x) // 4, N_FEATURES)
    np.testing.assert_allclose(vectorised, streamed, rtol=1e-12, atol=1e-9)


def test_the_detector_computes_the_same_features() -> None:
    """The features inside the loop's detector are the ones the test above compares."""
    det = build_default(ON)
    det.reset()
    feats = GaitFallFeatures()
    for s in _walk_then_fall():
        det.update(s)
        if det.orientation.armed:
            feats.update(signals(det.orientation))
    assert det.gait_fall is not None
    assert det.gait_fall.score.features.values == feats.values


def test_on_by_default_and_left_out_at_its_maximum() -> None:
    assert build_default().gait_fall is not None
    assert build_default(dataclasses.replace(DetectSettings(), gait_logit=OFF_LOGIT)
                         ).gait_fall is None


def _rotate(stream: Iterable[ImuSample], r: np.ndarray) -> list[ImuSample]:
    return [ImuSample(s.t_s, s.seq, tuple((r @ np.array(s.acc_mps2)).tolist()),
                      tuple((r @ np.array(s.gyro_rads)).tolist())) for s in stream]


@pytest.mark.parametrize("turn", ["180 about vertical", "upside down", "oblique"])
def test_any_clip_mounting_gives_the_same_features(turn: str) -> None:
    """A 180° turn about the vertical maps a forward fall to a backward one: the features
    (and so the score) do not change, nor for any other fixed mounting."""
    if turn == "180 about vertical":  # walking(): sensor y is vertical
        r = np.diag([-1.0, 1.0, -1.0])
    elif turn == "upside down":
        r = np.diag([1.0, -1.0, -1.0])
    else:
        a, b = math.radians(40.0), math.radians(-70.0)
        rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
        rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
        r = rz @ rx
    _, plain = _stream(_walk_then_fall())
    _, turned = _stream(_rotate(_walk_then_fall(), r))
    np.testing.assert_allclose(turned, plain, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("threshold", [-5.0, 0.0, 4.0, 99.0])
def test_replay_gives_the_streaming_detectors_alarms(threshold: float) -> None:
    mod = _script()
    trial = _trial(_walk_then_fall())
    rec = mod.record_trial("kfall", trial)
    model = (np.array(w.COEF), w.BIAS)
    replayed = mod.replay(rec, mod.score(model, rec), threshold)
    s = dataclasses.replace(DetectSettings(), gait_logit=threshold)
    streamed = run_trial(build_default(s), trial)
    assert replayed.alarm_starts_s == pytest.approx(streamed.alarm_starts_s)
    assert rec.stepping.any() and not rec.stepping.all()


def test_the_specialist_stops_only_while_stepping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A score that is always above the threshold stops in walking, never standing still."""
    monkeypatch.setattr(w, "BIAS", 0.0)
    s = dataclasses.replace(DetectSettings(), gait_logit=-5.0)
    det = build_default(s)
    assert det.gait_fall is not None
    det.gait_fall.score._coef = (0.0,) * N_FEATURES
    det.reset()
    reasons = [(det.stepping, d) for d in map(det.update, walking(6.0, still_s=1.0))]
    gait_stops = [(st, d) for st, d in reasons if d.level is Level.STOP
                  and d.detail.startswith("gait-fall")]
    assert gait_stops and all(st for st, _ in gait_stops)
    assert all(d.level is Level.OK for st, d in reasons[:200])


def test_weights_are_plain_numbers_with_no_imports() -> None:
    tree = ast.parse(WEIGHTS.read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(w.COEF) == N_FEATURES
    assert all(isinstance(x, float) for x in w.COEF)
    assert isinstance(w.BIAS, float)


def test_the_weights_digest_is_documented() -> None:
    digest = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert digest in (ROOT / "docs" / "detection.md").read_text(encoding="utf-8"), (
        f"docs/detection.md must give the sha256 of {WEIGHTS.name}: {digest}")
