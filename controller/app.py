"""The composition root: configuration → transports → drivers → loop.

This is the only module that knows whether a bus, a serial port or a pin factory is real or
simulated, and the only one that opens devices. Simulation is used exactly where the
configuration says ``simulated = true`` (or ``pin_factory = "mock"``); a configuration that
names real hardware which is absent fails with :class:`HardwareError` and never falls back to a
twin.

It is the composition root only: the commands that run a session build through
:func:`build` from their own modules, ``run`` in :mod:`controller.daemon` and ``sim`` in
:mod:`controller.sim_view`.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import serial

from controller import config as cfg
from controller.detect import build_default, build_no_runner, build_rails
from controller.devices import (
    SETUP_ERRORS,
    Imu,
    ImuModel,
    attach_twins,
    make_imu,
    make_rails,
    make_safety_io,
)
from controller.drive import RelayOnlyDrive, SerialDrive
from controller.events import Event, EventLog
from controller.health import HealthCheckedDetector, ImuHealth, RailsHealth
from controller.loop import ControlLoop, RailChannel
from controller.stop_chain import StopChain
from controller.stop_reasons import StopReason
from controller.supervisor import State, Supervisor
from hardware.clock import Clock
from hardware.handrails import Handrails
from hardware.i2c import I2CBus
from hardware.safety_io import SafetyIO
from hardware.sim.scenarios import SCENARIOS, Scenario
from hardware.trackmaster import TrackmasterLink

if TYPE_CHECKING:
    from hardware.sim.bus import SimBus
    from hardware.sim.handrails import RailTwins
    from hardware.sim.treadmill import SimTreadmill



REAL_WRITE_TIMEOUT_S: Final = 0.05
"""Bound on one write to a real serial port, s (a command is 2–6 bytes: 12.5 ms at 4800 baud)."""
SHUTDOWN_FLUSH_S: Final = 0.1
"""At shutdown the loop runs at least this long, so a stop command queued behind a transaction
in flight still reaches the wire (two 50 ms poll periods)."""
SHUTDOWN_MARGIN_S: Final = 0.5
"""Ticks allowed past the stop deadline, for the supervisor to cut power and latch."""


class HardwareError(Exception):
    """Configured hardware is missing or does not answer as expected. One line, names the part."""


@dataclass
class SimWorld:
    """The simulated outside world for one session: twins, the treadmill process, the operator."""

    clock: Clock
    scenario: Scenario
    pin_factory: Any | None = None
    button_pin: int = 0
    estop_pin: int = 0
    treadmill: SimTreadmill | None = None
    bus: SimBus | None = None
    imu_model: ImuModel | None = None
    rail_twins: RailTwins | None = None
    link: TrackmasterLink | None = None
    port: Any | None = None
    panel: SafetyIO | None = None
    estop_pressed: bool = False
    final_state: dict[str, Any] | None = None
    """The simulated treadmill's state when the world closed (after the controller let go)."""
    final_wire: list[tuple[float, str, int]] = field(default_factory=list)
    """Every byte on the simulated serial line, as recorded when the world closed."""

    def before_tick(self) -> None:
        """Advance the world to the clock's time (lockstep with the controller)."""
        now = self.clock.now_s()
        if self.pin_factory is not None:
            pressed = {"reset": False, "estop": self.estop_pressed}
            for action in self.scenario.actions:
                if action.t_s <= now < action.t_s + action.hold_s:
                    pressed[action.button] = True
            button = self.pin_factory.pin(self.button_pin)
            button.drive_low() if pressed["reset"] else button.drive_high()
            estop = self.pin_factory.pin(self.estop_pin)
            # Normally-closed e-stop: closed (not pressed) pulls the input low.
            estop.drive_high() if pressed["estop"] else estop.drive_low()
        if self.treadmill is not None and self.link is not None and self.panel is not None:
            self.treadmill.sync_port(now, self.port, self.link.bytes_sent,
                                     self.link.bytes_received, self.panel.relay_closed)

    def close(self) -> None:
        """End the simulated world, keeping the treadmill's last state and wire log."""
        if self.treadmill is not None and not self.treadmill.closed:
            with contextlib.suppress(Exception):  # a broken lockstep must not block the close
                self.final_state = self.treadmill.state()
                self.final_wire = self.treadmill.wire_log()
            self.treadmill.close()


@dataclass
class System:
    """Everything one session needs, built and wired."""

    settings: cfg.Settings
    clock: Clock
    events: EventLog
    bus: I2CBus
    imu: Imu
    link: TrackmasterLink | None
    port: Any | None
    panel: SafetyIO
    supervisor: Supervisor
    loop: ControlLoop
    world: SimWorld | None
    stop_chain: StopChain
    rails: Handrails | None = None

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
            f"GPIO ({s.gpio.pin_factory} pin factory): " + "; ".join(self.panel.describe()),
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
        + 1 s, at most 6.3 s from 8 km/h at 0.5 m/s²), the power is cut. Only then does the
        relay open (when the panel closes) and the port close. Opening the relay mid-ramp
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
        with contextlib.suppress(Exception):
            self.panel.close()
        if self.link is not None:
            with contextlib.suppress(Exception):
                self.link.close()
        if self.world is not None:
            self.world.close()
        with contextlib.suppress(Exception):
            self.bus.close()


# ---------------------------------------------------------------------- transports


def open_bus(settings: cfg.Settings, world: SimWorld | None) -> I2CBus:
    if settings.i2c.simulated:
        from hardware.sim.bus import SimBus
        from hardware.sim.grip import Hands

        assert world is not None
        seed = world_seed(settings)
        sim_bus = SimBus(seed=seed)
        twins = attach_twins(sim_bus, settings, world.clock, world.scenario.motion, Hands(), seed)
        world.imu_model, world.rail_twins = twins.imu, twins.rails
        world.bus = sim_bus
        return sim_bus
    path = f"/dev/i2c-{settings.i2c.bus}"
    if not os.path.exists(path):
        raise HardwareError(f"{settings.path}: [i2c] bus = {settings.i2c.bus}: {path} not found "
                            f"(enable I²C with dtparam=i2c_arm=on, or fix the bus number)")
    from smbus2 import SMBus

    try:
        bus: I2CBus = SMBus(settings.i2c.bus)
    except OSError as exc:
        raise HardwareError(f"{settings.path}: [i2c] bus = {settings.i2c.bus}: cannot open "
                            f"{path}: {exc}") from None
    return bus


def open_port(settings: cfg.Settings, world: SimWorld | None) -> Any:
    t = settings.treadmill
    url = t.port
    # A real port's writes are bounded in wall-clock time (a wedged USB adapter must become a
    # link fault). The simulated treadmill's pty is read in lockstep, so a write never waits on
    # it; a wall-clock bound there would only let the machine's load into simulated time.
    write_timeout_s: float | None = REAL_WRITE_TIMEOUT_S
    if t.simulated:
        from hardware.sim.treadmill import SimTreadmill

        assert world is not None
        world.treadmill = SimTreadmill(t.units, t.baud, seed=world_seed(settings))
        url = world.treadmill.port
        write_timeout_s = None
    try:
        return serial.serial_for_url(url, baudrate=t.baud, bytesize=8, parity="N", stopbits=1,
                                     timeout=0, write_timeout=write_timeout_s)
    except (serial.SerialException, ValueError) as exc:
        raise HardwareError(f"{settings.path}: [treadmill] port = \"{t.port}\": cannot open: "
                            f"{exc}") from None


PIN_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
}


def make_pin_factory(settings: cfg.Settings) -> Any:
    name = settings.gpio.pin_factory
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    module_name, class_name = PIN_FACTORIES[name]
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except Exception as exc:  # gpiozero raises assorted errors when no GPIO chip is present
        # The backend is an optional extra: say how to install it rather than leave a bare
        # "No module named 'lgpio'" (a Pi 5 has no other working backend).
        hint = ("; install the Pi extra: .venv/bin/pip install 'treadguard[pi]' (or "
                "apt install python3-lgpio)"
                if isinstance(exc, ModuleNotFoundError) and exc.name == "lgpio" else "")
        raise HardwareError(f"{settings.path}: [gpio] pin_factory = \"{name}\": cannot start "
                            f"({type(exc).__name__}: {exc}){hint}") from None


def world_seed(settings: cfg.Settings) -> int:
    return settings.sim.seed if settings.sim else 1


# ---------------------------------------------------------------------- the root


def build(settings: cfg.Settings, clock: Clock, scenario: Scenario | None = None) -> System:
    """Build every part the configuration names, real or simulated, and wire the loop.

    Raises:
        HardwareError: a configured device is missing or does not identify as expected.
    """
    needs_world = settings.any_simulated
    world = None
    if needs_world:
        world = SimWorld(clock=clock, scenario=scenario or SCENARIOS["idle"]())
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
        pin_factory = make_pin_factory(settings)
        g = settings.gpio
        if g.pin_factory == "mock":
            from hardware.sim.panel import wire_after, wire_before

            # The simulated machine: relay feedback follows the coil.
            wire_before(pin_factory, g.relay_pin, g.relay_feedback_pin)
        panel = make_safety_io(pin_factory, clock, g)
        if g.pin_factory == "mock":
            wire_after(pin_factory, g.estop_pin, g.key_pin)  # e-stop released, key in
    except BaseException:
        for thing in reversed(opened):
            with contextlib.suppress(Exception):
                thing.close()
        if world is not None:
            world.close()
        raise

    target = settings.session.speed_kmh
    if scenario is not None and scenario.target_speed_kmh is not None:
        target = scenario.target_speed_kmh
    arming_checks: list[Any] = []

    def arming_problems() -> list[str]:
        return [problem for check in arming_checks for problem in check()]

    target = min(target, settings.limits.max_speed_kmh)
    drive = SerialDrive(link) if link is not None else RelayOnlyDrive()  # protocol "none"
    supervisor = Supervisor(clock, drive, settings.limits, target, events, arming_problems)
    if world is not None:
        world.link, world.port, world.panel = link, port, panel
        if g.pin_factory == "mock":
            world.pin_factory = pin_factory
            world.button_pin, world.estop_pin = g.reset_pin, g.estop_pin
    imu_health = ImuHealth(settings.health, clock, settings.imu.accel_range_g)
    detector = build_default(settings.detect)
    stop_chain = StopChain(panel, g.relay_open_within_s)
    rail_channel = None
    if rails is not None:
        rail_channel = RailChannel(rails, RailsHealth(settings.health, clock),
                                   build_rails(settings.detect))
    loop = ControlLoop(
        clock, imu, imu_health,
        HealthCheckedDetector(detector, imu_health, lambda: supervisor.state is State.RUNNING),
        supervisor, link, panel, stop_chain, events,
        rate_hz=settings.controller.loop_rate_hz,
        stall_after_s=settings.controller.stall_after_s,
        rails=rail_channel,
        presence=build_no_runner(settings.detect),
        step_count=lambda: detector.steps.steps,
        before_tick=world.before_tick if world is not None else None,
    )
    _announce(events, supervisor, panel)
    arming_checks.append(loop.arming_problems)
    arming_checks.append(stop_chain.problems)
    return System(settings, clock, events, bus, imu, link, port, panel, supervisor, loop, world,
                  stop_chain, rails)


def _announce(events: EventLog, supervisor: Supervisor, panel: SafetyIO) -> None:
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
            panel.annunciator.play("stop")
        elif event.kind == "caution":
            panel.annunciator.play("caution")
        elif event.kind == "cue":
            if supervisor.state is State.COUNTDOWN:
                panel.annunciator.play("countdown", countdown)
            else:
                panel.annunciator.play("speed_up", speed_up)
        if event.kind in ("state", "stop"):
            panel.annunciator.set_led(led_mode())

    def led_mode() -> str:
        # Power is cut at power-on too; only a cut for a fault blinks "fault".
        if supervisor.power_cut and supervisor.power_cut_reason != "power_on":
            return "fault"
        return led_for[supervisor.state]

    events.subscribe(on_event)
    panel.annunciator.set_led(led_mode())
