"""``treadguard evaluate``: stream a dataset through a detector and report stop-alarm figures.

Example (the held-aside KFall subjects, see :mod:`controller.evaluate.splits`)::

    treadguard evaluate --dataset kfall ../data/KFall --subjects SA09,SA12,SA15,SA18,SA21 \\
        --json out.json --trials-csv trials.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from controller.config import DetectSettings


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` subcommand to the ``treadguard`` parser."""
    from controller.detect import DETECTORS
    from controller.evaluate.readers import READERS

    p = subparsers.add_parser(
        "evaluate",
        help="measure a detector on recorded falls and daily activities",
        description="Stream every trial of a dataset through a detector as the loop would "
                    "(resampled to 200 Hz) and report stop-alarm figures as JSON.",
    )
    p.add_argument("--dataset", required=True, choices=sorted(READERS),
                   help="dataset format: kfall, sisfall or csv")
    p.add_argument("path", type=Path, help="the dataset folder as published and unpacked")
    p.add_argument("--detector", default="treadguard", choices=sorted(DETECTORS),
                   help="detector to evaluate (default: treadguard)")
    p.add_argument("--subjects", default=None,
                   help="comma-separated subject ids to include (default: all)")
    p.add_argument("--json", type=Path, default=None, dest="json_out",
                   help="also write the JSON report to this file")
    p.add_argument("--trials-csv", type=Path, default=None,
                   help="write one row per trial to this csv file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; prints the JSON report. Exit 0, or 2 on a dataset error."""
    from controller.detect import build
    from controller.evaluate.harness import Cost, run_all
    from controller.evaluate.metrics import TRIALS_CSV_HEADER, report, trial_row
    from controller.evaluate.readers import READERS, DatasetError

    subjects = args.subjects.split(",") if args.subjects else None
    detector = build(args.detector, DetectSettings())
    cost = Cost()
    try:
        results = list(run_all(detector, READERS[args.dataset](args.path, subjects), cost))
    except (DatasetError, OSError) as exc:
        print(f"treadguard evaluate: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # openpyxl for the KFall label spreadsheets
        print(f"treadguard evaluate: {exc} (install the extra: pip install '.[eval]')",
              file=sys.stderr)
        return 2
    if not results:
        print(f"treadguard evaluate: no trials found under {args.path}", file=sys.stderr)
        return 2
    out = report(results, detector=args.detector, dataset=args.dataset,
                 cost_us_per_sample=cost.us_per_sample)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    if args.trials_csv is not None:
        with args.trials_csv.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(TRIALS_CSV_HEADER)
            for r in results:
                w.writerow(trial_row(r))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``evaluate`` alone (``python -m controller.evaluate``)."""
    parser = argparse.ArgumentParser(prog="treadguard")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["evaluate", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code
