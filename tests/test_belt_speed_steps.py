"""The synthetic belt-speed change of ``scripts/belt_speed_steps.py``: a horizontal push of the
size asked for, a pitch that comes back, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from controller.evaluate.trial import Trial
from tests.test_detect_regimes import load_script


def _still(n: int = 2400) -> Trial:
    t = np.arange(n) / 200.0
    acc = np.tile([0.1, 0.0, 0.995], (n, 1))  # a clip mounted a little oblique
    return Trial("S", "still.csv", "D06", "adl", t, acc, np.zeros((n, 3)))


def test_no_belt_change_leaves_the_recording_as_it_was() -> None:
    mod = load_script("belt_speed_steps")
    tr = _still()
    p = mod.perturbed(tr, 0.0, 1.0, 90.0)
    np.testing.assert_allclose(p.acc_g, tr.acc_g, atol=1e-12)
    np.testing.assert_allclose(p.gyro_dps, tr.gyro_dps, atol=1e-12)


@pytest.mark.parametrize("direction", [0.0, 90.0, 180.0, 270.0])
def test_the_push_is_horizontal_and_as_large_as_asked(direction: float,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_script("belt_speed_steps")
    monkeypatch.setattr(mod, "PITCH_DEG_PER_MPS2", 0.0)
    tr = _still()
    p = mod.perturbed(tr, 2.0, 1.0, direction)
    extra = p.acc_g - tr.acc_g
    g0 = tr.acc_g[0] / np.linalg.norm(tr.acc_g[0])
    assert np.abs(extra @ g0).max() < 1e-9  # nothing along gravity
    peak = np.linalg.norm(extra, axis=1).max()
    lag = 1 - np.exp(-1.0 / mod.LAG_S)
    assert peak == pytest.approx(2.0 / 9.80665 * lag, rel=0.02)
    np.testing.assert_allclose(p.gyro_dps, 0.0, atol=1e-12)


def test_the_trunk_pitches_and_comes_back() -> None:
    mod = load_script("belt_speed_steps")
    tr = _still()
    p = mod.perturbed(tr, 2.0, 1.0, 0.0, pitch_sign=-1.0)
    angle = np.cumsum(p.gyro_dps, axis=0) / 200.0  # small angles: integrate the rate
    peak = np.linalg.norm(angle, axis=1).max()
    assert peak == pytest.approx(mod.PITCH_DEG_PER_MPS2 * 2.0 * (1 - np.exp(-1.0 / mod.LAG_S)),
                                 rel=0.05)
    assert np.linalg.norm(angle[-1]) < 0.05 * peak  # upright again at the end
