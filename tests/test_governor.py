from __future__ import annotations

import pytest

from controller.config import LimitsSettings
from controller.governor import CAUTION_HOLD_S, SPEED_UP_LEAD_S, START_SETTLE_S, Governor

LIMITS = LimitsSettings(start_speed_kmh=0.5, max_speed_kmh=3.0, ramp_mps2=0.25,
                        stop_decel_mps2=1.0)


def speeds(gov: Governor, start_s: float, end_s: float, dt_s: float = 0.005) -> list[float]:
    out = []
    t = start_s
    while t < end_s - 1e-9:
        t += dt_s
        out.append(gov.speed_at(t))
    return out


def test_starts_at_start_speed_and_ramps_no_faster_than_the_limit() -> None:
    gov = Governor(LIMITS, target_kmh=2.0)
    assert gov.begin(0.0) == 0.5
    # Held at the start speed START_SETTLE_S, then SPEED_UP_LEAD_S while the cue plays.
    hold_s = START_SETTLE_S + SPEED_UP_LEAD_S
    seq = speeds(gov, 0.0, hold_s + 3.0)
    assert set(seq[:int(hold_s / 0.005)]) == {0.5}
    steps = [b - a for a, b in zip([0.5, *seq], seq, strict=False)]
    assert max(steps) <= 0.1 + 1e-9  # 0.1 km/h steps
    # 0.25 m/s² = 0.9 km/h per second: 1 s into the ramp at most 0.5 + 0.9 km/h
    assert seq[int(hold_s / 0.005) + 199] <= 0.5 + 0.9 + 1e-9
    assert seq[-1] == pytest.approx(2.0)
    assert all(round(s * 10) == pytest.approx(s * 10) for s in seq)


def test_never_above_the_cap() -> None:
    gov = Governor(LIMITS, target_kmh=7.0)
    gov.begin(0.0)
    assert max(speeds(gov, 0.0, 10.0)) == pytest.approx(3.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_bad_target_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        Governor(LIMITS, bad)


def test_caution_lowers_the_speed_at_once_then_holds_then_builds_up() -> None:
    gov = Governor(LIMITS, target_kmh=1.5)
    gov.begin(0.0)
    speeds(gov, 0.0, 5.0)
    assert gov.speed_at(5.0) == pytest.approx(1.5)
    gov.caution(5.0)
    assert gov.speed_at(5.0) == pytest.approx(1.3)  # the first lower speed, in the same tick
    during = speeds(gov, 5.0, 5.0 + CAUTION_HOLD_S)
    assert during[int(1.0 / 0.005)] == pytest.approx(0.5)  # at 1 m/s² well within 1 s
    assert max(during) <= 1.3 + 1e-9
    after = speeds(gov, 5.0 + CAUTION_HOLD_S, 5.0 + CAUTION_HOLD_S + 3.0)
    assert after[-1] == pytest.approx(1.5)  # built up again, at the normal ramp
    assert after[10] <= 0.6 + 1e-9


def test_repeated_cautions_do_not_keep_stepping_down_below_the_start_speed() -> None:
    gov = Governor(LIMITS, target_kmh=1.0)
    gov.begin(0.0)
    speeds(gov, 0.0, 3.0)
    for i in range(100):
        gov.caution(3.0 + i * 0.005)
        assert gov.speed_at(3.0 + i * 0.005) >= 0.5 - 1e-9
