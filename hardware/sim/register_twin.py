"""What the register-map twins share: a register pointer moved by the bus, byte by byte.

On the wire, a write message's first byte sets the chip's register pointer and each further
byte writes one register; a read message returns one register per byte. After each byte the
chip moves its pointer its own way (auto-increment, a FIFO window that rolls back, a FIFO
register that does not advance). :class:`RegisterTwin` is that loop, written once; each twin
keeps its register map: what a write does to a register, what a read returns, how the pointer
moves, and what refreshes the outputs before a read.

:class:`ImuTwin` adds what both IMU twins have: the motion they feel and the fault hooks a
test or scenario sets (``freeze``, ``saturate``, ``stuck_fifo``, ``who_am_i``). Bus-level
faults (unplug, timeouts, intermittent errors) are :class:`~hardware.sim.bus.SimBus`'s.
"""

from __future__ import annotations

import random

from hardware.clock import Clock
from hardware.sim.motion import Motion


def clamp16(value: float) -> int:
    """``value`` rounded to a signed 16-bit output code, saturating at −32768…32767 as the
    chips' output registers do."""
    return max(-32768, min(32767, round(value)))


class RegisterTwin:
    """A chip's register map behind a register pointer, fed on ``clock`` time.

    Args:
        clock: the injected clock (twins generate their data on its time grid).
        seed: noise seed, for reproducible simulated sessions.
        size: bytes of register space (``0x80`` = registers 0x00–0x7F).

    Fault hook: :attr:`freeze` (the outputs stop changing while the chip keeps answering — a
    dead sensor that looks alive). Subclasses call :meth:`_reset` once their own state exists.
    """

    chip: str

    def __init__(self, clock: Clock, seed: int, size: int) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self.freeze = False
        self._regs = bytearray(size)
        self._pointer = 0

    def power_on_reset(self) -> None:
        """Supply lost and back (a supply dip, or the cable unplugged and replugged): every
        register back to its power-on value, configuration lost, until set up again."""
        self._reset()

    # ------------------------------------------------------------------ bus side
    def write(self, data: bytes) -> None:
        """A write message: ``data[0]`` sets the pointer, each further byte writes a register."""
        if not data:
            return
        self._pointer = self._select(data[0])
        for value in data[1:]:
            self._write_register(self._pointer, value)
            self._advance()

    def read(self, length: int) -> bytes:
        """A read message of ``length`` bytes from the pointer on (outputs refreshed first)."""
        self._before_read()
        out = bytearray()
        for _ in range(length):
            out.append(self._read_register(self._pointer))
            self._advance()
        return bytes(out)

    # ------------------------------------------------------------------ each chip's own
    def _reset(self) -> None:
        """Registers and state to their power-on values."""
        raise NotImplementedError

    def _select(self, register: int) -> int:
        """The pointer a write message's first byte sets (7-bit register addresses)."""
        return register & 0x7F

    def _advance(self) -> None:
        """Move the pointer after one byte (the chip's auto-increment rule)."""
        raise NotImplementedError

    def _before_read(self) -> None:
        """Bring the outputs up to the clock's time before a read message."""
        raise NotImplementedError

    def _write_register(self, reg: int, value: int) -> None:
        raise NotImplementedError

    def _read_register(self, reg: int) -> int:
        raise NotImplementedError


class ImuTwin(RegisterTwin):
    """An accelerometer + gyroscope twin fed by ``motion``.

    Args:
        clock: the injected clock (the sample grid is ``k / rate`` seconds).
        motion: what the sensor feels.
        seed: noise seed.
        chip_id: the WHO_AM_I value it reports.

    Fault hooks, beside :attr:`freeze`: :attr:`who_am_i` (a wrong identity), :attr:`saturate`
    (accelerometer X pinned at +full scale, as a proof mass stuck against its stop would be;
    the other axes stay live), :attr:`stuck_fifo` (the FIFO reports and returns the same data:
    nothing new ever arrives).
    """

    def __init__(self, clock: Clock, motion: Motion, seed: int, chip_id: int) -> None:
        super().__init__(clock, seed, 0x80)
        self.motion = motion
        self.who_am_i = chip_id
        self.saturate = False
        self.stuck_fifo = False
