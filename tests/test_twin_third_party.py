"""Published drivers, written by others for the real chips, run unchanged against the twins.

- ``mpu6050-raspberrypi`` (module ``mpu6050``) opens ``smbus.SMBus(1)`` itself: a stand-in
  ``smbus`` module hands it the simulated bus.
- Adafruit's CircuitPython drivers (``adafruit-circuitpython-lsm6ds``, ``-mpr121``,
  ``-ads1x15``) take a ``busio.I2C``: :class:`~hardware.sim.bus.BusioI2C` is one over the
  simulated bus. A driver that waits with ``time.sleep`` gets simulated time instead.

Each test checks what the driver reports against what the twin was fed (gravity on Z, a hand
on a rail), and that the configuration the driver wrote is what the twin holds.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from hardware.clock import SimClock
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.ads1115 import Ads1115Model
from hardware.sim.bus import BusioI2C, SimBus
from hardware.sim.grip import Hand, Hands
from hardware.sim.lsm6dsox import Lsm6dsoxModel
from hardware.sim.motion import Still
from hardware.sim.mpr121 import Mpr121Model
from hardware.sim.mpu6050 import Mpu6050Model

G = STANDARD_GRAVITY_MPS2


@pytest.fixture
def smbus_on_the_twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SimBus, SimClock]]:
    """``import smbus`` gives a module whose ``SMBus(n)`` is the simulated bus."""
    clock = SimClock()
    bus = SimBus()
    bus.attach(0x68, Mpu6050Model(clock, Still(up=(0.0, 0.0, 1.0)), seed=5))
    shim = types.ModuleType("smbus")
    shim.SMBus = lambda number=1: bus  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smbus", shim)
    monkeypatch.delitem(sys.modules, "mpu6050.mpu6050", raising=False)
    monkeypatch.delitem(sys.modules, "mpu6050", raising=False)
    yield bus, clock


def test_mpu6050_raspberrypi_reads_gravity_and_keeps_its_ranges(
    smbus_on_the_twin: tuple[SimBus, SimClock],
) -> None:
    from mpu6050 import mpu6050

    _, clock = smbus_on_the_twin
    sensor = mpu6050(0x68)  # wakes the chip (PWR_MGMT_1 = 0)
    sensor.set_accel_range(mpu6050.ACCEL_RANGE_8G)
    sensor.set_gyro_range(mpu6050.GYRO_RANGE_500DEG)
    sensor.set_filter_range(mpu6050.FILTER_BW_42)
    assert sensor.read_accel_range() == 8
    assert sensor.read_gyro_range() == 500
    clock.advance_s(0.05)
    accel = sensor.get_accel_data()
    gyro = sensor.get_gyro_data()
    assert accel["z"] == pytest.approx(G, abs=0.1)
    assert abs(accel["x"]) < 0.1 and abs(accel["y"]) < 0.1
    assert all(abs(gyro[axis]) < 1.0 for axis in "xyz")


def test_adafruit_lsm6dsox_reads_gravity_at_independent_rates() -> None:
    from adafruit_lsm6ds import Rate
    from adafruit_lsm6ds.lsm6dsox import LSM6DSOX

    clock = SimClock()
    bus = SimBus()
    twin = Lsm6dsoxModel(clock, Still(up=(0.0, 0.0, 1.0)), seed=5)
    bus.attach(0x6A, twin)
    sensor = LSM6DSOX(BusioI2C(bus), address=0x6A)  # identifies, resets, sets BDU, 104 Hz
    sensor.gyro_data_rate = Rate.RATE_208_HZ
    assert sensor.accelerometer_data_rate == Rate.RATE_104_HZ
    assert sensor.gyro_data_rate == Rate.RATE_208_HZ
    # CTRL9_XL: reset value E0h kept, plus the bit the driver sets for "I3C disable" (its
    # descriptor is redefined to bit 0; the chip's I3C_disable is bit 1).
    assert bus.read_byte_data(0x6A, 0x18) == 0xE1
    clock.advance_s(0.05)
    x, y, z = sensor.acceleration
    assert z == pytest.approx(G, abs=0.1) and abs(x) < 0.1 and abs(y) < 0.1
    assert all(abs(w) < 0.05 for w in sensor.gyro)
    sensor.gyro_data_rate = Rate.RATE_SHUTDOWN  # the gyroscope alone powers down
    bus.read_i2c_block_data(0x6A, 0x22, 12)
    clock.advance_s(0.05)
    assert bus.read_byte_data(0x6A, 0x1E) & 0x03 == 0x01  # XLDA only


def test_adafruit_mpr121_sees_a_hand_with_its_own_filter_settings() -> None:
    import adafruit_mpr121

    clock = SimClock()
    bus = SimBus()
    hands = Hands()
    bus.attach(0x5A, Mpr121Model(clock, hands, seed=5, untouched_counts=735))
    chip = adafruit_mpr121.MPR121(BusioI2C(bus))  # soft reset, checks CONFIG2, CL = 0b10
    assert bus.read_byte_data(0x5A, 0x2B) == 1  # its rising-filter MHD was kept
    clock.advance_s(0.02)
    assert not chip[0].value
    # CL = 0b10 loaded 704 (the 5 high bits of 735); its rising filter tracks up to the data.
    assert chip.baseline_data(0) < 720
    for _ in range(100):
        clock.advance_s(0.05)
        chip.touched()
    assert abs(chip.baseline_data(0) - chip.filtered_data(0)) <= 8
    hands.left = Hand(touch=True, force_n=5.0)
    clock.advance_s(0.02)
    assert chip[0].value and not chip[1].value
    hands.left = Hand()
    clock.advance_s(0.02)
    assert not chip[0].value


class TimedI2C(BusioI2C):
    """Each transfer takes 0.1 ms of simulated time, as at 400 kHz: a driver that busy-polls a
    status bit (no sleep) then sees the chip finish."""

    def __init__(self, bus: SimBus, clock: SimClock) -> None:
        super().__init__(bus)
        self._clock = clock

    def writeto(self, *args: Any, **kwargs: Any) -> None:
        self._clock.advance_s(0.0001)
        super().writeto(*args, **kwargs)

    def readfrom_into(self, *args: Any, **kwargs: Any) -> None:
        self._clock.advance_s(0.0001)
        super().readfrom_into(*args, **kwargs)

    def writeto_then_readfrom(self, *args: Any, **kwargs: Any) -> None:
        self._clock.advance_s(0.0001)
        super().writeto_then_readfrom(*args, **kwargs)


def test_adafruit_ads1115_reads_the_volts_on_each_input() -> None:
    from adafruit_ads1x15 import ads1x15
    from adafruit_ads1x15.ads1115 import ADS1115
    from adafruit_ads1x15.analog_in import AnalogIn

    clock = SimClock()
    bus = SimBus()
    twin = Ads1115Model(clock, seed=5)
    twin.connect(0, lambda t_s: 1.25)
    twin.connect(1, lambda t_s: 2.5)
    bus.attach(0x48, twin)
    # Single-shot (its default): it starts a conversion and polls OS until the twin finishes.
    # (In continuous mode this driver version never rewrites the MUX, so it keeps reading the
    # power-on AIN0 − AIN1 whatever pin is asked: the twin shows that too.)
    ads = ADS1115(TimedI2C(bus, clock))
    ads.gain = 1  # ±4.096 V
    assert AnalogIn(ads, ads1x15.Pin.A0).voltage == pytest.approx(1.25, abs=0.002)
    assert AnalogIn(ads, ads1x15.Pin.A1).voltage == pytest.approx(2.5, abs=0.002)
    assert AnalogIn(ads, ads1x15.Pin.A0, ads1x15.Pin.A1).voltage == pytest.approx(-1.25, abs=0.002)
