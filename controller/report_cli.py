"""``treadguard report``: a page for a therapist.

- ``treadguard report SESSION|--last [--out DIR]``: one black-box recording as
  ``DIR/index.html`` (``SESSION``: a black-box id or a recorded session id, as in
  ``treadguard log``);
- ``treadguard report --runner NAME [--out DIR]``: the runner's trend across sessions as
  ``DIR/index.html`` and the session summaries as ``DIR/NAME-sessions.csv``.

The state directory is ``--state DIR``, else ``[paths] state_dir`` of ``--config FILE``, else
``/var/lib/treadguard``. ``--out`` defaults to ``treadguard-report-SESSION`` (or
``-NAME``) in the current directory. Reading never writes to the state directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from controller import log_cli
from controller.blackbox.store import StoreError, find, sessions
from controller.report import ReportError, render, runner_report, session_report, write_csv
from controller.settings import PathsSettings


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="a therapist's page: one session, or a runner's "
                                           "trend (HTML, and CSV for a runner)")
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("session", nargs="?", metavar="SESSION",
                       help="a black-box session id (treadguard log list) or session id")
    which.add_argument("--last", action="store_true", help="the most recent recording")
    which.add_argument("--runner", metavar="NAME", help="this runner's trend across sessions")
    where = report.add_mutually_exclusive_group()
    where.add_argument("--state", metavar="DIR", help="the state directory (default: [paths] "
                                                      "state_dir of --config, else "
                                                      f"{PathsSettings().state_dir})")
    where.add_argument("--config", help="configuration file whose [paths] state_dir to read")
    report.add_argument("--out", metavar="DIR", help="where to write index.html (default: "
                                                     "./treadguard-report-SESSION)")
    report.set_defaults(func=cmd_report)


def _fail(message: str) -> int:
    print(f"treadguard report: {message}", file=sys.stderr)
    return 1


def cmd_report(args: argparse.Namespace) -> int:
    state = log_cli.state_dir(args)
    try:
        if args.runner:
            page, rows = runner_report(state, args.runner)
            out = Path(args.out or f"treadguard-report-{args.runner}")
            out.mkdir(parents=True, exist_ok=True)
            csv_path = out / f"{args.runner}-sessions.csv"
            write_csv(csv_path, rows)
            print(f"wrote {csv_path}")
        else:
            if args.last:
                found = sessions(state)
                if not found:
                    return _fail(f"no sessions in {state}")
                info = found[-1]
            else:
                info = find(state, args.session)
            page = session_report(state, info)
            out = Path(args.out or f"treadguard-report-{info.id}")
            out.mkdir(parents=True, exist_ok=True)
        index = out / "index.html"
        index.write_text(render(page), encoding="utf-8")
    except (StoreError, ReportError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out or 'the report'}: {exc.strerror or exc}")
    print(f"wrote {index}")
    return 0
