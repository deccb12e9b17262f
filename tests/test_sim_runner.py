"""The runner on the belt (hardware/sim/runner.py), on its own: pace, position, gait signals,
events, the fall criterion, determinism."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.sim.runner import (
    CATCH_S,
    DECK_HALF_M,
    EventKind,
    HandsOn,
    Runner,
    RunnerEvent,
    cadence_hz,
)

TICK_S = 0.005


def drive(runner: Runner, belt_kmh: float | None, until_s: float, from_s: float = 0.0,
          stop_belt_at_s: float | None = None, decel_kmh_per_s: float = 3.6) -> list[float]:
    """Advance tick by tick with the belt ramping up to ``belt_kmh`` from 0 s at 0.9 km/h per
    second, as the governor ramps it (stopping at ``decel`` from ``stop_belt_at_s``); return
    |a| at every tick."""
    norms = []
    belt = belt_kmh
    for i in range(round(from_s / TICK_S), round(until_s / TICK_S)):
        t = i * TICK_S
        if belt_kmh is not None:
            belt = min(belt_kmh, 0.9 * t)
        if stop_belt_at_s is not None and t >= stop_belt_at_s and belt_kmh is not None:
            belt = max(0.0, belt_kmh - decel_kmh_per_s * (t - stop_belt_at_s))
        runner.advance(t, belt)
        acc, _ = runner.at(t)
        norms.append(math.sqrt(sum(a * a for a in acc)))
    return norms


def test_backward_cadence_rises_with_speed_and_is_above_forward() -> None:
    speeds = [0.2, 0.5, 1.0, 1.5, 2.0, 2.5]
    rates = [cadence_hz(v) for v in speeds]
    assert rates == sorted(rates)
    for v in (0.3, 0.8, 1.4):
        forward = 1.0 + 0.65 * v  # forward walking, same speed
        assert cadence_hz(v) > forward  # shorter backward steps ⇒ more of them
        assert 0.15 < v / cadence_hz(v) < 0.8  # a plausible step length, metres


def test_runner_keeps_pace_and_stays_near_the_middle() -> None:
    runner = Runner(seed=2)
    drive(runner, 1.5, 60.0)
    assert abs(runner.pace_mps - 1.5 / 3.6) < 0.02
    assert abs(runner.position_m) < 0.05
    assert runner.steps > 60  # ~1.5 steps/s for ~55 s
    assert runner.fell_at_s is None


def test_a_belt_speed_step_is_followed_with_a_human_delay() -> None:
    runner = Runner(seed=2)
    drive(runner, 1.5, 30.0)
    pace_before = runner.pace_mps
    drive(runner, 2.5, 30.3, from_s=30.0)  # within the reaction time: only the centring
    assert runner.pace_mps - pace_before < 0.3 * (2.5 - 1.5) / 3.6
    assert runner.position_m < 0  # carried back meanwhile
    drive(runner, 2.5, 50.0, from_s=30.3)
    assert runner.pace_mps == pytest.approx(2.5 / 3.6, abs=0.02)


def test_impacts_and_vertical_motion_rise_with_speed() -> None:
    peaks = []
    for kmh in (1.0, 3.0, 7.0):
        runner = Runner(seed=4)
        norms = drive(runner, kmh, 40.0)
        peaks.append(max(norms[-2000:]))
    assert peaks == sorted(peaks)
    assert peaks[-1] > 2.0 * 9.80665  # running: stance peaks above 2 g


def test_running_has_a_flight_phase_walking_does_not() -> None:
    for kmh, flight in ((3.0, False), (7.0, True)):
        runner = Runner(seed=4)
        norms = drive(runner, kmh, 30.0)
        assert (min(norms[-1000:]) < 0.2 * 9.80665) is flight


def test_drift_back_reaches_the_deck_end_and_falls_if_the_belt_runs_on() -> None:
    runner = Runner((RunnerEvent(20.0, EventKind.DRIFT_BACK),), seed=1)
    drive(runner, 1.5, 60.0)
    assert runner.lost_balance_s is not None
    assert runner.fell_at_s is not None and runner.fell_at_s > 20.0
    assert runner.position_m < -DECK_HALF_M


@pytest.mark.parametrize("kind", [EventKind.SLIP, EventKind.TRIP, EventKind.FALL])
def test_loss_of_balance_falls_unless_the_belt_stops_in_time(kind: EventKind) -> None:
    fell = Runner((RunnerEvent(20.0, kind),), seed=1)
    drive(fell, 1.5, 25.0)
    assert fell.fell_at_s is not None
    assert max(drive(fell, 1.5, 26.0, from_s=25.0)) < 1.1 * 9.80665  # lying still
    caught = Runner((RunnerEvent(20.0, kind),), seed=1)
    # The belt stops at 1 m/s² (3.6 km/h per s) from the onset: 1.5 km/h is still in 0.42 s.
    drive(caught, 1.5, 25.0, stop_belt_at_s=20.0)
    assert CATCH_S[kind.value] > 0.42
    assert caught.fell_at_s is None and caught.caught_s is not None


def test_a_late_stop_is_a_fall() -> None:
    runner = Runner((RunnerEvent(20.0, EventKind.SLIP),), seed=1)
    drive(runner, 1.5, 25.0, stop_belt_at_s=20.0 + CATCH_S["slip"])
    assert runner.fell_at_s is not None


def test_the_impact_is_felt_at_the_fall_time() -> None:
    runner = Runner((RunnerEvent(20.0, EventKind.SLIP),), seed=1)
    norms = drive(runner, 1.5, 23.0)
    assert runner.fell_at_s is not None
    i = round(runner.fell_at_s / TICK_S)
    assert max(norms[i:i + 20]) > 4.0 * 9.80665


def test_stumble_is_recovered_and_dizziness_ends_in_a_collapse() -> None:
    stumble = Runner((RunnerEvent(20.0, EventKind.STUMBLE),), seed=1)
    drive(stumble, 1.5, 40.0)
    assert stumble.lost_balance_s is None and stumble.fell_at_s is None
    dizzy = Runner((RunnerEvent(20.0, EventKind.DIZZY),), seed=1)
    drive(dizzy, 1.5, 40.0)
    assert dizzy.fell_at_s is not None and dizzy.fell_at_s > 32.0


def test_hands_rest_before_the_start_grab_in_a_rail_grab_and_leave_with_the_runner() -> None:
    runner = Runner((RunnerEvent(20.0, EventKind.RAIL_GRAB),
                     RunnerEvent(30.0, EventKind.LEAVE_BELT)), seed=1)
    left, right = runner.advance(0.0, 0.0)
    assert left.touch and right.touch and left.force_n > 5.0
    drive(runner, 1.5, 19.0)
    assert runner.advance(19.0, 1.5)[0].force_n == 0.0  # hands free while walking
    drive(runner, 1.5, 20.3, from_s=19.0)
    left, right = runner.advance(20.3, 1.5)
    assert left.force_n + right.force_n > 150.0
    drive(runner, 1.5, 35.0, from_s=20.3)
    assert runner.off_belt and runner.advance(35.0, 1.5)[0].touch is False
    steps = runner.steps
    drive(runner, 1.5, 45.0, from_s=35.0)
    assert runner.steps == steps  # off the belt: no more steps


def test_hands_touching_rest() -> None:
    runner = Runner(seed=1, hands=HandsOn("touch"))
    drive(runner, 1.5, 20.0)
    assert runner.advance(20.0, 1.5)[0].force_n == pytest.approx(2.0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_the_same_seed_is_the_same_person(seed: int) -> None:
    a, b = Runner(seed=seed), Runner(seed=seed)
    assert drive(a, 1.5, 15.0) == drive(b, 1.5, 15.0)


def test_different_seeds_are_different_people() -> None:
    assert drive(Runner(seed=1), 1.5, 15.0) != drive(Runner(seed=2), 1.5, 15.0)
