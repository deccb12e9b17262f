"""What every IMU driver yields: one timestamped, sequenced sample in SI units.

Drivers (LSM6DSOX, MPU-6050, …) convert raw counts into an :class:`ImuSample` in the
*sensor* frame. Orientation normalisation (which way is "up" on this runner's clip) is the
detectors' job, so a clip worn either way up works.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_GRAVITY_MPS2 = 9.80665
"""1 g in m/s²."""

ACCEL_RANGES_G = (2, 4, 8, 16)
"""Accelerometer full scales, ±g, that every supported IMU offers."""
GYRO_RANGES_DPS = (250, 500, 1000, 2000)
"""Gyroscope full scales, ±°/s, that every supported IMU offers."""


class ImuError(Exception):
    """The IMU is missing, is not what the configuration says, or did not take its setup."""


def check_ranges(accel_range_g: int, gyro_range_dps: int) -> None:
    """Raise ``ValueError`` unless both full scales are ones the chips offer."""
    if accel_range_g not in ACCEL_RANGES_G:
        raise ValueError(f"accel_range_g must be one of 2, 4, 8, 16, got {accel_range_g}")
    if gyro_range_dps not in GYRO_RANGES_DPS:
        raise ValueError(
            f"gyro_range_dps must be one of 250, 500, 1000, 2000, got {gyro_range_dps}"
        )


@dataclass(frozen=True, slots=True)
class ImuSample:
    """One IMU sample.

    Attributes:
        t_s: time of the sample in seconds, from the injected clock (for FIFO reads, the
            chip's own sample spacing is used to back-date samples read in a batch).
        seq: the sensor's sample sequence number, +1 per sample. A gap means samples were lost;
            a repeat means the same sample was read twice.
        acc_mps2: specific force (x, y, z) in m/s², sensor frame. At rest its norm is ≈ 9.81.
        gyro_rads: angular rate (x, y, z) in rad/s, sensor frame.
    """

    t_s: float
    seq: int
    acc_mps2: tuple[float, float, float]
    gyro_rads: tuple[float, float, float]
