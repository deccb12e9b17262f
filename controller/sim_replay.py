"""``treadguard sim --scenario replay:PATH``: one recorded trial as the clip's motion.

PATH is one recording: a KFall trial (``SxxTyyRzz.csv``), a SisFall trial (``.txt``) or a file
in the documented csv format (see :mod:`controller.evaluate.readers`, whose readers this uses).
The recording's axes are turned so that its resting gravity (the mean of its first 0.5 s) points
along the clip's +z, by the smallest rotation, which maps the datasets' low-back sensors onto an
upright belt clip; its heading is left as recorded. The same operator as every scenario starts
the belt; the recording plays from ``REPLAY_START_S`` (at the session speed), and the session
ends ``REPLAY_TAIL_S`` after it. The onset is the recording's labelled fall onset, if any.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np

from controller.evaluate.readers import (
    CSV_HEADER,
    SISFALL_ACC_G_PER_COUNT,
    SISFALL_GYRO_DPS_PER_COUNT,
    DatasetError,
    read_csv,
    read_kfall,
    read_sisfall_counts,
)
from controller.evaluate.trial import Trial
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.replay import Replay
from hardware.sim.scenario_file import OPERATOR, ScenarioFileError
from hardware.sim.scenarios import Scenario

REPLAY_START_S: Final = 10.0
REPLAY_TAIL_S: Final = 3.0


def read_trial(path: Path) -> Trial:
    """The one recording at ``path`` (KFall csv, SisFall txt, or the csv format).

    Raises:
        ScenarioFileError: missing, unreadable or not in a known format (one line).
    """
    if not path.is_file():
        raise ScenarioFileError(f"{path}: no such recording")
    try:
        if path.suffix.lower() == ".txt":
            counts = read_sisfall_counts(path)
            n = counts.shape[0]
            return Trial(path.parent.name, path.name, path.stem.split("_")[0], "adl",
                         np.arange(n, dtype=np.float64) / 200.0,
                         counts[:, 0:3] * SISFALL_ACC_G_PER_COUNT,
                         counts[:, 3:6] * SISFALL_GYRO_DPS_PER_COUNT)
        with path.open(encoding="utf-8") as fh:
            header = tuple(h.strip() for h in fh.readline().strip().split(","))
        if header == CSV_HEADER:
            return next(iter(read_csv(path)))
        # A KFall trial: its labels live two folders up (KFall/label_data), when present.
        root = path.parent.parent.parent
        for trial in read_kfall(root, [path.parent.name]):
            if trial.file == path.name:
                return trial
    except (DatasetError, OSError, ValueError, UnicodeDecodeError, StopIteration) as exc:
        raise ScenarioFileError(f"{path}: not a readable recording: {exc}") from None
    raise ScenarioFileError(f"{path}: not a KFall trial (KFall/sensor_data/SAxx/SxxTyyRzz.csv), a "
                            f"SisFall .txt or a csv recording")


def upright_rotation(acc_g: np.ndarray, rate_hz: float) -> np.ndarray:
    """The smallest rotation taking the recording's resting gravity (first 0.5 s) to +z."""
    head = acc_g[: max(1, int(0.5 * rate_hz))].mean(axis=0)
    g = head / np.linalg.norm(head)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(g, z)
    s, c = float(np.linalg.norm(v)), float(np.dot(g, z))
    if s < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    result: np.ndarray = np.eye(3) + vx + vx @ vx * ((1.0 - c) / (s * s))
    return result


def replay_scenario(path: Path, speed_kmh: float | None, duration_s: float | None) -> Scenario:
    """The replay of the recording at ``path`` as a scenario (see the module docstring)."""
    trial = read_trial(path)
    rot = upright_rotation(trial.acc_g, trial.rate_hz)
    acc = (trial.acc_g @ rot.T) * STANDARD_GRAVITY_MPS2
    gyro = np.radians(trial.gyro_dps) @ rot.T
    motion = Replay(trial.t_s.tolist(), [tuple(a) for a in acc.tolist()],
                    [tuple(w) for w in gyro.tolist()], REPLAY_START_S)
    onset = None if trial.onset_s is None else REPLAY_START_S + trial.onset_s
    length = motion.end_s + REPLAY_TAIL_S
    return Scenario(name=f"replay:{path.name}",
                    duration_s=length if duration_s is None else duration_s,
                    target_speed_kmh=speed_kmh, motion=motion, actions=OPERATOR,
                    description=f"{trial.file} ({trial.task_code}, {trial.kind}) replayed "
                                f"through the IMU twin from {REPLAY_START_S:g} s",
                    onset_s=None if onset is None or not math.isfinite(onset) else onset)
