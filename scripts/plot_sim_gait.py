"""Plot the runner model's clip signals beside real waist recordings (docs/simulation.md).

Rows: walking (the model walking backward at 1.5 and 4 km/h; KFall D06 walking, SisFall D01/D02
walking), jogging (the model at 7 km/h; KFall D08 jogging, SisFall D03 jogging). Columns: the
specific-force magnitude |a| (g) and the angular-rate magnitude |ω| (°/s), 6 s of each, from
3 s into each recording (walking under way). The recordings are read with the evaluation's
readers and resampled to 200 Hz; the model is sampled at 200 Hz with the belt at its speed.

    .venv/bin/python scripts/plot_sim_gait.py --kfall /tmp/datasets/KFall \
        --sisfall /tmp/datasets/SisFall_dataset --out docs/img/sim-gait-vs-recordings.png
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from controller.evaluate.readers import read_kfall, read_sisfall
from controller.evaluate.trial import Trial, resample
from hardware.sim.runner import Runner

G = 9.80665
WINDOW_S = 6.0
FROM_S = 3.0


def model(kmh: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time, |a| (g), |ω| (°/s) of the runner at ``kmh`` (the belt ramped up at 0.9 km/h/s),
    the last WINDOW_S of 30 s (settled)."""
    runner = Runner(seed=seed)
    rows = []
    for i in range(round(30.0 / 0.005)):
        t = i * 0.005
        runner.advance(t, min(kmh, 0.9 * t))
        acc, gyro = runner.at(t)
        rows.append((t, math.sqrt(sum(x * x for x in acc)) / G,
                     math.degrees(math.sqrt(sum(x * x for x in gyro)))))
    data = np.array(rows[-round(WINDOW_S / 0.005):])
    return data[:, 0], data[:, 1], data[:, 2]


def recording(trial: Trial) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tr = resample(trial)
    keep = (tr.t_s >= FROM_S) & (tr.t_s < FROM_S + WINDOW_S)
    if not keep.any():
        keep = tr.t_s < WINDOW_S
    return (tr.t_s[keep], np.linalg.norm(tr.acc_g[keep], axis=1),
            np.linalg.norm(tr.gyro_dps[keep], axis=1))


def first(trials: list[Trial], code: str) -> Trial | None:
    return next((t for t in trials if t.task_code == code), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kfall", type=Path, required=True, help="the KFall folder")
    parser.add_argument("--sisfall", type=Path, required=True, help="the SisFall folder")
    parser.add_argument("--subject-kfall", default="SA06")
    parser.add_argument("--subject-sisfall", default="SA10")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    kfall = list(read_kfall(args.kfall, [args.subject_kfall]))
    sisfall = list(read_sisfall(args.sisfall, [args.subject_sisfall]))
    rows = [
        ("walking", [("model, backward 1.5 km/h", model(1.5)),
                     ("model, backward 4 km/h", model(4.0))],
         [(f"KFall {args.subject_kfall} D06 walking", first(kfall, "D06")),
          (f"SisFall {args.subject_sisfall} D02 walking quickly", first(sisfall, "D02"))]),
        ("jogging", [("model, backward 7 km/h", model(7.0))],
         [(f"KFall {args.subject_kfall} D08 jogging", first(kfall, "D08")),
          (f"SisFall {args.subject_sisfall} D03 jogging", first(sisfall, "D03"))]),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    for r, (title, models, recs) in enumerate(rows):
        for col, (label_unit, idx) in enumerate((("|a| (g)", 1), ("|ω| (°/s)", 2))):
            ax = axes[r][col]
            for name, trial in recs:
                if trial is None:
                    print(f"missing: {name}", file=sys.stderr)
                    continue
                series = recording(trial)
                ax.plot(series[0] - series[0][0], series[idx], lw=0.8, alpha=0.7, label=name)
            for name, series in models:
                ax.plot(series[0] - series[0][0], series[idx], lw=1.2, label=name)
            ax.set_title(f"{title}: {label_unit}")
            ax.grid(alpha=0.3)
            if r == 1:
                ax.set_xlabel("s")
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("The runner model's clip signals beside waist recordings (ground, forward)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
