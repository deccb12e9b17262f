"""The VL53L1X driver against its twin: setup, ranging, what "unknown" looks like, faults —
and Adafruit's published driver against the same twin."""

from __future__ import annotations

import errno
import types

import pytest

from hardware.clock import SimClock
from hardware.sim.bus import BusioI2C, SimBus
from hardware.sim.vl53l1x import Vl53l1xModel
from hardware.vl53l1x import RangeError, RangeReading, Vl53l1x

ADDR = 0x29


class Deck:
    def __init__(self, distance_m: float | None = 1.2, **driver: int) -> None:
        self.clock = SimClock()
        self.bus = SimBus()
        self.twin = Vl53l1xModel(self.clock, seed=3)
        self.twin.set_distance_m(distance_m)
        self.bus.attach(ADDR, self.twin)
        self.driver = Vl53l1x(self.bus, ADDR, self.clock, **driver)

    def collect(self, seconds: float, step_s: float = 0.005) -> list[RangeReading]:
        out = []
        for _ in range(round(seconds / step_s)):
            self.clock.advance_s(step_s)
            reading = self.driver.read()
            if reading is not None:
                out.append(reading)
        return out


def test_setup_identifies_configures_and_ranges_at_its_period() -> None:
    deck = Deck(1.2)
    deck.driver.setup()
    assert deck.driver.ranging()
    assert "VL53L1X at 0x29" in deck.driver.describe()
    readings = deck.collect(1.0)
    assert len(readings) == pytest.approx(20, abs=1)  # 50 ms period
    assert all(r.valid for r in readings)
    assert all(abs(r.distance_m - 1.2) < 0.03 for r in readings)
    assert len({r.distance_m for r in readings}) > 5  # a live sensor never repeats for long


def test_slower_period_is_honoured() -> None:
    deck = Deck(1.0, timing_budget_ms=100, period_ms=200)
    deck.driver.setup()
    assert len(deck.collect(2.0)) == pytest.approx(10, abs=1)


def test_the_distance_follows_the_runner() -> None:
    deck = Deck(1.0)
    deck.driver.setup()
    deck.collect(0.2)
    deck.twin.set_distance_m(2.0)
    assert abs(deck.collect(0.2)[-1].distance_m - 2.0) < 0.03


def test_nothing_within_range_is_invalid_never_a_distance() -> None:
    deck = Deck(None)
    deck.driver.setup()
    readings = deck.collect(0.3)
    assert readings and not any(r.valid for r in readings)
    deck.twin.set_distance_m(5.0)  # beyond long mode's range
    assert not any(r.valid for r in deck.collect(0.3))
    assert deck.driver.invalid == deck.driver.readings


def test_read_costs_one_transfer_when_nothing_is_new() -> None:
    deck = Deck(1.0)
    deck.driver.setup()
    deck.collect(0.06)
    deck.clock.advance_s(0.001)
    before = deck.bus.transfers
    assert deck.driver.read() is None
    assert deck.bus.transfers - before == 2  # one i2c_rdwr: index write + 1-byte read


def test_wrong_identity_refuses() -> None:
    deck = Deck()
    deck.twin._regs[0x010F] = 0xEE
    with pytest.raises(RangeError, match="model ID reads 0xeecc"):
        deck.driver.setup()


def test_frozen_results_keep_coming_identical() -> None:
    deck = Deck(1.5)
    deck.driver.setup()
    deck.collect(0.2)
    deck.twin.freeze = True
    readings = deck.collect(0.5)
    assert len(readings) >= 9 and len({r.distance_m for r in readings}) == 1


def test_stalled_sensor_yields_nothing() -> None:
    deck = Deck(1.5)
    deck.driver.setup()
    deck.twin.stall = True
    assert deck.collect(0.5) == []


def test_power_loss_stops_ranging_until_set_up_again() -> None:
    deck = Deck(1.5)
    deck.driver.setup()
    deck.bus.unplug(ADDR)
    with pytest.raises(OSError) as err:
        deck.driver.read()
    assert err.value.errno == errno.EREMOTEIO
    deck.bus.replug(ADDR)
    assert not deck.driver.ranging()
    assert deck.collect(0.3) == []
    deck.driver.setup()
    assert deck.collect(0.3)


def test_soft_reset_reboots_with_power_on_values() -> None:
    deck = Deck(1.5)
    deck.driver.setup()
    deck.driver._write(0x0000, b"\x00")
    deck.driver._write(0x0000, b"\x01")
    assert deck.driver._read(0x00E5, 1) == b"\x00"  # booting
    deck.clock.advance_s(0.002)
    assert deck.driver._read(0x00E5, 1) == b"\x01"
    assert not deck.driver.ranging()


def test_bad_timing_is_refused() -> None:
    with pytest.raises(ValueError, match="timing_budget_ms"):
        Deck(1.0, timing_budget_ms=42)
    with pytest.raises(ValueError, match="period_ms"):
        Deck(1.0, timing_budget_ms=50, period_ms=20)


def test_adafruit_vl53l1x_driver_ranges_the_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    import adafruit_vl53l1x

    clock = SimClock()
    # Its waits (time.sleep) pass simulated time, so the twin's measurements complete.
    monkeypatch.setattr(adafruit_vl53l1x, "time", types.SimpleNamespace(sleep=clock.advance_s))
    bus = SimBus()
    twin = Vl53l1xModel(clock, lambda t_s: 0.8 + 0.1 * t_s, seed=3)
    bus.attach(ADDR, twin)
    clock.advance_s(0.01)  # booted
    sensor = adafruit_vl53l1x.VL53L1X(BusioI2C(bus))  # runs one measurement
    sensor.distance_mode = 2
    sensor.timing_budget = 100
    assert sensor.distance_mode == 2 and twin.timing_budget_ms() == 100
    sensor.start_ranging()
    clock.advance_s(0.1)
    assert sensor.data_ready
    assert sensor.distance == pytest.approx((0.8 + 0.1 * clock.now_s()) * 100, abs=1.5)  # cm
    sensor.clear_interrupt()
    assert not sensor.data_ready
    twin.set_distance_m(None)
    clock.advance_s(0.1)
    assert sensor.data_ready and sensor.distance is None  # range status not valid
