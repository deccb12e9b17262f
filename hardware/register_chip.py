"""What every register-mapped I²C chip driver does the same way during ``setup()``.

The LSM6DSOX, the MPU-6050 and the MPR121 each identify themselves, reset, write their
configuration and read every written register back; the ADS1115 identifies itself and reads
its configuration back. :class:`RegisterChip` holds the bus, address and injected clock these
need and does those steps once, so each chip's file keeps only its own register map and
choices (which registers, which values, in which order).

Why the read-back: a chip that did not take a setting (a clone, a marginal bus, a chip that
reset itself) would otherwise run with ranges or rates the controller does not expect — a
wrong full scale would hide saturation. Any mismatch raises the chip's setup error, and the
controller refuses to arm. Bus failures propagate as ``OSError`` (counted against the I²C
error budget by the loop).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import ClassVar, NoReturn

from hardware.clock import Clock
from hardware.i2c import I2CBus


class RegisterChip:
    """A chip at ``address`` on ``bus`` with 8-bit registers.

    Subclasses set :attr:`chip` (the name in messages, e.g. ``"LSM6DSOX"``) and :attr:`error`
    (the exception their ``setup()`` raises on a wrong or unconfigurable chip).

    Args:
        bus: smbus2-compatible bus (see :mod:`hardware.i2c`).
        address: the chip's 7-bit I²C address.
        clock: the injected clock (reset waits sleep on it, so simulated setups take no
            real time; drivers stamp their readings with it).
    """

    chip: str
    error: ClassVar[type[Exception]]

    def __init__(self, bus: I2CBus, address: int, clock: Clock) -> None:
        self._bus = bus
        self.address = address
        self._clock = clock

    def _fail(self, what: str) -> NoReturn:
        """Raise the chip's setup error: ``"<chip> at <address>: <what>"``."""
        raise self.error(f"{self.chip} at {self.address:#04x}: {what}")

    def _check_who_am_i(self, register: int, allowed: Collection[int], expected: str) -> int:
        """Read the identity register; returns it if in ``allowed``, else fails naming what it
        reads and ``expected`` (e.g. ``"0x6c"``). One 1-byte read."""
        ident = self._bus.read_byte_data(self.address, register)
        if ident not in allowed:
            self._fail(f"WHO_AM_I reads {ident:#04x}, expected {expected}")
        return ident

    def _reset(self, register: int, value: int, busy_bit: int, polls: int, wait_s: float,
               what: str) -> None:
        """Write ``value`` to ``register`` (a self-clearing reset bit), wait ``wait_s`` seconds
        on the injected clock (0 = no wait), then read ``register`` up to ``polls`` times until
        ``busy_bit`` reads clear; fails with ``"<what> did not complete"`` if it never does
        (a chip that never leaves reset must not be configured as if it had)."""
        self._bus.write_byte_data(self.address, register, value)
        if wait_s > 0:
            self._clock.sleep_until(self._clock.now_s() + wait_s)
        for _ in range(polls):
            if not self._bus.read_byte_data(self.address, register) & busy_bit:
                return
        self._fail(f"{what} did not complete")

    def _write_registers(self, wanted: Mapping[int, int]) -> None:
        """Write each ``register: value`` in order, one byte each."""
        for reg, value in wanted.items():
            self._bus.write_byte_data(self.address, reg, value)

    def _verify_registers(self, wanted: Mapping[int, int]) -> None:
        """Read each register back in order; fails at the first that does not hold its value."""
        for reg, value in wanted.items():
            got = self._bus.read_byte_data(self.address, reg)
            if got != value:
                self._fail(f"register {reg:#04x} reads {got:#04x} after writing {value:#04x}")
