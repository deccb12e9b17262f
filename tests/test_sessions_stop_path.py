"""The stop-path test during arming: relay opened, feedback seen open, the treadmill's power
cycle waited out and its lockout cleared; a start refused without a pass."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controller import config as cfg
from controller.sessions import attach_program, start_services
from controller.settings import ArmingSettings, PathsSettings
from controller.store import Store
from controller.supervisor import State
from hardware.trackmaster_protocol import START_CDS
from tests.conftest import Build, BuildRelayOnly, host_bytes, treadmill

EACH_SESSION = ArmingSettings(stop_path_test="each_session", relay_open_hold_s=1.0,
                              power_cycle_window_s=5.0)


def test_the_stop_path_test_passes_then_the_start_is_allowed(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    settings = dataclasses.replace(sim_settings, arming=EACH_SESSION)
    system = build_sim("walk", settings)
    program = attach_program(system)
    assert program.stop_path is not None
    relay_seen_open = []
    system.loop.run(2.5, on_tick=lambda: relay_seen_open.append(
        system.supervisor.state is State.READY and not system.safety_io.relay_closed))
    # Reset at 0.5–1.7 s: the test opened the relay; the start pressed at 2.0 s is refused.
    assert any(relay_seen_open)
    assert system.supervisor.state is State.READY
    assert any(e.message.startswith("start refused") and "stop-path test: running" in e.message
               for e in system.events)
    assert system.loop.run_until(lambda: program.stop_path is not None
                                 and program.stop_path.last_result.startswith("passed"), 10.0)
    assert treadmill(system)["power_cycles"] >= 1
    assert system.link is not None and system.link.fault is None
    assert system.safety_io.relay_closed
    assert not any(b == START_CDS for _, b in host_bytes(system))
    # A start now: the countdown, then the belt.
    system.world.actions = (*system.world.actions,
                            dataclasses.replace(system.world.actions[-1],
                                                t_s=system.clock.now_s() + 0.1))
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 5.0)


def test_a_welded_relay_fails_the_test_latches_and_no_start_goes_out(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    settings = dataclasses.replace(sim_settings, arming=EACH_SESSION)
    system = build_sim("walk", settings)
    program = attach_program(system)
    feedback = system.world.pin_factory.pin(settings.gpio.relay_feedback_pin)

    def weld() -> None:  # the contact stays closed whatever the coil does
        if system.supervisor.state is State.READY:
            feedback.drive_high()

    system.loop.run(6.0, on_tick=weld)
    assert program.stop_path is not None
    assert program.stop_path.last_result.startswith("FAILED")
    assert system.supervisor.state is State.LATCHED
    assert system.supervisor.stop_reason == "relay_welded"
    assert not any(b == START_CDS for _, b in host_bytes(system))


def test_relay_only_checks_the_feedback_contact_only_and_says_so(
        build_relay_only: BuildRelayOnly) -> None:
    settings = dataclasses.replace(cfg.load("examples/sim-relay-only.toml"), arming=EACH_SESSION)
    system = build_relay_only("walk", settings)
    program = attach_program(system)
    system.loop.run(4.0)
    assert program.stop_path is not None
    assert program.stop_path.last_result.startswith("passed: relay-only")
    assert any("treadmill's reaction is not checked" in e.message for e in system.events)


def test_a_pass_is_used_up_by_its_session_each_session(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    settings = dataclasses.replace(sim_settings, arming=EACH_SESSION)
    system = build_sim("walk", settings)
    program = attach_program(system)
    assert program.stop_path is not None
    assert system.loop.run_until(lambda: program.stop_path is not None
                                 and program.stop_path.last_result.startswith("passed"), 10.0)
    assert program.stop_path.valid(system.clock.now_s())
    system.world.actions = (*system.world.actions,
                            dataclasses.replace(system.world.actions[-1],
                                                t_s=system.clock.now_s() + 0.1))
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 5.0)
    system.loop.run(0.1)
    assert not program.stop_path.valid(system.clock.now_s())


def test_the_daemon_records_the_result_in_the_runner_store(
        build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(sim_settings, arming=EACH_SESSION,
                                   paths=PathsSettings(state_dir=str(tmp_path)))
    system = build_sim("walk", settings)
    services = start_services(system, settings, serve=False)
    try:
        assert system.loop.run_until(
            lambda: services.program.stop_path is not None
            and services.program.stop_path.last_result.startswith("passed"), 10.0)
    finally:
        system.shutdown()
        services.close()
    store = Store(tmp_path)
    entries = [e for e in store.audit() if e.what == "stop-path test"]
    store.close()
    assert len(entries) == 1 and entries[0].new is not None
    assert entries[0].new.startswith("passed: feedback contact seen open")
