"""The MPR121 twin follows the datasheet: baseline loading by CL, tracking, debounce, and
the configuration registers a driver may write. Two of these (the CL bits and when the
baseline loads) decide how sensitive a rail is, so one test shows what the driver sees."""

from __future__ import annotations

import pytest

from hardware.clock import SimClock
from hardware.mpr121 import Mpr121
from hardware.sim.grip import Hand, Hands
from hardware.sim.mpr121 import Mpr121Model
from tests.twin_chip import TwinChip

ADDR = 0x5A
ECR, DEBOUNCE, CONFIG2 = 0x5E, 0x5B, 0x5D
SCAN_S = 0.016 * 4  # reset CONFIG2: ESI 16 ms × SFI 4


class TouchFrom:
    """A hand lands on the left rail at ``t_s`` and stays."""

    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def at(self, t_s: float) -> tuple[Hand, Hand]:
        return (Hand(touch=True, force_n=10.0) if t_s >= self.t_s else Hand()), Hand()


class Rail(TwinChip):
    def __init__(self, untouched_counts: int = 720) -> None:
        clock = SimClock()
        self.hands = Hands()
        self.twin = Mpr121Model(clock, self.hands, seed=2, untouched_counts=untouched_counts)
        super().__init__(ADDR, clock, self.twin)

    def thresholds(self, touch: int = 12, release: int = 6) -> None:
        self.bus.write_i2c_block_data(ADDR, 0x41, [touch, release])

    def baseline(self) -> int:
        return self.r(0x1E) << 2

    def filtered(self) -> int:
        lo, hi = self.bus.read_i2c_block_data(ADDR, 0x04, 2)
        return lo | (hi << 8)

    def scans(self, n: int) -> None:
        self.clock.advance_s(n * SCAN_S)


@pytest.mark.parametrize(("cl", "expected"), [
    (0b00, 500),  # tracking from the baseline register's value (written in stop mode)
    (0b01, 500),  # calibration lock: the register's value, never tracked
    (0b10, 704),  # the 5 high bits of the first value: 735 → 704
    (0b11, 735),  # all 10 bits (±1 count of noise)
])
def test_baseline_loads_as_the_cl_bits_say(cl: int, expected: int) -> None:
    rail = Rail(untouched_counts=735)
    rail.w(0x1E, 500 >> 2)
    rail.w(ECR, (cl << 6) | 0x01)
    rail.scans(2)
    assert rail.baseline() == pytest.approx(expected, abs=4)  # the register keeps 8 MSBs


def test_baseline_loads_at_the_first_scan_after_run_mode_not_at_the_first_read() -> None:
    rail = Rail()
    rail.thresholds()
    rail.twin.grip = TouchFrom(1.5 * SCAN_S)  # a hand arrives before anyone reads
    rail.w(ECR, 0xC1)
    rail.scans(4)
    assert rail.baseline() == pytest.approx(720, abs=4)  # learned with no hand on the rail
    assert rail.r(0x00) & 0x01  # so the hand is seen


def test_reset_filter_values_never_track_and_configured_ones_do() -> None:
    rail = Rail(untouched_counts=735)
    rail.w(ECR, 0x81)  # CL 10: baseline 704
    rail.scans(100)
    assert rail.baseline() == 704  # MHD/NHD/NCL/FDL all 0: the baseline stays low
    rail.w(ECR, 0x00)
    for reg, value in ((0x2B, 1), (0x2C, 1), (0x2D, 0), (0x2E, 0)):  # rising: MHD NHD NCL FDL
        rail.w(reg, value)
    rail.w(ECR, 0x01)  # CL 00: track on from the current baseline
    rail.scans(10)
    assert 704 < rail.baseline() < 735
    rail.scans(40)
    assert rail.baseline() == pytest.approx(735, abs=4)


def test_debounce_needs_consecutive_scans() -> None:
    rail = Rail()
    rail.thresholds()
    rail.w(DEBOUNCE, 0x02)  # DT = 2: three consecutive touch detections
    rail.twin.grip = TouchFrom(1.5 * SCAN_S)  # from the second scan on
    rail.w(ECR, 0xC1)
    rail.scans(3)
    assert not rail.r(0x00) & 0x01
    rail.scans(1)
    assert rail.r(0x00) & 0x01


@pytest.mark.parametrize("reg", [*range(0x2B, 0x41), 0x5B, 0x5C, 0x5D, *range(0x5F, 0x73),
                                 *range(0x7B, 0x80)])
def test_configuration_registers_keep_writes_in_stop_mode(reg: int) -> None:
    rail = Rail()
    rail.w(reg, 0x15)
    assert rail.r(reg) == 0x15, f"register {reg:#04x} dropped a write"
    rail.w(ECR, 0x01)
    rail.w(reg, 0x2A)  # run mode: ignored, as on the chip
    assert rail.r(reg) == 0x15


def test_gpio_registers_are_writable_in_run_mode() -> None:
    rail = Rail()
    rail.w(ECR, 0x01)
    rail.w(0x77, 0x30)
    assert rail.r(0x77) == 0x30


def test_auto_configuration_aims_at_the_target_level() -> None:
    rail = Rail()
    rail.w(0x7F, 150)  # TL: 150 × 4 = 600 counts
    rail.w(0x7B, 0x01)  # ACE
    rail.w(ECR, 0xC1)
    rail.scans(1)
    assert rail.filtered() == pytest.approx(600, abs=1)


def test_driver_sees_a_light_touch_on_a_rail_whose_counts_truncate_badly() -> None:
    """An untouched rail at 735 counts: a CL = 0b10 baseline would be 704, 31 counts low, and
    a light touch (30 counts) would never cross a 12-count threshold. The driver loads all
    10 bits, so the touch is seen."""
    rail = Rail(untouched_counts=735)
    driver = Mpr121(rail.bus, ADDR, rail.clock)
    driver.setup()
    rail.clock.advance_s(0.01)
    assert driver.read().touched & 1 == 0
    rail.hands.left = Hand(touch=True)
    rail.clock.advance_s(0.01)
    assert driver.read().touched & 1
    assert abs(driver.baselines()[0] - 735) < 4
