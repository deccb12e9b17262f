"""One recorded trial, in the units the datasets use (g and deg/s), plus its labels."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample

FloatArray = npt.NDArray[np.float64]

LOOP_RATE_HZ = 200.0
"""The control loop's rate; every recording is resampled to it before it reaches a detector."""


@dataclass(frozen=True)
class Trial:
    """One recording of one activity.

    Attributes:
        subject: subject id (``"SA06"``), or the csv folder's name.
        file: file name of the recording (no directory).
        task_code: ``"F09"``, ``"D06"``, … (``"CSV"`` for unlabelled csv recordings).
        kind: ``"fall"`` or ``"adl"`` (activity of daily living).
        t_s: sample times in seconds, strictly increasing, first sample at 0.0.
        acc_g: specific force, shape (n, 3), in g, sensor frame.
        gyro_dps: angular rate, shape (n, 3), in degrees per second, sensor frame.
        onset_s: labelled fall onset, seconds from the first sample (None if not labelled).
        impact_s: labelled impact, seconds from the first sample (None if not labelled).
    """

    subject: str
    file: str
    task_code: str
    kind: str
    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray
    onset_s: float | None = None
    impact_s: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the recording, seconds (last sample time; the first is 0)."""
        return float(self.t_s[-1]) if len(self.t_s) else 0.0

    @property
    def rate_hz(self) -> float:
        """Median sample rate of the recording, Hz."""
        if len(self.t_s) < 2:
            return LOOP_RATE_HZ
        return float(1.0 / np.median(np.diff(self.t_s)))


def resample(trial: Trial, rate_hz: float = LOOP_RATE_HZ) -> Trial:
    """Linear interpolation of ``trial`` onto a uniform grid at ``rate_hz`` starting at 0 s.

    A recording already at ``rate_hz`` (within 1 %) on a uniform grid is returned unchanged.
    Labels are times, so they carry over untouched.
    """
    t = trial.t_s
    if len(t) < 2:
        return trial
    steps = np.diff(t)
    if abs(trial.rate_hz - rate_hz) / rate_hz < 0.01 and float(np.ptp(steps)) < 0.2 / rate_hz:
        return trial
    n = math.floor(float(t[-1]) * rate_hz + 1e-9) + 1
    grid = np.arange(n, dtype=np.float64) / rate_hz
    acc = np.column_stack([np.interp(grid, t, trial.acc_g[:, i]) for i in range(3)])
    gyro = np.column_stack([np.interp(grid, t, trial.gyro_dps[:, i]) for i in range(3)])
    return Trial(trial.subject, trial.file, trial.task_code, trial.kind, grid, acc, gyro,
                 trial.onset_s, trial.impact_s)


def samples(trial: Trial) -> Iterator[ImuSample]:
    """The trial as the loop would see it: :class:`ImuSample` in SI units, one per row."""
    acc = (trial.acc_g * STANDARD_GRAVITY_MPS2).tolist()
    gyro = np.radians(trial.gyro_dps).tolist()
    for i, t in enumerate(trial.t_s.tolist()):
        a = acc[i]
        g = gyro[i]
        yield ImuSample(t, i, (a[0], a[1], a[2]), (g[0], g[1], g[2]))
