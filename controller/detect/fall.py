"""Fall / pre-impact detection (STOP), on the shared :class:`Orientation` features.

Every threshold is a ``[detect]`` option (:class:`controller.config.DetectSettings`).

The earliest stop comes from a small learned score (:mod:`controller.detect.fall_model`): a
one-hidden-layer network over trunk features (downward velocity, tilt, tipping rate, loss of
support, their recent changes and products), fitted on KFall tuning subjects. Its logit above
a threshold for ``model_hold_s`` is a STOP ``pre_impact``. Two regimes: while the runner is
stepping (a step counted in the last 2 s) the threshold is ``model_logit``, chosen for lead in
falls from gait; otherwise it is ``model_logit_still``, chosen conservatively (sitting and
lying down fast are the daily activities that look most like falls). It is evaluated only while
something is happening (the waist dropping faster than 0.2 m/s, tipping faster than 30 °/s, or
specific force below 0.8 g); standing, walking upright and sitting still cost almost nothing.

Beside it runs a rule the model cannot overrule, for cases a model trained on young adults
falling onto mats may not have seen: the waist dropping faster than ``fall_velocity_mps`` with the
trunk beyond ``fall_tilt_deg`` (and tipping faster than ``fall_rate_dps``) for ``fall_hold_s``
is a STOP
``fall`` — walking, jogging, sitting and bending never combine the two. Two backstops catch
what both miss, later but still in time to stop the belt under a runner who is down:

* ``free_fall``: specific force below ``free_fall_g`` for ``free_fall_hold_s`` (loss of support
  for longer than a jogging flight phase or a hop);
* ``impact``: specific force above ``impact_g`` while the trunk is tilted beyond
  ``impact_tilt_deg`` (a hit on the ground, not a heel strike of an upright runner).
"""

from __future__ import annotations

import math
from operator import mul

from controller.config import DetectSettings
from controller.detect import fall_model_weights as weights
from controller.detect.base import OK, Decision, Level
from controller.detect.fall_model import FallFeatures
from controller.detect.orientation import Orientation
from controller.stop_reasons import StopReason
from hardware.held import HeldTimer

GATE_DOWN_MPS = 0.2
GATE_RATE_DPS = 30.0
GATE_ACC_G = 0.8


class FallDetector:
    """Pre-impact (model), fall (rule), free fall and impact, all STOP.

    Bounded state: the feature filters and three timers. ``last_logit`` is the most recent
    model logit (-inf while the gate is closed), for logs and tests.
    """

    name = "fall"

    def __init__(self, settings: DetectSettings) -> None:
        self.th = settings  # the thresholds: every one a [detect] option
        self.features = FallFeatures()
        self._hidden = tuple(zip(weights.W1, weights.B1, weights.W2, strict=True))
        self._cos_tilt = math.cos(math.radians(self.th.fall_tilt_deg))
        self._cos_impact_tilt = math.cos(math.radians(self.th.impact_tilt_deg))
        self.reset()

    def reset(self) -> None:
        self.features.reset()
        self.last_logit = float("-inf")
        self._model_held = HeldTimer()
        self._fall_held = HeldTimer()
        self._free_fall_held = HeldTimer()

    def check(self, o: Orientation, stepping: bool = False) -> Decision:
        """Decision for the sample ``o`` was just updated with (``o.armed`` must be True).

        ``stepping`` selects the regime: while the runner steps, the score stops above
        ``model_logit`` (tuned for lead in falls from gait); otherwise above
        ``model_logit_still`` (conservative: sitting, lying down and getting up look like
        falls to a waist sensor)."""
        th = self.th
        t = o.t_s
        values = self.features.update(o)
        if -o.v_up_mps > GATE_DOWN_MPS or o.tilt_rate_dps > GATE_RATE_DPS \
                or o.acc_norm_g < GATE_ACC_G:
            logit = weights.B2
            tanh = math.tanh
            for w_row, b, w_out in self._hidden:
                logit += w_out * tanh(b + sum(map(mul, values, w_row)))
            self.last_logit = logit
        else:
            self.last_logit = logit = float("-inf")
        # Every timer is updated on every sample (no early return), so a hold always means
        # consecutive samples, also after an earlier STOP.
        threshold = th.model_logit if stepping else th.model_logit_still
        model_held = self._model_held.update(logit > threshold, t)
        fall_held = self._fall_held.update(
            o.v_up_mps < -th.fall_velocity_mps and o.cos_tilt < self._cos_tilt
            and o.tilt_rate_dps > th.fall_rate_dps, t)
        ff_held = self._free_fall_held.update(o.acc_norm_g < th.free_fall_g, t)
        if model_held is not None and model_held >= th.model_hold_s - 1e-9:
            return Decision(Level.STOP, StopReason.PRE_IMPACT,
                            f"fall score {logit:.1f} > {threshold:.1f}: falling "
                            f"{-o.v_up_mps:.2f} m/s, tilt {o.tilt_deg():.0f}°, "
                            f"tipping {o.tilt_rate_dps:.0f}°/s")
        if fall_held is not None and fall_held >= th.fall_hold_s - 1e-9:
            return Decision(Level.STOP, StopReason.FALL,
                            f"falling {-o.v_up_mps:.2f} m/s, tilt {o.tilt_deg():.0f}°, "
                            f"tipping {o.tilt_rate_dps:.0f}°/s")
        if ff_held is not None and ff_held >= th.free_fall_hold_s - 1e-9:
            return Decision(Level.STOP, StopReason.FREE_FALL,
                            f"specific force {o.acc_norm_g:.2f} g for {ff_held:.2f} s")
        if o.acc_norm_g > th.impact_g and o.cos_tilt < self._cos_impact_tilt:
            return Decision(Level.STOP, StopReason.IMPACT,
                            f"impact {o.acc_norm_g:.1f} g at tilt {o.tilt_deg():.0f}°")
        return OK

