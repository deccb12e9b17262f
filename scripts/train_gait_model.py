"""Train the gait-fall specialist (``controller.detect.gait_fall``) on development subjects and
cross-validate it by subject.

    nice -n 10 .venv/bin/python scripts/train_gait_model.py --kfall ../data/KFall \\
        --sisfall ../data/SisFall_dataset [--cache /tmp/treadguard-gait] [--write]
        [--augment-cadence]

1. Streams every trial of the development subjects (``controller.evaluate.splits``:
   ``KFALL_TUNE``, ``SISFALL_TUNE``; never the held-aside ones) through the detector the loop
   runs with the specialist switched off, and records per sample the tracker's signals
   (:data:`controller.detect.gait_fall.SIGNALS`), the regime (stepping, settled) and whether
   the rest of the detector stops. Cached per subject under ``--cache``.
2. Features, vectorised (:func:`features`; ``tests/test_detect_gait_fall.py`` checks them
   against the streaming ones on a recording): block means of 4 samples (50 Hz) and, per
   signal, the current block, the 0.1/0.2/0.5 s means, the 0.5 s extremes and the 0.2/0.5 s
   changes.
3. Labels, only for blocks where the runner is stepping: positives are KFall falls from onset
   to 100 ms before impact; negatives are every daily activity and the part of a fall trial
   that ends 0.5 s before its onset. SisFall falls have no onset label and are not used for
   training (they are scored). Hard negatives weigh more: stumbles, sitting or lying down
   fast, jogging (:data:`HARD`, ×3); the other negatives are thinned to every 4th block
   (×4); after a first fit, the top 1 % scoring negatives weigh ×5 more (mined) and the
   model is refitted. Positives are weighted to balance the negatives.
4. Model: logistic regression on standardised features, L2 :data:`L2`, Newton's method
   (:data:`NEWTON_STEPS` steps from zero): deterministic.
5. The threshold rule, fixed: over :data:`GRID`, keep the thresholds that add no walking or
   jogging trial with a stop and keep the per-trial daily-activity specificity (the rest of
   the detector included) ≥ 99 %, or ≥ the detector's own without the specialist where that
   is lower (on some subsets of subjects it is); of those, the highest fall sensitivity,
   then the longest median lead in KFall gait falls, then the higher threshold. Scored on
   out-of-fold scores.
6. Nested subject-wise cross-validation: outer :data:`FOLDS` folds of the development
   subjects; inside each outer training set, the rest of the detector's thresholds are chosen
   first by ``train_fall_thresholds``'s four-way rule (its recordings cached under
   ``--cache``/base), and its stops for that setting are the ones everything below sees; inner
   folds give out-of-fold scores on which the rule picks the threshold, then the model is
   fitted on the whole outer training set and scored on the outer fold at that threshold.
   Pooled out-of-fold figures with 95 % subject-bootstrap intervals; beside them the detector
   without the specialist on the same folds with the same settings.
   ``--refit-general`` refits the general fall-score network too (``train_fall_model``'s fit,
   on the recorded features) inside every outer and inner fold: the four-way rule then
   chooses on inner out-of-fold logits over the wider ``NETWORK_GRID``, and the outer fold is
   scored with the network fitted on the outer training set (``--network-datasets kfall``:
   fitted on KFall alone). Measured, not shipped: docs/detection.md.
7. Finally the same procedure on all development subjects (inner folds = the outer folds)
   gives the shipped model and threshold. ``--write`` writes
   ``controller/detect/gait_fall_weights.py`` (fixed formatting: the same data gives the
   same bytes) and prints its sha256 and the threshold (``[detect] gait_logit``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import train_fall_thresholds as thresholds  # noqa: E402
from train_fall_thresholds import (  # noqa: E402
    Recorded,
    dev_subjects,
    figures,
    folds,
    print_figures,
)

from controller.config import DetectSettings  # noqa: E402
from controller.detect import build_default  # noqa: E402
from controller.detect.base import Level  # noqa: E402
from controller.detect.gait_fall import BLOCK, HOLD_BLOCKS, OFF_LOGIT, RING, SIGNALS, signals  # noqa: E402
from controller.evaluate.metrics import GAIT_ADL, TrialResult, report  # noqa: E402
from controller.evaluate.readers import read_kfall, read_sisfall  # noqa: E402
from controller.evaluate.train_fall_model import EPOCHS, HIDDEN, Weights, fit_rows, weights_text  # noqa: E402
from controller.evaluate.train_fall_model import SEED as network_seed  # noqa: E402
from controller.evaluate.trial import LOOP_RATE_HZ, Trial, resample, samples  # noqa: E402

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HARD = {"kfall": {"D08", "D09", "D10"},
        "sisfall": {"D03", "D04", "D08", "D10", "D13", "D18"}}
"""Hard negatives: jogging, stumbles (KFall D08–D10), jogging, sitting fast on a chair /
collapsing into it, lying down fast, stumbles (SisFall D03, D04, D08, D10, D13, D18)."""
SHIPPED_HARD = {k: frozenset(v) for k, v in HARD.items()}
"""The hard negatives the shipped weights were fitted with (a fit with others is remembered
under another key)."""
CADENCES: tuple[float, ...] = ()
"""Cadence factors of the augmented copies (``--augment-cadence``: 0.8 and 1.2; none by
default, which is how the shipped weights were fitted)."""
AUGMENTED: dict[tuple[str, str], list[Rec]] = {}
"""Each development subject's augmented copies: training negatives only, in the same folds as
their subject, never scored."""
HARD_WEIGHT = 3.0
THIN = 16
MINE_QUANTILE = 0.99
MINE_WEIGHT = 5.0
L2 = 1e-2
NEWTON_STEPS = 8
GRID: tuple[float, ...] = tuple(float(x) for x in np.round(np.arange(-2.0, 16.01, 0.5), 2))
OFF = OFF_LOGIT
"""``gait_logit`` while recording: the specialist left out."""
WEIGHTS = ROOT / "controller" / "detect" / "gait_fall_weights.py"
NETWORK_DATASETS: tuple[str, ...] = ("kfall", "sisfall")
"""Whose daily activities the refitted network learns from (``--network-datasets``)."""


@dataclasses.dataclass
class Rec:
    """One trial: metadata, the rest of the detector's stops, and the specialist's blocks."""

    dataset: str
    subject: str
    file: str
    task_code: str
    kind: str
    onset_s: float | None
    impact_s: float | None
    n: int
    stop: BoolArray
    features: FloatArray
    block_end: npt.NDArray[np.int64]
    stepping: BoolArray

    @property
    def block_t_s(self) -> FloatArray:
        return self.block_end / LOOP_RATE_HZ

    def recorded(self) -> Recorded:
        empty = np.zeros(0, dtype=bool)
        return Recorded(self.dataset, self.subject, self.file, self.task_code, self.kind,
                        self.onset_s, self.impact_s, np.zeros(0, dtype=np.float32), empty,
                        empty, empty)


def features(x: FloatArray) -> FloatArray:
    """The specialist's features for signals ``x`` (samples × :data:`SIGNALS`, from the
    first armed sample), one row per complete block: what
    :class:`controller.detect.gait_fall.GaitFallFeatures` gives at each block end."""
    k = len(SIGNALS)
    nb = len(x) // BLOCK
    m = x[: nb * BLOCK].reshape(nb, BLOCK, k).sum(axis=1) / BLOCK
    if nb == 0:
        return np.zeros((0, 8 * k))
    p = np.concatenate([np.repeat(m[:1], RING - 1, axis=0), m])
    win = np.lib.stride_tricks.sliding_window_view(p, RING, axis=0)  # (nb, k, RING)

    def mean(n: int) -> FloatArray:
        return win[:, :, RING - n:].sum(axis=2) / n  # type: ignore[no-any-return]

    cols = [m, mean(5), mean(10), win.sum(axis=2) / RING, win.max(axis=2), win.min(axis=2),
            m - win[:, :, RING - 11], m - win[:, :, 0]]
    # Per signal, its 8 features together (the streaming order).
    return np.stack(cols, axis=2).reshape(nb, 8 * k)


RECORDING = dataclasses.replace(DetectSettings(), gait_logit=OFF)
"""The detector while recording: the shipped one, the specialist left out."""
RECORDING_KEY = hashlib.sha256(
    (repr(RECORDING) + thresholds.NETWORK_DIGEST).encode()).hexdigest()[:8]
"""In the names of the recordings' cache files: the rest of the detector's stops are recorded
with these settings, so a change of a default records them again."""


def record_trial(dataset: str, trial: Trial) -> Rec:
    """Stream one trial through the loop's detector (the specialist off) and record it."""
    tr = resample(trial)
    det = build_default(RECORDING)
    det.reset()
    o = det.orientation
    n = len(tr.t_s)
    x = np.zeros((n, len(SIGNALS)))
    step = np.zeros(n, dtype=bool)
    stop = np.zeros(n, dtype=bool)
    first = -1
    for i, s in enumerate(samples(tr)):
        stop[i] = det.update(s).level is Level.STOP
        if o.armed:
            if first < 0:
                first = i
            x[i] = signals(o)
            step[i] = det.stepping and o.t_s >= o.settled_s
    f = features(x[first:]) if first >= 0 else np.zeros((0, 8 * len(SIGNALS)))
    ends = (first + np.arange(len(f)) * BLOCK + BLOCK - 1).astype(np.int64)
    return Rec(dataset, tr.subject, tr.file, tr.task_code, tr.kind, tr.onset_s, tr.impact_s,
               n, stop, f, ends, step[ends])


def cached(f: Path, dataset: str, record: Callable[[], list[Rec]]) -> list[Rec]:
    """The recorded trials in ``f`` (.npz), or ``record()``'s, saved there first."""
    if f.exists():
        z = np.load(f, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [Rec(dataset, m["subject"], m["file"], m["task_code"], m["kind"], m["onset_s"],
                    m["impact_s"], m["n"], z[f"stop{i}"], z[f"features{i}"], z[f"ends{i}"],
                    z[f"stepping{i}"]) for i, m in enumerate(meta)]
    out = record()
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for i, r in enumerate(out):
        arrays[f"stop{i}"] = r.stop
        arrays[f"features{i}"] = r.features
        arrays[f"ends{i}"] = r.block_end
        arrays[f"stepping{i}"] = r.stepping
    meta = [{"subject": r.subject, "file": r.file, "task_code": r.task_code, "kind": r.kind,
             "onset_s": r.onset_s, "impact_s": r.impact_s, "n": r.n} for r in out]
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez(f, meta=json.dumps(meta), **arrays)  # type: ignore[arg-type]
    return out


def load_subject(dataset: str, root: Path, subject: str, cache: Path) -> list[Rec]:
    """Recorded trials of one subject (cached as .npz)."""
    reader = read_kfall if dataset == "kfall" else read_sisfall
    return cached(cache / f"{dataset}_{subject}_{RECORDING_KEY}.npz", dataset,
                  lambda: [record_trial(dataset, t) for t in reader(root, [subject])])


def at_cadence(trial: Trial, factor: float) -> Trial:
    """``trial`` played ``factor`` times faster (steps ``factor`` times as frequent): time
    divided by it, rotation rates multiplied by it, the accelerometer's readings as they were
    (a plain time warp, the usual augmentation for cadence)."""
    return dataclasses.replace(trial, file=f"{trial.file}@cadence{factor:g}",
                               t_s=trial.t_s / factor, gyro_dps=trial.gyro_dps * factor)


def load_augmented(dataset: str, root: Path, subject: str, cache: Path) -> list[Rec]:
    """The subject's walking and jogging at each of :data:`CADENCES` (cached as .npz)."""
    reader = read_kfall if dataset == "kfall" else read_sisfall
    tag = "_".join(f"{c:g}" for c in CADENCES)
    return cached(cache / f"{dataset}_{subject}_cadence{tag}_{RECORDING_KEY}.npz",
                  dataset,
                  lambda: [record_trial(dataset, at_cadence(t, c))
                           for t in reader(root, [subject])
                           if t.task_code in GAIT_ADL[dataset] for c in CADENCES])


def labels(r: Rec) -> tuple[FloatArray, FloatArray]:
    """Per block: label (1 fall, 0 not, -1 unused) and training weight (step 3)."""
    y = np.full(len(r.features), -1.0)
    w = np.zeros(len(r.features))
    t = r.block_t_s
    if r.kind == "fall":
        if r.dataset != "kfall" or r.onset_s is None or r.impact_s is None:
            return y, w
        y[(t >= r.onset_s) & (t <= r.impact_s - 0.1)] = 1.0
        y[t < r.onset_s - 0.5] = 0.0
    else:
        y[:] = 0.0
    y[~r.stepping] = -1.0
    if r.task_code in HARD[r.dataset]:
        w[y == 0] = HARD_WEIGHT
    else:
        y[(y == 0) & (np.arange(len(y)) % THIN != 0)] = -1.0
        w[y == 0] = float(THIN)
    w[y == 1] = 1.0
    return y, w


Model = tuple[FloatArray, float]
"""Coefficients on the raw features (standardisation folded in) and the bias."""


FIT_CACHE: Path | None = None
"""Where fitted models are remembered by their training trials (a memo: the same trials give
the same model, so a cached run and a fresh one write the same file)."""


def fit(recs: Sequence[Rec]) -> Model:
    """:func:`fit_uncached`, remembered in :data:`FIT_CACHE`."""
    subjects = sorted({(r.dataset, r.subject) for r in recs})
    params: list[object] = [subjects, HARD_WEIGHT, THIN, MINE_QUANTILE, MINE_WEIGHT, L2,
                            NEWTON_STEPS]
    if HARD != SHIPPED_HARD:  # the key of the shipped choice stays the one it was made with
        params.append({k: sorted(v) for k, v in HARD.items()})
    if CADENCES:  # the key without augmentation is the one the shipped weights were made with
        params.append(list(CADENCES))
        recs = [*recs, *(a for k in subjects for a in AUGMENTED.get(k, []))]
    key = hashlib.sha256(json.dumps(params, sort_keys=True, default=sorted).encode()
                         ).hexdigest()
    f = FIT_CACHE / f"fit_{key[:20]}.npy" if FIT_CACHE is not None else None
    if f is not None and f.exists():
        b = np.load(f)
        return b[:-1], float(b[-1])
    coef, bias = fit_uncached(recs)
    if f is not None:
        np.save(f, np.r_[coef, bias])
    return coef, bias


def fit_uncached(recs: Sequence[Rec]) -> Model:
    """Step 3–4: weighted, mined, L2 logistic regression by Newton's method."""
    parts = [(r.features, *labels(r)) for r in recs]
    x = np.concatenate([f[y >= 0] for f, y, _ in parts])
    y = np.concatenate([y[y >= 0] for _, y, _ in parts])
    w = np.concatenate([w[y >= 0] for _, y, w in parts])
    mu = x.mean(axis=0)
    sd = x.std(axis=0) + 1e-9
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.where(y == 1, w * w[y == 0].sum() / w[y == 1].sum(), w)
    reg = np.eye(z.shape[1])
    reg[-1, -1] = 0.0

    def newton(w: FloatArray) -> FloatArray:
        b = np.zeros(z.shape[1])
        lam = L2 * w.sum() / len(w)
        for _ in range(NEWTON_STEPS):
            p = 1.0 / (1.0 + np.exp(-np.clip(z @ b, -30.0, 30.0)))
            g = z.T @ (w * (p - y)) + lam * reg @ b
            h = (z * (w * p * (1.0 - p))[:, None]).T @ z + lam * reg
            b = b - np.linalg.solve(h, g)
        return b

    b = newton(w)
    s = z @ b
    neg = y == 0
    w = np.where(neg & (s > np.quantile(s[neg], MINE_QUANTILE)), w * MINE_WEIGHT, w)
    b = newton(w)
    coef = b[:-1] / sd
    return coef, float(b[-1] - (mu * coef).sum())


def score(model: Model, r: Rec) -> FloatArray:
    coef, bias = model
    return r.features @ coef + bias


def replay(r: Rec, s: FloatArray | None, threshold: float) -> TrialResult:
    """The trial's stop alarms with the specialist at ``threshold``, as the detector gives
    them (``GaitFallDetector``: HOLD_BLOCKS consecutive block ends above it while stepping)."""
    stop = r.stop
    if s is not None and len(s):
        c = (s > threshold) & r.stepping
        h = c.copy()
        for k in range(1, HOLD_BLOCKS):
            h[k:] &= c[:-k]
            h[:k] = False
        if h.any():
            stop = stop.copy()
            stop[r.block_end[h]] = True
    st = np.flatnonzero(stop & ~np.r_[False, stop[:-1]])
    return TrialResult(r.subject, r.file, r.task_code, r.kind, (r.n - 1) / LOOP_RATE_HZ,
                       tuple((st / LOOP_RATE_HZ).tolist()), None, r.onset_s, r.impact_s)


def choose(recs: Sequence[Rec], scores: Sequence[FloatArray]) -> float:
    """Step 5, the fixed rule (the highest threshold if none qualifies: the safe side)."""
    best: tuple[float, ...] | None = None
    pick = GRID[-1]
    rs = [r.recorded() for r in recs]
    without = figures(rs, [replay(r, None, 0.0) for r in recs])
    floor = min(0.99, without["adl_specificity"])
    for th in GRID:
        f = figures(rs, [replay(r, s, th) for r, s in zip(recs, scores, strict=True)])
        if f["gait_adl_with_stop"] > without["gait_adl_with_stop"] \
                or f["adl_specificity"] < floor:
            continue
        key = (f["fall_sensitivity"], f["gait_lead_median_ms"], th)
        if best is None or key > best:
            best, pick = key, th
    return pick


NESTED = True
"""False (``--no-nest``): the threshold is chosen on the training subjects' own (in-sample)
scores instead of inner out-of-fold scores: 6 fits instead of 31."""


def train(by_subject: dict[tuple[str, str], list[Rec]],
          keys: Sequence[tuple[str, str]]) -> tuple[Model, float]:
    """Inner cross-validation for the threshold, then the model on all of ``keys``."""
    if not NESTED:
        recs = [r for k in keys for r in by_subject[k]]
        m = fit(recs)
        return m, choose(recs, [score(m, r) for r in recs])
    oof: dict[int, FloatArray] = {}
    for fold in folds(list(keys)):
        m = fit([r for k in keys if k not in fold for r in by_subject[k]])
        for k in fold:
            for r in by_subject[k]:
                oof[id(r)] = score(m, r)
    recs = [r for k in keys for r in by_subject[k]]
    th = choose(recs, [oof[id(r)] for r in recs])
    return fit(recs), th


def network_fit(base: Sequence[Recorded]) -> Weights:
    """The fall-score network refitted on the trials ``base`` (``train_fall_model``'s fit,
    rounded as its file holds them), remembered in :data:`FIT_CACHE` by their subjects."""
    subjects = sorted({(r.dataset, r.subject) for r in base})
    params: list[object] = [subjects, HIDDEN, EPOCHS, network_seed, thresholds.FEATURES_KEY]
    if NETWORK_DATASETS != ("kfall", "sisfall"):
        params.append(list(NETWORK_DATASETS))
    key = hashlib.sha256(json.dumps(params).encode()).hexdigest()
    f = FIT_CACHE / "network" / f"fit_{key[:20]}.npz" if FIT_CACHE is not None else None
    if f is not None and f.exists():
        z = np.load(f)
        return z["w1"], z["b1"], z["w2"], float(z["b2"])
    w = fit_rows(((r.dataset, r.kind, r.onset_s, r.impact_s,
                   np.flatnonzero(np.isfinite(r.logit)), r.features) for r in base),
                 NETWORK_DATASETS)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez(f, w1=w[0], b1=w[1], w2=w[2], b2=np.float64(w[3]))
    print(f"fitted the network on {len(subjects)} subjects", file=sys.stderr, flush=True)
    return w


def oof_network(base_of: dict[tuple[str, str], list[Recorded]],
                keys: Sequence[tuple[str, str]]) -> list[Recorded]:
    """The trials of ``keys`` with out-of-fold logits: the network refitted without each inner
    fold of ``keys`` scores that fold."""
    out: list[Recorded] = []
    for fold in folds(list(keys)):
        w = network_fit([r for q in keys if q not in fold for r in base_of[q]])
        out += [thresholds.with_network(r, w) for q in fold for r in base_of[q]]
    return out


def write_weights(model: Model, path: Path) -> str:
    coef, bias = model
    rows = [", ".join(f"{c:.9g}" for c in coef[i:i + 6]) for i in range(0, len(coef), 6)]
    body = "".join(f"    {r},\n" for r in rows)
    text = (
        '"""Gait-fall specialist weights, written by ``scripts/train_gait_model.py --write``.\n\n'
        "Logistic regression on the features of ``controller.detect.gait_fall`` (standardisation"
        "\nfolded in), fitted on the development subjects only. Do not edit by hand: retrain."
        '"""\n\n'
        f"COEF: tuple[float, ...] = (\n{body})\nBIAS: float = {bias:.9g}\n")
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kfall", type=Path, required=True)
    parser.add_argument("--sisfall", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/treadguard-gait"))
    parser.add_argument("--write", action="store_true",
                        help="write the weights (--out) from all development subjects")
    parser.add_argument("--out", type=Path, default=WEIGHTS,
                        help=f"where --write writes (default {WEIGHTS.relative_to(ROOT)})")
    parser.add_argument("--no-cv", action="store_true", help="skip the nested cross-validation")
    parser.add_argument("--folds", default=None,
                        help="only these outer folds (e.g. 0,1; to share work between "
                             "processes through the cache of fits)")
    parser.add_argument("--no-nest", action="store_true",
                        help="choose the threshold on in-sample training scores (no inner "
                             "cross-validation)")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the cross-validated reports (per dataset, with and without "
                             "the specialist, as treadguard evaluate --json gives them) here")
    parser.add_argument("--refit-general", action="store_true",
                        help="refit the general fall-score network (train_fall_model) inside "
                             "every outer and inner fold instead of using the shipped weights")
    parser.add_argument("--network-datasets", default="kfall,sisfall",
                        help="with --refit-general: the datasets whose rows the network is "
                             "fitted on (SisFall's falls are never used: no onset label)")
    parser.add_argument("--augment-cadence", action="store_true",
                        help="add each subject's walking and jogging at 0.8 and 1.2 times its "
                             "cadence to the training negatives (never scored)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    global FIT_CACHE, NESTED, CADENCES, NETWORK_DATASETS
    NETWORK_DATASETS = tuple(args.network_datasets.split(","))
    FIT_CACHE = args.cache
    NESTED = not args.no_nest
    only = None if args.folds is None else {int(k) for k in args.folds.split(",")}
    roots = {"kfall": args.kfall, "sisfall": args.sisfall}
    by_subject = {(ds, s): load_subject(ds, roots[ds], s, args.cache)
                  for ds, s in dev_subjects()}
    keys = list(by_subject)
    if args.augment_cadence:
        CADENCES = (0.8, 1.2)
        AUGMENTED.update({(ds, s): load_augmented(ds, roots[ds], s, args.cache)
                          for ds, s in keys})
    # The rest of the detector's recordings (train_fall_thresholds'), for the four-way rule:
    # not needed to write the shipped weights alone (--no-cv --write).
    base = [b for k in keys
            for b in thresholds.load_subject(k[0], roots[k[0]], k[1], args.cache / "base")
            ] if not args.no_cv or args.refit_general else []
    base_of: dict[tuple[str, str], list[Recorded]] = {}
    for b in base:
        base_of.setdefault((b.dataset, b.subject), []).append(b)
    replays: list[thresholds.Replays] = []  # of the shipped network, built once when needed

    def rest(train_keys: Sequence[tuple[str, str]], test_keys: Sequence[tuple[str, str]]
             ) -> tuple[thresholds.Setting, dict[tuple[str, str], list[Rec]]]:
        """The rest of the detector for training subjects ``train_keys``: the four-way rule's
        setting (on out-of-fold logits of the network refitted inside inner folds, with
        ``--refit-general``), and every trial of both sets with its stops for that setting
        (the test subjects' logits from the network fitted on all of ``train_keys``)."""
        if args.refit_general:
            cur = {(r.dataset, r.file): r for r in oof_network(base_of, train_keys)}
            w = network_fit([r for q in train_keys for r in base_of[q]])
            cur.update({(r.dataset, r.file): thresholds.with_network(r, w)
                        for q in test_keys for r in base_of[q]})
            recs = [cur[r.dataset, r.file] for q in train_keys for r in base_of[q]]
            setting = thresholds.choose(thresholds.Replays(recs, thresholds.NETWORK_GRID),
                                        range(len(recs)))
        else:
            if not replays:
                replays.append(thresholds.Replays(base))
            cur = {(r.dataset, r.file): r for r in base}
            where = {(r.dataset, r.file): i for i, r in enumerate(base)}
            setting = thresholds.choose(replays[0], [where[r.dataset, r.file]
                                                     for q in train_keys for r in base_of[q]])
        return setting, {q: [dataclasses.replace(r, stop=thresholds.stop_samples(
            cur[r.dataset, r.file], setting)) for r in by_subject[q]]
            for q in (*train_keys, *test_keys)}

    if not args.no_cv:
        # The rest of the detector is chosen inside each outer fold too: the four-way rule of
        # train_fall_thresholds on the outer training subjects, and those stops are the ones the
        # specialist's threshold rule and the outer fold's scores see.
        oof_recs: list[Recorded] = []
        oof_res: list[TrialResult] = []
        base_res: list[TrialResult] = []
        picks = []
        for k, fold in enumerate(folds(keys)):
            if only is not None and k not in only:
                continue
            setting, with_base = rest([q for q in keys if q not in fold], fold)
            model, th = train(with_base, [q for q in keys if q not in fold])
            picks.append((tuple(setting), th))
            print(f"fold {k}: {fold} -> {setting}, gait_logit {th}", file=sys.stderr,
                  flush=True)
            for q in fold:
                for r in with_base[q]:
                    oof_recs.append(r.recorded())
                    oof_res.append(replay(r, score(model, r), th))
                    base_res.append(replay(r, None, th))
        print(f"fold picks {picks}")
        print_figures("cross-validated, with the specialist", oof_recs, oof_res)
        print_figures("the detector without the specialist (same subjects and folds)",
                      oof_recs, base_res)
        if args.json is not None:
            out: dict[str, object] = {"fold_picks": picks}
            for name, res in (("with", oof_res), ("without", base_res)):
                out[name] = {ds: report([x for r, x in zip(oof_recs, res, strict=True)
                                         if r.dataset == ds], detector=f"treadguard ({name} "
                                        "the specialist, cross-validated)", dataset=ds,
                                        cost_us_per_sample=0.0)
                             for ds in ("kfall", "sisfall")}
            args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if only is not None and not args.write:
        return 0
    if args.refit_general:
        setting, with_base = rest(keys, [])
        model, th = train(with_base, keys)
        w = network_fit(base)
        print(f"on all development subjects: {setting}, gait_logit {th}; the network's "
              f"weights file sha256 "
              f"{hashlib.sha256(weights_text(w, NETWORK_DATASETS).encode()).hexdigest()}")
    else:
        model, th = train(by_subject, keys)
        print(f"on all development subjects: gait_logit {th}")
    if args.write:
        print(f"wrote {args.out}: sha256 {write_weights(model, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
