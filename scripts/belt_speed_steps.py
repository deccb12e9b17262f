"""What a change of belt speed under a walking or jogging runner does to the detector, on the
development subjects' own walking and jogging (synthetic perturbation of real recordings).

    nice .venv/bin/python scripts/belt_speed_steps.py --kfall ../data/KFall \\
        --sisfall ../data/SisFall_dataset [--config FILE]

No dataset has a belt that changes speed under someone, so the change is superimposed on every
walking and jogging trial of the development subjects (KFall D06–D09, SisFall D01–D04; never
the held-aside ones):

* the belt accelerates at ``A`` m/s² for ``D`` s, starting at 40 % of the trial (at least 3 s
  in); the trunk follows it through a first-order lag of :data:`LAG_S` (the legs carry it), so
  the waist sees an extra horizontal specific force ``a(t)`` along a direction ``φ`` around
  gravity (4 directions: forward, backward and both sides, whatever the clip's mounting);
* the trunk pitches, :data:`PITCH_DEG_PER_MPS2` degrees per m/s² of ``a(t)``, about the
  horizontal axis across the push, either way (leaning into the push, or tipped against it as
  the feet are carried away under the trunk): the readings rotate and the gyroscope sees the
  pitch rate.

The governor ramps the belt at ``[limits] ramp_mps2`` ≤ 0.25 m/s² and stops it at
``stop_decel_mps2`` ≤ 1.5 m/s²; the grid goes beyond both (a console button or a treadmill's
own controller may change speed more abruptly). Prints, per (A, D), the trials with a stop
among all perturbed ones, and the same trials unperturbed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.config import DetectSettings, load  # noqa: E402
from controller.detect import build_default  # noqa: E402
from controller.evaluate.harness import run_trial  # noqa: E402
from controller.evaluate.metrics import GAIT_ADL  # noqa: E402
from controller.evaluate.readers import read_kfall, read_sisfall  # noqa: E402
from controller.evaluate.splits import KFALL_TUNE, SISFALL_TUNE  # noqa: E402
from controller.evaluate.trial import Trial, resample  # noqa: E402
from hardware.imu import STANDARD_GRAVITY_MPS2  # noqa: E402

FloatArray = npt.NDArray[np.float64]
STEPS: tuple[tuple[float, float], ...] = ((1.0, 0.5), (1.0, 1.0), (2.0, 1.0))
"""(belt acceleration m/s², duration s)."""
DIRECTIONS_DEG: tuple[float, ...] = (0.0, 90.0, 180.0, 270.0)
LAG_S = 0.15
PITCH_DEG_PER_MPS2 = 5.0


def _rotation(axis: FloatArray, angle_rad: FloatArray) -> FloatArray:
    """Rotation matrices (n × 3 × 3) about the unit ``axis`` by ``angle_rad`` (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    s = np.sin(angle_rad)[:, None, None]
    c = np.cos(angle_rad)[:, None, None]
    return np.eye(3)[None] + s * k[None] + (1 - c) * (k @ k)[None]  # type: ignore[no-any-return]


def perturbed(trial: Trial, accel_mps2: float, duration_s: float, direction_deg: float,
              pitch_sign: float = 1.0) -> Trial:
    """``trial`` (resampled to the loop's rate) with a belt-speed change superimposed."""
    tr = resample(trial)
    t = tr.t_s
    dt = float(t[1] - t[0])
    g0 = tr.acc_g.mean(axis=0)
    g0 = g0 / np.linalg.norm(g0)
    ref = np.eye(3)[int(np.argmin(np.abs(g0)))]
    e1 = np.cross(g0, ref)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(g0, e1)
    phi = np.radians(direction_deg)
    h = np.cos(phi) * e1 + np.sin(phi) * e2  # horizontal push direction, sensor frame
    u = np.cross(g0, h)  # the pitch axis, horizontal, across the push
    t0 = max(3.0, 0.4 * float(t[-1]))
    belt = np.where((t >= t0) & (t < t0 + duration_s), accel_mps2, 0.0)
    a = np.zeros_like(t)
    k = dt / (LAG_S + dt)
    for i in range(1, len(t)):
        a[i] = a[i - 1] + (belt[i] - a[i - 1]) * k
    theta = pitch_sign * np.radians(PITCH_DEG_PER_MPS2) * a
    rate_dps = np.degrees(np.gradient(theta, dt))
    r_t = np.transpose(_rotation(u, theta), (0, 2, 1))  # readings rotate opposite to the body
    f = tr.acc_g + (a / STANDARD_GRAVITY_MPS2)[:, None] * h[None]
    acc = np.einsum("nij,nj->ni", r_t, f)
    gyro = np.einsum("nij,nj->ni", r_t, tr.gyro_dps) + rate_dps[:, None] * u[None]
    return dataclasses.replace(tr, file=f"{tr.file}@belt{accel_mps2:g}x{duration_s:g}"
                               f"@{direction_deg:g}{'+' if pitch_sign > 0 else '-'}", acc_g=acc,
                               gyro_dps=gyro)


def gait_trials(kfall: Path, sisfall: Path) -> Iterable[Trial]:
    for s in KFALL_TUNE:
        yield from (t for t in read_kfall(kfall, [s]) if t.task_code in GAIT_ADL["kfall"])
    for s in SISFALL_TUNE:
        yield from (t for t in read_sisfall(sisfall, [s])
                    if t.task_code in GAIT_ADL["sisfall"])


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kfall", type=Path, required=True)
    parser.add_argument("--sisfall", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=None,
                        help="a treadguard config whose [detect] section to use (default: "
                             "the shipped defaults)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    settings = load(args.config).detect if args.config else DetectSettings()
    det = build_default(settings)
    trials = list(gait_trials(args.kfall, args.sisfall))
    plain = [t.file for t in trials if run_trial(det, t).first_stop_s is not None]
    print(f"{len(trials)} walking and jogging trials of the development subjects; "
          f"unperturbed, with a stop: {len(plain)} {plain}")
    for accel, dur in STEPS:
        stopped = [f"{t.subject}/{t.file}@{d:g}°{'+' if p > 0 else '-'}" for t in trials
                   for d in DIRECTIONS_DEG for p in (1.0, -1.0)
                   if run_trial(det, perturbed(t, accel, dur, d, p)).first_stop_s is not None]
        print(f"belt {accel:g} m/s² for {dur:g} s (Δv {accel * dur * 3.6:.1f} km/h), "
              f"4 directions × 2 pitch senses: {len(stopped)} of {8 * len(trials)} with a "
              f"stop {stopped[:6]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
