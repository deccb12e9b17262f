"""The control socket on a simulated session: status, runner choice, harness, stop; bad requests;
slow clients; and the `status` / `stop` commands."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main
from controller.control_socket import request
from controller.profiles import PROFILES, new_limits
from controller.sessions import SessionServices, start_services
from controller.settings import ControlSettings, PathsSettings, ProgramSettings
from controller.store import Store
from controller.supervisor import State
from tests.conftest import Build, SimSystem, host_bytes


@pytest.fixture
def settings(sim_settings: cfg.Settings, tmp_path: Path) -> cfg.Settings:
    return dataclasses.replace(
        sim_settings, paths=PathsSettings(state_dir=str(tmp_path / "state")),
        control=ControlSettings(socket_path=str(tmp_path / "c.sock"), socket_group="-"))


@pytest.fixture
def session(build_sim: Build, settings: cfg.Settings
            ) -> Iterator[tuple[SimSystem, SessionServices]]:
    store = Store(settings.paths.state_dir)
    for name, profile in (("ann", "backward-walking"), ("dee", "backward-running")):
        p = PROFILES[profile]
        store.add_runner(name, p.name, new_limits(p, ProgramSettings()), None, "test")
    store.close()
    system = build_sim("walk", settings)
    services = start_services(system, settings)
    yield system, services
    system.shutdown()
    services.close()


def ask(settings: cfg.Settings, **payload: object) -> dict[str, object]:
    return request(settings.control.socket_path, dict(payload))


def test_status_snapshot_names_state_runner_speeds_and_events(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings) -> None:
    system, _ = session
    system.loop.run(0.2)
    reply = ask(settings, cmd="status")
    assert reply["ok"] is True
    status = reply["status"]
    assert isinstance(status, dict)
    assert status["state"] == "latched" and status["reason"] == "power_on"
    for key in ("runner", "profile", "phase", "commanded_kmh", "actual_kmh", "detectors",
                "rail_contact", "loop", "events"):
        assert key in status
    # The loop's timing, counted all the time (on the simulated clock every tick is on time).
    loop = status["loop"]
    assert loop["ticks"] > 0 and loop["missed_deadlines"] == 0
    assert 0.0 <= loop["lateness_p50_ms"] <= loop["lateness_p99_ms"] <= loop["lateness_max_ms"]


def test_a_runner_is_chosen_only_while_latched_or_ready(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings) -> None:
    system, services = session
    assert ask(settings, cmd="select_runner", runner="ann")["ok"] is True
    system.loop.run(0.1)
    assert services.program.plan is not None and services.program.plan.runner == "ann"
    assert ask(settings, cmd="select_runner", runner="nobody")["ok"] is False
    system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 8.0)
    reply = ask(settings, cmd="select_runner", runner="dee")
    assert reply["ok"] is False and "latched or ready" in str(reply["error"])
    system.loop.run(0.2)
    assert services.program.plan.runner == "ann"


def test_a_stop_on_the_socket_stops_latches_and_ends_the_session(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings) -> None:
    system, services = session
    ask(settings, cmd="select_runner", runner="ann")
    system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 8.0)
    system.loop.run(2.0)
    assert ask(settings, cmd="stop")["ok"] is True
    assert system.loop.run_until(lambda: system.supervisor.state is State.LATCHED, 5.0)
    assert system.supervisor.stop_reason == "stop_requested"
    outcome = services.program.outcome()
    assert outcome["program"]["ended_by"] == "stop_requested"
    system.loop.run(3.0)  # nothing restarts it
    assert system.supervisor.state is State.LATCHED


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"cmd": "start"}\n',
                                  b'{"cmd": "set_speed", "kmh": 8}\n', b'{"no": "cmd"}\n'])
def test_malformed_or_unknown_requests_get_an_error_and_are_logged(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings, line: bytes) -> None:
    system, services = session
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        sock.connect(settings.control.socket_path)
        sock.sendall(line)
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["ok"] is False and reply["error"]
    assert any("control socket: refused" in e.message for e in system.events)
    assert services.server is not None and services.server.malformed == 1
    system.loop.run(0.1)
    assert system.supervisor.state is State.LATCHED


def test_a_silent_client_never_blocks_the_loop_or_other_clients(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings) -> None:
    system, _ = session
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(settings.control.socket_path)  # says nothing, reads nothing
        ticks = system.loop.ticks
        system.loop.run(0.5)
        assert system.loop.ticks - ticks == 100
        assert ask(settings, cmd="status")["ok"] is True


def test_backward_running_needs_the_harness_confirmed_before_each_start(
        session: tuple[SimSystem, SessionServices], settings: cfg.Settings) -> None:
    system, services = session
    ask(settings, cmd="select_runner", runner="dee")
    system.loop.run(2.5)  # reset at 0.5 s, the start pressed at 2.0 s: refused
    assert system.supervisor.state is State.READY
    assert any("confirm the harness" in e.message for e in system.events)
    assert not any(b == 0xA0 for _, b in host_bytes(system))
    assert services.program.plan is not None and services.program.plan.runner == "dee"


def test_status_and_stop_commands_are_one_line_errors_without_a_daemon(
        settings: cfg.Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    text = Path(settings.path).read_text()
    config.write_text(text.replace('socket_path = "run/control.sock"',
                                   'socket_path = "nothing-here.sock"'))
    for command in (["status", "--json"], ["stop"]):
        assert main([*command, "--config", str(config)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no treadguard answers" in err
