"""Subcommands of the treadmill link: ``treadmill-test``, ``sim-treadmill``, ``bench-link``.

Registered through :func:`register` from ``controller/cli.py``. The work is done in
:mod:`controller.treadmill_bench` and :mod:`hardware.sim.treadmill`.
"""

from __future__ import annotations

import argparse
from typing import Any

FAULTS = ("silent", "garbage", "drop", "corrupt", "delay_s", "runaway", "ignore_stop",
          "power_cycle", "unplug")


def register(sub: Any) -> None:
    test = sub.add_parser(
        "treadmill-test",
        help="first contact with a treadmill: stopped? start (A0), ramp, hold, stop, stopped? "
             "(JSON summary on stdout)")
    test.add_argument("--port", help="pyserial URL: /dev/ttyUSB0, /dev/pts/N, socket://host:port")
    test.add_argument("--simulated", action="store_true",
                      help="run against the simulated treadmill in lockstep (no --port)")
    test.add_argument("--sim-fault", choices=FAULTS, default=None,
                      help="with --simulated: inject this fault right after the start")
    test.add_argument("--units", choices=("mph", "kmh"), required=True,
                      help="the treadmill's speed unit (check its console: a wrong guess is a "
                           "1.6x speed error)")
    test.add_argument("--baud", type=int, default=4800, help="default 4800")
    test.add_argument("--stop-mode", choices=("A2", "AA"), default="A2", help="default A2")
    test.add_argument("--speed-kmh", type=float, default=1.0, help="0.1–3.0, default 1.0")
    test.add_argument("--hold-s", type=float, default=3.0, help="default 3")
    test.set_defaults(func=_treadmill_test)

    sim = sub.add_parser("sim-treadmill",
                         help="play a Trackmaster treadmill on a serial port (or a new pty), "
                              "in real time")
    where = sim.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="pyserial URL of the port to answer on, e.g. /dev/ttyUSB1")
    where.add_argument("--pty", action="store_true",
                       help="create a pseudo-terminal and print its path on stdout")
    sim.add_argument("--units", choices=("mph", "kmh"), required=True)
    sim.add_argument("--baud", type=int, default=4800, help="default 4800")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--fault", choices=[f for f in FAULTS if f != "unplug"], default=None,
                     help="inject this fault (default parameters) after --fault-after-s")
    sim.add_argument("--fault-after-s", type=float, default=10.0, help="default 10")
    sim.set_defaults(func=_sim_treadmill)

    bench = sub.add_parser("bench-link",
                           help="measure the link's round trips, polling and step() cost")
    bench.add_argument("--units", choices=("mph", "kmh"), default="kmh")
    bench.add_argument("--baud", type=int, default=4800)
    bench.add_argument("--hold-s", type=float, default=5.0, help="measuring time per run")
    bench.add_argument("--stop-cycles", type=int, default=40,
                       help="stop requests at different poll phases (default 40)")
    bench.add_argument("--no-realtime", action="store_true",
                       help="skip the real-time pty runs (simulated time only)")
    bench.set_defaults(func=_bench_link)


def _treadmill_test(args: argparse.Namespace) -> int:
    from controller.treadmill_bench import cmd_treadmill_test

    return cmd_treadmill_test(args)


def _sim_treadmill(args: argparse.Namespace) -> int:
    from hardware.sim.treadmill import serve_port, serve_pty

    fault = (args.fault, args.fault_after_s) if args.fault else None
    try:
        if args.pty:
            serve_pty(args.units, args.baud, args.seed, fault=fault)
        else:
            serve_port(args.port, args.units, args.baud, args.seed, fault)
    except KeyboardInterrupt:
        return 0
    return 0


def _bench_link(args: argparse.Namespace) -> int:
    from controller.treadmill_bench import cmd_bench_link

    return cmd_bench_link(args)
