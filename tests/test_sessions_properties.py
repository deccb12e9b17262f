"""Stateful property test: supervisor, governor and session program under random buttons,
detector levels, link faults, runner changes and control-socket requests — checked on the bytes
the simulated treadmill received.

Invariants, on the wire:
- never a speed above the cap in force (the runner's, the profile's, the machine's);
- never a rise faster than the ramp (one 0.1 mph step of rounding allowed);
- never a start (``A0``) without a reset and then a confirmed start whose countdown has played;
- every stop latches: after a ``STOP`` event the controller is stopping or latched until a reset;
- nothing restarts by itself (each start uses up its own confirmed start press);
- nothing on the socket starts the belt or raises its speed.

The default run is short (a few examples, to keep ``make test`` quick). The long run, for a
change to the supervisor, the governor or the program::

    HYPOTHESIS_PROFILE=long .venv/bin/pytest -q tests/test_sessions_properties.py

(``docs/sessions.md`` gives how long each takes and which planted cap bugs each finds.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from controller import config as cfg
from controller.control_socket import ControlServer
from controller.detect.base import Decision, Level
from controller.devices import world_with_treadmill
from controller.events import EventKind
from controller.profiles import PROFILES, RunnerLimits
from controller.program import Plan
from controller.sessions import attach_program
from controller.settings import ProgramSettings
from controller.supervisor import State
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.sim.treadmill_model import TreadmillFault, decode_host_commands
from hardware.trackmaster_protocol import SET_SPEED, START_CDS, START_NO_CDS
from hardware.units import KMH_PER_MPH, KMH_PER_MPS
from tests.conftest import SIM_TOML, simulate

SETTINGS: Final = cfg.load(SIM_TOML)
MACHINE_CAP_KMH: Final = SETTINGS.limits.max_speed_kmh
RAMP_KMH_PER_S: Final = SETTINGS.limits.ramp_mps2 * KMH_PER_MPS
COUNTDOWN_S: Final = SETTINGS.limits.start_countdown_s
MPH_STEP_KMH: Final = 0.1 * KMH_PER_MPH
RESET_HOLD_S: Final = 1.2
TENTHS: Final = st.integers(min_value=5, max_value=30).map(lambda n: n / 10)
"""Speeds on the 0.1 km/h grid: caps between two 0.1 mph steps are where rounding would bite."""

SOCKET_LINES: Final = [
    b'{"cmd": "status"}', b'{"cmd": "stop"}', b'{"cmd": "confirm_harness"}',
    b'{"cmd": "select_runner", "runner": "nobody"}', b'{"cmd": "start"}',
    b'{"cmd": "set_speed", "kmh": 8}', b'{"cmd": "raise_cap"}', b"garbage", b"[]",
]
DETECTOR_REASONS: Final = ["stumble", "trunk_sway", "slip_trip", "fall", "hands_off"]
LINK_FAULTS: Final = [TreadmillFault.SILENT, TreadmillFault.GARBAGE, TreadmillFault.NAK,
                      TreadmillFault.POWER_CYCLE, TreadmillFault.RUNAWAY]


def plan(profile: str, cap: float, bout: float, warmup: float, bout_s: float, rest_mode: str
         ) -> Plan:
    """A runner's plan. The bout speed may lie above the cap in force (the runner's, the
    profile's or the machine's): the governor must hold every speed to the cap whatever the
    program asks for (limits from the store never ask for that; a bug could)."""
    p = PROFILES[profile]
    limits = RunnerLimits(**{**ProgramSettings().__dict__, "max_speed_kmh": cap,
                             "bout_speed_kmh": bout, "warmup_speed_kmh": min(warmup, bout),
                             "warmup_s": 2.0, "bout_s": bout_s, "rest_s": 2.0,
                             "rest_mode": rest_mode, "bouts": 3, "session_limit_s": 60.0,
                             "cooldown_s": 10.0})
    return Plan(f"runner-{profile}-{cap:g}", p, limits)


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        scenario = Scenario("property", 1e9, None, BackwardWalkWithSlip(0.0, 1e9, None))
        self.system = simulate(SETTINGS, scenario, world_with_treadmill)
        self.program = attach_program(self.system)
        self._dir = tempfile.TemporaryDirectory(prefix="tg-")
        self.server = ControlServer(self.system, self.program, f"{self._dir.name}/c.sock", "-",
                                    self._dir.name)
        self.sup = self.system.supervisor
        self.world = self.system.world
        self.clock = self.system.clock
        self.resets: list[float] = []  # release times of long presses
        self.starts: list[float] = []  # release times of short presses
        self.caps: list[tuple[float, float]] = [(0.0, MACHINE_CAP_KMH)]  # (from, cap in force)
        self._plan: Plan | None = None
        self.checked = 0  # commands already checked
        self.last_speed: tuple[float, float] | None = None  # (t, km/h) of the last A3
        self.starts_used = 0
        self.stop_events_seen = 0

    def teardown(self) -> None:
        self.server.close()
        self.system.shutdown()
        self._dir.cleanup()

    # ------------------------------------------------------------------ helpers
    def run(self, seconds: float) -> None:
        self.system.loop.run(seconds, on_tick=self._watch_plan)

    def _watch_plan(self) -> None:
        """After each tick: the cap in force from this tick on (a runner is taken in a tick)."""
        plan = self.program.plan
        if plan is not self._plan:
            self._plan = plan
            if plan is not None:
                self.caps.append((self.clock.now_s(), min(plan.cap_kmh, MACHINE_CAP_KMH)))

    def press(self, hold_s: float) -> float:
        at = self.clock.now_s() + 0.01
        self.world.actions = (*self.world.actions, Action(at, "reset", hold_s, "property"))
        return at + hold_s

    def cap_at(self, t_s: float) -> float:
        """The cap in force at ``t_s`` (a command written in the tick that took a runner over
        may still be the stop of the previous run: the previous cap then)."""
        caps = [cap for since, cap in self.caps if since < t_s - 1e-9]
        return caps[-1]

    # ------------------------------------------------------------------ rules
    @initialize(profile=st.sampled_from(["backward-walking", "backward-running"]),
                cap=TENTHS, bout=TENTHS)
    def a_runner_starts(self, profile: str, cap: float, bout: float) -> None:
        """Every example begins with a runner chosen (the harness confirmed) and the belt
        started, run through the 2 s warm-up into a bout long enough to reach its speed or the
        cap: a cap that can be broken is broken here (then anything)."""
        self.program.select(plan(profile, cap, bout, 0.5, 8.0, "belt"))
        self.server.answer(b'{"cmd": "confirm_harness"}')
        self.hold_reset()
        self.press_start()
        # The countdown, 1 s at the start speed, the warm-up to 2 s, the 1 s speed-up cue and
        # the ramp from 0.5 to 3 km/h at 0.9 km/h/s (2.8 s), a margin.
        self.run(COUNTDOWN_S + 8.0)

    @rule()
    def hold_reset(self) -> None:
        self.resets.append(self.press(RESET_HOLD_S))
        self.run(RESET_HOLD_S + 0.3)

    @rule()
    def press_start(self) -> None:
        self.starts.append(self.press(0.2))
        self.run(0.4)

    @rule(seconds=st.floats(min_value=0.1, max_value=6.0))
    def wait(self, seconds: float) -> None:
        self.run(seconds)

    @rule(level=st.sampled_from([Level.CAUTION, Level.STOP]),
          reason=st.sampled_from(DETECTOR_REASONS))
    def detector(self, level: Level, reason: str) -> None:
        self.sup.on_decision(Decision(level, reason, "property test"))
        self.run(0.2)

    @rule(fault=st.sampled_from(LINK_FAULTS), seconds=st.floats(min_value=0.2, max_value=1.5))
    def link_fault(self, fault: TreadmillFault, seconds: float) -> None:
        self.world.treadmill.inject(fault)
        self.run(seconds)
        self.world.treadmill.inject(TreadmillFault.CLEAR)
        self.run(0.1)

    @rule(profile=st.sampled_from(sorted(PROFILES)),
          cap=TENTHS | st.floats(min_value=0.5, max_value=8.0),
          bout=TENTHS | st.floats(min_value=0.3, max_value=8.0),
          warmup=st.floats(min_value=0.1, max_value=3.0),
          bout_s=st.sampled_from([0.0, 3.0, 8.0]), rest_mode=st.sampled_from(["belt", "stop"]))
    def change_runner(self, profile: str, cap: float, bout: float, warmup: float, bout_s: float,
                      rest_mode: str) -> None:
        self.program.select(plan(profile, round(cap, 2), round(bout, 2), round(warmup, 2),
                                 bout_s, rest_mode))
        self.run(0.05)

    @rule(line=st.sampled_from(SOCKET_LINES))
    def socket_request(self, line: bytes) -> None:
        state = self.sup.state
        speed = self.sup.governor.speed_kmh
        target = self.sup.governor.target_kmh
        reply: dict[str, Any] = self.server.answer(line)
        assert isinstance(reply.get("ok"), bool)
        self.run(self.system.loop.period_s)
        # Nothing on the socket starts the belt or raises what it asks for.
        if state not in (State.COUNTDOWN, State.RUNNING):
            assert self.sup.state not in (State.COUNTDOWN, State.RUNNING)
        assert self.sup.governor.target_kmh <= max(target, self.sup.governor.target_kmh
                                                   if state is State.RUNNING else target) + 1e-9
        assert self.sup.governor.speed_kmh <= speed + RAMP_KMH_PER_S * 0.005 + 1e-9

    @precondition(lambda self: self.sup.state is State.RUNNING)
    @rule()
    def runner_walks_a_while(self) -> None:
        self.run(3.0)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def the_wire_keeps_every_rule(self) -> None:
        commands = decode_host_commands(self.world.treadmill.wire_log())
        for t_s, opcode, data in commands[self.checked:]:
            if opcode in (START_CDS, START_NO_CDS):
                # A start needs a reset, then a start press after it, whose countdown played,
                # and each start press starts the belt at most once.
                usable = [s for s in self.starts[self.starts_used:]
                          if any(r < s for r in self.resets) and s + COUNTDOWN_S <= t_s + 0.02]
                assert usable, f"A0 at {t_s:.3f} s without a reset + start + countdown"
                self.starts_used = self.starts.index(usable[0]) + 1
                self.last_speed = (t_s, 0.0)
            elif opcode == SET_SPEED and len(data) == 4 and data.isdigit():
                kmh = int(data[1:]) / 10.0 * KMH_PER_MPH
                assert kmh <= self.cap_at(t_s) + 1e-6, f"{kmh:.3f} km/h above the cap"
                if self.last_speed is not None:
                    t0, v0 = self.last_speed
                    # One 0.1 mph step of rounding; the start speed may follow the start at once.
                    allowed = RAMP_KMH_PER_S * (t_s - t0) + MPH_STEP_KMH + 1e-6
                    if v0 > 0.0:
                        assert kmh - v0 <= allowed, f"rise {v0:.2f} → {kmh:.2f} km/h too fast"
                self.last_speed = (t_s, kmh)
        self.checked = len(commands)

    @invariant()
    def every_stop_latches_until_a_reset(self) -> None:
        stops = [e for e in self.system.events.of_kind(EventKind.STOP)
                 if e.message.startswith("STOP: ")]
        if stops:
            last = stops[-1].t_s
            if not any(r > last for r in self.resets):
                assert self.sup.state in (State.STOPPING, State.LATCHED)


RUNS: Final = {"default": (6, 10), "long": (100, 20)}
"""(examples, rules per example) by ``HYPOTHESIS_PROFILE``: the default keeps ``make test``
quick; ``long`` is the thorough run (see the module's text)."""
PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "default")
if PROFILE not in RUNS:
    raise ValueError(f"HYPOTHESIS_PROFILE={PROFILE!r}: expected one of {', '.join(RUNS)}")
SessionMachine.TestCase.settings = settings(
    max_examples=RUNS[PROFILE][0], stateful_step_count=RUNS[PROFILE][1], deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_sessions_state_machine = SessionMachine.TestCase


def test_sim_configs_keep_the_socket_where_a_user_can_write() -> None:
    for path in sorted(Path(SIM_TOML).parent.glob("sim*.toml")):
        control = cfg.load(path).control
        assert control.socket_group == "-"
        assert Path(control.socket_path).is_relative_to(Path(SIM_TOML).parent)


def test_a_runner_cap_between_two_mph_steps_is_never_exceeded_on_the_wire() -> None:
    """1.1 km/h is 0.684 mph: rounded to the nearest 0.1 mph it went out as 0.7 mph
    (1.127 km/h), above the runner's cap. The program now caps at the highest wire step below."""
    machine = SessionMachine()
    try:
        machine.a_runner_starts("backward-walking", 1.1, 1.1)
        machine.wait(3.0)
        machine.the_wire_keeps_every_rule()
        speeds = [int(d[1:]) for _, op, d in decode_host_commands(
            machine.world.treadmill.wire_log()) if op == SET_SPEED]
        assert max(speeds) == 6  # 0.6 mph = 0.97 km/h: the bout ran, at the highest step ≤ cap
    finally:
        machine.teardown()
