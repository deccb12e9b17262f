"""Gait-fall specialist weights: a placeholder (every coefficient 0, bias -100: the score never
stops) until ``scripts/train_gait_model.py --write`` writes the fitted ones. The specialist is
off by default (``[detect] gait_logit`` = 100)."""

COEF: tuple[float, ...] = (0.0,) * 48
BIAS: float = -100.0
