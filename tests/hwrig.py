"""Test rigs: one driver on either its simulated twin or a real chip.

The same driver tests take a :class:`Rig`. On the twin (always), ``model`` is the register
model and faults can be injected; on a real chip (``@pytest.mark.hardware``, only when
``TREADGUARD_I2C_BUS`` names a bus, e.g. ``TREADGUARD_I2C_BUS=1``), ``model`` is None, time is
the real monotonic clock and fault tests are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from controller.clock import Clock, MonotonicClock, SimClock
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


def real_bus() -> Iterator[I2CBus]:
    """The real bus named by TREADGUARD_I2C_BUS, or skip."""
    name = os.environ.get(HW_ENV)
    if not name:
        pytest.skip(f"{HW_ENV} is not set: no real I²C bus to test against")
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
