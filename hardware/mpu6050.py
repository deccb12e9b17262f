"""Driver for the TDK InvenSense MPU-6050 belt-clip IMU (the common hobby board) on I²C.

Same interface as :class:`hardware.lsm6dsox.Lsm6dsox`: handed its bus and the injected clock;
:meth:`Mpu6050.setup` identifies (WHO_AM_I allow-list: clones and the register-compatible
MPU-6500 family report other values), resets (DEVICE_RESET, then the chip wakes asleep with
PWR_MGMT_1 = 0x40, so it is woken explicitly), configures 200 Hz (1 kHz / (1 + SMPLRT_DIV 4),
DLPF 94 Hz) and ranges, enables the FIFO for accelerometer + gyroscope (12 big-endian bytes per
sample) and reads every setting back. :meth:`Mpu6050.read` drains the FIFO.

Why the FIFO: as with the LSM6DSOX, a late loop iteration loses nothing. The MPU-6050 has no
sample counter, so ``seq`` counts frames read; after an overflow (the FIFO holds 85 frames,
0.43 s: a stalled loop) the FIFO has lost its frame alignment, so the driver resets it, counts
the overrun and advances ``seq`` by the time-estimated gap so the loss is visible downstream.
Two bus transactions per read: FIFO_COUNTH/L (2 bytes), then one ``i2c_rdwr`` reading the
whole frames from FIFO_R_W (the chip does not advance its pointer past FIFO_R_W).

Errors: bus failures propagate as ``OSError``; a wrong identity or a setting that does not
read back raises :class:`~hardware.imu.ImuError`.
"""

from __future__ import annotations

from typing import Final

from smbus2 import i2c_msg

from hardware.clock import Clock
from hardware.i2c import I2CBus
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuError, ImuSample, check_ranges
from hardware.register_chip import RegisterChip
from hardware.units import DEG_TO_RAD

SMPLRT_DIV: Final = 0x19
CONFIG: Final = 0x1A
GYRO_CONFIG: Final = 0x1B
ACCEL_CONFIG: Final = 0x1C
FIFO_EN: Final = 0x23
USER_CTRL: Final = 0x6A
PWR_MGMT_1: Final = 0x6B
FIFO_COUNTH: Final = 0x72
FIFO_R_W: Final = 0x74
WHO_AM_I: Final = 0x75

CHIP_IDS: Final = {0x68: "MPU-6050", 0x70: "MPU-6500", 0x71: "MPU-9250"}
"""WHO_AM_I values accepted. The MPU-6500/9250 share every register this driver touches."""
FIFO_SIZE_BYTES: Final = {0x68: 1024, 0x70: 512, 0x71: 512}
"""The FIFO's size by identity: a full FIFO is how the driver recognises an overflow."""
DEVICE_RESET: Final = 0x80
CLKSEL_PLL_XGYRO: Final = 0x01  # awake (SLEEP = 0), clocked from the X gyro PLL (datasheet advice)
RESET_WAIT_S: Final = 0.1  # the register map asks for 100 ms after DEVICE_RESET
RESET_POLLS: Final = 10
SAMPLE_DIVIDER: Final = 4  # 1 kHz / (1 + 4) = 200 Hz
DLPF_94_HZ: Final = 2  # below the 100 Hz Nyquist limit of 200 Hz sampling
FIFO_ACCEL_GYRO: Final = 0x78  # XG, YG, ZG, ACCEL
USER_CTRL_FIFO_EN: Final = 0x40
USER_CTRL_FIFO_RESET: Final = 0x04
FRAME_BYTES: Final = 12
FIFO_BYTES: Final = 1024
MAX_FRAMES_PER_READ: Final = 12  # 144 bytes ≈ 3.4 ms at 400 kHz; the rest waits in the FIFO

ACCEL_FS_CODE: Final = {2: 0, 4: 1, 8: 2, 16: 3}
ACCEL_LSB_PER_G: Final = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
GYRO_FS_CODE: Final = {250: 0, 500: 1, 1000: 2, 2000: 3}
GYRO_LSB_PER_DPS: Final = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}


class Mpu6050(RegisterChip):
    """MPU-6050 at ``address`` on ``bus``, sampling at 200 Hz through its FIFO.

    Args:
        bus: smbus2-compatible bus (see :mod:`hardware.i2c`).
        address: 0x68 (AD0 low) or 0x69 (AD0 high).
        clock: the injected clock; samples are stamped with its time, and the 100 ms reset
            wait uses it (so simulated setups take no real time).
        accel_range_g: ±2, 4, 8 or 16 g (default 16).
        gyro_range_dps: ±250, 500, 1000 or 2000 °/s (default 2000).

    Counters: ``overruns`` (FIFO overflows, each followed by a FIFO reset), ``lost``
    (estimated samples lost to overflows), ``repeats`` (always 0: the chip has no counter that
    could reveal a repeat; a repeated frame shows as identical values to sensor health).
    """

    chip = "MPU-6050"
    error = ImuError
    rate_hz = 200.0

    def __init__(
        self,
        bus: I2CBus,
        address: int,
        clock: Clock,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
    ) -> None:
        check_ranges(accel_range_g, gyro_range_dps)
        super().__init__(bus, address, clock)
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self._acc_scale = STANDARD_GRAVITY_MPS2 / ACCEL_LSB_PER_G[accel_range_g]
        self._gyro_scale = DEG_TO_RAD / GYRO_LSB_PER_DPS[gyro_range_dps]
        self.identity = 0
        self.overruns = 0
        self.lost = 0
        self.repeats = 0
        self._seq = 0
        self._last_t_s: float | None = None

    def setup(self) -> None:
        """Identify, reset, wake, configure and verify. Raises ``ImuError`` or ``OSError``."""
        known = ", ".join(f"{k:#04x} ({v})" for k, v in CHIP_IDS.items())
        self.identity = self._check_who_am_i(WHO_AM_I, CHIP_IDS, f"one of {known}")
        self._reset(PWR_MGMT_1, DEVICE_RESET, busy_bit=DEVICE_RESET, polls=RESET_POLLS,
                    wait_s=RESET_WAIT_S, what="DEVICE_RESET")
        wanted = {
            PWR_MGMT_1: CLKSEL_PLL_XGYRO,
            SMPLRT_DIV: SAMPLE_DIVIDER,
            CONFIG: DLPF_94_HZ,
            GYRO_CONFIG: GYRO_FS_CODE[self.gyro_range_dps] << 3,
            ACCEL_CONFIG: ACCEL_FS_CODE[self.accel_range_g] << 3,
            FIFO_EN: FIFO_ACCEL_GYRO,
            USER_CTRL: USER_CTRL_FIFO_EN,
        }
        self._write_registers(wanted)
        # Empty the FIFO last, so the first read starts on a frame boundary.
        self._bus.write_byte_data(self.address, USER_CTRL, USER_CTRL_FIFO_EN | USER_CTRL_FIFO_RESET)
        self._verify_registers(wanted)
        self._seq = 0
        self._last_t_s = None

    def describe(self) -> str:
        name = CHIP_IDS.get(self.identity, "?")
        return (f"{self.chip} at {self.address:#04x}: WHO_AM_I {self.identity:#04x} ({name}), "
                f"±{self.accel_range_g} g, ±{self.gyro_range_dps} °/s, {self.rate_hz:g} Hz, FIFO")

    def read(self) -> list[ImuSample]:
        """Samples that arrived since the last call, oldest first (empty if none).

        Raises ``OSError`` on a bus failure.
        """
        now_s = self._clock.now_s()
        hi, lo = self._bus.read_i2c_block_data(self.address, FIFO_COUNTH, 2)
        available = (hi << 8) | lo
        dt_s = 1.0 / self.rate_hz
        fifo_bytes = FIFO_SIZE_BYTES.get(self.identity, FIFO_BYTES)
        if available >= fifo_bytes - FRAME_BYTES or available % FRAME_BYTES:
            # Overflowed (or misaligned): the byte stream no longer starts on a frame.
            self._bus.write_byte_data(
                self.address, USER_CTRL, USER_CTRL_FIFO_EN | USER_CTRL_FIFO_RESET
            )
            self.overruns += 1
            if self._last_t_s is not None:
                gap = max(1, round((now_s - self._last_t_s) / dt_s))
                self._seq += gap
                self.lost += gap
                self._last_t_s = now_s
            return []
        frames = min(available // FRAME_BYTES, MAX_FRAMES_PER_READ)
        if frames == 0:
            return []
        pointer = i2c_msg.write(self.address, [FIFO_R_W])
        data = i2c_msg.read(self.address, FRAME_BYTES * frames)
        self._bus.i2c_rdwr(pointer, data)
        raw = bytes(data)
        newest_s = now_s - (available // FRAME_BYTES - frames) * dt_s
        samples = []
        a, g = self._acc_scale, self._gyro_scale
        for i in range(frames):
            w = [int.from_bytes(raw[i * 12 + j : i * 12 + j + 2], "big", signed=True)
                 for j in range(0, 12, 2)]
            t_s = newest_s - (frames - 1 - i) * dt_s
            if self._last_t_s is not None:
                t_s = max(t_s, self._last_t_s + 1e-6)  # never backwards
            self._last_t_s = t_s
            self._seq += 1
            samples.append(ImuSample(
                t_s=t_s,
                seq=self._seq,
                acc_mps2=(w[0] * a, w[1] * a, w[2] * a),
                gyro_rads=(w[3] * g, w[4] * g, w[5] * g),
            ))
        return samples
