"""A simulated I²C bus: the smbus2 methods the drivers call, routed to register models.

Each model is a :class:`SimDevice` at a 7-bit address. Transfers behave like the wire: a write
message sets the device's register pointer (first byte) and writes the rest; a read message
reads from the pointer on, the device deciding how its pointer advances (auto-increment, FIFO
windows). Errors are raised as the Linux kernel raises them — ``OSError(EREMOTEIO)`` when no
device acknowledges, ``OSError(ETIMEDOUT)`` for a stuck bus — so drivers cannot tell the
difference between this bus and ``smbus2.SMBus``.

Fault injection (per address): :meth:`SimBus.unplug` / :meth:`SimBus.replug`,
:meth:`SimBus.set_error_rate` (intermittent EREMOTEIO at a given probability, seeded),
:meth:`SimBus.set_timeout` (every transfer times out). Chip-level faults (frozen data, stuck
FIFO, wrong identity, saturation) live on each model.

Not modelled: bus capacitance, clock stretching, arbitration, the 32-byte SMBus block limit of
real ``read_i2c_block_data`` (drivers use ``i2c_rdwr`` for long reads anyway), transfer time.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
from collections.abc import Sequence
from typing import Any, Protocol

from smbus2 import i2c_msg

I2C_M_RD = 0x0001


class SimDevice(Protocol):
    """A register model on the simulated bus."""

    def write(self, data: bytes) -> None:
        """A write message: ``data[0]`` is the register address, the rest are register writes."""
        ...

    def read(self, length: int) -> bytes:
        """A read message of ``length`` bytes from the current register pointer."""
        ...


class SimBus:
    """Simulated I²C bus with the :class:`hardware.i2c.I2CBus` methods.

    Args:
        seed: seed for intermittent-error injection (deterministic runs).
    """

    def __init__(self, seed: int = 0) -> None:
        self._devices: dict[int, SimDevice] = {}
        self._unplugged: set[int] = set()
        self._timeout: set[int] = set()
        self._error_rate: dict[int, float] = {}
        self._rng = random.Random(seed)
        self.transfers = 0
        self.closed = False

    # ------------------------------------------------------------------ wiring and faults
    def attach(self, address: int, device: SimDevice) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I²C address {address:#04x} is outside 0x03–0x77")
        if address in self._devices:
            raise ValueError(f"I²C address {address:#04x} is already taken")
        self._devices[address] = device

    def device(self, address: int) -> SimDevice:
        return self._devices[address]

    def unplug(self, address: int) -> None:
        """The device stops acknowledging (cable pulled): every transfer raises EREMOTEIO."""
        self._unplugged.add(address)

    def replug(self, address: int, power_cycle: bool = True) -> None:
        """The device answers again. ``power_cycle`` (default): the cable also carried its
        supply, so the chip comes back in its power-on state (configuration lost) — models
        with a ``power_on_reset()`` method are reset."""
        self._unplugged.discard(address)
        reset = getattr(self._devices.get(address), "power_on_reset", None)
        if power_cycle and reset is not None:
            reset()

    def set_timeout(self, address: int, on: bool = True) -> None:
        """Every transfer to ``address`` raises ETIMEDOUT (a device holding SDA low)."""
        if on:
            self._timeout.add(address)
        else:
            self._timeout.discard(address)

    def set_error_rate(self, address: int, rate: float) -> None:
        """Each transfer to ``address`` fails with EREMOTEIO with probability ``rate`` (0–1)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"error rate must be within 0–1, got {rate!r}")
        self._error_rate[address] = rate

    # ------------------------------------------------------------------ transfers
    def _target(self, address: int) -> SimDevice:
        if self.closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        self.transfers += 1
        if address in self._timeout:
            raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
        dev = self._devices.get(address)
        rate = self._error_rate.get(address, 0.0)
        if dev is None or address in self._unplugged or (rate and self._rng.random() < rate):
            raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
        return dev

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        dev = self._target(i2c_addr)
        dev.write(bytes([register]))
        return dev.read(1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._target(i2c_addr).write(bytes([register, value]))

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if not 1 <= length <= 32:
            # smbus2 refuses the same way: SMBus block transfers carry at most 32 bytes.
            raise ValueError(f"Desired block length over 32 bytes: {length}")
        dev = self._target(i2c_addr)
        dev.write(bytes([register]))
        return list(dev.read(length))

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        self._target(i2c_addr).write(bytes([register, *data]))

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        for msg in i2c_msgs:
            if not isinstance(msg, i2c_msg):
                raise TypeError(f"i2c_rdwr takes smbus2.i2c_msg objects, got {type(msg).__name__}")
            dev = self._target(msg.addr)
            if msg.flags & I2C_M_RD:
                data = dev.read(msg.len)
                ctypes.memmove(msg.buf, data, msg.len)
            else:
                dev.write(bytes(msg))

    def close(self) -> None:
        self.closed = True
