"""The supervisor with each drive, on the injected clock and without any device: what the
strategy decides (who cuts power, when power returns, what a caution does), and that the
supervisor asks the drive rather than testing for a missing link."""

from __future__ import annotations

import ast

from controller.config import LimitsSettings
from controller.detect.base import Decision, Level
from controller.drive import Drive, RelayOnlyDrive, SerialDrive
from controller.events import EventKind, EventLog
from controller.stop_reasons import StopReason
from controller.supervisor import State, Supervisor
from hardware.clock import SimClock

from .conftest import ROOT

LIMITS = LimitsSettings(start_speed_kmh=0.5, max_speed_kmh=3.0, ramp_mps2=0.25,
                        stop_decel_mps2=1.0, start_countdown_s=3.0)


class FakeLink:
    """A treadmill link that does what it is told at once and records it."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.actual_speed_kmh: float | None = 0.0
        self.calls: list[str] = []
        self.speed_kmh = 0.0

    def start(self) -> None:
        self.calls.append("start")

    def set_speed_kmh(self, speed_kmh: float) -> None:
        self.speed_kmh = speed_kmh

    def stop(self, decel_mps2: float | None = None) -> None:
        self.calls.append(f"stop {decel_mps2}")

    def reset(self) -> None:
        self.calls.append("reset")

    @property
    def belt_stopped(self) -> bool:
        return abs(self.actual_speed_kmh or 0.0) < 0.05


def state(sup: Supervisor) -> State:
    """The state now (a call, so a type checker does not narrow it across ticks)."""
    return sup.state


def running(drive: Drive) -> tuple[SimClock, Supervisor, EventLog]:
    """A supervisor with ``drive``, reset and started: RUNNING after the countdown."""
    clock = SimClock()
    events = EventLog()
    sup = Supervisor(clock, drive, LIMITS, 1.5, events, lambda: [])
    assert sup.reset() and sup.request_start()
    clock.advance_s(LIMITS.start_countdown_s)
    sup.tick()
    assert sup.state is State.RUNNING
    return clock, sup, events


def test_serial_drive_power_returns_at_reset_and_a_stop_is_controlled() -> None:
    link = FakeLink()
    _, sup, events = running(SerialDrive(link))
    assert link.calls == ["reset", "start"] and not sup.power_cut
    assert events.of_kind(EventKind.SPEED)[0].message == "speed 0.5 km/h (start speed)"
    sup.on_decision(Decision(Level.CAUTION, "stumble"))
    assert events.of_kind(EventKind.CAUTION)[-1].message == "caution: stumble — slowing down"
    link.actual_speed_kmh = 0.5
    sup.request_stop(StopReason.SLIP_TRIP)
    assert link.calls[-1] == f"stop {LIMITS.stop_decel_mps2}"  # controlled
    assert sup.state is State.STOPPING and sup.stop_latched and not sup.power_cut
    link.actual_speed_kmh = 0.0
    sup.tick()
    assert state(sup) is State.LATCHED and not sup.power_cut


def test_serial_drive_a_link_fault_cuts_power_and_stops_at_once() -> None:
    link = FakeLink()
    _, sup, _ = running(SerialDrive(link))
    link.fault = "ack timeout"
    sup.tick()
    assert sup.power_cut and sup.stop_reason == StopReason.TREADMILL_LINK
    assert "stop None" in link.calls  # immediate


def test_relay_only_power_returns_at_the_start_and_every_stop_cuts_it() -> None:
    clock = SimClock()
    events = EventLog()
    sup = Supervisor(clock, RelayOnlyDrive(), LIMITS, 1.5, events, lambda: [])
    assert sup.reset() and sup.power_cut  # a reset alone gives no power back
    assert sup.request_start() and sup.power_cut
    assert events.of_kind(EventKind.CUE)[-1].message == "countdown: relay closes in 3 s"
    clock.advance_s(LIMITS.start_countdown_s)
    sup.tick()
    assert sup.state is State.RUNNING and sup.relay_closed
    assert events.of_kind(EventKind.SPEED) == []  # the runner sets the speed on the console
    sup.on_decision(Decision(Level.CAUTION, "stumble"))
    assert sup.relay_closed
    assert events.of_kind(EventKind.CAUTION)[-1].message.endswith(
        "warning only (relay-only: no slow-down)")
    clock.advance_s(1.0)
    sup.tick()
    assert events.of_kind(EventKind.SPEED) == [] and events.of_kind(EventKind.CUE)[1:] == []
    sup.request_stop(StopReason.SLIP_TRIP)  # a software stop, not asking for a power cut
    assert sup.power_cut and sup.power_cut_reason == StopReason.SLIP_TRIP
    assert state(sup) is State.LATCHED  # nothing to wait for: the open relay is the stop


def test_the_supervisor_asks_the_drive_and_never_tests_for_a_missing_link() -> None:
    tree = ast.parse((ROOT / "controller" / "supervisor.py").read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "link" not in names and "_link" not in attributes
