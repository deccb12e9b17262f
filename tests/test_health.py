"""Sensor health on synthetic samples: each named reason, its timing, and no false alarms."""

from __future__ import annotations

import errno
import math

import pytest

from controller.config import HealthSettings
from controller.detect.base import OK, Level
from controller.health import ImuHealth
from controller.health_rails import RailsHealth
from hardware.clock import SimClock
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample
from hardware.rail_sample import RailSample

G = STANDARD_GRAVITY_MPS2
SETTINGS = HealthSettings(stale_after_s=0.05)
ACCEL_RANGE_G = 16  # the full scale of the samples these tests make ([imu])
DT = 0.005


def sample(i: int, acc=(0.0, 0.0, G), gyro=(0.0, 0.0, 0.0), noise: bool = True) -> ImuSample:
    # Deterministic "noise" so consecutive samples differ, as a real chip's do.
    n = 0.003 * math.sin(1.7 * i) if noise else 0.0
    return ImuSample(t_s=i * DT, seq=i + 1, acc_mps2=(acc[0] + n, acc[1], acc[2] - n),
                     gyro_rads=(gyro[0] + n, gyro[1], gyro[2]))


def run(health: ImuHealth, clock: SimClock, make, n: int, belt: bool = True):
    """Feed ``n`` cycles; return (cycle index, decision) of the first non-OK, or None."""
    for i in range(n):
        clock.sleep_until(i * DT)
        s = make(i)
        if s is not None:
            health.on_sample(s)
        d = health.check(clock.now_s(), belt)
        if d is not OK:
            return i, d
    return None


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


def test_healthy_still_sensor_stays_ok(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    assert run(h, clock, sample, 1000) is None


def test_healthy_moving_sensor_stays_ok(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)

    def walking(i: int) -> ImuSample:
        t = i * DT
        return sample(i, acc=(3.0 * math.sin(2 * math.pi * 1.8 * t), 0.0,
                              G + 4.0 * math.sin(2 * math.pi * 3.6 * t)),
                      gyro=(0.8 * math.sin(2 * math.pi * 1.8 * t), 0.1, 0.0))

    assert run(h, clock, walking, 1000) is None
    assert h.arm() is OK
    assert run(h, clock, lambda i: walking(i + 1000), 1000) is None


def test_no_sample_at_all_is_stale(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    assert h.check(0.05, False) is OK
    d = h.check(0.0501, False)
    assert (d.level, d.reason) == (Level.STOP, "imu_stale")


def test_stale_within_stale_after_s(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    hit = run(h, clock, lambda i: sample(i) if i < 100 else None, 200)
    assert hit is not None
    i, d = hit
    assert d.reason == "imu_stale" and d.level == Level.STOP
    assert 0.05 - 1e-9 <= (i - 99) * DT <= 0.05 + DT  # at 50 ms, not a cycle later


def test_repeated_seq_is_not_fresh(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    first = sample(0)
    hit = run(h, clock, lambda i: first, 100)  # the driver handing on the same sample
    assert hit is not None and hit[1].reason == "imu_stale"
    assert h.repeats > 0


def test_identical_samples_stop_only_while_belt_runs(clock: SimClock) -> None:
    def frozen(i: int) -> ImuSample:
        return sample(i, noise=False)

    assert run(ImuHealth(SETTINGS, clock, ACCEL_RANGE_G), clock, frozen, 300, belt=False) is None
    clock2 = SimClock()
    hit = run(ImuHealth(SETTINGS, clock2, ACCEL_RANGE_G), clock2, frozen, 300, belt=True)
    assert hit is not None
    i, d = hit
    assert d.reason == "imu_stuck" and i == SETTINGS.stuck_samples - 1


def test_zero_output_when_still_is_implausible(clock: SimClock) -> None:
    # The thermistor lesson: a dead sensor reading zeros must not look like a calm runner.
    hit = run(ImuHealth(SETTINGS, clock, ACCEL_RANGE_G), clock,
              lambda i: sample(i, acc=(0.0, 0.0, 0.0)), 300)
    assert hit is not None
    i, d = hit
    assert d.reason == "imu_implausible"
    assert i * DT == pytest.approx(SETTINGS.implausible_after_s)


def test_two_g_when_still_is_implausible(clock: SimClock) -> None:
    hit = run(ImuHealth(SETTINGS, clock, ACCEL_RANGE_G), clock,
              lambda i: sample(i, acc=(0.0, 0.0, 2 * G)), 300)
    assert hit is not None and hit[1].reason == "imu_implausible"


def test_brief_impact_saturation_is_not_a_fault(clock: SimClock) -> None:
    def impact(i: int) -> ImuSample:
        return sample(i, acc=(16 * G, 0.0, G), gyro=(1.0, 0, 0)) if 50 <= i < 54 else sample(i)

    assert run(ImuHealth(SETTINGS, clock, ACCEL_RANGE_G), clock, impact, 300) is None


def test_sustained_saturation_stops(clock: SimClock) -> None:
    hit = run(ImuHealth(SETTINGS, clock, ACCEL_RANGE_G), clock,
              lambda i: sample(i, acc=(16 * G, 0.0, G), gyro=(1.0, 0, 0)), 300)
    assert hit is not None
    i, d = hit
    assert d.reason == "imu_saturated"
    assert i * DT == pytest.approx(SETTINGS.saturated_after_s)


def test_error_budget_per_second(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    err = OSError(errno.EREMOTEIO, "Remote I/O error")
    for i in range(SETTINGS.i2c_errors_per_s):
        clock.sleep_until(i * 0.1)
        h.on_sample(sample(round(clock.now_s() / DT)))
        h.on_error(err)
        assert h.check(clock.now_s(), True) is OK  # within budget
    h.on_error(err)
    d = h.check(clock.now_s(), True)
    assert (d.level, d.reason) == (Level.STOP, "i2c_error_budget")
    assert "errno 121" in d.detail
    # Spread over more than a second, the same count is within budget.
    clock.sleep_until(clock.now_s() + 1.5)
    h.on_sample(sample(round(clock.now_s() / DT)))
    assert h.check(clock.now_s(), True) is OK


def test_clip_moved_after_arming(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    assert h.arm().reason == "imu_stale"  # nothing to arm with yet
    assert run(h, clock, sample, 200) is None
    assert h.arm() is OK

    def slipped(i: int) -> ImuSample:  # the clip turned 90° about y at t = 1 s
        return sample(i, acc=(G, 0.0, 0.0)) if i >= 200 else sample(i)

    clock2_hit = run(h, clock, slipped, 800)
    assert clock2_hit is not None
    i, d = clock2_hit
    assert d.reason == "clip_moved"
    tau = SETTINGS.clip_lowpass_s
    assert (i - 200) * DT == pytest.approx(tau * math.log(2), abs=0.02)


def test_clip_worn_upside_down_arms_and_maps_to_body_frame(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    assert run(h, clock, lambda i: sample(i, acc=(0.0, 0.0, -G)), 200) is None
    assert h.arm() is OK
    up = h.to_body((0.0, 0.0, -G))
    assert up == pytest.approx((0.0, 0.0, G), abs=1e-3)  # the reference carries some noise


def test_body_frame_of_a_tilted_clip(clock: SimClock) -> None:
    h = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    tilted = (G * math.sin(0.5), 0.0, G * math.cos(0.5))
    assert run(h, clock, lambda i: sample(i, acc=tilted, noise=False), 100, belt=False) is None
    assert h.arm() is OK
    assert h.to_body(tilted) == pytest.approx((0.0, 0.0, G), abs=1e-6)
    # A vector perpendicular to gravity stays perpendicular and keeps its length.
    side = h.to_body((0.0, 1.0, 0.0))
    assert side == pytest.approx((0.0, 1.0, 0.0), abs=1e-9)


def test_rails_health(clock: SimClock) -> None:
    h = RailsHealth(SETTINGS, clock)
    for i in range(10):
        clock.sleep_until(i * DT)
        h.on_sample(RailSample(t_s=i * DT, seq=i + 1, touch_left=True, touch_right=False,
                               force_left_n=1.0 + 0.01 * (i % 3), force_right_n=0.0))
        assert h.check(clock.now_s(), True) is OK
    clock.sleep_until(clock.now_s() + 0.051)
    assert h.check(clock.now_s(), True).reason == "rails_stale"
    frozen = RailsHealth(SETTINGS, clock)
    for i in range(SETTINGS.stuck_samples):
        frozen.on_sample(RailSample(t_s=clock.now_s(), seq=i + 1, force_left_n=3.0,
                                    force_right_n=2.0))
    assert frozen.check(clock.now_s(), False) is OK
    assert frozen.check(clock.now_s(), True).reason == "rails_stuck"
