"""A small learned fall score: a one-hidden-layer network over streaming trunk features.

The features are physically motivated and cheap (exponential filters, no buffers), computed
from the shared :class:`~controller.detect.orientation.Orientation`. The weights were fitted on
the KFall *tuning* subjects only (:data:`controller.evaluate.splits.KFALL_TUNE`) by the trainer
of commit 7acda7f (``scripts/reproduce_models.sh`` reproduces the file byte for byte; today's
``python -m controller.evaluate.train_fall_model`` writes a network that nested
cross-validation found worse, see docs/detection.md) and live in
:mod:`controller.detect.fall_model_weights` as plain numbers: the Pi evaluates them in pure
Python. The rule-based fall detector runs beside it for the cases a model cannot have
seen (the OR of both stops the belt).
"""

from __future__ import annotations

import math

from controller.detect.orientation import Orientation
from hardware.imu import STANDARD_GRAVITY_MPS2

FEATURES: tuple[str, ...] = (
    "down_mps", "tilt_45deg", "rate_100dps", "low_g", "a_up_g", "low_g_fast", "rate_fast",
    "tilt_change_45deg", "activity_g", "descent_m", "down_fast_mps",
    "down_x_tilt", "down_x_rate", "tilt_x_rate", "down_x_change", "change_x_rate",
)
"""Feature names, in the order of the weights."""


class FallFeatures:
    """Streaming feature vector for the fall score (bounded state: a few filter values)."""

    __slots__ = (
        "_acc_fast",
        "_act",
        "_descent",
        "_rate_fast",
        "_tilt_slow",
        "_v_fast",
        "values",
    )

    def __init__(self) -> None:
        self.values = [0.0] * len(FEATURES)
        self.reset()

    def reset(self) -> None:
        self._acc_fast = 1.0
        self._rate_fast = 0.0
        self._tilt_slow = 0.0
        self._act = 0.0
        self._descent = 0.0
        self._v_fast = 0.0
        for i in range(len(self.values)):
            self.values[i] = 0.0

    def update(self, o: Orientation) -> list[float]:
        """Features for the sample ``o`` was just updated with (the same list, refilled)."""
        dt = o.dt_s
        tilt = o.tilt_deg() / 45.0
        rate = o.tilt_rate_dps / 100.0
        down = -o.v_up_mps
        a_up = o.a_up_mps2 / STANDARD_GRAVITY_MPS2
        k_fast = dt / 0.1
        self._acc_fast += (o.acc_norm_g - self._acc_fast) * k_fast
        self._rate_fast += (rate - self._rate_fast) * k_fast
        self._v_fast += (down - self._v_fast) * (dt / 0.2)
        self._tilt_slow += (tilt - self._tilt_slow) * (dt / 0.5)
        self._act += (abs(a_up) - self._act) * (dt / 2.0)
        self._descent += (down - self._descent * 0.5) * dt
        change = tilt - self._tilt_slow
        v = self.values
        v[0] = down
        v[1] = tilt
        v[2] = rate
        v[3] = 1.0 - o.acc_norm_g
        v[4] = a_up
        v[5] = 1.0 - self._acc_fast
        v[6] = self._rate_fast
        v[7] = change
        v[8] = self._act
        v[9] = self._descent
        v[10] = self._v_fast
        v[11] = down * tilt
        v[12] = down * rate
        v[13] = tilt * rate
        v[14] = down * change
        v[15] = change * rate
        return v


def score(values: list[float], weights: tuple[float, ...], bias: float) -> float:
    """Logistic-regression logit: ``bias + Σ wᵢ·xᵢ`` (compare with a logit threshold)."""
    s = bias
    for x, w in zip(values, weights, strict=True):
        s += x * w
    return s


def sigmoid(logit: float) -> float:
    """The probability for a logit (for messages only; decisions compare logits)."""
    if logit < -40.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-logit))
