"""The gait-fall specialist: a learned score over about half a second of causal context, used
only while the runner is stepping (a STOP ``pre_impact`` earlier than the general fall score).

Signals (from the shared :class:`~controller.detect.orientation.Orientation` tracker, every
sample): tilt from the runner's gait posture (°), tipping rate (°/s), specific-force norm (g),
vertical acceleration with gravity removed (m/s²), vertical velocity (m/s) and the gyro norm
(°/s). Every signal is averaged over blocks of :data:`BLOCK` samples (20 ms at 200 Hz: the
model runs at 50 Hz, an anti-aliased decimation); the last :data:`RING` block means (0.5 s)
are kept in one ring per signal. At the end of each block, per signal: the current block mean,
the means over the last 5, 10 and 25 blocks (0.1, 0.2, 0.5 s), the maximum and minimum over
0.5 s, and the change over 0.2 s and 0.5 s — :data:`N_FEATURES` features, one logistic
regression (:mod:`controller.detect.gait_fall_weights`, written by
``scripts/train_gait_model.py``). Until the ring is full its empty slots hold the first block
mean.

Every feature depends only on gravity-referenced or rotation-free quantities, so any mounting
of the clip (upside down, turned 180° about the vertical) gives the same features.

Bounded state: six rings of 25 floats, six block sums, counters. The block sums and rings
run on every sample after arming; the score is computed once per block.
"""

from __future__ import annotations

from operator import add

from controller.config import DetectSettings
from controller.detect import gait_fall_weights as weights
from controller.detect.base import OK, Decision, Level
from controller.detect.orientation import Orientation
from controller.stop_reasons import StopReason

BLOCK = 4
"""Samples per block (200 Hz → the score at 50 Hz)."""
RING = 25
"""Blocks kept (0.5 s at 50 Hz)."""
OFF_LOGIT = 100.0
"""``[detect] gait_logit`` at this value (its maximum) leaves the specialist out of the
detector altogether (the trainers record the rest of the detector that way)."""
HOLD_BLOCKS = 2
"""Consecutive block ends above the threshold for a STOP (20 ms)."""
SIGNALS = ("tilt_deg", "tipping_dps", "acc_norm_g", "a_up_mps2", "v_up_mps", "gyro_dps")
FEATURES_PER_SIGNAL = ("now", "mean_0.1s", "mean_0.2s", "mean_0.5s", "max_0.5s", "min_0.5s",
                       "change_0.2s", "change_0.5s")
N_FEATURES = len(SIGNALS) * len(FEATURES_PER_SIGNAL)


def signals(o: Orientation) -> tuple[float, float, float, float, float, float]:
    """The tracker's signals the specialist reads, in :data:`SIGNALS` order."""
    return (o.tilt_deg(), o.tilt_rate_dps, o.acc_norm_g, o.a_up_mps2, o.v_up_mps, o.gyro_dps)


class GaitFallFeatures:
    """The multi-scale causal features, streaming (see the module docstring)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: list[float] = [0.0] * len(SIGNALS)
        self._k = 0
        # Each ring is stored twice over (slots i and i + RING hold the same block), so the
        # last RING blocks, oldest first, are one slice.
        self._rings: list[list[float]] = []
        self._head = 0
        self.values: list[float] = [0.0] * N_FEATURES

    def update(self, x: tuple[float, ...]) -> bool:
        """Add one sample's signals; True when a block ends and :attr:`values` is new."""
        self._sums = list(map(add, self._sums, x))
        self._k += 1
        if self._k < BLOCK:
            return False
        means = [s / BLOCK for s in self._sums]
        self._sums = [0.0] * len(SIGNALS)
        self._k = 0
        if not self._rings:
            self._rings = [[m] * (2 * RING) for m in means]
        head = self._head = (self._head + 1) % RING
        out = self.values
        j = 0
        for ring, m in zip(self._rings, means, strict=True):
            ring[head] = ring[head + RING] = m
            seq = ring[head + 1:head + 1 + RING]  # oldest … newest (= m)
            out[j] = m
            out[j + 1] = sum(seq[-5:]) / 5.0
            out[j + 2] = sum(seq[-10:]) / 10.0
            out[j + 3] = sum(seq) / RING
            out[j + 4] = max(seq)
            out[j + 5] = min(seq)
            out[j + 6] = m - seq[-11]
            out[j + 7] = m - seq[0]
            j += 8
        return True


class GaitFallScore:
    """The specialist's logit, updated once per block; ``-inf`` until the first block."""

    def __init__(self) -> None:
        self.features = GaitFallFeatures()
        self._coef = weights.COEF
        self.reset()

    def reset(self) -> None:
        self.features.reset()
        self.logit = float("-inf")

    def update(self, o: Orientation) -> bool:
        """Consume the sample ``o`` was just updated with; True when the logit is new."""
        if not self.features.update(signals(o)):
            return False
        logit = weights.BIAS
        for c, v in zip(self._coef, self.features.values, strict=True):
            logit += c * v
        self.logit = logit
        return True


class GaitFallDetector:
    """STOP ``pre_impact`` from the specialist: while the runner is stepping (and the tracker
    has settled), the logit above ``gait_logit`` at :data:`HOLD_BLOCKS` consecutive block ends
    (20 ms apart). Decided only at block ends; between them the answer is OK (the supervisor
    latches the first STOP)."""

    name = "gait_fall"

    def __init__(self, settings: DetectSettings) -> None:
        self.threshold = settings.gait_logit
        self.score = GaitFallScore()
        self.reset()

    def reset(self) -> None:
        self.score.reset()
        self._held = 0

    def check(self, o: Orientation, stepping: bool) -> Decision:
        """Decision for the sample ``o`` was just updated with; ``stepping`` is the regime."""
        if not self.score.update(o):
            return OK
        logit = self.score.logit
        if stepping and o.t_s >= o.settled_s and logit > self.threshold:
            self._held += 1
        else:
            self._held = 0
        if self._held >= HOLD_BLOCKS:
            return Decision(Level.STOP, StopReason.PRE_IMPACT,
                            f"gait-fall score {logit:.1f} > {self.threshold:.1f} while stepping:"
                            f" tilt {o.tilt_deg():.0f}°, tipping {o.tilt_rate_dps:.0f}°/s")
        return OK
