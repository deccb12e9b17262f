"""What ``treadguard sim`` does around the loop, and the session's outcome (``--json``).

:class:`SessionDriver` is called after every tick: it applies the scenario's speed changes,
injects the fault at its time, and records what the outcome needs — the belt's speed as the
treadmill reads it, the relay, the supervisor's state — reading only, never deciding. Its
:meth:`SessionDriver.end` snapshot is taken when the scenario's time is up, before the shutdown's
own controlled stop, so a completed session is reported as it was. :func:`outcome` builds the
outcome dictionary in one place (other commands add keys to it).

Outcome keys: ``scenario``, ``fault`` (null if none), ``seed``, ``outcome`` (``completed``: the
session ended by its time with no safety stop; ``stopped``: a safety stop; ``fell``: the
simulated runner hit the deck), ``stop_reason`` (null if none), ``onset_s`` (the event's or
fault's time), ``reaction_ms`` (onset → the first byte on the wire that lowers the speed or
stops the belt, or the relay opening, whichever is first; null if none), ``belt_stopped``
(at the session's end), ``belt_stopped_s`` (when the belt read 0 after the first stop; null if
it did not), ``max_speed_kmh`` (the belt's fastest reading), ``latched``,
``relay_closed_while_latched`` (the relay went from open to closed while a stop was latched),
``restarts`` (belt starts with no human reset since the belt last ran: always 0),
``final_state``. Times are seconds of simulated time, rounded to the millisecond; nothing
depends on the wall clock, so the same seed gives the same outcome byte for byte.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller import config as cfg
from controller.app import System, assemble
from controller.devices import simulated_world, world_seed
from controller.events import Event, EventKind
from controller.sim_faults import (
    FAULTS,
    REPORT_NAME,
    SimFaultError,
    check_applicable,
    inject,
)
from controller.sim_replay import replay_scenario
from controller.stop_reasons import PLANNED_STOPS
from hardware.clock import Clock, SimClock
from hardware.sim.scenario_file import scenario
from hardware.sim.scenarios import Scenario
from hardware.sim.treadmill_model import first_slowing_command_s
from hardware.sim.world import SimWorld


@dataclass
class EndSnapshot:
    """The session as its time ran out (before the shutdown's stop)."""

    t_s: float
    belt_kmh: float | None
    latched: bool
    state: str
    relay_closed: bool
    events: list[Event]


class SessionDriver:
    """The per-tick work of a scripted session (see the module docstring).

    Args:
        system: the assembled simulated session.
        scenario: its scenario (speed changes, onset).
        fault: a fault name from :mod:`controller.sim_faults`, or None.
        fault_at_s: when to inject it, seconds of session time.
        config_path: the configuration file the session runs from (``config-changed-…``).
    """

    def __init__(self, system: System[SimWorld], scenario: Scenario, fault: str | None,
                 fault_at_s: float, config_path: Path | None,
                 work_dir: Path | None = None) -> None:
        self.system = system
        self.scenario = scenario
        self.fault = fault
        self.fault_at_s = fault_at_s
        self._config_path = config_path
        self._work_dir = work_dir
        self._profile = list(scenario.speed_profile)
        self._injected = fault is None
        self.max_speed_kmh = 0.0
        self.relay_closed_while_latched = False
        self.relay_opened_s: list[float] = []
        self.belt_zero_s: list[float] = []
        self._relay_was_closed = system.safety_io.relay_closed
        self._belt_was_moving = False
        self.ended: EndSnapshot | None = None

    @property
    def onset_s(self) -> float | None:
        """The fault's time (or of what it waits for), else the scenario's event's (None:
        neither)."""
        if self.fault is not None:
            return self.fault_at_s + FAULTS[self.fault].onset_after_s
        return self.scenario.onset_s

    def on_tick(self) -> None:
        system = self.system
        now = system.clock.now_s()
        sup = system.supervisor
        while self._profile and self._profile[0][0] <= now:
            _, kmh = self._profile.pop(0)
            sup.governor.target_kmh = min(kmh, system.settings.limits.max_speed_kmh)
        if not self._injected and now >= self.fault_at_s - 1e-9:
            self._injected = True
            assert self.fault is not None
            inject(self.fault, system, self._config_path, self._work_dir)
        belt = system.world.belt_kmh()
        if belt is not None:
            self.max_speed_kmh = max(self.max_speed_kmh, belt)
            if belt == 0.0 and self._belt_was_moving:
                self.belt_zero_s.append(now)
            self._belt_was_moving = belt > 0.0
        relay = system.safety_io.relay_closed
        if relay and not self._relay_was_closed and sup.stop_latched:
            self.relay_closed_while_latched = True
        if self._relay_was_closed and not relay:
            self.relay_opened_s.append(now)
        self._relay_was_closed = relay

    def end(self) -> None:
        """Take the end-of-session snapshot (call once the scenario's time is up)."""
        sys_ = self.system
        self.ended = EndSnapshot(sys_.clock.now_s(), sys_.world.belt_kmh(),
                                 sys_.supervisor.stop_latched, sys_.supervisor.state.value,
                                 sys_.safety_io.relay_closed, list(sys_.events))


def unprompted_starts(events: list[Event]) -> int:
    """Belt starts with no human reset since the belt last ran (or since power-on): a belt that
    restarted by itself. A person's reset and start after a stop is not one."""
    count, reset_since = 0, False
    for e in events:
        if e.kind == EventKind.INPUT and e.message.startswith("reset by operator"):
            reset_since = True
        elif e.kind == EventKind.STATE and "→ running" in e.message:
            count += not reset_since
            reset_since = False
    return count


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def _s(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def outcome(system: System[SimWorld], driver: SessionDriver, seed: int) -> dict[str, Any]:
    """The session's outcome (keys in the module docstring), after the system shut down."""
    end = driver.ended
    assert end is not None, "SessionDriver.end() was not called"
    events = end.events  # the session's, not the shutdown's
    # Safety stops only: a session program's own stops (its end, a stopped rest) latch too, but
    # a program that ran to its end is "completed".
    stops = [e for e in events if e.kind == EventKind.STOP and e.message.startswith("STOP: ")
             and e.message.split()[1] not in PLANNED_STOPS]
    first_stop = stops[0] if stops else None
    stop_reason = first_stop.message.split()[1] if first_stop else None
    runner = system.world.runner
    fell = runner is not None and runner.fell_at_s is not None and runner.fell_at_s <= end.t_s
    onset = driver.onset_s
    reaction_s = None
    if onset is not None:
        wire = [w for w in system.world.final_wire if w[0] <= end.t_s]
        candidates = [t for t in driver.relay_opened_s if onset <= t <= end.t_s]
        slowing = first_slowing_command_s(wire, onset)
        if slowing is not None:
            candidates.append(slowing)
        reaction_s = min(candidates) - onset if candidates else None
    stopped_s = None
    if first_stop is not None:
        stopped_s = next((t for t in driver.belt_zero_s if t >= first_stop.t_s), None)
    restarts = unprompted_starts(events)
    # Without a simulated treadmill (relay-only) the belt is stopped when its power is cut.
    belt_stopped = (end.belt_kmh == 0.0) if end.belt_kmh is not None else not end.relay_closed
    return {
        "scenario": driver.scenario.name,
        "fault": driver.fault,
        "seed": seed,
        "outcome": "fell" if fell else "stopped" if stop_reason else "completed",
        "stop_reason": stop_reason,
        "onset_s": _s(onset),
        "reaction_ms": _ms(reaction_s),
        "belt_stopped": belt_stopped,
        "belt_stopped_s": _s(stopped_s),
        "max_speed_kmh": round(driver.max_speed_kmh, 2) if end.belt_kmh is not None else None,
        "latched": end.latched,
        "relay_closed_while_latched": driver.relay_closed_while_latched,
        "restarts": restarts,
        "final_state": end.state,
    }


def write_outcome(result: dict[str, Any] | list[dict[str, Any]], out: str) -> None:
    """Write ``result`` as JSON to the file ``out`` (``-``: stdout), keys in their order."""
    text = json.dumps(result, indent=2) + "\n"
    if out == "-":
        import sys

        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------- building a session


@dataclass(frozen=True)
class SessionPlan:
    """What one simulated session is: from the command line or the fault matrix.

    Attributes:
        config: the configuration file.
        scenario: a name, a ``.toml`` file or ``replay:PATH`` (None: ``[sim] scenario``,
            else ``demo``).
        fault, fault_at_s: a fault name (or None) and its time, seconds.
        speed_kmh, duration_s: override the scenario's (None: the scenario's).
        seed: overrides ``[sim] seed`` (None: the configuration's).
    """

    config: str
    scenario: str | None
    fault: str | None = None
    fault_at_s: float = 20.0
    speed_kmh: float | None = None
    duration_s: float | None = None
    seed: int | None = None
    child_work_dir: str | None = None
    """Set in the child process of a ``process`` fault (the one that is killed)."""

    @property
    def kills_the_controller(self) -> bool:
        """A ``process`` fault, seen from the parent: the session runs in a child process."""
        return (self.fault is not None and self.fault in FAULTS
                and FAULTS[self.fault].kind == "process" and self.child_work_dir is None)


def make_scenario(name: str, seed: int, speed_kmh: float | None,
                  duration_s: float | None) -> Scenario:
    """A named scenario, a scenario file or ``replay:PATH`` (a recorded trial fed to the IMU
    twin as the clip's motion).

    Raises:
        ScenarioFileError: unknown name, unreadable or malformed file or recording.
    """
    if name.startswith("replay:"):
        return replay_scenario(Path(name.removeprefix("replay:")), speed_kmh, duration_s)
    return scenario(name, seed, speed_kmh, duration_s)


def require_all_simulated(settings: cfg.Settings, command: str = "treadguard sim") -> None:
    """Refuse a configuration in which any part is real (one line naming ``command``): the
    simulation's scripted operator resets and starts, and a benchmark or a simulated fleet
    does the same — never on anything real.

    Raises:
        cfg.ConfigError: naming the real parts.
    """
    real = settings.real_parts()
    if real:
        raise cfg.ConfigError(f"{settings.path}: {', '.join(real)}: {command} needs every "
                              f"part simulated ([i2c] simulated = true, [treadmill] simulated = "
                              f"true or protocol = \"none\", [gpio] pin_factory = \"mock\")")


def build_session(plan: SessionPlan, clock: Clock, work_dir: Path | None = None
                  ) -> tuple[System[SimWorld], Scenario, SessionDriver, int]:
    """Load the configuration, build the scenario, the world and the system, and the driver.

    ``config-changed-while-running`` edits the configuration file: the session then runs from a
    copy in ``work_dir`` (required for that fault), never from the user's file.

    Raises:
        cfg.ConfigError, ScenarioFileError, SimFaultError, HardwareError: one line each.
    """
    config_path = Path(plan.config)
    if plan.fault == "config-changed-while-running":
        if work_dir is None:
            raise SimFaultError("config-changed-while-running needs a scratch directory")
        copy = work_dir / config_path.name
        shutil.copyfile(config_path, copy)
        config_path = copy
    if plan.fault is not None and plan.fault not in FAULTS:
        raise SimFaultError(f"unknown fault {plan.fault!r}: one of {', '.join(FAULTS)}")
    settings = cfg.load(config_path)
    require_all_simulated(settings)
    seed = world_seed(settings) if plan.seed is None else plan.seed
    name = plan.scenario or (settings.sim.scenario if settings.sim else "demo")
    scen = make_scenario(name, seed, plan.speed_kmh, plan.duration_s)
    world = simulated_world(settings, clock, scen, seed)
    system = assemble(settings, clock, world, scen.target_speed_kmh)
    if plan.fault is not None:
        try:
            check_applicable(plan.fault, system)
        except SimFaultError:
            system.shutdown()
            raise
    driver = SessionDriver(system, scen, plan.fault, plan.fault_at_s, config_path, work_dir)
    return system, scen, driver, seed


def run_quiet(plan: SessionPlan, work_dir: Path | None = None) -> dict[str, Any]:
    """Run one session as fast as possible, print nothing, return its outcome (a ``process``
    fault: in a child process that is killed, see :func:`run_killed`)."""
    if plan.kills_the_controller:
        return run_killed(plan)
    clock = SimClock(pace=0.0)
    system, scen, driver, seed = build_session(plan, clock, work_dir)
    try:
        system.loop.run(scen.duration_s, on_tick=driver.on_tick)
        driver.end()
    finally:
        system.shutdown()
    return outcome(system, driver, seed)


# ---------------------------------------------------------------------- a controller killed

CHILD_TIMEOUT_S = 600.0
REPORT_WAIT_S = 20.0


def run_killed(plan: SessionPlan) -> dict[str, Any]:
    """A ``process`` fault: the session runs in a child ``treadguard sim`` which SIGKILLs itself
    at the fault's time (its simulated treadmill, in a session of its own, lives on with the
    key loop open and nobody sending, and reports how its belt stopped); then a controller is
    started again on the same configuration with nobody at the machine (``idle``), and must come
    up latched with the power cut. The outcome joins the two.

    Raises:
        SimFaultError: the child was not killed as planned, or the treadmill did not report.
    """
    assert plan.fault is not None
    with tempfile.TemporaryDirectory(prefix="treadguard-killed-") as work:
        command = [sys.executable, "-m", "controller.cli", "sim", "--fast", "--config",
                   plan.config, "--scenario", plan.scenario or "walk-backward", "--fault",
                   plan.fault, "--fault-at-s", repr(plan.fault_at_s), "--child-work-dir", work]
        for flag, value in (("--speed-kmh", plan.speed_kmh), ("--duration-s", plan.duration_s),
                            ("--seed", plan.seed)):
            if value is not None:
                command += [flag, repr(value)]
        child = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, timeout=CHILD_TIMEOUT_S, check=False)
        if child.returncode != -signal.SIGKILL:
            last = (child.stderr.strip().splitlines() or [""])[-1]
            raise SimFaultError(f"{plan.fault}: the controller process was not killed (exit "
                                f"{child.returncode}){': ' + last if last else ''}")
        report_path = Path(work) / REPORT_NAME
        deadline = time.monotonic() + REPORT_WAIT_S  # real time: the orphan runs on its own
        while not report_path.exists():
            if time.monotonic() > deadline:
                raise SimFaultError(f"{plan.fault}: the simulated treadmill did not report")
            time.sleep(0.05)
        report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    restart = run_quiet(SessionPlan(plan.config, "idle", seed=plan.seed))
    return killed_outcome(plan, report, restart)


def killed_outcome(plan: SessionPlan, report: dict[str, Any],
                   restart: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a ``process`` fault (the keys of :func:`outcome`): the belt from the
    treadmill's report, the latch and the power from the restarted controller. The reaction
    is the key loop opening: the controller's relay drops out as its process dies (in the
    simulation at the instant of the kill). There is no stop reason: nobody was left to
    decide one; the belt stopped on its own safeguards."""
    lost_s = float(report["controller_lost_s"])
    stopped_s = report["belt_stopped_s"]
    belt_stopped = report["state"]["belt_kmh"] == 0.0
    return {
        "scenario": plan.scenario or "walk-backward",
        "fault": plan.fault,
        "seed": restart["seed"],
        "outcome": "stopped" if belt_stopped else "completed",
        "stop_reason": None,
        "onset_s": _s(lost_s),
        "reaction_ms": 0.0,
        "belt_stopped": belt_stopped,
        "belt_stopped_s": _s(None if stopped_s is None else float(stopped_s)),
        "max_speed_kmh": round(float(report["max_belt_kmh"]), 2),
        "latched": restart["latched"],
        "relay_closed_while_latched": restart["relay_closed_while_latched"],
        "restarts": restart["restarts"],
        "final_state": restart["final_state"],
    }
