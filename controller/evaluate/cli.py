"""``treadguard evaluate``: stream a dataset through a detector and report stop-alarm figures.

Example (the held-aside KFall subjects, see :mod:`controller.evaluate.splits`)::

    treadguard evaluate --dataset kfall ../data/KFall --subjects SA09,SA12,SA15,SA18,SA21 \\
        --compare kfall-threshold --by-task --json out.json --trials-csv trials.csv --plots img/
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from controller.config import ConfigError, DetectSettings
from controller.config import load as load_config

SWEEP_OFFSETS: tuple[float, ...] = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)
"""``--plots`` threshold sweep: the score threshold at the configured value plus these."""


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` subcommand to the ``treadguard`` parser."""
    from controller.detect import DETECTORS
    from controller.evaluate.readers import READERS

    p = subparsers.add_parser(
        "evaluate",
        help="measure a detector on recorded falls and daily activities",
        description="Stream every trial of a dataset through a detector as the loop would "
                    "(resampled to 200 Hz) and print the stop-alarm figures as a table "
                    "(JSON with --json -).",
    )
    p.add_argument("--dataset", required=True, choices=sorted(READERS),
                   help="dataset format: kfall, sisfall or csv")
    p.add_argument("path", type=Path, help="the dataset folder as published and unpacked")
    p.add_argument("--detector", default="treadguard", choices=sorted(DETECTORS),
                   help="detector to evaluate (default: treadguard)")
    p.add_argument("--compare", default=None, choices=sorted(DETECTORS),
                   help="a second detector run in the same pass, shown beside the first")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="take the detectors' options from this file's [detect] section (default: "
                        "the defaults): a site measures the configuration it runs, e.g. with "
                        "the gait-fall specialist switched on")
    p.add_argument("--subjects", default=None,
                   help="comma-separated subject ids to include (default: all)")
    p.add_argument("--by-task", action="store_true",
                   help="add one table row per task code")
    p.add_argument("--json", default=None, dest="json_out", metavar="OUT",
                   help="write the JSON report to this file; '-': print it instead of the table "
                        "(with --compare: a list, one report per detector)")
    p.add_argument("--trials-csv", type=Path, default=None,
                   help="write one row per trial (of --detector) to this csv file")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="write PNG plots to this folder (needs the report extra: matplotlib); "
                        "for a detector with a score, runs a threshold sweep too")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")
    p.set_defaults(func=run)


def _progress(total: int, quiet: bool) -> Any:
    """A tqdm bar on stderr (trials done of total, elapsed, time left); disabled with
    ``quiet`` or when stderr is not a terminal, so logs and pipes stay clean."""
    from tqdm import tqdm

    return tqdm(total=total or None, unit="trial", file=sys.stderr, dynamic_ncols=True,
                disable=quiet or not sys.stderr.isatty(), leave=False)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; print the table (or the JSON report with ``--json -``). Exit 0, or
    2 on a dataset error or a missing extra."""
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"treadguard evaluate: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # openpyxl, tqdm: the eval extra; matplotlib: the report extra
        extra = "report" if exc.name == "matplotlib" else "eval"
        print(f"treadguard evaluate: {exc} (install the extra: pip install '.[{extra}]')",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from controller.detect import DETECTORS, SCORES
    from controller.evaluate.harness import Cost, run_trial
    from controller.evaluate.metrics import TRIALS_CSV_HEADER, TrialResult, report, trial_row
    from controller.evaluate.readers import READERS, DatasetError, count_recordings
    from controller.evaluate.summary import summary_table
    from controller.evaluate.trial import resample

    if args.plots is not None:  # fail before minutes of streaming, not after
        import matplotlib  # noqa: F401
    subjects = args.subjects.split(",") if args.subjects else None
    names = [args.detector] + ([args.compare] if args.compare else [])
    # The configuration is read (and refused, in one line) before minutes of streaming.
    base = load_config(args.config).detect if args.config is not None else DetectSettings()
    # Several runs of one detector need distinct keys: the sweep's are "name@option=value".
    settings: dict[str, DetectSettings] = {name: base for name in names}
    score = SCORES.get(args.detector) if args.plots is not None else None
    configured = getattr(base, score) if score else 0.0
    sweep_keys: dict[str, float] = {}
    if score:
        for offset in SWEEP_OFFSETS:
            if offset != 0.0:  # the configured threshold is the main run
                key = f"{args.detector}@{score}={configured + offset:g}"
                sweep_keys[key] = configured + offset
                settings[key] = dataclasses.replace(base, **{score: configured + offset})
    detectors = {key: DETECTORS[key.split("@")[0]](s) for key, s in settings.items()}
    costs = {key: Cost() for key in detectors}
    results: dict[str, list[TrialResult]] = {key: [] for key in detectors}
    try:
        total = count_recordings(args.dataset, args.path, subjects)
        with _progress(total, args.quiet) as bar:
            for trial in READERS[args.dataset](args.path, subjects):
                resampled = resample(trial)  # once, not once per detector
                for key, det in detectors.items():
                    results[key].append(run_trial(det, resampled, costs[key]))
                bar.update(1)
    except (DatasetError, OSError) as exc:
        print(f"treadguard evaluate: {exc}", file=sys.stderr)
        return 2
    main_results = results[args.detector]
    if not main_results:
        print(f"treadguard evaluate: no trials found under {args.path}", file=sys.stderr)
        return 2
    reports = {key: report(rs, detector=key, dataset=args.dataset,
                           cost_us_per_sample=costs[key].us_per_sample)
               for key, rs in results.items()}
    shown = [reports[name] for name in names]
    doc: Any = shown[0] if len(shown) == 1 else shown
    text = json.dumps(doc, indent=2)
    if args.json_out == "-":
        print(text)
    else:
        print(summary_table(shown, by_task=args.by_task))
        if args.json_out is not None:
            Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    if args.trials_csv is not None:
        with args.trials_csv.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(TRIALS_CSV_HEADER)
            for r in main_results:
                w.writerow(trial_row(r))
    if args.plots is not None:
        from controller.evaluate.plots import write_plots

        sweep = None
        if score:
            points = [(configured, reports[args.detector])]
            points += [(value, reports[key]) for key, value in sweep_keys.items()]
            sweep = (args.detector, score, configured, points)
        written = write_plots(args.plots, {name: results[name] for name in names}, sweep)
        print(f"plots: {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``evaluate`` alone (``python -m controller.evaluate``)."""
    parser = argparse.ArgumentParser(prog="treadguard")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["evaluate", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code
