"""``treadguard sim --runner NAME [--state DIR] [--json OUT]``: a runner's whole program, simulated.

The simulated person holds reset, confirms the start (and the harness, for a profile that needs
one), walks backward from the moment the belt starts, and — with ``rest_mode = "stop"`` —
waits out each rest and resets and starts again, as a person does. The session ends as every
session does: the cool-down, the controlled stop, latched. The store is a fresh temporary one
(the runner added with the ``backward-walking`` profile and ``[program]``'s limits) unless
``--state DIR`` names one that holds the runner; the finished session and its progression are
recorded in it, and the black box beside it (``treadguard report`` reads both).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

from controller import config as cfg
from controller.app import HardwareError, assemble
from controller.blackbox.recorder import start_blackbox
from controller.control_socket import snapshot
from controller.devices import simulated_world, world_seed
from controller.events import Event
from controller.profiles import PROFILES, new_limits
from controller.program import Plan
from controller.session_record import SessionRecorder
from controller.sessions import attach_program, load_plan, program_outcome
from controller.sim_session import SessionDriver
from controller.sim_session import outcome as scenario_outcome
from controller.status_cli import render
from controller.stop_reasons import StopReason
from controller.store import Store, StoreError
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario

RESET_AT_S: Final = 0.5
START_AT_S: Final = 2.0
RESET_HOLD_S: Final = 1.2
START_PRESS_S: Final = 0.2
WALK_FROM_S: Final = 5.3
"""The runner starts walking as the belt starts (the countdown after the start press)."""
NEW_RUNNER_PROFILE: Final = "backward-walking"


def register_options(sim: argparse.ArgumentParser) -> None:
    """Add ``--runner`` and (unless the sim command has one) ``--json OUT``; ``--state DIR``
    is the sim command's own (the state directory)."""
    sim.add_argument("--runner", default=None, metavar="NAME",
                     help="run this runner's whole program (a fresh temporary store unless "
                          "--state)")
    if not any("--json" in a.option_strings for a in sim._actions):
        sim.add_argument("--json", default=None, metavar="OUT",
                         help="write the session's outcome as JSON to OUT ('-': stdout)")


def person_actions() -> tuple[Action, ...]:
    return (Action(RESET_AT_S, "reset", RESET_HOLD_S, "operator holds reset"),
            Action(START_AT_S, "reset", START_PRESS_S, "operator presses start"))


def program_max_s(plan: Plan, countdown_s: float) -> float:
    """Longest the simulated session may take: every phase, each stopped rest's restart, a
    margin."""
    lim = plan.limits
    restarts = (lim.bouts - 1) * (RESET_HOLD_S + START_PRESS_S + 1.0 + countdown_s) \
        if lim.rest_mode == "stop" else 0.0
    return WALK_FROM_S + lim.session_limit_s + lim.cooldown_s + restarts + 30.0


def run_program(settings: cfg.Settings, state_dir: str | Path, runner: str, *,
                slip_at_s: float | None = None, live: bool = False, out: TextIO = sys.stdout,
                keep_running: Callable[[], bool] | None = None) -> tuple[int, dict[str, Any]]:
    """Run ``runner``'s program on the simulated machine; record it in the store at
    ``state_dir``. Returns the exit code (0: ended latched with the belt stopped) and the
    outcome (``runner``, ``profile``, ``program``, ``final_state``, ``stop_reason``)."""
    store = Store(state_dir)
    try:
        plan = load_plan(store, runner)
    finally:
        store.close()
    clock = SimClock(pace=1.0 if live else 0.0)
    max_s = program_max_s(plan, settings.limits.start_countdown_s)
    scenario = Scenario(
        name="program", duration_s=max_s, target_speed_kmh=None,
        motion=BackwardWalkWithSlip(WALK_FROM_S, 1e9, slip_at_s), actions=person_actions(),
        description=f"runner {runner}'s program ({plan.profile.name})", onset_s=slip_at_s)
    world = simulated_world(settings, clock, scenario)
    system = assemble(settings, clock, world, None)
    recorder = SessionRecorder(state_dir)
    program = attach_program(system, recorder.post)
    program.select(plan)
    if plan.profile.needs_harness:
        program.confirm_harness()
    # The black box, as the daemon keeps it: each start under the program is the runner's
    # recording (``treadguard log list --runner``, ``treadguard report``).
    blackbox = start_blackbox(system, Path(state_dir), lambda line: print(line, file=sys.stderr))
    sup = system.supervisor
    print(f"treadguard sim — {scenario.description}", file=out)

    def show(event: Event) -> None:
        if live:
            out.write("\r\033[K")
        print(f"{event.t_s:8.3f} s  {event.kind:<7}  {event.message}", file=out, flush=live)

    status_every = max(1, round(0.25 / system.loop.period_s))

    def status_line() -> None:
        """On a terminal: the status snapshot's first lines, as ``treadguard status`` shows
        them, on one line under the events."""
        if live and system.loop.ticks % status_every == 0:
            lines = render(snapshot(system, program))
            out.write("\r\033[K" + "  |  ".join(lines[:3]))
            out.flush()

    system.events.subscribe(show)
    restart_scheduled = [0.0]
    driver = SessionDriver(system, scenario, None, 0.0, None)  # watches belt, relay, latch

    def person() -> None:
        """Between ticks: after a rest with the belt stopped, reset and start again."""
        driver.on_tick()
        status_line()
        now = clock.now_s()
        if (program.in_session and sup.state is State.LATCHED
                and sup.stop_reason == StopReason.BOUT_REST and restart_scheduled[0] < now):
            at = now + plan.limits.rest_s
            world.actions = (
                *world.actions,
                Action(at, "reset", RESET_HOLD_S, "operator holds reset after the rest"),
                Action(at + RESET_HOLD_S + 0.3, "reset", START_PRESS_S, "operator presses start"))
            restart_scheduled[0] = at + RESET_HOLD_S + 1.0
            if plan.profile.needs_harness:
                program.confirm_harness()

    def going_on() -> bool:
        if keep_running is not None and not keep_running():
            return False
        if program.last_outcome is not None and not program.in_session:
            return sup.state is not State.LATCHED  # the session is over once latched
        # A start refused (a checklist problem) leaves the controller ready: nothing will run.
        return not (clock.now_s() > START_AT_S + 1.0 and sup.state is State.READY
                    and not program.in_session and restart_scheduled[0] == 0.0)

    try:
        system.loop.run(max_s, on_tick=person, keep_running=going_on)
        driver.end()
    finally:
        if live:
            out.write("\r\033[K")
        system.shutdown()
        if blackbox is not None:
            blackbox.close()
        recorder.flush()
        recorder.close()
    final = world.final_state
    outcome = {**scenario_outcome(system, driver, world_seed(settings)),
               **program_outcome(system)}
    for error in recorder.errors:
        print(f"treadguard: {error}", file=sys.stderr)
    p = outcome.get("program", {})
    print(f"\nprogram of {runner} ({plan.profile.name}): ended by {p.get('ended_by') or '—'}; "
          f"warm-up {p.get('warmup_s', 0):.0f} s, {p.get('bouts_completed', 0)}/"
          f"{p.get('bouts_planned', 0)} bouts, {p.get('steps_total', 0)} steps, "
          f"{p.get('session_s', 0):.0f} s", file=out)
    safe = sup.state is State.LATCHED and (not final or final["belt_kmh"] == 0.0)
    return (0 if safe and not recorder.errors else 1), outcome


def cmd_sim_runner(args: argparse.Namespace, settings: cfg.Settings) -> int:
    """``treadguard sim --runner NAME``: the program on the configured simulated machine."""
    live = bool(args.realtime or (not args.fast and sys.stdout.isatty()))
    try:
        with tempfile.TemporaryDirectory(prefix="treadguard-sim-") as temp:
            state = args.state or temp
            if args.state is None:
                _add_new_runner(temp, args.runner, settings)
            code, outcome = run_program(settings, state, args.runner, live=live)
    except StoreError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 2
    except HardwareError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
    if args.json:
        text = json.dumps(outcome, indent=2, sort_keys=True) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return code


def _add_new_runner(state_dir: str, name: str, settings: cfg.Settings) -> None:
    profile = PROFILES[NEW_RUNNER_PROFILE]
    store = Store(state_dir)
    try:
        store.add_runner(name, profile.name, new_limits(profile, settings.program), None,
                         "treadguard sim")
    finally:
        store.close()


