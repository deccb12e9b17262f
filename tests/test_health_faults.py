"""Every injected fault, on every IMU twin, through the real driver, reaches sensor health as
the right named STOP within the configured time. This is the path that stops the belt: the
loop reads the driver, feeds health, and hands the STOP to the supervisor."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from controller.config import HealthSettings
from controller.detect.base import OK, Decision, Level
from controller.health import ImuHealth
from hardware.clock import SimClock
from hardware.imu import STANDARD_GRAVITY_MPS2 as G
from hardware.imu import ImuError
from hardware.lsm6dsox import Lsm6dsox
from hardware.mpu6050 import Mpu6050
from hardware.sim.bus import SimBus
from hardware.sim.lsm6dsox import Lsm6dsoxModel
from hardware.sim.motion import Still, Vec3
from hardware.sim.mpu6050 import Mpu6050Model

SETTINGS = HealthSettings(stale_after_s=0.05)
ACCEL_RANGE_G = 16  # the full scale of the samples these tests make ([imu])
PERIOD_S = 0.005
FAULT_AT_S = 1.0
CHIPS: dict[str, tuple[type[Lsm6dsoxModel] | type[Mpu6050Model], type[Lsm6dsox] | type[Mpu6050],
                       int]] = {
    "lsm6dsox": (Lsm6dsoxModel, Lsm6dsox, 0x6A),
    "mpu6050": (Mpu6050Model, Mpu6050, 0x68),
}


class Switchable:
    """A motion that changes at ``FAULT_AT_S`` (for the clip-moved case)."""

    def __init__(self, before: Vec3, after: Vec3) -> None:
        self.before, self.after = before, after

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        return (self.after if t_s >= FAULT_AT_S else self.before), (0.0, 0.0, 0.0)


@dataclass
class Loop:
    clock: SimClock
    bus: SimBus
    model: Lsm6dsoxModel | Mpu6050Model
    driver: Lsm6dsox | Mpu6050
    health: ImuHealth
    address: int

    def cycle(self, belt_running: bool = True) -> Decision:
        self.clock.advance_s(PERIOD_S)
        try:
            for s in self.driver.read():
                self.health.on_sample(s)
        except OSError as exc:
            self.health.on_error(exc)
        return self.health.check(self.clock.now_s(), belt_running)

    def run_until_stop(self, seconds: float, fault: Callable[[], None] | None = None,
                       armed: bool = True) -> tuple[float, Decision] | None:
        """Run healthy to ``FAULT_AT_S`` (arming at 0.5 s), inject, run; first STOP or None."""
        while self.clock.now_s() < FAULT_AT_S + seconds - 1e-9:
            if fault is not None and abs(self.clock.now_s() - FAULT_AT_S) < 1e-9:
                fault()
            if armed and abs(self.clock.now_s() - 0.5) < 1e-9:
                assert self.health.arm() is OK
            d = self.cycle()
            if d.level == Level.STOP:
                return self.clock.now_s(), d
        return None


def make_loop(chip: str, motion=None) -> Loop:
    model_cls, driver_cls, address = CHIPS[chip]
    clock = SimClock()
    bus = SimBus(seed=11)
    model: Lsm6dsoxModel | Mpu6050Model
    driver: Lsm6dsox | Mpu6050
    model = model_cls(clock, motion or Still(), seed=5)
    bus.attach(address, model)
    driver = driver_cls(bus, address, clock)
    driver.setup()
    health = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    # The loop starts on the next sample grid point, as the daemon's first tick would.
    clock.sleep_until(math.ceil(clock.now_s() / PERIOD_S) * PERIOD_S)
    return Loop(clock, bus, model, driver, health, address)


@pytest.fixture(params=sorted(CHIPS))
def chip(request) -> str:
    return str(request.param)


def test_healthy_twin_never_stops(chip: str) -> None:
    loop = make_loop(chip)
    assert loop.run_until_stop(2.0) is None


def expect(loop: Loop, fault: Callable[[], None], reason: str, within_s: float,
           horizon_s: float = 2.0) -> None:
    hit = loop.run_until_stop(horizon_s, fault)
    assert hit is not None, f"{reason}: no STOP within {horizon_s} s"
    t, d = hit
    assert (d.level, d.reason) == (Level.STOP, reason), d.detail
    assert t - FAULT_AT_S <= within_s + 1e-9, f"{reason} after {t - FAULT_AT_S:.3f} s"


def test_unplugged_cable(chip: str) -> None:
    loop = make_loop(chip)
    # One error per cycle: the budget (5/s) is spent on the 6th, 30 ms in, before staleness.
    expect(loop, lambda: loop.bus.unplug(loop.address), "i2c_error_budget",
           (SETTINGS.i2c_errors_per_s + 1) * PERIOD_S)


def test_bus_timeout(chip: str) -> None:
    loop = make_loop(chip)
    expect(loop, lambda: loop.bus.set_timeout(loop.address), "i2c_error_budget",
           (SETTINGS.i2c_errors_per_s + 1) * PERIOD_S)


def test_intermittent_errors(chip: str) -> None:
    loop = make_loop(chip)
    # 10 % of transfers fail ≈ 27 % of reads ≈ 54 errors/s: far over a budget of 5/s.
    expect(loop, lambda: loop.bus.set_error_rate(loop.address, 0.1), "i2c_error_budget", 0.5)


def test_rare_errors_within_budget_do_not_stop(chip: str) -> None:
    loop = make_loop(chip)
    assert loop.run_until_stop(3.0, lambda: loop.bus.set_error_rate(loop.address, 0.003)) is None
    assert loop.health.errors.total > 0  # the test did inject errors


def test_frozen_data(chip: str) -> None:
    loop = make_loop(chip)

    def freeze() -> None:
        loop.model.freeze = True

    expect(loop, freeze, "imu_stuck", (SETTINGS.stuck_samples + 1) / loop.driver.rate_hz
           + PERIOD_S)


def test_stuck_fifo(chip: str) -> None:
    loop = make_loop(chip)

    def stick() -> None:
        # Stick with a sample waiting in the FIFO (a bus access lets the twin produce it).
        loop.clock.advance_s(PERIOD_S)
        loop.bus.read_byte_data(loop.address, 0x0F if chip == "lsm6dsox" else 0x75)
        loop.model.stuck_fifo = True

    # LSM6DSOX: its slot counter shows nothing new arrives ⇒ stale. MPU-6050 (no counter):
    # the same frame comes back for ever ⇒ identical samples ⇒ stuck.
    if chip == "lsm6dsox":
        expect(loop, stick, "imu_stale", SETTINGS.stale_after_s + 2 * PERIOD_S)
    else:
        expect(loop, stick, "imu_stuck", (SETTINGS.stuck_samples + 2) * PERIOD_S)


def test_saturation(chip: str) -> None:
    loop = make_loop(chip)

    def saturate() -> None:
        loop.model.saturate = True

    expect(loop, saturate, "imu_saturated", SETTINGS.saturated_after_s + 2 * PERIOD_S)


def test_unplug_and_replug_power_cycles_the_chip(chip: str) -> None:
    loop = make_loop(chip)

    def blip() -> None:
        loop.bus.unplug(loop.address)
        loop.clock.advance_s(0.004)  # a 4 ms break: one failed read, well inside the budget
        loop.bus.replug(loop.address)

    # The chip came back unconfigured: no more samples ⇒ stale (never "calm").
    expect(loop, blip, "imu_stale", SETTINGS.stale_after_s + 2 * PERIOD_S)


def test_dead_sensor_reading_zero(chip: str) -> None:
    loop = make_loop(chip, Switchable((0.0, 0.0, G), (0.0, 0.0, 0.0)))
    expect(loop, lambda: None, "imu_implausible", SETTINGS.implausible_after_s + 2 * PERIOD_S)


def test_clip_slipped(chip: str) -> None:
    loop = make_loop(chip, Switchable((0.0, 0.0, G), (G, 0.0, 0.0)))
    expect(loop, lambda: None, "clip_moved", SETTINGS.clip_lowpass_s)


def test_wrong_who_am_i_refuses_setup_and_stays_stale(chip: str) -> None:
    model_cls, driver_cls, address = CHIPS[chip]
    clock = SimClock()
    bus = SimBus()
    model: Lsm6dsoxModel | Mpu6050Model
    model = model_cls(clock, Still())
    model.who_am_i = 0x12
    bus.attach(address, model)
    health = ImuHealth(SETTINGS, clock, ACCEL_RANGE_G)
    with pytest.raises(ImuError, match="WHO_AM_I"):
        driver_cls(bus, address, clock).setup()
    clock.advance_s(SETTINGS.stale_after_s + PERIOD_S)
    d = health.check(clock.now_s(), belt_running=False)
    assert (d.level, d.reason) == (Level.STOP, "imu_stale")


class NeverStops:
    """An inner detector that never fires, to watch health alone on the detector path."""

    name = "never"

    def update(self, sample) -> Decision:
        return OK

    def reset(self) -> None:
        pass


def test_health_on_the_detector_path_arms_at_start_and_sees_the_clip_move(chip: str) -> None:
    from controller.health import HealthCheckedDetector

    loop = make_loop(chip, Switchable((0.0, 0.0, G), (G, 0.0, 0.0)))
    running = {"belt": False}
    detector = HealthCheckedDetector(NeverStops(), loop.health, lambda: running["belt"])
    first: tuple[float, Decision] | None = None
    while loop.clock.now_s() < FAULT_AT_S + 1.0 and first is None:
        if loop.clock.now_s() >= 0.5:
            running["belt"] = True  # the belt starts: the clip frame is taken now
        loop.clock.advance_s(PERIOD_S)
        for s in loop.driver.read():
            d = detector.update(s)
            if d is not OK and first is None:
                first = (s.t_s, d)
    assert first is not None
    t, d = first
    assert (d.level, d.reason) == (Level.STOP, "clip_moved")
    assert t - FAULT_AT_S <= SETTINGS.clip_lowpass_s
    running["belt"] = False
    loop.clock.advance_s(PERIOD_S)
    for s in loop.driver.read():
        assert detector.update(s) is OK  # belt stopped: disarmed, nothing to compare against
