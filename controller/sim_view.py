"""``treadguard sim``: the command, a live view on a terminal, and a readable account of the
session.

The view only reads the event log and a few read-outs between ticks; it never runs inside a tick.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from controller import config as cfg
from controller import program_sim
from controller.app import HardwareError, System
from controller.blackbox.recorder import blackbox_dir, start_blackbox
from controller.daemon import StopSignals
from controller.events import Event, EventKind
from controller.fault_matrix import run_fault_matrix
from controller.sim_faults import FAULTS, SimFaultError
from controller.sim_session import (
    SessionPlan,
    build_session,
    outcome,
    require_all_simulated,
    run_quiet,
    write_outcome,
)
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.scenario_file import ScenarioFileError, scenario_names
from hardware.sim.scenarios import Scenario
from hardware.sim.treadmill_model import first_slowing_command_s
from hardware.sim.world import SimWorld
from hardware.trackmaster_protocol import AUTO_STOP, SET_SPEED, STOP


def register(sub: Any) -> None:
    sim = sub.add_parser("sim", help="run a simulated session end to end and print its account")
    sim.add_argument("--config", default="examples/sim.toml", help="default: examples/sim.toml")
    sim.add_argument("--scenario", default=None, metavar="NAME|FILE",
                     help=f"one of {', '.join(scenario_names())}, a .toml scenario file or "
                          f"replay:PATH (a KFall/SisFall/csv trial); default: [sim] scenario "
                          f"of the config, else demo")
    sim.add_argument("--fault", choices=sorted(FAULTS), default=None, metavar="NAME",
                     help=f"break something at --fault-at-s: {', '.join(sorted(FAULTS))}")
    sim.add_argument("--fault-at-s", type=float, default=20.0,
                     help="seconds of session time, ≥ 0 (default 20: walking at speed)")
    sim.add_argument("--speed-kmh", type=float, default=None,
                     help="the session's speed, ≥ 0 (capped by [limits]; default the "
                          "scenario's, else [session] speed_kmh)")
    sim.add_argument("--duration-s", type=float, default=None,
                     help="simulated seconds, > 0 (default the scenario's)")
    sim.add_argument("--seed", type=int, default=None,
                     help="seed of the runner, the noise and the treadmill, ≥ 0 (default "
                          "[sim] seed)")
    sim.add_argument("--json", default=None, metavar="OUT",
                     help="write the outcome as JSON to OUT (- for stdout: the account then "
                          "goes to stderr)")
    sim.add_argument("--child-work-dir", default=None, help=argparse.SUPPRESS)
    sim.add_argument("--fault-matrix", action="store_true",
                     help="run every fault during walk-backward and every scenario, and write "
                          "the rows to --json OUT (see docs/reliability.md)")
    pace = sim.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true",
                      help="as fast as possible (default when stdout is not a terminal)")
    pace.add_argument("--realtime", action="store_true",
                      help="real time with a live view (default on a terminal)")
    sim.add_argument("--state", metavar="DIR", default=None,
                     help="the state directory: the session's black box, and with --runner the "
                          "runner store (default: a temporary one)")
    program_sim.register_options(sim)
    sim.set_defaults(func=cmd_sim)


def _option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the numeric options, or None (checked before anything starts)."""
    for name, strict in (("fault_at_s", False), ("speed_kmh", False), ("duration_s", True),
                         ("seed", False)):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and (value > 0 if strict
                                                                 else value >= 0)):
            bound = "> 0" if strict else "≥ 0"
            return f"--{name.replace('_', '-')} must be a finite number {bound}, got {value}"
    if args.fault_matrix and not args.json:
        return "--fault-matrix needs --json OUT"
    return None


def cmd_sim(args: argparse.Namespace) -> int:
    problem = _option_problem(args)
    if problem is not None:
        print(f"treadguard sim: {problem}", file=sys.stderr)
        return 2
    if args.fault_matrix:
        return run_fault_matrix(args.config, args.json, args.seed, sys.stderr)
    if getattr(args, "runner", None):
        settings = cfg.load(args.config)
        require_all_simulated(settings)
        return program_sim.cmd_sim_runner(args, settings)
    plan = SessionPlan(args.config, args.scenario, args.fault, args.fault_at_s, args.speed_kmh,
                       args.duration_s, args.seed, args.child_work_dir)
    if plan.kills_the_controller:  # the session runs in a child process, killed mid-session
        try:
            result = run_quiet(plan)
        except (HardwareError, ScenarioFileError, SimFaultError) as exc:
            print(f"treadguard sim: {exc}", file=sys.stderr)
            return 1
        print(f"treadguard sim: {plan.fault}: controller killed at {result['onset_s']} s; belt "
              f"stopped at {result['belt_stopped_s']} s; the restarted controller: "
              f"{result['final_state']}", file=sys.stderr if args.json == "-" else sys.stdout)
        if args.json:
            write_outcome(result, args.json)
        return 0 if result["belt_stopped"] and result["latched"] else 1
    live = args.realtime or (not args.fast and sys.stdout.isatty())
    clock = SimClock(pace=1.0 if live else 0.0)
    out = sys.stderr if args.json == "-" else sys.stdout
    with tempfile.TemporaryDirectory(prefix="treadguard-sim-") as work:
        work_dir = Path(args.child_work_dir or work)
        try:
            system, scenario, driver, seed = build_session(plan, clock, work_dir)
        except (HardwareError, ScenarioFileError, SimFaultError) as exc:
            print(f"treadguard sim: {exc}", file=sys.stderr)
            return 1
        stop = StopSignals()
        with blackbox_dir(args.state) as state:
            recorder = start_blackbox(system, state, lambda line: print(line, file=sys.stderr))
            try:
                code = run_simulation(system, scenario, live=live, out=out,
                                      keep_running=lambda: not stop.requested,
                                      on_tick=driver.on_tick, at_end=driver.end)
            finally:
                if recorder is not None:
                    recorder.close()
                    if args.state:
                        print(f"  {recorder.status()} (treadguard log list --state "
                              f"{args.state})", file=out)
        if args.json:
            write_outcome(outcome(system, driver, seed), args.json)
    return code


def _format(event: Event) -> str:
    return f"{event.t_s:8.3f} s  {event.kind:<7}  {event.message}"


def run_simulation(system: System[SimWorld], scenario: Scenario, live: bool, out: TextIO,
                   keep_running: Callable[[], bool] | None = None,
                   on_tick: Callable[[], None] | None = None,
                   at_end: Callable[[], None] | None = None) -> int:
    """Run the scenario to its end (or until ``keep_running()`` is false: Ctrl-C), print the
    account; exit code 0 if the session ended the way a safe controller must (stopped and
    latched, or never started), else 1. ``on_tick`` runs after every tick, ``at_end`` once
    when the scenario's time is up, before the shutdown's stop."""
    world = system.world
    print(f"treadguard sim — scenario {scenario.name}: {scenario.description}", file=out)
    print(f"config {system.settings.path}", file=out)
    for line in system.describe():
        print(f"  {line}", file=out)
    print(file=out)

    def show(event: Event) -> None:
        if live:
            out.write("\r\033[K")
        print(_format(event), file=out, flush=live)

    system.events.subscribe(show)
    status_every = max(1, round(0.1 / system.loop.period_s))

    def status() -> None:
        if on_tick is not None:
            on_tick()
        if not live or system.loop.ticks % status_every:
            return
        link = system.link
        belt = link.actual_speed_kmh if link else None
        sample = system.loop.last_sample
        acc = (sum(a * a for a in sample.acc_mps2) ** 0.5 / 9.80665) if sample else 0.0
        out.write(f"\r\033[K{system.clock.now_s():8.3f} s  [{system.supervisor.state.value:8}] "
                  f"commanded {link.commanded_kmh if link else 0.0:4.1f} km/h  belt "
                  f"{'  ? ' if belt is None else f'{belt:4.1f}'} km/h  |a| {acc:4.2f} g")
        out.flush()

    try:
        system.loop.run(scenario.duration_s, on_tick=status, keep_running=keep_running)
        if keep_running is not None and not keep_running():
            now = system.clock.now_s()
            print(f"{now:8.3f} s  interrupted: ending the session with a controlled stop",
                  file=out)
        if at_end is not None:
            at_end()
    finally:
        if live:
            out.write("\r\033[K")
        # The account is of the session as it ended: after the shutdown's controlled stop.
        system.shutdown()
    wire = world.final_wire
    final_state = world.final_state  # empty without a treadmill (relay-only)

    print(file=out)
    print("Account of the session", file=out)
    sup = system.supervisor
    speeds = [e for e in system.events.of_kind(EventKind.SPEED)]
    if speeds:
        print(f"  speeds commanded: {', '.join(e.message.split()[1] for e in speeds)} km/h "
              f"(ramped in 0.1 km/h steps)", file=out)
    set_speed_bytes = sum(1 for _, who, b in wire if who == "host" and b == SET_SPEED)
    print(f"  wire: {sum(1 for _, w, _ in wire if w == 'host')} bytes sent, "
          f"{sum(1 for _, w, _ in wire if w == 'treadmill')} received, "
          f"{set_speed_bytes} speed commands", file=out)
    stops = system.events.of_kind(EventKind.STOP)
    if stops:
        first = stops[0]
        print(f"  stop: {first.message} at {first.t_s:.3f} s", file=out)
        stop_bytes = [t for t, who, b in wire
                      if who == "host" and b in (STOP, AUTO_STOP) and t >= first.t_s]
        slowing_s = first_slowing_command_s(wire, first.t_s)
        if slowing_s is not None:
            print(f"  first byte that slows the belt on the wire at {slowing_s:.3f} s "
                  f"({(slowing_s - first.t_s) * 1000:.0f} ms after the decision)", file=out)
        if stop_bytes:
            print(f"  stop command on the wire at {stop_bytes[0]:.3f} s "
                  f"({(stop_bytes[0] - first.t_s) * 1000:.0f} ms after the decision)", file=out)
        slip_at = getattr(scenario.motion, "slip_at_s", None)
        onset_slowing_s = first_slowing_command_s(wire, slip_at) if slip_at is not None else None
        if slip_at is not None and onset_slowing_s is not None:
            print(f"  slip onset {slip_at:.3f} s → first slowing byte {onset_slowing_s:.3f} s: "
                  f"{(onset_slowing_s - slip_at) * 1000:.0f} ms", file=out)
        if slip_at is not None and stop_bytes:
            print(f"  slip onset {slip_at:.3f} s → stop command {stop_bytes[0]:.3f} s: "
                  f"{(stop_bytes[0] - slip_at) * 1000:.0f} ms", file=out)
    if final_state:
        print(f"  treadmill at the end: belt {final_state['belt_kmh']:.1f} km/h, status "
              f"{final_state['status']}", file=out)
    print(f"  controller at the end: {sup.state.value}"
          + (f" (reason: {sup.stop_reason}) — needs a human reset" if sup.stop_latched else ""),
          file=out)
    belt_still = not final_state or final_state["belt_kmh"] == 0.0
    safe_end = sup.state in (State.LATCHED, State.STOPPING, State.READY) and belt_still
    return 0 if safe_end else 1
