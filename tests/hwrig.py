"""Test rigs: one driver on either its simulated twin or a real chip.

The same driver tests take a :class:`Rig`. On the twin (always), ``model`` is the register
model and faults can be injected; on a real chip (``@pytest.mark.hardware``, only when
``TREADGUARD_I2C_BUS`` names a bus, e.g. ``TREADGUARD_I2C_BUS=1``), ``model`` is None, time is
the real monotonic clock and fault tests are skipped. ``TREADGUARD_I2C_BUS=sim`` rehearses
the hardware tests on the twins in real time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.i2c import I2CBus
from hardware.sim.bus import SimBus

HW_ENV = "TREADGUARD_I2C_BUS"


@dataclass
class Rig:
    """A driver on a bus, with a clock that tests can move forward."""

    bus: I2CBus
    clock: Clock
    address: int
    driver: Any
    model: Any = None  # the twin, None on real hardware

    @property
    def sim_bus(self) -> SimBus:
        assert isinstance(self.bus, SimBus)
        return self.bus

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass (instantly on a SimClock, really on hardware)."""
        self.clock.sleep_until(self.clock.now_s() + dt_s)


def rehearsal_bus() -> I2CBus:
    """``TREADGUARD_I2C_BUS=sim``: every twin at its default address on real (monotonic) time,
    to rehearse the hardware tests' timing logic without a bench."""
    from hardware.sim.ads1115 import Ads1115Model
    from hardware.sim.grip import Hands
    from hardware.sim.lsm6dsox import Lsm6dsoxModel
    from hardware.sim.motion import Still
    from hardware.sim.mpr121 import Mpr121Model
    from hardware.sim.mpu6050 import Mpu6050Model

    clock = MonotonicClock()
    bus = SimBus()
    bus.attach(0x6A, Lsm6dsoxModel(clock, Still()))
    bus.attach(0x68, Mpu6050Model(clock, Still()))
    bus.attach(0x5A, Mpr121Model(clock, Hands()))
    bus.attach(0x48, Ads1115Model(clock))
    return bus


def real_bus() -> Iterator[I2CBus]:
    """The real bus named by TREADGUARD_I2C_BUS (a number), or skip."""
    name = os.environ.get(HW_ENV)
    if not name:
        pytest.skip(f"{HW_ENV} is not set: no real I²C bus to test against")
    if name == "sim":
        yield rehearsal_bus()
        return
    from smbus2 import SMBus

    bus = SMBus(int(name))
    try:
        yield bus
    finally:
        bus.close()


def present(bus: I2CBus, address: int, register: int) -> bool:
    try:
        bus.read_byte_data(address, register)
    except OSError:
        return False
    return True


def sim_rig(
    make_model: Callable[[SimClock], Any],
    make_driver: Callable[[I2CBus, SimClock], Any],
    address: int,
) -> Rig:
    clock = SimClock()
    bus = SimBus(seed=7)
    model = make_model(clock)
    bus.attach(address, model)
    return Rig(bus=bus, clock=clock, address=address, driver=make_driver(bus, clock), model=model)


def hw_rig(
    bus: I2CBus, make_driver: Callable[[I2CBus, Clock], Any], address: int, probe_register: int
) -> Rig:
    if not present(bus, address, probe_register):
        pytest.skip(f"nothing answers at {address:#04x} on the real bus")
    clock = MonotonicClock()
    return Rig(bus=bus, clock=clock, address=address, driver=make_driver(bus, clock))
