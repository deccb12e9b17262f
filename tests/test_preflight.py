"""``treadguard check`` as the preflight: the service's own state, the rails' calibration, the
serial port, the stop-path test and the treadmill, ``--json`` for scripts."""

from __future__ import annotations

import dataclasses
import io
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import config as cfg
from controller import preflight
from controller.check import Report, run_check
from controller.cli import main
from controller.supervisor import State

from .conftest import PI_TOML, SIM_TOML

RELAY_ONLY_TOML = SIM_TOML.parent / "sim-relay-only.toml"


def check_json(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["check", "--config", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_json_on_the_simulated_configuration_passes_every_item(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, result = check_json(SIM_TOML, capsys)
    assert code == 0 and result["passed"] is True
    items = result["items"]
    assert isinstance(items, list)
    by_item = {i["item"]: i for i in items}
    assert all(i["ok"] and i["fix"] == "" for i in items)
    assert items[0]["item"] == "service"
    for item in ("I2C", "IMU 0x6a", "IMU 0x6a data", "GPIO17", "rails cal.", "serial"):
        assert item in by_item, item
    assert by_item["stop path"]["text"].startswith(
        "passed: feedback contact seen open; the treadmill lost power and came back")
    assert by_item["treadmill"]["text"].endswith("belt read back at 0 km/h")


def test_relay_only_says_what_it_cannot_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = check_json(RELAY_ONLY_TOML, capsys)
    assert code == 0
    by_item = {i["item"]: i for i in result["items"]}  # type: ignore[attr-defined]
    assert "the treadmill's reaction is not checked" in by_item["stop path"]["text"]
    assert by_item["serial"]["text"] == "relay-only: no serial link configured"


def test_a_welded_relay_fails_the_stop_path_with_what_to_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stop-path test of the preflight is the arming one: a feedback contact that stays
    closed fails it, the line says not to run a session, and the exit is 1."""
    real_build = preflight.build_machine

    def welded(settings: cfg.Settings, clock: object) -> object:
        system = real_build(settings, clock)  # type: ignore[arg-type]
        assert system.world is not None
        feedback = system.world.pin_factory.pin(settings.gpio.relay_feedback_pin)
        tick = system.loop.tick

        def weld_then_tick() -> None:  # once reset, the contact stays closed whatever the coil
            if system.supervisor.state is State.READY:
                feedback.drive_high()
            tick()

        system.loop.tick = weld_then_tick  # type: ignore[method-assign]
        return system

    monkeypatch.setattr(preflight, "build_machine", welded)
    out = io.StringIO()
    assert run_check(cfg.load(SIM_TOML), out, machine=True) == 1
    line = next(x for x in out.getvalue().splitlines() if x.startswith("FAIL  stop path"))
    assert "FAILED: " in line and "(the controller stopped: relay_welded)" in line
    assert "— do not run a session" in line
    assert "FAIL  treadmill      not checked: the stop-path test failed" in out.getvalue()


@pytest.fixture
def running_controller(tmp_path: Path) -> Iterator[Path]:
    """A configuration whose control socket has a controller answering on it."""
    sock = tmp_path / "control.sock"

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            status = {"state": "latched", "stop_path_test": {"last_result": "not run yet"}}
            self.wfile.write(json.dumps({"ok": True, "status": status}).encode() + b"\n")

    server = socketserver.ThreadingUnixStreamServer(str(sock), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "sim.toml"
    config.write_text(SIM_TOML.read_text().replace(
        'socket_path = "run/control.sock"', f'socket_path = "{sock}"'))
    yield config
    server.shutdown()
    server.server_close()


def test_a_running_controller_keeps_its_hardware(running_controller: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--config", str(running_controller)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith("FAIL  service        a controller is running on ")
    assert "(state latched, stop-path test: not run yet)" in lines[0]
    assert "— read it with `treadguard status`" in lines[0]
    assert lines[1:] == ["0/1 passed"]  # nothing else was opened


def test_rails_never_calibrated_fail_until_the_calibration_lines_are_pasted(
        tmp_path: Path) -> None:
    settings = cfg.load(PI_TOML)
    report = Report(io.StringIO(), as_json=True)
    preflight.check_calibration(settings, report)
    assert not report.items[-1]["ok"]
    assert report.items[-1]["fix"].startswith("treadguard calibrate rails --config ")
    calibrated = tmp_path / "pi.toml"
    calibrated.write_text(PI_TOML.read_text().replace(
        "touch_threshold_counts = 12",
        "# treadguard calibrate rails, 2026-11-30 09:00, /dev/i2c-1: averages of 2 s\n"
        "touch_threshold_counts = 12"))
    preflight.check_calibration(cfg.load(calibrated), report)
    assert report.items[-1]["ok"]
    assert report.items[-1]["text"].startswith("treadguard calibrate rails, 2026-11-30")


def test_a_missing_serial_port_fails_with_what_to_do() -> None:
    settings = cfg.load(PI_TOML)
    t = dataclasses.replace(settings.treadmill, port="/dev/ttyUSB-nothing-here")
    report = Report(io.StringIO(), as_json=True)
    assert not preflight.check_serial_port(dataclasses.replace(settings, treadmill=t), report)
    assert report.items == [{"ok": False, "item": "serial",
                             "text": "/dev/ttyUSB-nothing-here: no such device",
                             "fix": "plug in the USB serial adapter (ls -l /dev/serial/by-id/) "
                                    "and set [treadmill] port"}]


def test_json_of_a_failing_check_is_valid_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = check_json(PI_TOML, capsys)  # no I²C bus, no GPIO on this machine
    assert code == 1 and result["passed"] is False
    failed = [i for i in result["items"] if not i["ok"]]  # type: ignore[attr-defined]
    assert failed and all(i["fix"] for i in failed)
