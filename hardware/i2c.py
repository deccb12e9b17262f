"""The I²C bus interface the drivers need: the subset of :class:`smbus2.SMBus` they call.

Drivers are handed an object with these methods — a real ``smbus2.SMBus`` (built only by the
composition root, :mod:`controller.app`) or :class:`hardware.sim.bus.SimBus`. Errors are
``OSError`` with the errno the Linux kernel returns (``EREMOTEIO`` 121 for a missing
acknowledgement, ``ETIMEDOUT`` 110 for a stuck bus), so drivers handle both the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class I2CBus(Protocol):
    """The smbus2 subset used by treadguard's drivers. Register addresses are 8-bit."""

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int: ...

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None: ...

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]: ...

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None: ...

    def i2c_rdwr(self, *i2c_msgs: Any) -> None: ...

    def close(self) -> None: ...
