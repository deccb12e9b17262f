"""A register twin on a simulated bus at one address, driven byte by byte as a driver would."""

from __future__ import annotations

from hardware.clock import SimClock
from hardware.sim.bus import SimBus, SimDevice


class TwinChip:
    """``model`` at ``address`` on a fresh :class:`SimBus`, on a :class:`SimClock` at 0 s."""

    def __init__(self, address: int, clock: SimClock, model: SimDevice) -> None:
        self.address = address
        self.clock = clock
        self.bus = SimBus()
        self.model = model
        self.bus.attach(address, model)

    def w(self, reg: int, value: int) -> None:
        self.bus.write_byte_data(self.address, reg, value)

    def r(self, reg: int) -> int:
        return self.bus.read_byte_data(self.address, reg)

    def block(self, reg: int, length: int) -> list[int]:
        return self.bus.read_i2c_block_data(self.address, reg, length)

    def wait(self, dt_s: float) -> None:
        self.clock.advance_s(dt_s)
