"""Building the drivers — and the simulated world — from the configuration.

Part of the composition root: :mod:`controller.app` and ``treadguard check`` / ``calibrate``
call these so that "which chip, at which address, with which settings" is decided in one place.
Drivers never choose their own hardware; the simulated world (:mod:`hardware.sim.world`) takes
the same chips, addresses and pins as plain values from here, and is built only when a part is
simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller import config as cfg
from hardware.ads1115 import Ads1115, RailForceError
from hardware.clock import Clock
from hardware.fsr import FsrDivider
from hardware.handrails import Handrails
from hardware.i2c import I2CBus
from hardware.imu import ImuError
from hardware.lsm6dsox import Lsm6dsox
from hardware.mpr121 import Mpr121, RailTouchError
from hardware.mpu6050 import Mpu6050
from hardware.safety_io import SafetyIO
from hardware.sim.bus import SimBus
from hardware.sim.grip import Grip
from hardware.sim.handrails import RailTwins, attach_rail_twins
from hardware.sim.motion import Motion
from hardware.sim.scenarios import Action, Scenario
from hardware.sim.world import (
    ImuModel,
    PanelPins,
    RailChips,
    SimTreadmillWorld,
    SimWorld,
    attach_sensor_twins,
)
from hardware.vl53l1x import RangeError, Vl53l1x

ImuChip = Lsm6dsox | Mpu6050
"""One of the supported IMU drivers (the loop only needs :class:`controller.loop.Imu`)."""

SETUP_ERRORS = (ImuError, RailTouchError, RailForceError, RangeError, OSError)
"""What a driver's ``setup()`` raises when its chip is missing, wrong or unconfigurable."""


def make_imu(settings: cfg.Settings, bus: I2CBus, clock: Clock) -> ImuChip:
    """The ``[imu]`` driver (not yet set up)."""
    s = settings.imu
    if s.chip == "mpu6050":
        return Mpu6050(bus, s.address, clock, s.accel_range_g, s.gyro_range_dps)
    return Lsm6dsox(bus, s.address, clock, s.accel_range_g, s.gyro_range_dps)


def make_rails(settings: cfg.Settings, bus: I2CBus, clock: Clock) -> Handrails | None:
    """The ``[rails]`` sensors (not yet set up), or None when the section is absent."""
    return build_handrails(settings.rails, bus, clock) if settings.rails is not None else None


def build_handrails(rails: cfg.RailsSettings, bus: I2CBus, clock: Clock) -> Handrails:
    """The chips a ``[rails]`` section names, handed to :class:`Handrails` (not yet set up)."""
    touch = None
    if rails.touch_chip == "mpr121":
        touch = Mpr121(bus, rails.mpr121_address, clock,
                       (rails.left_electrode, rails.right_electrode),
                       rails.touch_threshold_counts, rails.release_threshold_counts)
    force: list[Ads1115] = []
    switch_channels = None
    if rails.force_chip == "ads1115":
        force.append(Ads1115(bus, rails.ads1115_left_address, clock,
                             rails.ads1115_left_channel, rails.ads1115_range_v))
        if rails.ads1115_layout == "chip_per_rail":
            force.append(Ads1115(bus, rails.ads1115_right_address, clock,
                                 rails.ads1115_right_channel, rails.ads1115_range_v))
        else:  # "alternate": one chip, its input switched between the rails
            switch_channels = (rails.ads1115_left_channel, rails.ads1115_right_channel)
    return Handrails(clock, touch, force, fsr_divider(rails), switch_channels)


def make_deck(settings: cfg.Settings, bus: I2CBus, clock: Clock) -> Vl53l1x | None:
    """The ``[deck]`` position sensor (not yet set up), or None when the section is absent."""
    d = settings.deck
    return None if d is None else Vl53l1x(bus, d.address, clock, d.timing_budget_ms, d.period_ms)


def deck_address(settings: cfg.Settings) -> int | None:
    """Where the ``[deck]`` sensor sits on the bus, or None when the section is absent."""
    return settings.deck.address if settings.deck is not None else None


def fsr_divider(rails: cfg.RailsSettings) -> FsrDivider:
    """The ``[rails]`` FSR divider model (shared by the driver side and the twins)."""
    return FsrDivider(rails.fsr_supply_v, rails.fsr_divider_ohm, rails.fsr_microsiemens_per_n)


def make_safety_io(pin_factory: Any, clock: Clock, gpio: cfg.GpioSettings) -> SafetyIO:
    """The ``[gpio]`` pins as a :class:`SafetyIO` (its stop relay created de-energised).

    Raises whatever gpiozero raises for a busy or invalid pin."""
    return SafetyIO(pin_factory, clock, relay_pin=gpio.relay_pin, estop_pin=gpio.estop_pin,
                    reset_pin=gpio.reset_pin, start_pin=gpio.start_pin, key_pin=gpio.key_pin,
                    relay_feedback_pin=gpio.relay_feedback_pin,
                    heartbeat_pin=gpio.heartbeat_pin, buzzer_pin=gpio.buzzer_pin,
                    led_pin=gpio.led_pin, harness_pin=gpio.harness_pin,
                    reset_hold_s=gpio.reset_hold_s)


def rail_chips(rails: cfg.RailsSettings) -> RailChips:
    """Where a ``[rails]`` section's chips sit, as the plain values the twins take."""
    force_inputs: tuple[tuple[int, int], ...] = ()
    if rails.force_chip == "ads1115":
        right_address = (rails.ads1115_right_address if rails.ads1115_layout == "chip_per_rail"
                         else rails.ads1115_left_address)  # "alternate": one chip, two inputs
        force_inputs = ((rails.ads1115_left_address, rails.ads1115_left_channel),
                        (right_address, rails.ads1115_right_channel))
    return RailChips(
        touch_address=rails.mpr121_address if rails.touch_chip == "mpr121" else None,
        electrodes=(rails.left_electrode, rails.right_electrode), force_inputs=force_inputs,
        fsr=fsr_divider(rails) if force_inputs else None)


def configured_rail_chips(settings: cfg.Settings) -> RailChips | None:
    """:func:`rail_chips` of the ``[rails]`` section, or None when it is absent."""
    return rail_chips(settings.rails) if settings.rails is not None else None


def panel_pins(gpio: cfg.GpioSettings) -> PanelPins:
    """The ``[gpio]`` pins the simulated machine wires (the ones :class:`SafetyIO` claims)."""
    return PanelPins(relay=gpio.relay_pin, relay_feedback=gpio.relay_feedback_pin,
                     estop=gpio.estop_pin, key=gpio.key_pin, reset=gpio.reset_pin)


def twin_rails(bus: SimBus, rails: cfg.RailsSettings, clock: Clock, grip: Grip,
               seed: int) -> RailTwins:
    """Attach the twins of the chips a ``[rails]`` section names, all fed by ``grip``."""
    chips = rail_chips(rails)
    return attach_rail_twins(bus, clock, grip, touch_address=chips.touch_address,
                             electrodes=chips.electrodes, force_inputs=chips.force_inputs,
                             fsr=chips.fsr, seed=seed)


def attach_twins(bus: SimBus, settings: cfg.Settings, clock: Clock, motion: Motion,
                 grip: Grip, seed: int) -> tuple[ImuModel, RailTwins]:
    """Attach a twin for every configured chip to ``bus`` (benchmarks bring their own bus; a
    session uses the world's, :func:`simulated_world`)."""
    return attach_sensor_twins(bus, clock, motion, grip, imu_chip=settings.imu.chip,
                               imu_address=settings.imu.address,
                               rails=configured_rail_chips(settings), seed=seed)


def world_seed(settings: cfg.Settings) -> int:
    """``[sim] seed`` (default 1): the seed of a session's simulated noise and treadmill."""
    return settings.sim.seed if settings.sim else 1


def world_without_treadmill(settings: cfg.Settings, clock: Clock, motion: Motion,
                            actions: Sequence[Action] = (), seed: int = 1) -> SimWorld:
    """The simulated machine the configuration describes, without a treadmill: a twin of each
    configured chip on a simulated bus, the ``[gpio]`` pins on a wired ``MockFactory``, the
    operator's ``actions`` on its buttons (relay-only mode; ``check`` and ``calibrate``)."""
    return SimWorld(clock, imu_chip=settings.imu.chip, imu_address=settings.imu.address,
                    rails=configured_rail_chips(settings), pins=panel_pins(settings.gpio),
                    motion=motion, actions=actions, seed=seed, deck_address=deck_address(settings))


def world_with_treadmill(settings: cfg.Settings, clock: Clock, motion: Motion,
                         actions: Sequence[Action] = (), seed: int = 1) -> SimTreadmillWorld:
    """:func:`world_without_treadmill` plus the simulated treadmill process (``[treadmill]``
    units and baud)."""
    return SimTreadmillWorld(
        clock, imu_chip=settings.imu.chip, imu_address=settings.imu.address,
        rails=configured_rail_chips(settings), pins=panel_pins(settings.gpio), motion=motion,
        units=settings.treadmill.units, baud=settings.treadmill.baud, actions=actions, seed=seed,
        deck_address=deck_address(settings))


def simulated_world(settings: cfg.Settings, clock: Clock, scenario: Scenario,
                    seed: int | None = None) -> SimWorld:
    """A session's simulated world (seeded by ``[sim] seed``), with a treadmill process exactly
    when ``[treadmill] simulated = true`` with the serial protocol; the scenario's motion and
    operator. Built whenever any part is simulated; :mod:`controller.transports` then takes
    from it only the parts the configuration simulates. ``seed`` (``sim --seed``) overrides
    ``[sim] seed``."""
    seed = world_seed(settings) if seed is None else seed
    if settings.treadmill.protocol == "trackmaster" and settings.treadmill.simulated:
        return world_with_treadmill(settings, clock, scenario.motion, scenario.actions, seed)
    return world_without_treadmill(settings, clock, scenario.motion, scenario.actions, seed)
