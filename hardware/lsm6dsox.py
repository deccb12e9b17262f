"""Driver for the ST LSM6DSOX belt-clip IMU (accelerometer + gyroscope) on I²C.

The driver is handed its bus (a real ``smbus2.SMBus`` or the simulated bus) and the injected
clock; it never opens a device itself. :meth:`Lsm6dsox.setup` identifies the chip (WHO_AM_I
allow-list), resets it, configures ranges and rate and reads the configuration back;
:meth:`Lsm6dsox.read` returns the samples that arrived since the last call.

Errors: any bus failure propagates as ``OSError`` (the loop counts it against the I²C error
budget and, past it, stops the belt). A wrong identity or a configuration that does not read
back raises :class:`ImuError` — the controller refuses to arm.
"""

from __future__ import annotations

from typing import Final

from controller.clock import Clock
from hardware.i2c import I2CBus
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample

WHO_AM_I: Final = 0x0F
CTRL1_XL: Final = 0x10
CTRL2_G: Final = 0x11
CTRL3_C: Final = 0x12
STATUS_REG: Final = 0x1E
OUTX_L_G: Final = 0x22

CHIP_IDS: Final = frozenset({0x6C})
ODR_208_HZ: Final = 0x5
CTRL3_BDU: Final = 0x40
CTRL3_IF_INC: Final = 0x04
CTRL3_SW_RESET: Final = 0x01
RESET_POLLS: Final = 10  # SW_RESET takes ~50 µs; each poll is a ~100 µs bus transfer

ACCEL_FS_CODE: Final = {2: 0, 16: 1, 4: 2, 8: 3}
ACCEL_MG_PER_LSB: Final = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
GYRO_FS_CODE: Final = {250: 0, 500: 1, 1000: 2, 2000: 3}
GYRO_MDPS_PER_LSB: Final = {250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}
DEG_TO_RAD: Final = 0.017453292519943295


class ImuError(Exception):
    """The IMU is missing, is not what the configuration says, or did not take its setup."""


class Lsm6dsox:
    """LSM6DSOX at ``address`` on ``bus``, sampling at 208 Hz.

    Args:
        bus: smbus2-compatible bus (see :mod:`hardware.i2c`).
        address: 0x6A (SDO low) or 0x6B (SDO high).
        clock: the injected clock; samples are stamped with its time.
        accel_range_g: ±2, 4, 8 or 16 g (default 16: falls and impacts exceed 8 g).
        gyro_range_dps: ±250, 500, 1000 or 2000 °/s (default 2000).
    """

    chip = "LSM6DSOX"
    rate_hz = 208.0

    def __init__(
        self,
        bus: I2CBus,
        address: int,
        clock: Clock,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
    ) -> None:
        if accel_range_g not in ACCEL_FS_CODE:
            raise ValueError(f"accel_range_g must be one of 2, 4, 8, 16, got {accel_range_g}")
        if gyro_range_dps not in GYRO_FS_CODE:
            raise ValueError(
                f"gyro_range_dps must be one of 250, 500, 1000, 2000, got {gyro_range_dps}"
            )
        self._bus = bus
        self.address = address
        self._clock = clock
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self._acc_scale = ACCEL_MG_PER_LSB[accel_range_g] * 1e-3 * STANDARD_GRAVITY_MPS2
        self._gyro_scale = GYRO_MDPS_PER_LSB[gyro_range_dps] * 1e-3 * DEG_TO_RAD
        self._seq = 0
        self.identity = 0

    def setup(self) -> None:
        """Identify, reset, configure and verify. Raises :class:`ImuError` or ``OSError``."""
        ident = self._bus.read_byte_data(self.address, WHO_AM_I)
        if ident not in CHIP_IDS:
            raise ImuError(
                f"LSM6DSOX at {self.address:#04x}: WHO_AM_I reads {ident:#04x}, expected 0x6c"
            )
        self.identity = ident
        self._bus.write_byte_data(self.address, CTRL3_C, CTRL3_IF_INC | CTRL3_SW_RESET)
        for _ in range(RESET_POLLS):
            if not self._bus.read_byte_data(self.address, CTRL3_C) & CTRL3_SW_RESET:
                break
        else:
            raise ImuError(f"LSM6DSOX at {self.address:#04x}: software reset did not complete")
        wanted = {
            CTRL3_C: CTRL3_BDU | CTRL3_IF_INC,
            CTRL1_XL: (ODR_208_HZ << 4) | (ACCEL_FS_CODE[self.accel_range_g] << 2),
            CTRL2_G: (ODR_208_HZ << 4) | (GYRO_FS_CODE[self.gyro_range_dps] << 2),
        }
        for reg, value in wanted.items():
            self._bus.write_byte_data(self.address, reg, value)
        for reg, value in wanted.items():
            got = self._bus.read_byte_data(self.address, reg)
            if got != value:
                raise ImuError(
                    f"LSM6DSOX at {self.address:#04x}: register {reg:#04x} reads {got:#04x} "
                    f"after writing {value:#04x}"
                )

    def describe(self) -> str:
        return (f"{self.chip} at {self.address:#04x}: WHO_AM_I {self.identity:#04x}, "
                f"±{self.accel_range_g} g, ±{self.gyro_range_dps} °/s, {self.rate_hz:g} Hz")

    def read(self) -> list[ImuSample]:
        """Samples that arrived since the last call (empty if none). Raises ``OSError``."""
        status = self._bus.read_byte_data(self.address, STATUS_REG)
        if status & 0x03 != 0x03:
            return []
        raw = bytes(self._bus.read_i2c_block_data(self.address, OUTX_L_G, 12))
        words = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, 12, 2)]
        g, a = self._gyro_scale, self._acc_scale
        self._seq += 1
        return [
            ImuSample(
                t_s=self._clock.now_s(),
                seq=self._seq,
                acc_mps2=(words[3] * a, words[4] * a, words[5] * a),
                gyro_rads=(words[0] * g, words[1] * g, words[2] * g),
            )
        ]
