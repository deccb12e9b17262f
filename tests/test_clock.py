from __future__ import annotations

import pytest

from hardware.clock import MonotonicClock, SimClock


def test_sim_clock_moves_only_when_told() -> None:
    clock = SimClock(start_s=2.0)
    assert clock.now_s() == 2.0
    assert clock.now_s() == 2.0
    clock.advance_s(0.005)
    assert clock.now_s() == pytest.approx(2.005)
    clock.sleep_until(3.0)
    assert clock.now_s() == 3.0


def test_sim_clock_never_goes_backwards() -> None:
    clock = SimClock(start_s=1.0)
    clock.sleep_until(0.5)  # a deadline in the past returns at once, time unchanged
    assert clock.now_s() == 1.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_s(-0.1)


def test_sim_clock_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SimClock(start_s=-1.0)
    with pytest.raises(ValueError):
        SimClock(pace=float("nan"))


def test_fast_sim_clock_runs_an_hour_without_real_time() -> None:
    clock = SimClock()
    for _ in range(720_000):  # one simulated hour at 200 Hz
        clock.advance_s(0.005)
    assert clock.now_s() == pytest.approx(3600.0)


def test_monotonic_clock_is_monotonic_and_sleep_until_past_returns() -> None:
    clock = MonotonicClock()
    a = clock.now_s()
    clock.sleep_until(a - 10.0)  # must not sleep
    b = clock.now_s()
    assert b >= a
