"""The fall-score network's trainer: the rows it fits on are the ones the detector scores, a
refitted network's logits are the detector's, and the file it writes is the shipped one's
format, bit for bit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from controller.detect import fall_model_weights as shipped
from controller.evaluate import train_fall_model as trainer
from controller.evaluate.trial import LOOP_RATE_HZ
from tests.test_detect_regimes import _script, _trial, _walk_then_fall


def _shipped() -> trainer.Weights:
    return (np.array(shipped.W1).T, np.array(shipped.B1), np.array(shipped.W2), shipped.B2)


def test_the_trainer_fits_on_the_samples_the_detector_scores() -> None:
    """The trainer's own streaming gives the samples and features the cross-validation's
    recording of the loop's detector keeps. (A trainer that streamed the bare tracker failed
    this: while stepping, the detector measures tilt from the gait posture.)"""
    trial = _trial(_walk_then_fall())
    idx, x = trainer.gated_features(trial)
    recorded = _script().record_trial("kfall", trial)
    assert np.array_equal(idx, np.flatnonzero(np.isfinite(recorded.logit)))
    assert np.array_equal(x, recorded.features)
    assert 0 < len(idx) < len(recorded.logit)  # the gate opens in the fall, not throughout


def test_a_refitted_networks_logits_are_the_detectors() -> None:
    """Logits recomputed from the recorded features agree with the streaming detector's (so
    thresholds chosen on a refitted network's replay are the detector's)."""
    recorded = _script().record_trial("kfall", _trial(_walk_then_fall()))
    again = _script().with_network(recorded, _shipped())
    f = np.isfinite(recorded.logit)
    assert np.array_equal(np.isfinite(again.logit), f)
    np.testing.assert_allclose(again.logit[f], recorded.logit[f], atol=1e-4)


def test_labels_use_kfall_onsets_and_leave_unlabelled_falls_out() -> None:
    t = np.arange(0, 4.0, 1 / LOOP_RATE_HZ)
    y = trainer.labels("kfall", "fall", 2.0, 2.6, t)
    assert set(y[(t >= 2.1) & (t <= 2.6)]) == {1.0}
    assert set(y[t < 1.7]) == {0.0}
    assert set(y[(t > 1.7) & (t < 2.09)]) == {-1.0} and set(y[t > 2.61]) == {-1.0}
    assert set(trainer.labels("sisfall", "fall", None, None, t)) == {-1.0}
    assert set(trainer.labels("sisfall", "adl", None, None, t)) == {0.0}


def test_the_fit_is_deterministic_and_the_file_is_rounded_as_scored() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    idx = np.arange(3000, dtype=np.int64)
    parts = [("kfall", "adl", None, None, idx[:2000], x[:2000]),
             ("kfall", "fall", 10.0, 12.0, idx[2000:] - 2000 + 1800, x[2000:])]
    a = trainer.fit_rows(parts)
    b = trainer.fit_rows(parts)
    assert trainer.weights_text(a) == trainer.weights_text(b)
    # What cross-validation scores is what the file holds: rounding again changes nothing.
    assert trainer.weights_text(trainer.rounded(a)) == trainer.weights_text(a)
    assert all(np.array_equal(p, q) for p, q in zip(a[:3], trainer.rounded(a)[:3], strict=True))


def test_the_shipped_file_is_what_the_trainer_writes_for_its_weights() -> None:
    """The shipped file has exactly the trainer's format (so retraining on the same data
    reproduces it byte for byte, not just to rounding)."""
    text = trainer.weights_text(trainer.rounded(_shipped()), ("kfall",))
    assert text == trainer.WEIGHTS.read_text(encoding="utf-8")


def test_the_reproduction_command_refuses_missing_data_in_one_line(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_models.sh"
    out = subprocess.run(["bash", str(script), str(tmp_path / "KFall"), str(tmp_path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    missing = tmp_path / "KFall" / "sensor_data"
    assert out.stderr.strip() == f"reproduce_models: no such folder: {missing}"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 2 and out.stderr.startswith("usage: ")
