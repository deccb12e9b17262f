"""Wiring a runner's session program into a built system, and reading a runner's plan.

:func:`attach_program` gives the supervisor a :class:`~controller.program.Program` fed by the
system's step counter, resetting its detectors' baselines at each start and switching the rail
detector's hands-on mode for the runner's profile. :func:`load_plan` reads a runner from the
store (never inside the loop's tick). :func:`program_outcome` is what a simulated session's
outcome gains: ``runner``, ``profile`` and ``program``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller import config as cfg
from controller.app import System
from controller.control_socket import ControlServer
from controller.fleet.publisher import FleetPublisher
from controller.profiles import RunnerLimits
from controller.program import Plan, Program, SessionEnd, load_plan
from controller.session_record import SessionRecorder
from controller.stop_path_test import StopPathTest
from controller.store import Store
from hardware.units import KMH_PER_MPH

__all__ = ["SessionServices", "attach_program", "load_plan", "program_outcome",
           "start_services"]


def attach_program(system: System[Any], on_session_end: SessionEnd | None = None,
                   on_stop_path_result: Callable[[str], None] | None = None) -> Program:
    """A program for ``system`` (no runner yet: :meth:`Program.select` one), with the
    stop-path test of ``[arming]``."""
    detector = system.detector
    if detector is None:
        raise ValueError("the system has no detector set")
    rails = system.rail_detector

    def set_hands_on(on: bool) -> None:
        if rails is not None:
            rails.hands_on = on

    per_kmh = 1.0 / KMH_PER_MPH if system.settings.treadmill.units == "mph" else 1.0

    def wire_cap(cap_kmh: float) -> float:
        # The highest 0.1-unit step at or below the cap: the link rounds to the nearest step,
        # which for a runner's cap between two steps would be above it.
        return math.floor(cap_kmh * per_kmh * 10.0 + 1e-9) / 10.0 / per_kmh

    s = system.settings
    stop_path = StopPathTest(system.events, system.safety_io, system.link, s.arming,
                             s.gpio.relay_open_within_s, on_stop_path_result)
    def reset_baselines() -> None:
        # The instability baseline and the gait rhythm, not the step total: the program counts
        # each bout's steps from the total at the bout's start, across restarts.
        detector.instability.reset()
        detector.steps.reset_gait()

    harness = system.safety_io.poll_harness if s.gpio.harness_pin is not None else None
    program = Program(system.events, lambda: detector.steps.steps, reset_baselines,
                      on_session_end, set_hands_on if rails is not None else None, wire_cap,
                      stop_path, harness)
    system.supervisor.program = program
    return program


def program_outcome(system: System[Any]) -> dict[str, Any]:
    """``runner``, ``profile`` and ``program`` of the system's session program ({} without one)."""
    program = system.supervisor.program
    if not isinstance(program, Program) or program.plan is None:
        return {}
    outcome = program.outcome()
    return {"runner": outcome["runner"], "profile": outcome["profile"],
            "program": outcome["program"]}


@dataclass
class SessionServices:
    """What ``treadguard run`` adds to a system for sessions: the program, the recorder
    writing finished sessions to the store, the control socket, the fleet's publisher
    (``[fleet] enabled``)."""

    program: Program
    recorder: SessionRecorder
    server: ControlServer | None
    fleet: FleetPublisher | None = None

    def close(self) -> None:
        """After the system's shutdown (whose stop ends a session under way): stop serving,
        send what the fleet's buffer holds, write what is queued."""
        if self.server is not None:
            self.server.close()
        if self.fleet is not None:
            self.fleet.close()
        self.recorder.flush()
        self.recorder.close()


def start_services(system: System[Any], settings: cfg.Settings, state_dir: str | None = None,
                   serve: bool = True) -> SessionServices:
    """Attach the program (with ``[session] runner`` chosen, if the file names one), the
    recorder, (``serve``) the control socket and (``[fleet] enabled``) the fleet's publisher,
    which connects in the background: a broker that does not answer never holds this up.

    Raises:
        StoreError: the store cannot be opened, or ``[session] runner`` is not in it.
        ControlError: the socket cannot be served.
        FleetError: ``[fleet]``'s password or certificate files cannot be read.
    """
    state = state_dir or settings.paths.state_dir
    program_plan = None
    if settings.session.runner:
        store = Store(state)
        try:
            program_plan = load_plan(store, settings.session.runner)
        finally:
            store.close()
    fleet = FleetPublisher(settings, system) if settings.fleet.enabled else None
    recorder = SessionRecorder(state)

    def on_session_end(plan: Plan, summary: dict[str, Any],
                       progressed: RunnerLimits | None) -> None:
        recorder.post(plan, summary, progressed)
        if fleet is not None:
            fleet.post_session(plan, summary, progressed)

    program = attach_program(system, on_session_end,
                             lambda result: recorder.post_event("stop-path test", result))
    if program_plan is not None:
        program.select(program_plan)
    server = None
    if serve:
        try:
            server = ControlServer(system, program, settings.control.socket_path,
                                   settings.control.socket_group, state)
        except BaseException:
            recorder.close()
            raise
    if fleet is not None:
        fleet.start(program)
    return SessionServices(program, recorder, server, fleet)
