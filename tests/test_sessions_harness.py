"""The harness-confirm button (``[gpio] harness_pin``): a ``backward-running`` start needs a
press of it (or the control socket's confirmation) before each start, and the start uses it up.
Checked on the simulated treadmill's bytes: no start byte goes out without a confirmation."""

from __future__ import annotations

import dataclasses
from typing import Final

from gpiozero.pins.mock import MockFactory

from controller import config as cfg
from controller.profiles import PROFILES, new_limits
from controller.program import Plan, Program
from controller.sessions import attach_program
from controller.settings import ProgramSettings
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.safety_io import SafetyIO
from hardware.sim.scenarios import Action
from hardware.sim.treadmill_model import decode_host_commands
from hardware.trackmaster_protocol import START_CDS, START_NO_CDS
from tests.conftest import Build, SimSystem

HARNESS_PIN: Final = 16
STARTS: Final = (START_CDS, START_NO_CDS)


def with_harness_pin(settings: cfg.Settings) -> cfg.Settings:
    return dataclasses.replace(settings,
                               gpio=dataclasses.replace(settings.gpio, harness_pin=HARNESS_PIN))


def running_session(build_sim: Build, settings: cfg.Settings) -> tuple[SimSystem, Program]:
    """The "walk" scenario (reset held at 0.5 s, start pressed at 2.0 s) for a
    ``backward-running`` runner."""
    system = build_sim("walk", settings)
    program = attach_program(system)
    p = PROFILES["backward-running"]
    program.select(Plan("dee", p, new_limits(p, ProgramSettings())))
    return system, program


def press_harness(system: SimSystem, hold_s: float = 0.2) -> None:
    pin = system.world.pin_factory.pin(HARNESS_PIN)
    pin.drive_low()
    system.loop.run(hold_s)
    pin.drive_high()
    system.loop.run(0.05)


def confirmed(program: Program) -> bool:
    """Is the harness confirmed for the next start? (A call: mypy must not narrow it.)"""
    return program.harness_confirmed


def starts_on_wire(system: SimSystem) -> int:
    return sum(1 for _, opcode, _ in decode_host_commands(system.world.treadmill.wire_log())
               if opcode in STARTS)


def test_without_a_harness_press_the_start_is_refused(build_sim: Build,
                                                      sim_settings: cfg.Settings) -> None:
    system, program = running_session(build_sim, with_harness_pin(sim_settings))
    system.loop.run(6.0)
    assert system.supervisor.state is State.READY
    assert any("confirm the harness" in e.message and "harness button" in e.message
               for e in system.events)
    assert starts_on_wire(system) == 0
    assert not confirmed(program)


def test_a_harness_press_lets_the_start_proceed_and_the_start_uses_it_up(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    system, program = running_session(build_sim, with_harness_pin(sim_settings))
    system.loop.run(1.0)
    press_harness(system)  # while the operator still holds reset (0.5–1.7 s)
    assert confirmed(program)
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 6.0)
    assert not confirmed(program)  # used up by this start
    system.loop.run(1.0)
    assert starts_on_wire(system) == 1

    # A stop, a reset and a start again: refused without a new press.
    program.request_stop()
    assert system.loop.run_until(lambda: system.supervisor.state is State.LATCHED, 6.0)
    world = system.world
    at = system.clock.now_s() + 0.2
    world.actions = (*world.actions, Action(at, "reset", 1.2, "reset"),
                     Action(at + 1.6, "reset", 0.2, "start"))
    system.loop.run(6.0)
    assert system.supervisor.state is State.READY
    assert starts_on_wire(system) == 1

    # A new press, a new start.
    press_harness(system)
    at = system.clock.now_s() + 0.2
    world.actions = (*world.actions, Action(at, "reset", 0.2, "start"))
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 6.0)
    system.loop.run(0.5)
    assert starts_on_wire(system) == 2


def test_a_harness_button_stuck_pressed_confirms_nothing(build_sim: Build,
                                                         sim_settings: cfg.Settings) -> None:
    system, program = running_session(build_sim, with_harness_pin(sim_settings))
    system.world.pin_factory.pin(HARNESS_PIN).drive_low()  # shorted from power-on
    system.loop.run(6.0)
    assert system.supervisor.state is State.READY
    assert starts_on_wire(system) == 0
    assert not confirmed(program)


def test_poll_harness_counts_one_deliberate_press_on_its_release() -> None:
    clock = SimClock()
    factory = MockFactory()
    io = SafetyIO(factory, clock, relay_pin=17, estop_pin=27, reset_pin=22,
                  harness_pin=HARNESS_PIN)
    pin = factory.pin(HARNESS_PIN)
    try:
        seen = []
        for t_ms, low in ((0, False), (10, True), (30, False),  # bounce: 20 ms
                          (100, True), (200, True), (300, False), (310, False),  # a press
                          (400, True), (2000, False)):  # held past reset_hold_s: stuck
            clock.sleep_until(t_ms / 1000)
            pin.drive_low() if low else pin.drive_high()
            seen.append(io.poll_harness())
        assert seen == [False, False, False, False, False, True, False, False, False]
        assert f"GPIO{HARNESS_PIN} harness-confirm button" in io.describe()
    finally:
        io.close()


def test_a_confirmation_while_the_belt_runs_is_for_no_start(build_sim: Build,
                                                            sim_settings: cfg.Settings) -> None:
    """Pressed during a run, the harness button confirms nothing: the next start (after a
    stop) is refused until someone confirms again with the belt stopped."""
    system, program = running_session(build_sim, with_harness_pin(sim_settings))
    system.loop.run(1.0)
    press_harness(system)
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 6.0)
    system.loop.run(1.0)
    press_harness(system)  # the belt runs
    program.confirm_harness()  # the socket's call, raced past its state check
    system.loop.run(0.1)
    assert not confirmed(program)
    assert any("harness confirmation ignored" in e.message for e in system.events)
    program.request_stop()
    assert system.loop.run_until(lambda: system.supervisor.state is State.LATCHED, 6.0)
    at = system.clock.now_s() + 0.2
    system.world.actions = (*system.world.actions, Action(at, "reset", 1.2, "reset"),
                            Action(at + 1.6, "reset", 0.2, "start"))
    system.loop.run(6.0)
    assert system.supervisor.state is State.READY
    assert starts_on_wire(system) == 1


def test_a_confirmation_right_after_choosing_the_runner_counts(build_sim: Build,
                                                               sim_settings: cfg.Settings) -> None:
    """``treadguard status --select-runner dee --confirm-harness`` sends both requests at once,
    before the loop's next tick: taking the runner over must not drop the confirmation that
    came after the choice (it did: the runner was taken over after it, clearing it)."""
    system, program = running_session(build_sim, sim_settings)  # select() before any tick
    program.confirm_harness()
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 6.0)
    system.loop.run(0.5)
    assert starts_on_wire(system) == 1
