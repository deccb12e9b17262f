"""The ``treadguard`` command line.

Each subcommand lives in the module that owns it and registers itself through a
``register(subparsers)`` function that sets ``func`` (``Callable[[argparse.Namespace], int]``)
as the parser default. This file only assembles them and turns known errors into one-line
messages with a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from controller.config import ConfigError


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors on one line (the usage block is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `treadguard --help` stays fast and a broken optional module
    # cannot stop the daemon's own subcommand from loading.
    from controller import (
        bench,
        calibrate,
        check,
        daemon,
        log_cli,
        report_cli,
        runner_cli,
        safe_outputs,
        sim_view,
        status_cli,
        treadmill_cli,
    )
    from controller.evaluate import cli as evaluate_cli
    from controller.fleet import broker_config as fleet_broker_config
    from controller.fleet import dashboard
    from controller.fleet import sim as fleet_sim

    parser = OneLineParser(
        prog="treadguard",
        description="Safety controller for backward running on a treadmill.",
    )
    parser.add_argument("--version", action="version", version=f"treadguard {_version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    daemon.register(sub)
    sim_view.register(sub)
    evaluate_cli.register(sub)
    treadmill_cli.register(sub)
    check.register(sub)
    calibrate.register(sub)
    runner_cli.register(sub)
    status_cli.register(sub)
    log_cli.register(sub)
    report_cli.register(sub)
    bench.register(sub)
    safe_outputs.register(sub)
    dashboard.register(sub)
    fleet_sim.register(sub)
    fleet_broker_config.register(sub)
    return parser


def _version() -> str:
    """The installed distribution's version (``pyproject.toml``), as pip recorded it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("treadguard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
