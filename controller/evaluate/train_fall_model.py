"""Train the small fall-score network on the development subjects only.

    python -m controller.evaluate.train_fall_model --kfall PATH/TO/KFall \\
        --sisfall PATH/TO/SisFall_dataset [--out FILE]

Streams every trial of the development subjects (:data:`controller.evaluate.splits.KFALL_TUNE`
and :data:`~controller.evaluate.splits.SISFALL_TUNE`; never the held-aside ones) through the
detector the loop runs and keeps the features of the samples where it evaluates the score
(:func:`gated_features`: something is happening).
On those it fits a one-hidden-layer tanh network (:data:`HIDDEN` units) with a logistic
output (:func:`labels`):

* positives: KFall fall-trial samples from 100 ms after the labelled onset to the impact;
* negatives: every daily-activity sample of both datasets (SisFall's 6 h of daily activities
  are the false-alarm data KFall lacks), and KFall fall-trial samples more than 300 ms before
  onset; SisFall falls have no onset label and are not used;
* classes weighted equally; Adam, fixed seed, :data:`EPOCHS` epochs: the same data gives the
  same file, bit for bit.

The result is written as plain Python numbers (6 significant digits) to
``controller/detect/fall_model_weights.py`` (a few kB), so the Pi needs nothing beyond Python
to run it. ``scripts/train_gait_model.py --refit-general`` refits this network inside every
fold (:func:`fit_rows`, :func:`rounded`) to cross-validate it with its thresholds.

**The shipped file is not this trainer's output**: it was written by the trainer of commit
7acda7f on KFall alone (``scripts/reproduce_models.sh`` reproduces it byte for byte), and the
networks this trainer writes, on both datasets or on KFall alone, were worse in fully nested
cross-validation (docs/detection.md, "The learned pre-impact score"), so they are not shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from controller.config import DetectSettings
from controller.detect import build_default
from controller.detect.fall_model import FEATURES
from controller.evaluate.readers import read_kfall, read_sisfall
from controller.evaluate.splits import KFALL_TUNE, SISFALL_TUNE
from controller.evaluate.trial import LOOP_RATE_HZ, Trial, resample, samples

HIDDEN = 12
EPOCHS = 25
SEED = 0
Array = npt.NDArray[np.float64]
Weights = tuple[Array, Array, Array, float]
"""(w1 [features×hidden], b1, w2, b2) on raw features."""
WEIGHTS = Path(__file__).parents[1] / "detect" / "fall_model_weights.py"
DATASETS: tuple[str, ...] = ("kfall", "sisfall")
"""The datasets whose development trials the network is fitted on."""


def gated_features(trial: Trial) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """For one trial (resampled to the loop's rate), streamed through the loop's own detector:
    the indices of the samples where it evaluates the score (something is happening) and their
    features (float32, as the evaluation's recordings keep them). The detector, not a bare
    tracker, because while the runner steps tilt is measured from the gait posture."""
    det = build_default(DetectSettings())
    det.reset()
    idx: list[int] = []
    rows: list[list[float]] = []
    for i, s in enumerate(samples(resample(trial))):
        det.update(s)
        if det.orientation.armed and math.isfinite(det.fall.last_logit):
            idx.append(i)
            rows.append(list(det.fall.features.values))
    return (np.asarray(idx, dtype=np.int64),
            np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES)))


def labels(dataset: str, kind: str, onset_s: float | None, impact_s: float | None,
           t_s: Array) -> Array:
    """Per sample at times ``t_s``: 1 (falling), 0 (not) or -1 (not used)."""
    if kind != "fall":
        return np.zeros(len(t_s))
    y = np.full(len(t_s), -1.0)
    if dataset == "kfall" and onset_s is not None and impact_s is not None:
        y[(t_s >= onset_s + 0.1) & (t_s <= impact_s)] = 1.0
        y[t_s < onset_s - 0.3] = 0.0
    return y


Part = tuple[str, str, float | None, float | None, npt.NDArray[np.int64],
             npt.NDArray[np.float32]]
"""One trial: dataset, kind, onset, impact, the evaluated samples' indices and features."""


def fit_rows(parts: Iterable[Part], datasets: tuple[str, ...] = DATASETS) -> Weights:
    """:func:`fit` on the labelled rows of ``parts`` from ``datasets``, in their order, then
    :func:`rounded`."""
    xs: list[Array] = []
    ys: list[Array] = []
    for dataset, kind, onset, impact, idx, x in parts:
        if dataset not in datasets:
            continue
        y = labels(dataset, kind, onset, impact, idx / LOOP_RATE_HZ)
        xs.append(x[y >= 0].astype(np.float64))
        ys.append(y[y >= 0])
    return rounded(fit(np.concatenate(xs), np.concatenate(ys)))


def fit(x: Array, y: Array, hidden: int = HIDDEN, epochs: int = EPOCHS,
        seed: int = SEED) -> Weights:
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
    for _ in range(epochs):
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
    w1 = params[0] / sd[:, None]
    b1 = params[1] - (mu / sd) @ params[0]
    return w1, b1, params[2], float(params[3][0])


def _num(x: float) -> str:
    return f"{float(x):.6g}"


def rounded(w: Weights) -> Weights:
    """The weights as the written file holds them (6 significant digits): what the detector
    runs, so what cross-validation scores."""
    w1, b1, w2, b2 = w

    def r(a: Array) -> Array:
        return np.array([float(_num(x)) for x in a.ravel()]).reshape(a.shape)

    return r(w1), r(b1), r(w2), float(_num(b2))


def logits(w: Weights, x: npt.NDArray[np.floating]) -> Array:
    """The score for feature rows ``x`` (vectorised; the detector's streaming sum agrees to
    rounding)."""
    w1, b1, w2, b2 = w
    out: Array = np.tanh(x.astype(np.float64) @ w1 + b1) @ w2 + b2
    return out


def weights_text(w: Weights, datasets: tuple[str, ...] = DATASETS) -> str:
    """The weights as a small Python module (rows = hidden units): fixed formatting (the
    shipped file, fitted on KFall alone, has exactly this format)."""
    w1, b1, w2, b2 = w
    fitted_on = (
        ["Fitted on KFall tuning subjects only (controller.evaluate.splits.KFALL_TUNE)."
         " Do not edit",
         'by hand: retrain instead."""'] if datasets == ("kfall",) else
        ["Fitted on the development subjects only (controller.evaluate.splits.KFALL_TUNE and",
         'SISFALL_TUNE). Do not edit by hand: retrain instead."""'])

    def tup(a: Array, indent: str = "    ") -> str:
        nums = [f"{_num(x)}," for x in a]
        rows = [" ".join(nums[i:i + 6]) for i in range(0, len(nums), 6)]
        return "(\n" + "".join(f"{indent}    {r}\n" for r in rows) + f"{indent})"

    lines = [
        '"""Fall-score network weights, written by ``python -m '
        'controller.evaluate.train_fall_model``.',
        "",
        *fitted_on,
        "",
        "W1: tuple[tuple[float, ...], ...] = (",
        *[f"    {tup(w1[:, j])}," for j in range(w1.shape[1])],
        ")",
        f"B1: tuple[float, ...] = {tup(b1, '')}",
        f"W2: tuple[float, ...] = {tup(w2, '')}",
        f"B2: float = {_num(b2)}",
        "",
    ]
    return "\n".join(lines)


def development_parts(kfall: Path, sisfall: Path) -> Iterable[Part]:
    """Every development trial as a :data:`Part`, in the order the cross-validation uses
    (KFall subjects, then SisFall, each in the readers' order)."""
    for dataset, root, subjects, reader in (("kfall", kfall, KFALL_TUNE, read_kfall),
                                            ("sisfall", sisfall, SISFALL_TUNE, read_sisfall)):
        for subject in subjects:
            for trial in reader(root, [subject]):
                yield (dataset, trial.kind, trial.onset_s, trial.impact_s,
                       *gated_features(trial))
            print(f"streamed {dataset} {subject}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kfall", type=Path, required=True,
                        help="the KFall folder (sensor_data/, label_data/)")
    parser.add_argument("--sisfall", type=Path, required=True,
                        help="the SisFall folder (SA09/, SA10/, …)")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="whose development trials to fit on (default: both; kfall: as "
                             "the shipped network was)")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)
    datasets = tuple(args.datasets.split(","))
    text = weights_text(fit_rows(development_parts(args.kfall, args.sisfall), datasets),
                        datasets)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: sha256 {hashlib.sha256(text.encode()).hexdigest()}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
