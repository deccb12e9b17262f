"""A simulated I²C bus with the whole :class:`smbus2.SMBus` API, routed to register models.

A driver written for ``smbus2.SMBus`` runs unchanged against it: every transfer method smbus2
0.6 offers, with its signature, its argument checks (block transfers refuse more than 32 bytes
with smbus2's ``ValueError``), its byte order (SMBus words are low byte first) and its
attributes (``fd``, ``address``, ``force``, ``funcs``, ``pec``), ``open``/``close`` and the
context manager.

Each model is a :class:`SimDevice` at a 7-bit address. Transfers behave like the wire: a write
message sets the device's register pointer (first byte) and writes the rest; a read message
reads from the pointer on, the device deciding how its pointer advances (auto-increment, FIFO
windows). How each smbus2 call maps to messages (SMBus 3.0 protocols):

========================= ==================================================================
``write_quick``           address only (the device acknowledges; nothing is written)
``read_byte``             one read message from the current pointer (no register byte)
``write_byte``            one byte: sets the pointer, as on a register chip
``read/write_byte_data``  register byte, then one byte read / written
``read/write_word_data``  register byte, then two bytes, low byte first
``process_call``          write register + word, repeated start, read a word
``read_block_data``       register byte, then the device's count byte and that many bytes
``write_block_data``      register byte, count byte, data (the count lands in the register!)
``block_process_call``    the two above back to back with a repeated start
``read/write_i2c_block``  register byte, then ``length`` bytes (no count byte)
``i2c_rdwr``              each :class:`smbus2.i2c_msg` as given
========================= ==================================================================

Errors are raised as the Linux kernel raises them — ``OSError(EREMOTEIO)`` when no device
acknowledges, ``OSError(ETIMEDOUT)`` for a stuck bus, ``OSError(EPROTO)`` for an SMBus block
count over 32, ``OSError(EBADMSG)`` for a PEC mismatch, ``OSError(EINVAL)`` for an address over
0x7F or an ``i2c_rdwr`` of more than 42 messages or 8192 bytes in one message — so drivers
cannot tell the difference between this bus and ``smbus2.SMBus``. A closed bus behaves as
smbus2's does: its ``ioctl`` on ``fd = None`` raises ``TypeError``.

PEC (``bus.pec = 1``): writes carry a CRC-8 byte after the data and reads expect one after the
data, as the kernel adds them. None of the twins' chips speaks PEC, so — as on the wire — a
write's PEC byte lands in the next register and a read's "PEC" is the next register's value,
which almost never matches: ``OSError(EBADMSG)``.

Fault injection (per address): :meth:`SimBus.unplug` / :meth:`SimBus.replug`,
:meth:`SimBus.set_error_rate` (intermittent EREMOTEIO at a given probability, seeded),
:meth:`SimBus.set_timeout` (every transfer times out). Chip-level faults (frozen data, stuck
FIFO, wrong identity, saturation) live on each model.

:attr:`SimBus.transfers` counts one per smbus2 call plus one per message of an ``i2c_rdwr``.

Not modelled: bus capacitance, clock stretching, arbitration, transfer time, the I²C
adapter's own limits (the Raspberry Pi's adapter lacks SMBus block reads, which the twin
performs as the SMBus specification describes), 10-bit addresses.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
from collections.abc import Sequence
from typing import Protocol

from smbus2 import i2c_msg

I2C_M_RD = 0x0001
BLOCK_MAX = 32
"""smbus2's (and the kernel's) I2C_SMBUS_BLOCK_MAX: bytes in one SMBus block transfer."""
RDWR_MAX_MESSAGES = 42
"""The kernel's I2C_RDWR_IOCTL_MAX_MSGS."""
RDWR_MAX_BYTES = 8192
"""The kernel's limit on one ``i2c_rdwr`` message."""
FUNCS = 0x0EFF000D
"""What the Raspberry Pi's I²C adapter reports (``I2C_FUNC_I2C | PROTOCOL_MANGLING |
SMBUS_EMUL``; ``SMBUS_EMUL`` includes PEC)."""
FUNC_SMBUS_PEC = 0x00000008


class SimDevice(Protocol):
    """A register model on the simulated bus."""

    def write(self, data: bytes) -> None:
        """A write message: ``data[0]`` is the register address, the rest are register writes."""
        ...

    def read(self, length: int) -> bytes:
        """A read message of ``length`` bytes from the current register pointer."""
        ...


def crc8(data: bytes) -> int:
    """SMBus PEC: CRC-8, polynomial x⁸ + x² + x + 1 (0x07), initial 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class SimBus:
    """Simulated I²C bus with the :class:`smbus2.SMBus` methods and attributes.

    Args:
        seed: seed for intermittent-error injection (deterministic runs).
        force: smbus2's ``force`` default (accepted and recorded; the twin has no kernel
            driver that could hold an address).

    The bus starts open (``fd`` set), as ``smbus2.SMBus(1)`` does; :meth:`close` closes it
    and :meth:`open` opens it again.
    """

    def __init__(self, seed: int = 0, force: bool = False) -> None:
        self._devices: dict[int, SimDevice] = {}
        self._unplugged: set[int] = set()
        self._timeout: set[int] = set()
        self._error_rate: dict[int, float] = {}
        self._rng = random.Random(seed)
        self.transfers = 0
        self.fd: int | None = 3
        self.funcs = FUNCS
        self.address: int | None = None
        self.force = force
        self._pec = 0

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

    # ------------------------------------------------------------------ open, close, PEC
    @property
    def closed(self) -> bool:
        return self.fd is None

    def open(self, bus: int | str) -> None:
        """Open (again): ``bus`` is a bus number or a device path, as for smbus2."""
        if not isinstance(bus, int | str):
            raise TypeError(f"Unexpected type(bus)={type(bus)}")
        self.fd = 3

    def close(self) -> None:
        """Close the bus; PEC and the selected address are forgotten, as in smbus2."""
        if self.fd:
            self.fd = None
            self._pec = 0
            self.address = None

    def __enter__(self) -> SimBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pec(self) -> int:
        """SMBus Packet Error Checking: 0 (default) or 1."""
        return self._pec

    @pec.setter
    def pec(self, enable: bool | int) -> None:
        self.enable_pec(bool(enable))

    def enable_pec(self, enable: bool = True) -> None:
        if not self.funcs & FUNC_SMBUS_PEC:
            raise OSError("SMBUS_PEC is not a feature")
        self._check_open()
        self._pec = int(enable)

    # ------------------------------------------------------------------ transfers
    def _check_open(self) -> None:
        if self.fd is None:
            # What smbus2 does on a closed bus: fcntl.ioctl(None, …).
            raise TypeError("argument must be an int, or have a fileno() method.")

    def _target(self, address: int) -> SimDevice:
        self._check_open()
        if not 0 <= address <= 0x7F:
            raise _error(errno.EINVAL)  # the kernel refuses I2C_SLAVE beyond 7 bits
        self.address = address
        self.transfers += 1
        if address in self._timeout:
            raise _error(errno.ETIMEDOUT)
        dev = self._devices.get(address)
        rate = self._error_rate.get(address, 0.0)
        if dev is None or address in self._unplugged or (rate and self._rng.random() < rate):
            raise _error(errno.EREMOTEIO)
        return dev

    def _write(self, address: int, data: bytes) -> None:
        """One SMBus write (with its PEC byte when PEC is on)."""
        dev = self._target(address)
        if self._pec:
            data += bytes([crc8(bytes([address << 1]) + data)])
        dev.write(data)

    def _read(self, address: int, register: int | None, length: int,
              counted: bool = False) -> bytes:
        """One SMBus read: ``register`` written first (None: from the current pointer), then
        ``length`` bytes — or, ``counted``, the device's count byte and that many bytes. With
        PEC on, the byte after the data is checked as the CRC-8 of everything on the wire."""
        dev = self._target(address)
        head = b""
        if register is not None:
            head = bytes([address << 1, register & 0xFF])
            dev.write(bytes([register & 0xFF]))
        data = dev.read(1) if counted else b""
        if counted:
            length = data[0]
            if length > BLOCK_MAX:
                raise _error(errno.EPROTO)  # the kernel: "Invalid block size returned"
        data += dev.read(length) if length else b""
        if self._pec:
            wire = head + bytes([(address << 1) | 1]) + data
            if dev.read(1)[0] != crc8(wire):
                raise _error(errno.EBADMSG)
        return data[1:] if counted else data

    @staticmethod
    def _block(data: Sequence[int]) -> bytes:
        if len(data) > BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {BLOCK_MAX} bytes")
        return bytes(b & 0xFF for b in data)  # ctypes' c_uint8 keeps the low byte

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        """Address only: raises EREMOTEIO if nothing acknowledges (how ``i2cdetect`` probes)."""
        self._target(i2c_addr)

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        return self._read(i2c_addr, None, 1)[0]

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        self._write(i2c_addr, bytes([value & 0xFF]))

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self._read(i2c_addr, register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._write(i2c_addr, bytes([register & 0xFF, value & 0xFF]))

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return int.from_bytes(self._read(i2c_addr, register, 2), "little")

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._write(i2c_addr, bytes([register & 0xFF]) + (value & 0xFFFF).to_bytes(2, "little"))

    def process_call(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> int:
        """Write a word to ``register``, then (repeated start) read a word back."""
        dev = self._target(i2c_addr)
        dev.write(bytes([register & 0xFF]) + (value & 0xFFFF).to_bytes(2, "little"))
        return int.from_bytes(dev.read(2), "little")

    def read_block_data(
        self, i2c_addr: int, register: int, force: bool | None = None
    ) -> list[int]:
        return list(self._read(i2c_addr, register, 0, counted=True))

    def write_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        block = self._block(data)
        self._write(i2c_addr, bytes([register & 0xFF, len(block)]) + block)

    def block_process_call(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> list[int]:
        """Write a counted block to ``register``, then (repeated start) read a counted block."""
        block = self._block(data)
        dev = self._target(i2c_addr)
        dev.write(bytes([register & 0xFF, len(block)]) + block)
        count = dev.read(1)[0]
        if count > BLOCK_MAX:
            raise _error(errno.EPROTO)
        return list(dev.read(count)) if count else []

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > BLOCK_MAX:
            raise ValueError(f"Desired block length over {BLOCK_MAX} bytes")
        if length < 0:
            raise _error(errno.EINVAL)  # ctypes wraps it past 32: the kernel refuses
        return list(self._read(i2c_addr, register, length))

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        self._write(i2c_addr, bytes([register & 0xFF]) + self._block(data))

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None:
        """Combined transfer: each message in turn with repeated starts; a device that does not
        acknowledge ends the transfer there (later messages are not sent)."""
        self._check_open()
        for msg in i2c_msgs:
            if not isinstance(msg, i2c_msg):
                raise TypeError(f"i2c_rdwr takes smbus2.i2c_msg objects, got {type(msg).__name__}")
        if len(i2c_msgs) > RDWR_MAX_MESSAGES or any(m.len > RDWR_MAX_BYTES for m in i2c_msgs):
            raise _error(errno.EINVAL)
        for msg in i2c_msgs:
            dev = self._target(msg.addr)
            if msg.flags & I2C_M_RD:
                data = dev.read(msg.len)
                ctypes.memmove(msg.buf, data, msg.len)
            else:
                dev.write(bytes(msg))
