"""Subcommands of the treadmill link: ``treadmill-test``, ``sim-treadmill``, ``bench-link``.

Registered through :func:`register` from ``controller/cli.py``. The work is done in
:mod:`controller.treadmill_bench` and :mod:`hardware.sim.treadmill`. Numeric options are
checked before anything opens or starts: a negative, zero or non-finite value is one line on
stderr and exit 2 (``--hold-s nan`` would otherwise hold forever).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, Final

from hardware.sim.treadmill_model import TreadmillFault
from hardware.trackmaster_timing import BAUD_RATES

FAULTS: Final = tuple(f.value for f in TreadmillFault if f is not TreadmillFault.CLEAR)
"""What ``treadmill-test --sim-fault`` and ``sim-treadmill --fault`` can inject."""


def register(sub: Any) -> None:
    test = sub.add_parser(
        "treadmill-test",
        help="first contact with a treadmill: stopped? start (A0), ramp, hold, stop, stopped? "
             "(JSON summary on stdout)")
    test.add_argument("--port", help="pyserial URL: /dev/ttyUSB0, /dev/pts/N, socket://host:port")
    test.add_argument("--simulated", action="store_true",
                      help="run against the simulated treadmill in lockstep (no --port)")
    test.add_argument("--sim-fault", choices=FAULTS, default=None,
                      help="with --simulated: inject this fault once the belt is at speed")
    test.add_argument("--units", choices=("mph", "kmh"), required=True,
                      help="the treadmill's speed unit (check its console: a wrong guess is a "
                           "1.6x speed error)")
    test.add_argument("--baud", type=int, default=4800, help=BAUD_HELP)
    test.add_argument("--stop-mode", choices=("A2", "AA"), default="A2", help="default A2")
    test.add_argument("--speed-kmh", type=float, default=1.0, help="0.1–3.0, default 1.0")
    test.add_argument("--hold-s", type=float, default=3.0,
                      help="seconds at speed before the stop, ≥ 0 (default 3)")
    test.set_defaults(func=_checked(_treadmill_test, non_negative=("hold_s",)))

    sim = sub.add_parser("sim-treadmill",
                         help="play a Trackmaster treadmill on a serial port (or a new pty), "
                              "in real time")
    where = sim.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="pyserial URL of the port to answer on, e.g. /dev/ttyUSB1")
    where.add_argument("--pty", action="store_true",
                       help="create a pseudo-terminal and print its path on stdout")
    sim.add_argument("--units", choices=("mph", "kmh"), required=True)
    sim.add_argument("--baud", type=int, default=4800, help=BAUD_HELP)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--fault", choices=FAULTS, default=None,
                     help="inject this fault (default parameters) after --fault-after-s "
                          "(unplug: the port closes and the process ends)")
    sim.add_argument("--fault-after-s", type=float, default=10.0,
                     help="seconds after the start, ≥ 0 (default 10)")
    sim.set_defaults(func=_checked(_sim_treadmill, non_negative=("fault_after_s",)))

    bench = sub.add_parser("bench-link",
                           help="measure the link's round trips, polling and step() cost")
    bench.add_argument("--units", choices=("mph", "kmh"), default="kmh")
    bench.add_argument("--baud", type=int, default=4800, help=BAUD_HELP)
    bench.add_argument("--hold-s", type=float, default=5.0,
                       help="measuring time per run, s, > 0 (default 5)")
    bench.add_argument("--stop-cycles", type=int, default=40,
                       help="stop requests at different poll phases, ≥ 1 (default 40)")
    bench.add_argument("--reply-delay-s", type=float, action="append", default=None,
                       help="a slow treadmill's reply delay, s, ≥ 0, for the stop-latency runs "
                            "(ack timeout 0.25 s); repeat for several (default 0.08 and 0.22)")
    bench.add_argument("--no-realtime", action="store_true",
                       help="skip the real-time pty runs (simulated time only)")
    bench.add_argument("--json", action="store_true",
                       help="print the figures as JSON instead of a table")
    bench.set_defaults(func=_checked(_bench_link, positive=("hold_s", "stop_cycles"),
                                     non_negative=("reply_delay_s",)))


BAUD_HELP = f"one of {', '.join(map(str, BAUD_RATES))} (default 4800)"
DEFAULT_REPLY_DELAYS_S = (0.08, 0.22)


def _option_problem(args: argparse.Namespace, positive: tuple[str, ...],
                    non_negative: tuple[str, ...]) -> str | None:
    """What is wrong with the numeric options (``--baud`` always), or None."""
    if args.baud not in BAUD_RATES:
        return f"--baud must be one of {', '.join(map(str, BAUD_RATES))}, got {args.baud}"
    for names, low, strict in ((positive, "> 0", True), (non_negative, "≥ 0", False)):
        for name in names:
            value = getattr(args, name)  # a list for repeatable options; None: not given
            for v in value if isinstance(value, list) else [] if value is None else [value]:
                if not (math.isfinite(v) and (v > 0 if strict else v >= 0)):
                    return (f"--{name.replace('_', '-')} must be a finite number {low}, "
                            f"got {v:g}")
    return None


def _checked(run: Callable[[argparse.Namespace], int], positive: tuple[str, ...] = (),
             non_negative: tuple[str, ...] = ()) -> Callable[[argparse.Namespace], int]:
    """``run``, after a check of its numeric options: one line on stderr and exit 2 if one is
    wrong, before any port is opened or belt started."""
    def checked(args: argparse.Namespace) -> int:
        problem = _option_problem(args, positive, non_negative)
        if problem is not None:
            print(f"treadguard {args.command}: {problem}", file=sys.stderr)
            return 2
        return run(args)

    return checked


def _treadmill_test(args: argparse.Namespace) -> int:
    from controller.treadmill_bench import cmd_treadmill_test

    return cmd_treadmill_test(args)


def _sim_treadmill(args: argparse.Namespace) -> int:
    from hardware.sim.treadmill import SimTreadmillError, serve_port, serve_pty

    fault = (args.fault, args.fault_after_s) if args.fault else None
    try:
        if args.pty:
            serve_pty(args.units, args.baud, args.seed, fault=fault)
        else:
            serve_port(args.port, args.units, args.baud, args.seed, fault)
    except KeyboardInterrupt:
        return 0
    except SimTreadmillError as exc:
        print(f"treadguard sim-treadmill: {exc}", file=sys.stderr)
        return 1
    return 0


def _bench_link(args: argparse.Namespace) -> int:
    from controller.link_bench import cmd_bench_link

    if args.reply_delay_s is None:
        args.reply_delay_s = list(DEFAULT_REPLY_DELAYS_S)
    return cmd_bench_link(args)
