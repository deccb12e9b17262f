"""``treadguard log``: read the black box back.

- ``treadguard log list [--runner NAME] [--json]``: the recorded sessions, oldest first;
- ``treadguard log show SESSION``: one session's header and every event;
- ``treadguard log export SESSION --csv DIR``: its events, telemetry and IMU bursts as CSV.

``SESSION`` is a black-box id (``log list`` shows them) or a recorded session id. The state
directory is ``--state DIR``, else ``[paths] state_dir`` of ``--config FILE``, else
``/var/lib/treadguard``. Reading never writes to the files (the daemon may be writing them).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from controller import config as cfg
from controller.blackbox.store import (
    EVENT_COLUMNS,
    IMU_COLUMNS,
    TELEMETRY_COLUMNS,
    SessionInfo,
    StoreError,
    find,
    rows,
    sessions,
)
from controller.report_table import fmt, table
from controller.settings import PathsSettings


def register(sub: Any) -> None:
    log = sub.add_parser("log", help="read the black box: sessions, events, telemetry")
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--state", metavar="DIR", help="the state directory (default: [paths] "
                                                      "state_dir of --config, else "
                                                      f"{PathsSettings().state_dir})")
    where.add_argument("--config", help="configuration file whose [paths] state_dir to read")
    cmds = log.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    ls = cmds.add_parser("list", parents=[common], help="the recorded sessions")
    ls.add_argument("--runner", metavar="NAME", help="only this runner's sessions")
    ls.add_argument("--json", action="store_true", help="JSON on stdout")
    ls.set_defaults(func=cmd_list)
    show = cmds.add_parser("show", parents=[common], help="one session's events")
    show.add_argument("session", metavar="SESSION")
    show.set_defaults(func=cmd_show)
    export = cmds.add_parser("export", parents=[common], help="one session as CSV files")
    export.add_argument("session", metavar="SESSION")
    export.add_argument("--csv", required=True, metavar="DIR", help="directory for the files")
    export.set_defaults(func=cmd_export)


def state_dir(args: argparse.Namespace) -> Path:
    if args.state:
        return Path(args.state)
    if args.config:
        return Path(cfg.load(args.config).paths.state_dir)
    return Path(PathsSettings().state_dir)


def _fail(message: str) -> int:
    print(f"treadguard log: {message}", file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    where = state_dir(args)
    try:
        found = [s for s in sessions(where) if args.runner is None or s.runner == args.runner]
    except StoreError as exc:
        return _fail(str(exc))
    if args.json:
        json.dump([s.as_dict() for s in found], sys.stdout, indent=1)
        print()
        return 0
    if not found:
        print(f"no sessions in {where}" + (f" for runner {args.runner!r}" if args.runner
                                            else ""))
        return 0
    print(table([[s.id, s.started_utc[:19].replace("T", " "), fmt(s.runner), fmt(s.session_id),
                  str(s.events), str(s.stops), str(s.telemetry_rows), str(s.imu_rows)]
                 for s in found],
                header=["session", "started (UTC)", "runner", "session id", "events", "stops",
                        "telemetry", "imu"]))
    return 0


def _header(s: SessionInfo) -> list[str]:
    late = s.lateness
    lines = [f"session {s.id}: started {s.started_utc} UTC, ended "
             f"{s.ended_utc or '— (not closed: a crash or a power cut)'}",
             f"runner {fmt(s.runner)}, session id {fmt(s.session_id)}; treadguard "
             f"{fmt(s.version)}, config {fmt(s.config_path)} (sha256 {fmt(s.config_sha256)})",
             f"{s.events} events, {s.telemetry_rows} telemetry rows, {s.imu_rows} IMU samples; "
             f"files {', '.join(s.files)}"]
    if late.get("lateness_max_ms") is not None:
        lines.append(f"tick lateness p50 {fmt(late['lateness_p50_ms'])} ms, p99 "
                     f"{fmt(late['lateness_p99_ms'])} ms, max {fmt(late['lateness_max_ms'])} "
                     f"ms; {fmt(late['missed_deadlines'])} missed deadlines; longest gap "
                     f"{fmt(late['longest_gap_ms'])} ms")
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    where = state_dir(args)
    try:
        info = find(where, args.session)
        events = rows(where, info, "events")
    except StoreError as exc:
        return _fail(str(exc))
    for line in _header(info):
        print(line)
    print()
    for t_s, kind, message in events:
        print(f"{t_s:10.3f} s  {kind:<7}  {message}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    where = state_dir(args)
    out = Path(args.csv)
    try:
        info = find(where, args.session)
        out.mkdir(parents=True, exist_ok=True)
        for table_name, columns in (("events", EVENT_COLUMNS), ("telemetry", TELEMETRY_COLUMNS),
                                    ("imu", IMU_COLUMNS)):
            path = out / f"{info.id}-{table_name}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(columns)
                writer.writerows(rows(where, info, table_name))
            print(f"wrote {path}")
    except StoreError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    return 0
