"""The parts of ``treadguard check`` that need more than one chip or pin: is a controller
already running, are the rails calibrated, and the whole machine built as ``run`` builds it —
the serial port there, the treadmill answering with the belt stopped, and the stop-path test
(controller/stop_path_test.py: relay opened, its feedback seen open, the treadmill losing
power and coming back).

The stop-path test runs only after a reset, as before a session: on a real machine the person
at the machine presses reset when asked; on a simulated one the simulated operator does.
Nothing here can start the belt: the supervisor never leaves READY (no start is pressed), and
the system is shut down with a controlled stop at the end.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Final, Protocol, TextIO

from controller import app
from controller import config as cfg
from controller.control_socket import ControlError, request
from controller.devices import world_seed, world_with_treadmill, world_without_treadmill
from controller.sessions import attach_program
from controller.settings import ArmingSettings
from controller.supervisor import State
from controller.transports import HardwareError
from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.sim.motion import Still
from hardware.sim.scenarios import Action

CALIBRATION_MARK: Final = "# treadguard calibrate rails,"
"""The first line of the snippet ``treadguard calibrate rails`` prints (controller/calibrate.py)."""
RESET_WITHIN_S: Final = 30.0
"""How long a person has to press reset at the machine for the stop-path test."""
ANSWER_WITHIN_S: Final = 2.0
"""How long the treadmill has to answer (its speed read back) once the machine is built."""


class Lines(Protocol):
    """Where the PASS/FAIL lines go (controller/check.py's Report)."""

    def line(self, ok: bool, item: str, text: str, fix: str = "") -> None: ...


def controller_running(settings: cfg.Settings) -> dict[str, Any] | None:
    """The running controller's status snapshot, or None if nothing answers on the socket."""
    try:
        reply = request(settings.control.socket_path, {"cmd": "status"}, timeout_s=1.0)
    except ControlError:
        return None
    status = reply.get("status")
    return status if isinstance(status, dict) else {}


def check_service(settings: cfg.Settings, report: Lines) -> bool:
    """One line: is a controller already running? True if the hardware is free to check."""
    path = settings.control.socket_path
    status = controller_running(settings)
    if status is None:
        report.line(True, "service", f"no controller answers on {path}: the parts are free "
                                     "to check")
        return True
    spt = status.get("stop_path_test") or {}
    report.line(False, "service",
                f"a controller is running on {path} (state {status.get('state', '?')}, stop-path "
                f"test: {spt.get('last_result', 'n/a')}); it holds the hardware, which is not "
                "checked",
                "read it with `treadguard status`; to check the parts: sudo systemctl stop "
                "treadguard, check, sudo systemctl start treadguard")
    return False


def check_calibration(settings: cfg.Settings, report: Lines) -> None:
    """One line: were the rails' thresholds measured on these rails?"""
    if settings.rails is None:
        return
    if settings.i2c.simulated:
        report.line(True, "rails cal.", "simulated rails: the configured thresholds fit the twins")
        return
    text = Path(settings.path).read_text(encoding="utf-8")
    mark = next((line for line in text.splitlines() if line.startswith(CALIBRATION_MARK)), None)
    if mark is None:
        report.line(False, "rails cal.", "thresholds never measured on these rails (no "
                                         "`treadguard calibrate rails` lines in the file)",
                    f"treadguard calibrate rails --config {settings.path}, then paste its lines "
                    "into [rails]")
        return
    report.line(True, "rails cal.", mark.removeprefix("# ").split(":")[0])


def check_serial_port(settings: cfg.Settings, report: Lines) -> bool:
    """One line: the treadmill's serial port. True if the machine can be built."""
    t = settings.treadmill
    if t.protocol == "none":
        report.line(True, "serial", "relay-only: no serial link configured")
    elif t.simulated:
        report.line(True, "serial", "simulated treadmill on a pseudo-terminal")
    elif t.port.startswith("/") and not os.path.exists(t.port):
        report.line(False, "serial", f"{t.port}: no such device",
                    "plug in the USB serial adapter (ls -l /dev/serial/by-id/) and set "
                    "[treadmill] port")
        return False
    else:
        report.line(True, "serial", f"{t.port} present")
    return True


def build_machine(settings: cfg.Settings, clock: Clock) -> app.AnySystem:
    """The machine as ``run`` builds it; simulated parts from a world whose operator presses
    reset once (the idle runner: still)."""
    if not settings.any_simulated:
        return app.build(settings, clock)
    make = world_with_treadmill if (settings.treadmill.protocol == "trackmaster"
                                    and settings.treadmill.simulated) else world_without_treadmill
    reset = Action(t_s=0.5, button="reset", hold_s=settings.gpio.reset_hold_s + 0.2,
                   note="preflight: the operator holds reset")
    world = make(settings, clock, Still(), (reset,), world_seed(settings))
    return app.assemble(settings, clock, world)


def check_machine(settings: cfg.Settings, report: Lines, prompt: TextIO) -> None:
    """Build the whole machine; the treadmill answering at 0; the stop-path test after a reset.

    The stop-path test is forced on (``[arming] stop_path_test = "each_session"``) whatever the
    file says: this is the test a person runs before a session."""
    if not check_serial_port(settings, report):
        report.line(False, "stop path", "not run: the treadmill's port is missing",
                    "fix the serial line above first")
        return
    arming = stop_path_arming(settings.arming)
    settings = dataclasses.replace(settings, arming=arming)
    clock: Clock = SimClock() if settings.any_simulated else MonotonicClock()
    try:
        system = build_machine(settings, clock)
    except HardwareError as exc:
        report.line(False, "machine", str(exc), "fix the first FAIL line above")
        return
    try:
        program = attach_program(system)
        stop_path = program.stop_path
        assert stop_path is not None
        # The relay is open until a reset (power-on is power-cut): with it the key loop, so
        # the treadmill's console may be unpowered and silent until then.
        if not settings.any_simulated:
            print(f"hold reset at the machine within {RESET_WITHIN_S:g} s (belt stopped): the "
                  "stop-path test opens the relay and waits for the treadmill", file=prompt,
                  flush=True)
        reset = system.loop.run_until(
            lambda: system.supervisor.state is State.READY, RESET_WITHIN_S)
        if not reset:
            report.line(False, "stop path", f"not run: no reset within {RESET_WITHIN_S:g} s "
                        f"(state {system.supervisor.state.value})",
                        "release the e-stop, put the key in, hold reset "
                        f"{settings.gpio.reset_hold_s:g} s when asked")
            return
        limit_s = arming.relay_open_hold_s + arming.power_cycle_window_s + 3.0
        system.loop.run_until(lambda: stop_path.last_result.startswith(("passed", "FAILED")),
                              limit_s)
        result = stop_path.last_result
        sup = system.supervisor
        if result.startswith("FAILED") and sup.state is not State.READY:
            result += f" (the controller stopped: {sup.stop_reason})"
        report.line(result.startswith("passed"), "stop path", result,
                    "" if result.startswith("passed") else
                    "do not run a session: check the relay, its feedback wire and the key loop "
                    "(docs/troubleshooting.md)")
        if result.startswith("passed"):
            check_treadmill(system, report)
        elif system.link is not None:
            report.line(False, "treadmill", "not checked: the stop-path test failed (the relay "
                                            "stays open)", "fix the stop path first")
    finally:
        system.shutdown()


def check_treadmill(system: app.AnySystem, report: Lines) -> None:
    """One line: the treadmill answers on its link and reads the belt back at 0 (the relay
    closed, after the stop-path test)."""
    link = system.link
    if link is None:
        report.line(True, "treadmill", "relay-only: no link to answer; the belt's speed is "
                                       "the console's")
        return
    system.loop.run_until(lambda: link.fault is None and link.actual_speed_kmh is not None,
                          ANSWER_WITHIN_S)
    speed = link.actual_speed_kmh
    if link.fault is not None or speed is None:
        report.line(False, "treadmill", f"no answer within {ANSWER_WITHIN_S:g} s"
                    + (f" ({link.fault})" if link.fault else ""),
                    "check the serial cable, [treadmill] baud and units, and that the treadmill "
                    "is switched on with its key in")
        return
    report.line(speed == 0.0, "treadmill", f"answers on {system.link_port_name()}; belt read "
                f"back at {speed:g} km/h", "" if speed == 0.0 else "stop the belt at the console")


def stop_path_arming(arming: ArmingSettings) -> ArmingSettings:
    """``[arming]`` with the stop-path test on (for the preflight)."""
    if arming.stop_path_test != "off":
        return arming
    return dataclasses.replace(arming, stop_path_test="each_session")
