"""Choose the fall score's two stop thresholds (stepping / not stepping) on development subjects.

    .venv/bin/python scripts/train_fall_thresholds.py --kfall ../data/KFall \\
        --sisfall ../data/SisFall_dataset [--cache /tmp/treadguard-thresholds] [--json OUT]

1. Streams every trial of the development subjects (``controller.evaluate.splits``:
   ``KFALL_TUNE``, ``SISFALL_TUNE``; never the held-aside ones) through the detector the loop
   runs, with the learned score's stops switched off, and records per sample its logit, the
   regime (the runner stepping: a step counted in the last 2 s) and whether another detector
   (rule, free fall, impact, slip/trip) stops. Cached per subject under ``--cache``.
2. Replays the stops for any pair of thresholds exactly as ``FallDetector`` decides them
   (logit above the regime's threshold for ``model_hold_s``, OR another detector's stop).
3. The fixed rule, applied to whatever subjects it is given: among the grid
   (:data:`GAIT_GRID` × :data:`STILL_GRID`), keep the pairs with no stop in any walking or
   jogging trial and a per-trial daily-activity specificity ≥ 99 %; of those, the highest
   fall sensitivity, then the longest median lead in gait falls, then the higher thresholds.
4. Subject-wise cross-validation: the development subjects in :data:`FOLDS` folds; the rule
   picks the thresholds on the other folds and they are scored on the held-out fold; the
   pooled out-of-fold figures get subject-bootstrap 95 % intervals (:data:`BOOTSTRAP`
   resamples, fixed seed).
5. Prints the cross-validated table and the pair the rule picks on all development subjects
   (the shipped ``[detect] model_logit`` / ``model_logit_still``).

With ``--baseline-trials kfall:A.csv --baseline-trials sisfall:B.csv`` it prints the same
figures and intervals for those trials (``treadguard evaluate --trials-csv`` of the baseline on
the same subjects) instead.

The replay is checked against the streaming detector in ``tests/test_detect_regimes.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.config import DetectSettings  # noqa: E402
from controller.detect import build_default  # noqa: E402
from controller.detect.base import Level  # noqa: E402
from controller.evaluate.metrics import TrialResult, alarm_starts, report  # noqa: E402
from controller.evaluate.readers import read_kfall, read_sisfall  # noqa: E402
from controller.evaluate.splits import KFALL_TUNE, SISFALL_TUNE  # noqa: E402
from controller.evaluate.trial import LOOP_RATE_HZ, Trial, resample, samples  # noqa: E402

GAIT_GRID: tuple[float, ...] = tuple(np.round(np.arange(4.0, 12.01, 0.5), 2))
STILL_GRID: tuple[float, ...] = tuple(np.round(np.arange(6.0, 16.01, 0.5), 2))
FOLDS = 5
BOOTSTRAP = 1000
SEED = 0
OFF = 30.0
"""``model_logit`` while recording: the score's own stops switched off (the option's maximum)."""

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

    @property
    def t_s(self) -> FloatArray:
        return np.arange(len(self.logit), dtype=np.float64) / LOOP_RATE_HZ


def record_trial(dataset: str, trial: Trial) -> Recorded:
    """Stream one trial through the loop's detector (score stops off) and record it."""
    tr = resample(trial)
    det = build_default(dataclasses.replace(DetectSettings(), model_logit=OFF,
                                            model_logit_still=OFF))
    det.reset()
    o = det.orientation
    n = len(tr.t_s)
    logit = np.full(n, -np.inf, dtype=np.float32)
    stepping = np.zeros(n, dtype=bool)
    settled = np.zeros(n, dtype=bool)
    other = np.zeros(n, dtype=bool)
    for i, s in enumerate(samples(tr)):
        level = det.update(s).level
        other[i] = level is Level.STOP
        if o.armed:
            logit[i] = det.fall.last_logit
            stepping[i] = det.stepping
            settled[i] = o.t_s >= o.settled_s
    return Recorded(dataset, tr.subject, tr.file, tr.task_code, tr.kind, tr.onset_s,
                    tr.impact_s, logit, stepping, settled, other)


def load_subject(dataset: str, root: Path, subject: str, cache: Path) -> list[Recorded]:
    """Recorded trials of one subject (cached as .npz)."""
    f = cache / f"{dataset}_{subject}.npz"
    if f.exists():
        z = np.load(f, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [Recorded(dataset, m["subject"], m["file"], m["task_code"], m["kind"],
                         m["onset_s"], m["impact_s"], z[f"logit{i}"], z[f"stepping{i}"],
                         z[f"settled{i}"], z[f"other{i}"]) for i, m in enumerate(meta)]
    reader = read_kfall if dataset == "kfall" else read_sisfall
    out = [record_trial(dataset, t) for t in reader(root, [subject])]
    arrays: dict[str, Any] = {}
    for i, r in enumerate(out):
        arrays[f"logit{i}"] = r.logit
        arrays[f"stepping{i}"] = r.stepping
        arrays[f"settled{i}"] = r.settled
        arrays[f"other{i}"] = r.other_stop
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


def replay(r: Recorded, th_gait: float, th_still: float, hold_s: float) -> TrialResult:
    """The trial's stop alarms for this threshold pair, as the detector would give them."""
    t = r.t_s
    th = np.where(r.stepping, th_gait, th_still)
    model = held(r.logit > th, t, hold_s) & r.settled
    stop = model | r.other_stop
    starts = alarm_starts(t.tolist(), stop.tolist()) if stop.any() else []
    return TrialResult(r.subject, r.file, r.task_code, r.kind, float(t[-1]) if len(t) else 0.0,
                       tuple(starts), None, r.onset_s, r.impact_s)


GAIT_ADL = {"kfall": {"D06", "D07", "D08", "D09"}, "sisfall": {"D01", "D02", "D03", "D04"}}
GAIT_FALLS = {"kfall": {f"F{i:02d}" for i in range(9, 16)},
              "sisfall": {f"F{i:02d}" for i in range(1, 8)}}


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


_MEMO: dict[tuple[int, float, float], TrialResult] = {}


def replay_memo(r: Recorded, th_gait: float, th_still: float, hold_s: float) -> TrialResult:
    """:func:`replay`, remembered per trial and pair; a trial whose score never reaches the
    lower threshold is replayed once."""
    top = float(r.logit[r.settled].max()) if r.settled.any() else -np.inf
    key = (id(r), th_gait, th_still) if top > min(th_gait, th_still) else (id(r), 0.0, 0.0)
    if key not in _MEMO:
        _MEMO[key] = replay(r, th_gait, th_still, hold_s)
    return _MEMO[key]


def choose(recs: Sequence[Recorded], hold_s: float) -> tuple[float, float]:
    """The fixed rule (module docstring, step 3) on these trials."""
    best: tuple[float, ...] | None = None
    pick = (GAIT_GRID[-1], STILL_GRID[-1])
    for g in GAIT_GRID:
        for s in STILL_GRID:
            f = figures(recs, [replay_memo(r, g, s, hold_s) for r in recs])
            if f["gait_adl_with_stop"] > 0 or f["adl_specificity"] < 0.99:
                continue
            key = (f["fall_sensitivity"], f["gait_lead_median_ms"], g, s)
            if best is None or key > best:
                best, pick = key, (g, s)
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
    hold_s = DetectSettings().model_hold_s
    roots = {"kfall": args.kfall, "sisfall": args.sisfall}
    by_subject: dict[tuple[str, str], list[Recorded]] = {}
    for ds, subj in dev_subjects():
        by_subject[(ds, subj)] = load_subject(ds, roots[ds], subj, args.cache)
        print(f"recorded {ds} {subj}", file=sys.stderr)
    oof_recs: list[Recorded] = []
    oof_res: list[TrialResult] = []
    picks = []
    for k, fold in enumerate(folds(list(by_subject))):
        train = [r for key, rs in by_subject.items() if key not in fold for r in rs]
        g, s = choose(train, hold_s)
        picks.append((g, s))
        print(f"fold {k}: {fold} -> model_logit {g}, model_logit_still {s}", file=sys.stderr)
        for key in fold:
            for r in by_subject[key]:
                oof_recs.append(r)
                oof_res.append(replay(r, g, s, hold_s))
    cv = figures(oof_recs, oof_res)
    ci = bootstrap(oof_recs, oof_res)
    print_figures("cross-validated", oof_recs, oof_res)
    every = [r for rs in by_subject.values() for r in rs]
    final = choose(every, hold_s)
    per_dataset = {}
    for ds in ("kfall", "sisfall"):
        rs = [res for rec, res in zip(oof_recs, oof_res, strict=True) if rec.dataset == ds]
        per_dataset[ds] = report(rs, detector="treadguard (cross-validated)", dataset=ds,
                                 cost_us_per_sample=0.0)
    out = {"cv": cv, "ci95": ci, "fold_picks": picks, "final": final,
           "per_dataset": per_dataset}
    print(f"fold picks {picks}; on all development subjects: model_logit {final[0]}, "
          f"model_logit_still {final[1]}")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
