"""The LSM6DSOX twin follows the datasheet for every register a driver may write.

Each test drives the twin through the simulated bus, as any driver would, and checks what a
driver sees: rates, the FIFO's batching and flags, data-ready bits, BDU, resets.
"""

from __future__ import annotations

import pytest

from hardware.clock import SimClock
from hardware.sim.lsm6dsox import (
    BOOT_TIME_S,
    CTRL1_XL,
    CTRL2_G,
    CTRL3_C,
    CTRL4_C,
    CTRL6_C,
    FIFO_CTRL1,
    FIFO_CTRL3,
    FIFO_CTRL4,
    FIFO_STATUS1,
    Lsm6dsoxModel,
)
from hardware.sim.motion import Motion, Still, Vec3
from tests.twin_chip import TwinChip

ADDR = 0x6A
STATUS_REG = 0x1E
OUTX_L_G = 0x22
OUTX_L_A = 0x28
XLDA, GDA, TDA = 0x01, 0x02, 0x04
CONTINUOUS = 0x06
ODR_12_5, ODR_52, ODR_104, ODR_208, ODR_833, ODR_1011 = 0x1, 0x3, 0x4, 0x5, 0x7, 0xB


class Ramp:
    """Acceleration along X growing 1 m/s² per second: every sample differs."""

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        return (t_s, 0.0, 9.8), (0.0, 0.0, 0.0)


class Chip(TwinChip):
    def __init__(self, motion: Motion | None = None) -> None:
        clock = SimClock()
        super().__init__(ADDR, clock, Lsm6dsoxModel(clock, motion or Still(), seed=1))

    def start(self, xl: int = 0, g: int = 0, batch: int = 0) -> None:
        """Batch at ``batch`` (FIFO_CTRL3) in continuous mode if set, then ODR codes."""
        if batch:
            self.w(FIFO_CTRL3, batch)
            self.w(FIFO_CTRL4, CONTINUOUS)
        self.w(CTRL1_XL, xl << 4)
        self.w(CTRL2_G, g << 4)

    def fifo_count(self) -> int:
        lo, hi = self.bus.read_i2c_block_data(ADDR, FIFO_STATUS1, 2)
        return lo | ((hi & 0x03) << 8)

    def drain(self) -> list[int]:
        """Pop every FIFO word; returns their TAG_SENSOR values."""
        tags = []
        for _ in range(self.fifo_count()):
            word = self.bus.read_i2c_block_data(ADDR, 0x78, 7)
            tags.append(word[0] >> 3)
        return tags

    def count_ready(self, flag: int, seconds: float, step_s: float = 0.0005) -> int:
        """New samples seen by polling STATUS_REG's ``flag`` and reading the outputs."""
        seen = 0
        out = OUTX_L_A if flag == XLDA else OUTX_L_G
        for _ in range(round(seconds / step_s)):
            self.wait(step_s)
            if self.r(STATUS_REG) & flag:
                seen += 1
                self.bus.read_i2c_block_data(ADDR, out, 6)
        return seen


def test_accelerometer_and_gyroscope_rates_are_independent() -> None:
    chip = Chip()
    chip.start(xl=ODR_104, g=ODR_208, batch=(ODR_208 << 4) | ODR_104)
    chip.wait(1.0)
    tags = chip.drain()
    assert tags.count(2) == pytest.approx(104, abs=1)
    assert tags.count(1) == pytest.approx(208, abs=1)


def test_each_sensor_powers_down_on_its_own() -> None:
    chip = Chip()
    chip.start(xl=ODR_104, g=ODR_208)
    chip.wait(0.1)
    chip.w(CTRL2_G, 0x00)  # gyroscope off, accelerometer on
    chip.r(STATUS_REG)
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_G, 12)
    assert chip.count_ready(GDA, 0.2) == 0
    assert chip.count_ready(XLDA, 1.0) == pytest.approx(104, abs=1)
    chip.w(CTRL1_XL, 0x00)
    chip.w(CTRL2_G, ODR_52 << 4)
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_G, 12)
    assert chip.count_ready(XLDA, 0.2) == 0
    assert chip.count_ready(GDA, 1.0) == pytest.approx(52, abs=1)
    chip.w(CTRL4_C, 0x40)  # SLEEP_G: the gyroscope sleeps
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_G, 6)
    assert chip.count_ready(GDA, 0.5) == 0


def test_rate_code_1011_is_1_6_hz_in_low_power_and_12_5_hz_in_high_performance() -> None:
    chip = Chip()
    chip.w(CTRL6_C, 0x10)  # XL_HM_MODE = 1: low-power / normal mode
    chip.w(CTRL1_XL, ODR_1011 << 4)
    assert chip.count_ready(XLDA, 10.0, step_s=0.01) == pytest.approx(16, abs=1)
    chip.w(CTRL6_C, 0x00)  # high-performance mode
    assert chip.count_ready(XLDA, 10.0, step_s=0.01) == pytest.approx(125, abs=1)


def test_a_slower_rate_takes_effect_at_once() -> None:
    chip = Chip()
    chip.w(CTRL1_XL, ODR_833 << 4)
    chip.wait(3.0)
    chip.w(CTRL1_XL, ODR_12_5 << 4)
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_A, 6)
    # The next sample comes within one period of the new rate, not seconds later.
    assert chip.count_ready(XLDA, 0.081) == 1


def test_a_faster_rate_does_not_back_fill_the_fifo() -> None:
    chip = Chip()
    chip.start(xl=ODR_12_5, batch=ODR_833)  # accelerometer batched at 833 Hz
    chip.wait(10.0)
    chip.drain()
    chip.w(CTRL1_XL, ODR_833 << 4)
    chip.wait(0.01)
    assert chip.fifo_count() <= 9  # 10 ms at 833 Hz: nothing from before the change


def test_sampling_starts_when_the_rate_is_written() -> None:
    chip = Chip()
    chip.start(xl=ODR_208, g=ODR_208, batch=(ODR_208 << 4) | ODR_208)
    chip.wait(0.5)  # nobody reads for half a second
    assert chip.fifo_count() == pytest.approx(2 * 104, abs=2)


def test_fifo_batches_at_the_batch_data_rate_not_the_output_rate() -> None:
    chip = Chip()
    chip.start(xl=ODR_833, batch=ODR_52)  # accelerometer batched at 52 Hz
    chip.wait(1.0)
    assert chip.fifo_count() == pytest.approx(52, abs=1)


def test_watermark_flag_sets_at_the_threshold_and_clears_below() -> None:
    chip = Chip()
    chip.w(FIFO_CTRL1, 10)
    chip.start(xl=ODR_104, batch=ODR_104)
    chip.wait(0.05)  # 5 words
    assert not chip.r(0x3B) & 0x80
    chip.wait(0.05)  # 10 words
    assert chip.r(0x3B) & 0x80
    chip.bus.read_i2c_block_data(ADDR, 0x78, 7)
    assert not chip.r(0x3B) & 0x80


def test_stop_on_watermark_limits_the_fifo_depth() -> None:
    chip = Chip()
    chip.w(FIFO_CTRL1, 20)
    chip.w(0x08, 0x80)  # STOP_ON_WTM
    chip.w(FIFO_CTRL3, ODR_104)
    chip.w(FIFO_CTRL4, 0x01)  # FIFO mode: stops when full
    chip.w(CTRL1_XL, ODR_104 << 4)
    chip.wait(1.0)
    assert chip.fifo_count() == 20


def test_data_ready_flags_clear_per_sensor_and_temperature_is_ready() -> None:
    chip = Chip()
    chip.start(xl=ODR_208, g=ODR_208)
    chip.wait(0.05)
    assert chip.r(STATUS_REG) == XLDA | GDA | TDA
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_A, 6)
    assert chip.r(STATUS_REG) == GDA | TDA  # reading the accelerometer clears only XLDA
    chip.bus.read_i2c_block_data(ADDR, OUTX_L_G, 6)
    assert chip.r(STATUS_REG) == TDA
    chip.bus.read_i2c_block_data(ADDR, 0x20, 2)
    assert chip.r(STATUS_REG) == 0


@pytest.mark.parametrize("bdu", [True, False])
def test_block_data_update_keeps_a_pair_from_one_sample(bdu: bool) -> None:
    chip = Chip(Ramp())
    chip.w(CTRL3_C, 0x44 if bdu else 0x04)
    chip.w(CTRL1_XL, ODR_208 << 4)
    chip.wait(0.5)
    low = chip.r(OUTX_L_A)
    chip.wait(0.3)  # 0.3 m/s² more: the word moves by ~500 counts at ±2 g
    high = chip.r(OUTX_L_A + 1)
    word = low | (high << 8)
    chip.wait(0.3)
    newest = int.from_bytes(bytes(chip.bus.read_i2c_block_data(ADDR, OUTX_L_A, 2)), "little")
    at_first_read = round(0.5 / 9.80665 * 1000 / 0.061)
    if bdu:
        assert abs(word - at_first_read) < 20  # both bytes from the first sample
        assert abs(newest - round(1.1 / 9.80665 * 1000 / 0.061)) < 20  # then updates again
    else:
        assert abs(word - at_first_read) > 200  # a torn word: high byte from a later sample


def test_boot_bit_clears_itself_and_keeps_the_configuration() -> None:
    chip = Chip()
    chip.w(CTRL1_XL, ODR_104 << 4)
    chip.w(CTRL3_C, 0x84)
    assert chip.r(CTRL3_C) & 0x80
    chip.wait(BOOT_TIME_S)
    assert chip.r(CTRL3_C) == 0x04
    assert chip.r(CTRL1_XL) == ODR_104 << 4


def test_software_reset_restores_reset_values_and_empties_the_fifo() -> None:
    chip = Chip()
    chip.start(xl=ODR_104, batch=ODR_104)
    chip.w(0x18, 0x02)
    chip.wait(0.1)
    chip.w(CTRL3_C, 0x05)
    assert chip.r(CTRL3_C) == 0x04  # SW_RESET reads back clear
    assert chip.r(0x18) == 0xE0 and chip.r(CTRL1_XL) == 0 and chip.fifo_count() == 0


RESET = {0x01: 0x00, 0x02: 0x3F, 0x07: 0, 0x08: 0, 0x09: 0, 0x0A: 0, 0x0B: 0, 0x0C: 0,
         0x0D: 0, 0x0E: 0, 0x10: 0, 0x11: 0, 0x12: 0x04, 0x13: 0, 0x14: 0, 0x15: 0, 0x16: 0,
         0x17: 0, 0x18: 0xE0, 0x19: 0}


def test_control_registers_have_reset_values_and_keep_writes() -> None:
    chip = Chip()
    assert {reg: chip.r(reg) for reg in RESET} == RESET
    for reg in (0x02, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19):
        value = 0x7F if reg == 0x02 else 0x22  # nothing that powers a sensor or resets
        chip.w(reg, value)
        assert chip.r(reg) == value, f"register {reg:#04x} dropped a write"


def test_read_only_registers_ignore_writes() -> None:
    chip = Chip()
    chip.w(0x0F, 0x00)
    chip.w(STATUS_REG, 0xFF)
    assert chip.r(0x0F) == 0x6C and chip.r(STATUS_REG) == 0
