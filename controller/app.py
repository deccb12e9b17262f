"""The composition root: configuration → transports → drivers → loop.

This module decides what a session is made of: :func:`build` (``treadguard run``) and
:func:`assemble` (``treadguard sim`` and the tests, which bring their own simulated world)
open the transports through :mod:`controller.transports` — real, or taken from the simulated
world (:mod:`hardware.sim.world`) exactly where the configuration says ``simulated = true`` (or
``pin_factory = "mock"``) — and build every driver with :mod:`controller.devices`. Real
hardware which is absent fails with :class:`HardwareError` and never falls back to a twin.

It is the composition root only: the commands that run a session build through it from their
own modules, ``run`` in :mod:`controller.daemon` and ``sim`` in :mod:`controller.sim_view`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from controller import config as cfg
from controller.detect import (
    RailDetector,
    TreadguardDetector,
    build_default,
    build_no_runner,
    build_rails,
)
from controller.devices import (
    SETUP_ERRORS,
    ImuChip,
    make_imu,
    make_rails,
    make_safety_io,
    simulated_world,
)
from controller.drive import RelayOnlyDrive, SerialDrive
from controller.events import Event, EventLog
from controller.health import HealthCheckedDetector, ImuHealth
from controller.health_rails import RailsHealth
from controller.loop import ControlLoop, RailChannel
from controller.stop_chain import StopChain
from controller.stop_reasons import StopReason
from controller.supervisor import State, Supervisor
from controller.transports import HardwareError, open_bus, open_pin_factory, open_port
from hardware.clock import Clock
from hardware.handrails import Handrails
from hardware.i2c import I2CBus
from hardware.safety_io import SafetyIO
from hardware.sim.scenarios import SCENARIOS
from hardware.sim.world import SimTreadmillWorld, SimWorld
from hardware.trackmaster import TrackmasterLink

__all__ = ["AnySystem", "HardwareError", "System", "assemble", "build"]

SHUTDOWN_FLUSH_S: Final = 0.1
"""At shutdown the loop runs at least this long, so a stop command queued behind a transaction
in flight still reaches the wire (two 50 ms poll periods)."""
SHUTDOWN_MARGIN_S: Final = 0.5
"""Ticks allowed past the stop deadline, for the supervisor to cut power and latch."""

W = TypeVar("W", bound=SimWorld | None, covariant=True)
"""The session's simulated world: ``SimWorld | None`` for ``run`` (None when every part is
real), a :class:`SimWorld` or :class:`SimTreadmillWorld` for ``sim`` and the tests (covariant:
a session with a treadmill is a session)."""
AnyWorld = TypeVar("AnyWorld", bound=SimWorld | None)


@dataclass
class System(Generic[W]):
    """Everything one session needs, built and wired, and the simulated world it runs in."""

    settings: cfg.Settings
    clock: Clock
    events: EventLog
    bus: I2CBus
    imu: ImuChip
    link: TrackmasterLink | None
    port: Any | None
    safety_io: SafetyIO
    supervisor: Supervisor
    loop: ControlLoop
    world: W
    stop_chain: StopChain
    rails: Handrails | None = None
    detector: TreadguardDetector | None = None
    """The IMU detector set the loop runs (its step counter and baselines, for the session
    program; its scores, for the black box)."""
    rail_detector: RailDetector | None = None
    """The rail detector (its hands-on mode, for the session program), when rails are fitted."""

    def describe(self) -> list[str]:
        s = self.settings
        sim = " (simulated)"
        lines = [
            f"IMU: {self.imu.describe()}{sim if s.i2c.simulated else ''}",
            *[f"rails: {line}{sim if s.i2c.simulated else ''}"
              for line in (self.rails.describe() if self.rails else [])],
            (f"treadmill: {s.treadmill.protocol}, {s.treadmill.units}, {s.treadmill.baud} baud "
             f"on {self.link_port_name()}{sim if s.treadmill.simulated else ''}")
            if self.link else "treadmill: relay-only (protocol = \"none\"): stop by relay only",
            f"GPIO ({s.gpio.pin_factory} pin factory): " + "; ".join(self.safety_io.describe()),
            f"limits: start {s.limits.start_speed_kmh:g} km/h, cap {s.limits.max_speed_kmh:g} km/h,"
            f" ramp {s.limits.ramp_mps2:g} m/s², stop {s.limits.stop_decel_mps2:g} m/s²",
        ]
        return lines

    def link_port_name(self) -> str:
        if self.settings.treadmill.simulated:
            return "a pseudo-terminal"  # its /dev/pts number changes from run to run
        return str(getattr(self.port, "port", None) or self.settings.treadmill.port)

    def shutdown(self) -> None:
        """Stop the belt as every stop does, then release everything.

        A controlled stop: the lowered speeds and the stop command go on the wire and the belt
        is read back at zero — or, past the supervisor's stop deadline (speed / stop_decel_mps2
        + 1 s, at most 5.4 s from 8 km/h at 0.5 m/s²), the power is cut. Only then does the
        relay open (when the safety I/O is closed) and the port close. Opening the relay mid-ramp
        would leave a coasting belt and no stop command behind (the service unit's
        TimeoutStopSec allows for the longest stop).
        """
        with contextlib.suppress(Exception):
            sup = self.supervisor
            sup.request_stop(StopReason.SHUTDOWN, "controller shutting down")
            now = self.clock.now_s()
            left_s = sup.stop_deadline_s - now
            max_s = left_s + SHUTDOWN_MARGIN_S if math.isfinite(left_s) else SHUTDOWN_FLUSH_S
            self.loop.run_until(lambda: sup.state is State.LATCHED, max_s,
                                min_s=SHUTDOWN_FLUSH_S)
        if self.loop.watchdog is not None:
            self.loop.watchdog.stand_down()  # the loop has ticked its last: nothing to watch
        with contextlib.suppress(Exception):
            self.safety_io.close()
        if self.link is not None:
            with contextlib.suppress(Exception):
                self.link.close()
        if self.world is not None:
            self.world.close()
        with contextlib.suppress(Exception):
            self.bus.close()


AnySystem = System[SimWorld | None]
"""Any session, simulated or not (for code that never touches the world)."""


# ---------------------------------------------------------------------- the root


def build(settings: cfg.Settings, clock: Clock) -> AnySystem:
    """``treadguard run``: build every part the configuration names, real or simulated. The
    simulated parts (if any) come from a world with nobody at the machine (the ``idle``
    scenario's still runner and no button presses).

    Raises:
        HardwareError: a configured device is missing or does not identify as expected.
    """
    world = simulated_world(settings, clock, SCENARIOS["idle"]()) if settings.any_simulated \
        else None
    return assemble(settings, clock, world)


def assemble(settings: cfg.Settings, clock: Clock, world: AnyWorld,
             target_speed_kmh: float | None = None) -> System[AnyWorld]:
    """Open the transports (the simulated ones from ``world``), build every driver, and wire the
    loop. The world belongs to the system from here: it is closed with it, or at once if
    building fails.

    Args:
        target_speed_kmh: the session's speed; None (default) = ``[session] speed_kmh``. Capped
            at ``[limits] max_speed_kmh`` either way.

    Raises:
        HardwareError: a configured device is missing or does not identify as expected.
    """
    events = EventLog()
    opened: list[Any] = []
    try:
        bus = open_bus(settings, world)
        opened.append(bus)
        imu = make_imu(settings, bus, clock)
        try:
            imu.setup()
        except SETUP_ERRORS as exc:
            raise HardwareError(f"{settings.path}: [imu] {settings.imu.chip} at "
                                f"{settings.imu.address:#04x}: {exc}") from None
        rails = make_rails(settings, bus, clock)
        try:
            if rails is not None:
                rails.setup()
        except SETUP_ERRORS as exc:
            raise HardwareError(f"{settings.path}: [rails]: {exc}") from None
        link = port = None
        if settings.treadmill.protocol == "trackmaster":
            port = open_port(settings, world)
            opened.append(port)
            t = settings.treadmill
            link = TrackmasterLink(port, clock, t.units, settings.limits.max_speed_kmh,
                                   t.stop_mode, t.poll_interval_s, t.ack_timeout_s,
                                   ramp_mps2=settings.limits.ramp_mps2,
                                   readback_tolerance_kmh=t.readback_tolerance_kmh,
                                   readback_time_s=t.readback_time_s,
                                   allow_reverse=t.allow_reverse)
        g = settings.gpio
        pin_factory = open_pin_factory(settings, world)
        if g.pin_factory == "mock" and world is not None:
            safety_io = world.claim_pins(lambda factory: make_safety_io(factory, clock, g))
        else:
            safety_io = make_safety_io(pin_factory, clock, g)
    except BaseException:
        for thing in reversed(opened):
            with contextlib.suppress(Exception):
                thing.close()
        if world is not None:
            world.close()
        raise

    target = settings.session.speed_kmh if target_speed_kmh is None else target_speed_kmh
    arming_checks: list[Any] = []

    def arming_problems() -> list[str]:
        return [problem for check in arming_checks for problem in check()]

    target = min(target, settings.limits.max_speed_kmh)
    drive = SerialDrive(link) if link is not None else RelayOnlyDrive()  # protocol "none"
    supervisor = Supervisor(clock, drive, settings.limits, target, events, arming_problems)
    if isinstance(world, SimTreadmillWorld) and link is not None and settings.treadmill.simulated:
        world.connect(port, link, safety_io)
    imu_health = ImuHealth(settings.health, clock, settings.imu.accel_range_g)
    detector = build_default(settings.detect)
    stop_chain = StopChain(safety_io, g.relay_open_within_s)
    rail_channel = None
    if rails is not None:
        rail_channel = RailChannel(rails, RailsHealth(settings.health, clock),
                                   build_rails(settings.detect))
    loop = ControlLoop(
        clock, imu, imu_health,
        HealthCheckedDetector(detector, imu_health, lambda: supervisor.state is State.RUNNING),
        supervisor, link, safety_io, stop_chain, events,
        rate_hz=settings.controller.loop_rate_hz,
        stall_after_s=settings.controller.stall_after_s,
        rails=rail_channel,
        presence=build_no_runner(settings.detect),
        step_count=lambda: detector.steps.steps,
        before_tick=world.before_tick if world is not None else None,
    )
    _announce(events, supervisor, safety_io)
    arming_checks.append(loop.arming_problems)
    arming_checks.append(stop_chain.problems)
    return System(settings, clock, events, bus, imu, link, port, safety_io, supervisor, loop, world,
                  stop_chain, rails, detector,
                  rail_channel.detector if rail_channel is not None else None)


def _announce(events: EventLog, supervisor: Supervisor, safety_io: SafetyIO) -> None:
    """The runner faces away from any display: belt changes, stops and cautions are heard
    (buzzer), the state is shown on the status LED for the supervisor. Driven by the event
    log's kinds: a ``cue`` is the countdown before a start (in COUNTDOWN, as long as
    ``[limits] start_countdown_s``) or the short speed-up cue before a rise."""
    from controller.governor import SPEED_UP_LEAD_S
    from hardware.annunciator import PATTERNS, countdown_pattern

    led_for = {State.RUNNING: "steady", State.READY: "steady", State.COUNTDOWN: "steady",
               State.STOPPING: "latched", State.LATCHED: "latched"}
    # The patterns end in their long beep exactly when the announced change happens.
    countdown = countdown_pattern(supervisor.start_countdown_s)
    speed_up = countdown_pattern(SPEED_UP_LEAD_S, final_s=PATTERNS["speed_up"][-1][0])

    def on_event(event: Event) -> None:
        if event.kind == "stop":
            safety_io.annunciator.play("stop")
        elif event.kind == "caution":
            safety_io.annunciator.play("caution")
        elif event.kind == "cue":
            if supervisor.state is State.COUNTDOWN:
                safety_io.annunciator.play("countdown", countdown)
            else:
                safety_io.annunciator.play("speed_up", speed_up)
        if event.kind in ("state", "stop"):
            safety_io.annunciator.set_led(led_mode())

    def led_mode() -> str:
        # Power is cut at power-on too; only a cut for a fault blinks "fault".
        if supervisor.power_cut and supervisor.power_cut_reason != "power_on":
            return "fault"
        return led_for[supervisor.state]

    events.subscribe(on_event)
    safety_io.annunciator.set_led(led_mode())
