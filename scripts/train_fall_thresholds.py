"""Choose the detector's stop thresholds on development subjects: the fall score's two (stepping /
not stepping), the slip/trip tilt and the impact level, together.

    .venv/bin/python scripts/train_fall_thresholds.py --kfall ../data/KFall \\
        --sisfall ../data/SisFall_dataset [--cache /tmp/treadguard-thresholds] [--json OUT]

1. Streams every trial of the development subjects (``controller.evaluate.splits``:
   ``KFALL_TUNE``, ``SISFALL_TUNE``; never the held-aside ones) through the detector the loop
   runs, with the learned score's, the slip/trip detector's and the impact backstop's own stops
   switched off (:data:`RECORDING`), and records per sample the score's logit, the regime (the
   runner stepping: a step counted in the last 2 s), whether the features have settled, whether
   the rest of the detector (the fall rule, free fall) stops, and what slip/trip and impact
   decide on: tipping rate, cos(tilt), the runner in mid-stride, specific force; and the
   score's features where it is evaluated, so that ``train_gait_model.py --refit-general``
   can refit the network and recompute its logits without streaming again. Cached per subject
   under ``--cache`` (the key includes the shipped network's digest).
2. Replays the stops for any :class:`Setting` exactly as the detector decides them (the score
   above the regime's threshold for ``model_hold_s``; tipping faster than ``slip_rate_dps``
   beyond ``slip_tilt_deg`` in mid-stride for ``slip_hold_s``; specific force above
   ``impact_g`` beyond ``impact_tilt_deg``; or the rest's stop).
3. The fixed rule, applied to whatever subjects it is given: over :data:`GAIT_GRID` ×
   :data:`STILL_GRID` × :data:`SLIP_TILT_GRID` × :data:`IMPACT_GRID`, keep the settings with no
   stop in any walking or jogging trial and a per-trial daily-activity specificity ≥ 99 %; of
   those, the ones with at most :data:`SISFALL_FALSE_ALARMS_PER_H` SisFall false alarms per hour
   (the target) if any setting has so few, then the highest fall sensitivity, then the longest
   median lead in gait falls, then the fewest false alarms per hour, then the higher
   thresholds.
4. Subject-wise cross-validation: the development subjects in :data:`FOLDS` folds; the rule
   picks the setting on the other folds and it is scored on the held-out fold; the pooled
   out-of-fold figures get subject-bootstrap 95 % intervals (:data:`BOOTSTRAP` resamples, fixed
   seed).
5. Prints the cross-validated table and the setting the rule picks on all development subjects
   (the shipped ``[detect]`` ``model_logit``, ``model_logit_still``, ``slip_tilt_deg`` and
   ``impact_g``).

With ``--baseline-trials kfall:A.csv --baseline-trials sisfall:B.csv`` it prints the same
figures and intervals for those trials (``treadguard evaluate --trials-csv`` of the baseline on
the same subjects) instead.

The replay is checked against the streaming detector in ``tests/test_detect_regimes.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.config import DetectSettings  # noqa: E402
from controller.detect import build_default, fall_model_weights  # noqa: E402
from controller.detect.base import Level  # noqa: E402
from controller.detect.fall_model import FEATURES  # noqa: E402
from controller.detect.gait_fall import OFF_LOGIT  # noqa: E402
from controller.evaluate.metrics import (  # noqa: E402
    GAIT_ADL,
    GAIT_FALLS,
    TrialResult,
    alarm_starts,
    report,
)
from controller.evaluate.readers import read_kfall, read_sisfall  # noqa: E402
from controller.evaluate.splits import KFALL_TUNE, SISFALL_TUNE  # noqa: E402
from controller.evaluate.train_fall_model import Weights  # noqa: E402
from controller.evaluate.train_fall_model import logits as network_logits  # noqa: E402
from controller.evaluate.trial import LOOP_RATE_HZ, Trial, resample, samples  # noqa: E402

GAIT_GRID: tuple[float, ...] = tuple(float(x) for x in np.round(np.arange(7.0, 11.01, 0.5), 2))
STILL_GRID: tuple[float, ...] = tuple(float(x) for x in np.round(np.arange(8.0, 13.01, 0.5), 2))
"""The score's thresholds (every fold of the earlier two-threshold rule, over 4–12 × 6–16,
picked 9.0–10.0: the grid is narrowed to keep the four-way search to minutes)."""
SLIP_TILT_GRID: tuple[float, ...] = (25.0, 30.0, 35.0, 40.0, 45.0)
"""``slip_tilt_deg``: never above 45°, so that a slip on the belt that the rails catch at 50°
(the simulated demo's) is still stopped by ``slip_trip``; no recording has such a slip."""
IMPACT_GRID: tuple[float, ...] = (3.0, 3.25, 3.5, 4.0)
"""``impact_g``."""
SISFALL_FALSE_ALARMS_PER_H = 1.0
"""The target the rule prefers (step 3)."""
FOLDS = 5
BOOTSTRAP = 1000
SEED = 0
OFF = 30.0
"""``model_logit`` while recording: the score's own stops switched off (the option's maximum)."""
RECORDING = dataclasses.replace(
    DetectSettings(), model_logit=OFF, model_logit_still=OFF, slip_rate_dps=1000.0,
    slip_tilt_deg=90.0, impact_g=8.0, impact_tilt_deg=90.0, gait_logit=OFF_LOGIT)
"""The detector while recording: the score, slip/trip and impact at their options' maxima,
the gait-fall specialist left out (its threshold is chosen afterwards, on top of this
setting, by ``scripts/train_gait_model.py``). A stop that slip/trip or impact still gives here
is one every replayed setting gives too, so keeping it in the rest's stops changes no replay."""
SHIPPED = DetectSettings()
"""The options the replay does not choose (holds, slip rate, impact tilt): as shipped."""
FEATURES_KEY = hashlib.sha256((repr(RECORDING) + repr(FEATURES)).encode()).hexdigest()[:8]
"""What the recorded features depend on (not the network's weights)."""
NETWORK_DIGEST = hashlib.sha256(Path(fall_model_weights.__file__).read_bytes()).hexdigest()
"""The shipped network's file: the recorded logits are its."""
RECORDING_KEY = hashlib.sha256((FEATURES_KEY + NETWORK_DIGEST).encode()).hexdigest()[:8]
"""In the cache's file names: a recording made with other settings or weights is not
reused."""


class Setting(NamedTuple):
    """The thresholds the rule chooses (``[detect]`` options of the same names)."""

    model_logit: float
    model_logit_still: float
    slip_tilt_deg: float
    impact_g: float


GRID: tuple[Setting, ...] = tuple(Setting(*c) for c in itertools.product(
    GAIT_GRID, STILL_GRID, SLIP_TILT_GRID, IMPACT_GRID))
NETWORK_GRID: tuple[Setting, ...] = tuple(Setting(*c) for c in itertools.product(
    np.round(np.arange(4.0, 16.01, 0.5), 2).tolist(),
    np.round(np.arange(6.0, 18.01, 0.5), 2).tolist(), SLIP_TILT_GRID, IMPACT_GRID))
"""The grid for a *refitted* network (``train_gait_model.py --refit-general``): its logits
are on another scale than the shipped network's, for which :data:`GRID` was narrowed (a first
run with that grid hit its ceiling: no setting qualified)."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclasses.dataclass
class Recorded:
    """One trial's per-sample record."""

    dataset: str
    subject: str
    file: str
    task_code: str
    kind: str
    onset_s: float | None
    impact_s: float | None
    logit: npt.NDArray[np.float32]
    stepping: BoolArray
    settled: BoolArray
    other_stop: BoolArray
    """Stops of the rest of the detector (the fall rule, free fall), settled or not."""
    tilt_rate_dps: npt.NDArray[np.float32] = dataclasses.field(
        default_factory=lambda: np.zeros(0, dtype=np.float32))
    cos_tilt: npt.NDArray[np.float32] = dataclasses.field(
        default_factory=lambda: np.zeros(0, dtype=np.float32))
    in_rhythm: BoolArray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=bool))
    acc_norm_g: npt.NDArray[np.float32] = dataclasses.field(
        default_factory=lambda: np.zeros(0, dtype=np.float32))
    features: npt.NDArray[np.float32] = dataclasses.field(
        default_factory=lambda: np.zeros((0, len(FEATURES)), dtype=np.float32))
    """The score's features at the samples where it is evaluated (``logit`` finite), in
    order: the network can be refitted and its logits recomputed without streaming again."""

    @property
    def t_s(self) -> FloatArray:
        return np.arange(len(self.logit), dtype=np.float64) / LOOP_RATE_HZ


def record_trial(dataset: str, trial: Trial) -> Recorded:
    """Stream one trial through the loop's detector (:data:`RECORDING`) and record it."""
    tr = resample(trial)
    det = build_default(RECORDING)
    det.reset()
    o = det.orientation
    ratio = RECORDING.slip_rhythm_ratio
    n = len(tr.t_s)
    logit = np.full(n, -np.inf, dtype=np.float32)
    stepping = np.zeros(n, dtype=bool)
    settled = np.zeros(n, dtype=bool)
    other = np.zeros(n, dtype=bool)
    rate = np.zeros(n, dtype=np.float32)
    cos_tilt = np.ones(n, dtype=np.float32)
    rhythm = np.zeros(n, dtype=bool)
    acc = np.ones(n, dtype=np.float32)
    rows: list[list[float]] = []
    for i, s in enumerate(samples(tr)):
        level = det.update(s).level
        other[i] = level is Level.STOP
        if o.armed:
            logit[i] = det.fall.last_logit
            stepping[i] = det.stepping
            settled[i] = o.t_s >= o.settled_s
            rate[i] = o.tilt_rate_dps
            cos_tilt[i] = o.cos_tilt
            rhythm[i] = det.steps.in_rhythm(o.t_s, ratio)
            acc[i] = o.acc_norm_g
            if math.isfinite(det.fall.last_logit):
                rows.append(list(det.fall.features.values))
    return Recorded(dataset, tr.subject, tr.file, tr.task_code, tr.kind, tr.onset_s,
                    tr.impact_s, logit, stepping, settled, other, rate, cos_tilt, rhythm, acc,
                    np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES)))


ARRAYS = ("logit", "stepping", "settled", "other_stop", "tilt_rate_dps", "cos_tilt",
          "in_rhythm", "acc_norm_g", "features")


def with_network(r: Recorded, w: Weights) -> Recorded:
    """``r`` with the logits a refitted network ``w`` gives (float32, as recorded)."""
    logit = np.full(len(r.logit), -np.inf, dtype=np.float32)
    logit[np.isfinite(r.logit)] = network_logits(w, r.features).astype(np.float32)
    return dataclasses.replace(r, logit=logit)


def load_subject(dataset: str, root: Path, subject: str, cache: Path) -> list[Recorded]:
    """Recorded trials of one subject (cached as .npz)."""
    f = cache / f"{dataset}_{subject}_{RECORDING_KEY}.npz"
    if f.exists():
        z = np.load(f, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [Recorded(dataset, m["subject"], m["file"], m["task_code"], m["kind"],
                         m["onset_s"], m["impact_s"], *(z[f"{a}{i}"] for a in ARRAYS))
                for i, m in enumerate(meta)]
    reader = read_kfall if dataset == "kfall" else read_sisfall
    out = [record_trial(dataset, t) for t in reader(root, [subject])]
    arrays: dict[str, Any] = {}
    for i, r in enumerate(out):
        for a in ARRAYS:
            arrays[f"{a}{i}"] = getattr(r, a)
    meta = [{"subject": r.subject, "file": r.file, "task_code": r.task_code, "kind": r.kind,
             "onset_s": r.onset_s, "impact_s": r.impact_s} for r in out]
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f, meta=json.dumps(meta), **arrays)
    return out


def held(cond: BoolArray, t_s: FloatArray, hold_s: float) -> BoolArray:
    """Samples where ``cond`` has been true without a break for at least ``hold_s`` (as
    :class:`hardware.held.HeldTimer` measures it)."""
    if not cond.any():
        return cond
    idx = np.arange(len(cond))
    starts = cond & ~np.concatenate(([False], cond[:-1]))
    start_idx = np.maximum.accumulate(np.where(starts, idx, 0))
    return cond & (t_s - t_s[start_idx] >= hold_s - 1e-9)


def model_stops(r: Recorded, gait: float, still: float) -> BoolArray:
    """The score above the regime's threshold for ``model_hold_s`` (not yet gated on settling)."""
    threshold = np.where(r.stepping, gait, still)
    return held(r.logit > threshold, r.t_s, SHIPPED.model_hold_s)


def slip_stops(r: Recorded, tilt_deg: float) -> BoolArray:
    """Tipping faster than ``slip_rate_dps`` beyond ``tilt_deg`` in mid-stride for
    ``slip_hold_s`` (not yet gated on settling)."""
    return held((r.tilt_rate_dps > SHIPPED.slip_rate_dps)
                & (r.cos_tilt < math.cos(math.radians(tilt_deg))) & r.in_rhythm,
                r.t_s, SHIPPED.slip_hold_s)


def impact_stops(r: Recorded, level_g: float) -> BoolArray:
    """Specific force above ``level_g`` beyond ``impact_tilt_deg`` (not yet gated)."""
    return (r.acc_norm_g > level_g) \
        & (r.cos_tilt < math.cos(math.radians(SHIPPED.impact_tilt_deg)))


def stop_samples(r: Recorded, setting: Setting) -> BoolArray:
    """Per sample, whether the detector stops with ``setting`` (every other option as
    shipped)."""
    parts = model_stops(r, setting.model_logit, setting.model_logit_still) \
        | slip_stops(r, setting.slip_tilt_deg) | impact_stops(r, setting.impact_g)
    return (parts & r.settled) | r.other_stop


def result(r: Recorded, stop: BoolArray) -> TrialResult:
    """The trial's outcome for these per-sample stops."""
    starts = alarm_starts(r.t_s.tolist(), stop.tolist()) if stop.any() else []
    return TrialResult(r.subject, r.file, r.task_code, r.kind,
                       (len(r.logit) - 1) / LOOP_RATE_HZ if len(r.logit) else 0.0,
                       tuple(starts), None, r.onset_s, r.impact_s)


def replay(r: Recorded, setting: Setting) -> TrialResult:
    """The trial's stop alarms for ``setting``, as the detector would give them."""
    return result(r, stop_samples(r, setting))




def figures(recs: Sequence[Recorded], results: Sequence[TrialResult]) -> dict[str, float]:
    """The figures the rule and the tables use, pooled over both datasets."""
    falls = [r for r in results if r.kind == "fall"]
    adl = [r for r in results if r.kind != "fall"]
    gait_adl = [res for rec, res in zip(recs, results, strict=True)
                if res.kind != "fall" and res.task_code in GAIT_ADL[rec.dataset]]
    gait_falls = [res for rec, res in zip(recs, results, strict=True)
                  if res.kind == "fall" and res.task_code in GAIT_FALLS[rec.dataset]]
    kf_gait = [res for rec, res in zip(recs, results, strict=True)
               if rec.dataset == "kfall" and res.kind == "fall" and res.labelled
               and res.task_code in GAIT_FALLS["kfall"]]
    leads = [r.impact_s - r.first_stop_s for r in kf_gait  # type: ignore[operator]
             if r.outcome == "detected"]
    hours = sum(r.duration_s for r in adl) / 3600.0
    return {
        "fall_sensitivity": sum(r.outcome == "detected" for r in falls) / max(1, len(falls)),
        "gait_fall_sensitivity": sum(r.outcome == "detected" for r in gait_falls)
        / max(1, len(gait_falls)),
        "gait_lead_median_ms": float(np.median(leads) * 1000.0) if leads else 0.0,
        "adl_specificity": 1.0 - sum(r.first_stop_s is not None for r in adl) / max(1, len(adl)),
        "false_alarms_per_hour": sum(r.stop_alarms for r in adl) / hours if hours else 0.0,
        "gait_adl_with_stop": float(sum(r.first_stop_s is not None for r in gait_adl)),
    }


class Replays:
    """Every trial's outcome for every setting of ``grid``, computed once: the folds only
    regroup them. Per trial, each part's stop samples are kept as (mostly empty) index arrays
    and each distinct union of them is turned into an outcome once."""

    def __init__(self, recs: Sequence[Recorded], grid: Sequence[Setting] = GRID) -> None:
        self.recs = list(recs)
        self.grid = list(grid)
        self.results: dict[Setting, list[TrialResult]] = {g: [] for g in self.grid}
        pairs = sorted({(g.model_logit, g.model_logit_still) for g in self.grid})
        tilts = sorted({g.slip_tilt_deg for g in self.grid})
        levels = sorted({g.impact_g for g in self.grid})
        for r in self.recs:
            def where(x: BoolArray, r: Recorded = r) -> npt.NDArray[np.int64]:
                return np.flatnonzero(x & r.settled)

            model = {(a, b): where(model_stops(r, a, b)) for a, b in pairs}
            slip = {k: where(slip_stops(r, k)) for k in tilts}
            impact = {k: where(impact_stops(r, k)) for k in levels}
            other = np.flatnonzero(r.other_stop)
            seen: dict[bytes, TrialResult] = {}
            for g in self.grid:
                parts = [p for p in (model[g.model_logit, g.model_logit_still],
                                     slip[g.slip_tilt_deg], impact[g.impact_g], other) if len(p)]
                idx = np.unique(np.concatenate(parts)) if parts else other
                key = idx.tobytes()
                if key not in seen:
                    stop = np.zeros(len(r.logit), dtype=bool)
                    stop[idx] = True
                    seen[key] = result(r, stop)
                self.results[g].append(seen[key])


def sisfall_false_alarms_per_h(recs: Sequence[Recorded],
                               results: Sequence[TrialResult]) -> float:
    """False alarms per hour in the SisFall daily activities among ``recs``."""
    adl = [res for rec, res in zip(recs, results, strict=True)
           if rec.dataset == "sisfall" and res.kind != "fall"]
    hours = sum(r.duration_s for r in adl) / 3600.0
    return sum(r.stop_alarms for r in adl) / hours if hours else 0.0


def choose(replays: Replays, idx: Sequence[int]) -> Setting:
    """The fixed rule (module docstring, step 3) on the trials ``idx`` of ``replays``."""
    recs = [replays.recs[i] for i in idx]
    best: tuple[Any, ...] | None = None
    pick = replays.grid[-1]
    for g in replays.grid:
        res = [replays.results[g][i] for i in idx]
        f = figures(recs, res)
        if f["gait_adl_with_stop"] > 0 or f["adl_specificity"] < 0.99:
            continue
        quiet = sisfall_false_alarms_per_h(recs, res) <= SISFALL_FALSE_ALARMS_PER_H
        key = (quiet, f["fall_sensitivity"], f["gait_lead_median_ms"],
               -round(f["false_alarms_per_hour"], 9), *g)
        if best is None or key > best:
            best, pick = key, g
    return pick


def folds(subjects: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Deterministic subject folds: every FOLDS-th (dataset, subject) in sorted order."""
    ordered = sorted(subjects)
    return [ordered[k::FOLDS] for k in range(FOLDS)]


def bootstrap(recs: Sequence[Recorded], results: Sequence[TrialResult]
              ) -> dict[str, tuple[float, float]]:
    """95 % subject-bootstrap intervals of :func:`figures` (resampling subjects)."""
    by_subject: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(recs):
        by_subject.setdefault((r.dataset, r.subject), []).append(i)
    keys = sorted(by_subject)
    rng = np.random.default_rng(SEED)
    samples_: dict[str, list[float]] = {}
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(keys), len(keys))
        idx = [i for k in pick for i in by_subject[keys[k]]]
        f = figures([recs[i] for i in idx], [results[i] for i in idx])
        for name, v in f.items():
            samples_.setdefault(name, []).append(v)
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
            for k, v in samples_.items()}


def trials_from_csv(dataset: str, path: Path) -> tuple[list[Recorded], list[TrialResult]]:
    """A ``treadguard evaluate --trials-csv`` file (e.g. of the baseline) as results that
    :func:`figures` and :func:`bootstrap` take (only first stop and alarm count matter)."""
    import csv

    recs: list[Recorded] = []
    results: list[TrialResult] = []
    empty = np.zeros(0, dtype=bool)
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            def num(key: str, row: dict[str, str] = row) -> float | None:
                return float(row[key]) if row[key] else None

            first = num("first_stop_s")
            starts = () if first is None else tuple(
                first + 2.5 * k for k in range(int(row["stop_alarms"])))
            recs.append(Recorded(dataset, row["subject"], row["file"], row["task_code"],
                                 row["kind"], num("onset_s"), num("impact_s"),
                                 np.zeros(0, dtype=np.float32), empty, empty, empty))
            results.append(TrialResult(row["subject"], row["file"], row["task_code"],
                                       row["kind"], float(row["duration_s"]), starts, None,
                                       num("onset_s"), num("impact_s")))
    return recs, results


def print_figures(title: str, recs: Sequence[Recorded], results: Sequence[TrialResult]) -> None:
    """:func:`figures` with subject-bootstrap 95 % intervals: pooled, then per dataset."""
    for ds in (None, "kfall", "sisfall"):
        idx = [i for i, r in enumerate(recs) if ds is None or r.dataset == ds]
        if not idx:
            continue
        rs = [recs[i] for i in idx]
        res = [results[i] for i in idx]
        f = figures(rs, res)
        ci = bootstrap(rs, res)
        print(f"{title}, {ds or 'both datasets'} ({len(rs)} trials):")
        for name, v in f.items():
            lo, hi = ci[name]
            print(f"  {name:24s} {v:9.4f}  [{lo:.4f}, {hi:.4f}]")


def dev_subjects() -> list[tuple[str, str]]:
    return [("kfall", s) for s in KFALL_TUNE] + [("sisfall", s) for s in SISFALL_TUNE]


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kfall", type=Path, required=True)
    parser.add_argument("--sisfall", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/treadguard-thresholds"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--baseline-trials", action="append", default=[],
                        metavar="DATASET:CSV",
                        help="also print the figures and intervals of these trials (a "
                             "treadguard evaluate --trials-csv file, e.g. of the baseline)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.baseline_trials:
        b_recs: list[Recorded] = []
        b_res: list[TrialResult] = []
        for spec_ in args.baseline_trials:
            ds, _, f = spec_.partition(":")
            r_, s_ = trials_from_csv(ds, Path(f))
            b_recs += r_
            b_res += s_
        print_figures("baseline", b_recs, b_res)
        return 0
    roots = {"kfall": args.kfall, "sisfall": args.sisfall}
    by_subject: dict[tuple[str, str], list[int]] = {}
    every: list[Recorded] = []
    for ds, subj in dev_subjects():
        recs = load_subject(ds, roots[ds], subj, args.cache)
        by_subject[(ds, subj)] = list(range(len(every), len(every) + len(recs)))
        every += recs
        print(f"recorded {ds} {subj}", file=sys.stderr)
    replays = Replays(every)
    print(f"replayed {len(every)} trials × {len(replays.grid)} settings", file=sys.stderr)
    oof_recs: list[Recorded] = []
    oof_res: list[TrialResult] = []
    picks = []
    for k, fold in enumerate(folds(list(by_subject))):
        train = [i for key, ix in by_subject.items() if key not in fold for i in ix]
        g = choose(replays, train)
        picks.append(g)
        print(f"fold {k}: {fold} -> {g}", file=sys.stderr)
        for key in fold:
            for i in by_subject[key]:
                oof_recs.append(every[i])
                oof_res.append(replays.results[g][i])
    cv = figures(oof_recs, oof_res)
    ci = bootstrap(oof_recs, oof_res)
    print_figures("cross-validated", oof_recs, oof_res)
    final = choose(replays, range(len(every)))
    per_dataset = {}
    for ds in ("kfall", "sisfall"):
        rs = [res for rec, res in zip(oof_recs, oof_res, strict=True) if rec.dataset == ds]
        per_dataset[ds] = report(rs, detector="treadguard (cross-validated)", dataset=ds,
                                 cost_us_per_sample=0.0)
    out = {"cv": cv, "ci95": ci, "fold_picks": [g._asdict() for g in picks],
           "final": final._asdict(), "per_dataset": per_dataset}
    print(f"fold picks {[tuple(g) for g in picks]}; on all development subjects: "
          + ", ".join(f"{k} {v}" for k, v in final._asdict().items()))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
