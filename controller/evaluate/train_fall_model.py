"""Train the small fall-score network on the KFall *tuning* subjects only.

    python -m controller.evaluate.train_fall_model PATH/TO/KFall [--out FILE]

Streams every tuning trial (:data:`controller.evaluate.splits.KFALL_TUNE`; never the
held-aside subjects) through :class:`~controller.detect.orientation.Orientation` and
:class:`~controller.detect.fall_model.FallFeatures` — the code the loop runs — and fits a
one-hidden-layer tanh network (:data:`HIDDEN` units) with a logistic output:

* positives: fall-trial samples from 100 ms after the labelled onset to the impact;
* negatives: every daily-activity sample, and fall-trial samples more than 300 ms before onset;
* classes weighted equally; Adam, fixed seed (reproducible), :data:`EPOCHS` epochs.

The result is written as plain Python numbers to ``controller/detect/fall_model_weights.py``
(a few kB), so the Pi needs nothing beyond Python to run it. Thresholds on its logit are chosen
separately (``[detect] model_logit`` / ``model_logit_still``, by
``scripts/train_fall_thresholds.py``), again on development subjects only. The shipped file was
written by this trainer with the tracker of commit 7acda7f (reproduced bit for bit there);
the tracker now waits for stillness to arm, so re-running it today writes a slightly different
file, which is not shipped (see docs/detection.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from controller.config import DetectSettings
from controller.detect.fall_model import FEATURES, FallFeatures
from controller.detect.orientation import Orientation
from controller.evaluate.readers import read_kfall
from controller.evaluate.splits import KFALL_TUNE
from controller.evaluate.trial import Trial, resample, samples

HIDDEN = 12
EPOCHS = 25
SEED = 0
Array = npt.NDArray[np.float64]


def trial_features(trial: Trial) -> tuple[Array, Array]:
    """Feature rows (every 2nd armed sample) and their sample times, for one trial."""
    tr = resample(trial)
    o = Orientation(DetectSettings())
    ff = FallFeatures()
    rows: list[list[float]] = []
    times: list[float] = []
    for i, s in enumerate(samples(tr)):
        if o.update(s):
            v = ff.update(o)
            if i % 2 == 0:
                rows.append(list(v))
                times.append(s.t_s)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(times)


def training_set(root: Path) -> tuple[Array, Array]:
    """Features and 0/1 targets from the tuning subjects."""
    xs: list[Array] = []
    ys: list[Array] = []
    for trial in read_kfall(root, KFALL_TUNE):
        x, t = trial_features(trial)
        if trial.kind == "fall" and trial.onset_s is not None and trial.impact_s is not None:
            pos = (t >= trial.onset_s + 0.1) & (t <= trial.impact_s)
            neg = t < trial.onset_s - 0.3
            xs += [x[pos], x[neg]]
            ys += [np.ones(int(pos.sum())), np.zeros(int(neg.sum()))]
        else:
            xs.append(x)
            ys.append(np.zeros(len(x)))
    return np.concatenate(xs), np.concatenate(ys)


def fit(x: Array, y: Array, hidden: int = HIDDEN, epochs: int = EPOCHS,
        seed: int = SEED) -> tuple[Array, Array, Array, float]:
    """Fit the network; returns (w1 [features×hidden], b1, w2, b2) on *raw* features."""
    rng = np.random.default_rng(seed)
    mu = x.mean(0)
    sd = x.std(0) + 1e-9
    z = (x - mu) / sd
    npos = float(y.sum())
    nneg = float(len(y) - npos)
    sw = np.where(y > 0, 0.5 / npos, 0.5 / nneg) * len(y)
    n, f = z.shape
    params: list[Array] = [rng.normal(0, 1 / np.sqrt(f), (f, hidden)), np.zeros(hidden),
                           rng.normal(0, 1 / np.sqrt(hidden), hidden), np.zeros(1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, batch, step = 3e-3, 4096, 0
    for epoch in range(epochs):
        perm = rng.permutation(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            zz, yy, ww = z[idx], y[idx], sw[idx]
            h = np.tanh(zz @ params[0] + params[1])
            out = h @ params[2] + params[3][0]
            p = 1 / (1 + np.exp(-np.clip(out, -30, 30)))
            g = ww * (p - yy) / len(idx)
            gh = np.outer(g, params[2]) * (1 - h * h)
            grads = [zz.T @ gh, gh.sum(0), h.T @ g, np.array([g.sum()])]
            step += 1
            for k, gr in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * gr
                v[k] = 0.999 * v[k] + 0.001 * gr * gr
                params[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (
                    np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
        print(f"epoch {epoch + 1}/{epochs}", file=sys.stderr)
    w1 = params[0] / sd[:, None]
    b1 = params[1] - (mu / sd) @ params[0]
    return w1, b1, params[2], float(params[3][0])


def write_weights(path: Path, w1: Array, b1: Array, w2: Array, b2: float) -> None:
    """Write the weights as a small Python module (rows = hidden units)."""

    def tup(a: Array, indent: str = "    ") -> str:
        nums = [f"{float(x):.6g}," for x in a]
        rows = [" ".join(nums[i:i + 6]) for i in range(0, len(nums), 6)]
        return "(\n" + "".join(f"{indent}    {r}\n" for r in rows) + f"{indent})"

    lines = [
        '"""Fall-score network weights, written by ``python -m '
        'controller.evaluate.train_fall_model``.',
        "",
        "Fitted on KFall tuning subjects only (controller.evaluate.splits.KFALL_TUNE). Do not edit",
        'by hand: retrain instead."""',
        "",
        "W1: tuple[tuple[float, ...], ...] = (",
        *[f"    {tup(w1[:, j])}," for j in range(w1.shape[1])],
        ")",
        f"B1: tuple[float, ...] = {tup(b1, '')}",
        f"W2: tuple[float, ...] = {tup(w2, '')}",
        f"B2: float = {b2:.6g}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kfall", type=Path, help="the KFall folder (sensor_data/, label_data/)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parents[1] / "detect" / "fall_model_weights.py")
    args = parser.parse_args(argv)
    x, y = training_set(args.kfall)
    print(f"{len(y)} samples, {int(y.sum())} positive", file=sys.stderr)
    write_weights(args.out, *fit(x, y))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
