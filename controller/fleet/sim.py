"""``treadguard fleet-sim --broker URL --count N``: N simulated treadguards publishing to a broker.

Each treadmill ``tm1`` … ``tmN`` is the real daemon code on simulated hardware, in a process of
its own (the two cores of a Pi-sized machine are both used, and one treadmill cannot hold up
another): the composition root with the simulated configuration (``--config``, every part
simulated), the session services — the runner's program, the session recorder and the fleet's
publisher, as ``treadguard run`` starts them — and the simulated treadmill on its
pseudo-terminal. The clock is simulated but paced to real time (``--pace``), so the dashboard's
times in session are real seconds.

A person at each machine holds reset, presses start and walks backward (the runner model,
:mod:`hardware.sim.runner`) through a runner's program; after a session ends normally, the next
runner steps on (a pause, reset, start). Any other stop — a slip, a remote stop from the
dashboard — stays latched: that machine needs its staff, as a real one would. With ``--seed
K``, about one treadmill in four has a slip at a seeded time.

Each treadmill logs in with ``<username-prefix>tmK`` (``pi-tmK`` by default, as
``docs/fleet.md``'s ACL names them) and the password in ``--password-file``.

At the end (``--duration-s`` or Ctrl-C) each treadmill stops as the daemon does (the controlled
stop, latched, offline) and a line per treadmill says how far behind real time its loop ever
fell (``max lag``): more than a few milliseconds means the machine cannot carry that many.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import multiprocessing
import random
import signal
import sys
import tempfile
import time
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, Final

from controller import config as cfg
from controller.app import HardwareError, assemble
from controller.daemon import positive_seconds
from controller.devices import simulated_world
from controller.events import EventKind
from controller.fleet.publisher import FleetError, first_line
from controller.fleet.topics import name_problem
from controller.fleet.url import BrokerAddress, parse_broker_url
from controller.profiles import PROFILES, new_limits
from controller.program import Plan, load_plan
from controller.program_sim import RESET_HOLD_S, START_PRESS_S, person_actions
from controller.sessions import start_services
from controller.settings import FleetSettings, PathsSettings
from controller.sim_session import require_all_simulated
from controller.stop_reasons import StopReason
from controller.store import Store
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.runner import EventKind as RunnerEventKind
from hardware.sim.runner import Runner, RunnerEvent
from hardware.sim.scenarios import Action, Scenario

MAX_COUNT: Final = 200
NEXT_RUNNER_AFTER_S: Final = 15.0
"""After a session ends normally, the next runner steps on this long after the latch."""
RUNNERS_EACH: Final = 50
SLIP_SHARE: Final = 0.25
SLIP_WINDOW_S: Final = (20.0, 120.0)
LAG_EVERY_TICKS: Final = 20
LAG_FROM_S: Final = 10.0
"""The lag is measured from this simulated time on (building the system takes a moment of
real time the paced clock then catches up)."""
FOREVER_S: Final = 7 * 24 * 3600.0
PROFILE: Final = "backward-walking"


def register(sub: Any) -> None:
    p = sub.add_parser("fleet-sim", help="run N simulated treadguards publishing to an MQTT "
                                         "broker (demonstrations, dashboard tests)")
    p.add_argument("--broker", required=True, metavar="URL",
                   help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    p.add_argument("--count", type=int, required=True, metavar="N",
                   help=f"simulated treadmills tm1..tmN (1-{MAX_COUNT})")
    p.add_argument("--duration-s", type=positive_seconds, default=None,
                   help="stop after this many simulated seconds (real seconds at --pace 1; "
                        "default: until Ctrl-C)")
    p.add_argument("--seed", type=int, default=1, help="seeds the runners and which of them "
                                                       "slip, and when (default 1)")
    p.add_argument("--site", default="gym", help="the site's topic level (default gym)")
    p.add_argument("--username-prefix", default="pi-",
                   help="broker user of tmK: PREFIX + tmK (default pi-)")
    p.add_argument("--password-file", default=None,
                   help="the broker users' password (first line); absent: no password")
    p.add_argument("--ca-file", default=None, help="CA certificate for mqtts:// (default: "
                                                   "the system's)")
    p.add_argument("--config", default="examples/sim.toml",
                   help="an all-simulated file (default: examples/sim.toml)")
    p.add_argument("--pace", type=positive_seconds, default=1.0,
                   help="simulated seconds per real second (default 1: real time)")
    p.add_argument("--status-interval-s", type=positive_seconds, default=1.0,
                   help="each treadmill's status interval (default 1)")
    p.set_defaults(func=cmd_fleet_sim)


@dataclasses.dataclass(frozen=True)
class TreadmillSpec:
    """One simulated treadmill (plain values: it crosses to its own process)."""

    index: int
    config: str
    fleet: FleetSettings
    seed: int
    slip_at_s: float | None
    pace: float
    duration_s: float | None

    @property
    def name(self) -> str:
        return self.fleet.treadmill


def specs(args: argparse.Namespace, settings: cfg.Settings) -> list[TreadmillSpec]:
    """The treadmills of a run (checked: one-line ConfigError/FleetError otherwise)."""
    address = parse_broker_url(args.broker)
    if not isinstance(address, BrokerAddress):
        raise cfg.ConfigError(f"--broker: {address}")
    if not 1 <= args.count <= MAX_COUNT:
        raise cfg.ConfigError(f"--count: expected 1 to {MAX_COUNT}, got {args.count}")
    for what, value in (("--site", args.site), ("--username-prefix", args.username_prefix + "t")):
        problem = name_problem(what, value)
        if problem is not None:
            raise cfg.ConfigError(problem)
    password_file = str(Path(args.password_file).resolve()) if args.password_file else ""
    if password_file:
        first_line("--password-file", "password_file", password_file)  # readable, not empty
    if args.ca_file and not address.tls:
        raise cfg.ConfigError("--ca-file: needs an mqtts:// broker")
    if args.ca_file and not Path(args.ca_file).is_file():
        raise FleetError(f"--ca-file: {args.ca_file}: no such file")
    rng = random.Random(args.seed)
    out = []
    for k in range(1, args.count + 1):
        slips = rng.random() < SLIP_SHARE
        slip_at = round(rng.uniform(*SLIP_WINDOW_S), 1)
        name = f"tm{k}"
        fleet = dataclasses.replace(
            settings.fleet, enabled=True, broker_url=address.url, site=args.site,
            treadmill=name, username=args.username_prefix + name, password_file=password_file,
            ca_file=str(Path(args.ca_file).resolve()) if args.ca_file else "",
            status_interval_s=args.status_interval_s)
        out.append(TreadmillSpec(k, settings.path, fleet, args.seed * 1000 + k,
                                 slip_at if slips else None, args.pace, args.duration_s))
    return out


def cmd_fleet_sim(args: argparse.Namespace) -> int:
    settings = cfg.load(args.config)
    require_all_simulated(settings, "treadguard fleet-sim")
    treadmills = specs(args, settings)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    results: Any = ctx.Queue()
    procs = [ctx.Process(target=run_treadmill, args=(spec, stop, results), name=spec.name,
                         daemon=True) for spec in treadmills]
    print(f"treadguard fleet-sim: {len(procs)} simulated treadmill(s) publishing to "
          f"{treadmills[0].fleet.broker_url} as treadguard/{args.site}/tm1..tm{len(procs)} "
          f"(pace {args.pace:g}); slips: "
          + (", ".join(f"{s.name} at {s.slip_at_s:g} s" for s in treadmills
                       if s.slip_at_s is not None) or "none"), flush=True)
    for proc in procs:
        proc.start()
    # Each treadmill ends itself at its duration; this is only in case one never reports.
    end = None if args.duration_s is None \
        else time.monotonic() + args.duration_s / args.pace + 60.0
    summaries: dict[str, dict[str, Any]] = {}
    try:
        while len(summaries) < len(procs):
            if end is not None and time.monotonic() > end:
                break  # a treadmill that never reported: said below
            with contextlib.suppress(Exception):
                summary = results.get(timeout=0.5)
                summaries[summary["treadmill"]] = summary
                print(summary_line(summary), flush=True)
            if all(not p.is_alive() for p in procs) and results.empty():
                break
    except KeyboardInterrupt:
        print("fleet-sim: stopping every treadmill (controlled stops)", flush=True)
        stop.set()
        deadline = time.monotonic() + 20.0
        while len(summaries) < len(procs) and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                summary = results.get(timeout=0.5)
                summaries[summary["treadmill"]] = summary
                print(summary_line(summary), flush=True)
    stop.set()
    for proc in procs:
        proc.join(10.0)
        if proc.is_alive():
            proc.terminate()
    missing = [s.name for s in treadmills if s.name not in summaries]
    for name in missing:
        print(f"{name}: ended without a summary (crashed or killed)", file=sys.stderr)
    return 1 if missing or any(s.get("error") for s in summaries.values()) else 0


def summary_line(s: dict[str, Any]) -> str:
    if s.get("error"):
        return f"{s['treadmill']}: {s['error']}"
    return (f"{s['treadmill']}: {s['sim_s']:.1f} s simulated in {s['wall_s']:.1f} s, lag "
            f"behind real time max {s['max_lag_ms']:.0f} ms, at the end {s['end_lag_ms']:.0f} "
            f"ms; {s['sessions']} session(s), stops: "
            f"{', '.join(s['stops']) or 'none'}; {s['remote_stops']} remote stop(s); events "
            f"sent {s['events_sent']}, dropped {s['events_dropped']}; final state "
            f"{s['state']}")


def run_treadmill(spec: TreadmillSpec, stop: MpEvent, results: Any) -> None:
    """One simulated treadguard (in its own process) until ``stop`` or its duration."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when, through ``stop``
    try:
        summary = _run(spec, stop)
    except (cfg.ConfigError, HardwareError, OSError) as exc:
        summary = {"treadmill": spec.name, "error": f"{type(exc).__name__}: {exc}"}
    results.put(summary)


def _runner_plans(state_dir: str, spec: TreadmillSpec, settings: cfg.Settings) -> list[Plan]:
    profile = PROFILES[PROFILE]
    program = dataclasses.replace(settings.program, sessions_per_week=14)
    store = Store(state_dir)
    try:
        names = [f"{spec.name}-r{i}" for i in range(1, RUNNERS_EACH + 1)]
        for name in names:
            store.add_runner(name, profile.name, new_limits(profile, program), None, "fleet-sim")
        return [load_plan(store, name) for name in names]
    finally:
        store.close()


def _run(spec: TreadmillSpec, stop: MpEvent) -> dict[str, Any]:
    base = cfg.load(spec.config)
    with tempfile.TemporaryDirectory(prefix=f"treadguard-fleet-sim-{spec.name}-") as temp:
        settings = dataclasses.replace(base, fleet=spec.fleet,
                                       paths=PathsSettings(state_dir=temp))
        plans = _runner_plans(temp, spec, settings)
        origin = time.monotonic()
        clock = SimClock(pace=spec.pace)
        events = (RunnerEvent(spec.slip_at_s, RunnerEventKind.SLIP),) \
            if spec.slip_at_s is not None else ()
        scenario = Scenario(name="fleet-sim", duration_s=spec.duration_s or FOREVER_S,
                            target_speed_kmh=None, motion=Runner(events, seed=spec.seed),
                            actions=person_actions(),
                            description=f"{spec.name}: runners walking backward")
        world = simulated_world(settings, clock, scenario, spec.seed)
        system = assemble(settings, clock, world, None)
        services = start_services(system, settings, temp, serve=False)
        program = services.program
        program.select(plans[0])
        sup = system.supervisor
        lag = [0.0]
        next_runner = [1]
        restart_at: list[float | None] = [None]

        def person() -> None:
            """Between ticks: the next runner steps on after a session that ended normally."""
            now = clock.now_s()
            if system.loop.ticks % LAG_EVERY_TICKS == 0 and now > LAG_FROM_S:
                # Behind the paced schedule (after start-up's catch-up): real time the loop
                # could not keep.
                lag[0] = max(lag[0], time.monotonic() - origin - now / spec.pace)
            if (sup.state is State.LATCHED and sup.stop_reason == StopReason.SESSION_COMPLETE
                    and restart_at[0] is None):
                at = now + NEXT_RUNNER_AFTER_S
                restart_at[0] = at
                program.select(plans[next_runner[0] % len(plans)])
                next_runner[0] += 1
                world.actions = (
                    *world.actions,
                    Action(at, "reset", RESET_HOLD_S, "the next runner: operator holds reset"),
                    Action(at + RESET_HOLD_S + 0.3, "reset", START_PRESS_S,
                           "operator presses start"))
            elif restart_at[0] is not None and sup.state is State.RUNNING:
                restart_at[0] = None

        try:
            system.loop.run(spec.duration_s or FOREVER_S, on_tick=person,
                            keep_running=lambda: not stop.is_set())
        finally:
            system.shutdown()
            services.close()
        fleet = services.fleet
        assert fleet is not None
        stops = [e.message.removeprefix("STOP: ").split(" ")[0] for e in system.events
                 if e.kind is EventKind.STOP and e.message.startswith("STOP: ")]
        end_lag_s = time.monotonic() - origin - clock.now_s() / spec.pace
        return {"treadmill": spec.name, "sim_s": clock.now_s(), "end_lag_ms": end_lag_s * 1e3,
                "wall_s": time.monotonic() - origin, "max_lag_ms": lag[0] * 1000.0,
                "sessions": fleet.counters.sessions_sent, "stops": stops,
                "remote_stops": fleet.counters.remote_stops,
                "events_sent": fleet.counters.events_sent,
                "events_dropped": fleet.counters.events_dropped, "state": sup.state.value,
                "ticks": system.loop.ticks}
