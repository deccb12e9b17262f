"""The MPU-6050 twin follows the register map for every register a driver may write."""

from __future__ import annotations

import pytest

from hardware.clock import SimClock
from hardware.sim.motion import Motion, Still, Vec3
from hardware.sim.mpu6050 import WRITABLE, Mpu6050Model
from tests.twin_chip import TwinChip

ADDR = 0x68
SMPLRT_DIV, CONFIG, FIFO_EN, INT_STATUS = 0x19, 0x1A, 0x23, 0x3A
USER_CTRL, PWR_MGMT_1, PWR_MGMT_2 = 0x6A, 0x6B, 0x6C
FIFO_COUNTH, FIFO_R_W = 0x72, 0x74
ACCEL_XOUT_H = 0x3B


class Ramp:
    """Acceleration along X and rotation about X both growing with time: every sample differs."""

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        return (t_s * 100.0, 0.0, 9.8), (t_s * 10.0, 0.0, 0.0)


class Chip(TwinChip):
    def __init__(self, motion: Motion | None = None) -> None:
        clock = SimClock()
        super().__init__(ADDR, clock, Mpu6050Model(clock, motion or Still(), seed=1))

    def fifo_count(self) -> int:
        hi, lo = self.bus.read_i2c_block_data(ADDR, FIFO_COUNTH, 2)
        return (hi << 8) | lo

    def ready_count(self, seconds: float, step_s: float) -> int:
        seen = 0
        for _ in range(round(seconds / step_s)):
            self.wait(step_s)
            seen += self.r(INT_STATUS) & 0x01
        return seen


def test_low_power_cycle_mode_samples_at_the_wake_rate() -> None:
    chip = Chip()
    chip.w(PWR_MGMT_2, (1 << 6) | 0x07)  # LP_WAKE_CTRL 5 Hz, gyroscopes in standby
    chip.w(PWR_MGMT_1, 0x20 | 0x08)  # CYCLE, awake, temperature sensor off
    assert chip.ready_count(2.0, 0.01) == pytest.approx(10, abs=1)
    chip.w(PWR_MGMT_1, 0x40)  # SLEEP: nothing at all
    assert chip.ready_count(1.0, 0.01) == 0


def test_accelerometer_outputs_1_khz_while_gyroscope_outputs_8_khz() -> None:
    chip = Chip(Ramp())
    chip.w(PWR_MGMT_1, 0x01)
    chip.w(CONFIG, 0x00)  # DLPF off: gyroscope at 8 kHz
    chip.w(SMPLRT_DIV, 0)  # sample rate 8 kHz
    chip.w(FIFO_EN, 0x48)  # XG + ACCEL: 8 bytes per frame
    chip.w(USER_CTRL, 0x44)
    chip.wait(0.004)  # 32 frames
    count = chip.fifo_count()
    assert count == pytest.approx(32 * 8, abs=8)
    raw = []
    for _ in range(count // 8):
        raw.append(bytes(chip.bus.read_i2c_block_data(ADDR, FIFO_R_W, 8)))
    accel_x = [int.from_bytes(f[0:2], "big", signed=True) for f in raw]
    gyro_x = [int.from_bytes(f[6:8], "big", signed=True) for f in raw]
    assert len(set(accel_x)) <= 5  # four or five 1 kHz accelerometer samples in 4 ms
    assert len(set(gyro_x)) >= len(raw) - 2  # a new gyroscope value in (nearly) every frame


def test_a_faster_rate_does_not_back_fill_the_fifo() -> None:
    chip = Chip()
    chip.w(PWR_MGMT_1, 0x01)
    chip.w(CONFIG, 0x01)  # DLPF on: 1 kHz
    chip.w(SMPLRT_DIV, 99)  # 10 Hz
    chip.w(FIFO_EN, 0x08)
    chip.w(USER_CTRL, 0x44)
    chip.wait(5.0)
    chip.w(USER_CTRL, 0x44)  # empty it
    chip.w(SMPLRT_DIV, 0)  # 1 kHz from now on
    chip.wait(0.005)
    assert chip.fifo_count() <= 6 * 6  # 5 ms at 1 kHz, not 5 s of history


def test_a_slower_rate_does_not_pause_output() -> None:
    chip = Chip()
    chip.w(PWR_MGMT_1, 0x01)
    chip.w(CONFIG, 0x00)  # 8 kHz
    chip.wait(2.0)
    chip.w(CONFIG, 0x01)
    chip.w(SMPLRT_DIV, 99)  # 10 Hz
    chip.r(INT_STATUS)
    assert chip.ready_count(0.101, 0.001) == 1


def test_an_empty_fifo_repeats_the_last_byte_read() -> None:
    chip = Chip(Ramp())
    chip.w(PWR_MGMT_1, 0x01)
    chip.w(CONFIG, 0x01)
    chip.w(SMPLRT_DIV, 9)  # 100 Hz
    chip.w(FIFO_EN, 0x08)
    chip.w(USER_CTRL, 0x44)
    chip.wait(0.0101)  # one frame
    frame = chip.bus.read_i2c_block_data(ADDR, FIFO_R_W, 6)
    assert chip.fifo_count() == 0
    assert chip.bus.read_i2c_block_data(ADDR, FIFO_R_W, 3) == [frame[-1]] * 3


def test_fifo_count_low_byte_is_latched_by_reading_the_high_byte() -> None:
    chip = Chip()
    chip.w(PWR_MGMT_1, 0x01)
    chip.w(CONFIG, 0x01)
    chip.w(SMPLRT_DIV, 4)  # 200 Hz
    chip.w(FIFO_EN, 0x78)
    chip.w(USER_CTRL, 0x44)
    chip.wait(0.05)
    assert chip.fifo_count() == 120  # 10 frames of 12 bytes
    chip.wait(0.05)
    assert chip.r(0x73) == 120  # L alone still shows the latched count


def test_read_write_registers_keep_writes_and_read_only_ones_ignore_them() -> None:
    chip = Chip()
    for reg in sorted(WRITABLE - {SMPLRT_DIV, USER_CTRL, PWR_MGMT_1, 0x68}):
        chip.w(reg, 0x28)
        assert chip.r(reg) == 0x28, f"register {reg:#04x} dropped a write"
    for reg in (0x1D, 0x1F, 0x37, 0x38, 0x69):
        assert reg in WRITABLE
    chip.w(0x75, 0x00)
    chip.w(ACCEL_XOUT_H, 0x12)
    assert chip.r(0x75) == 0x68 and chip.r(ACCEL_XOUT_H) == 0


def test_reset_bits_clear_themselves() -> None:
    chip = Chip()
    chip.w(USER_CTRL, 0x47)  # FIFO_EN + FIFO_RESET + I2C_MST_RESET + SIG_COND_RESET
    chip.w(0x68, 0x07)
    assert chip.r(USER_CTRL) == 0x40 and chip.r(0x68) == 0
