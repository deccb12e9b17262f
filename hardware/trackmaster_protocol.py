"""Trackmaster treadmill serial protocol: framing and parsing, apart from any transport.

Facts (Full Vision TMX425/428/58 service manuals; Medisoft 870 and Woodway use the same layout):
one opcode byte, optionally followed by fixed-length ASCII digits; no framing, checksum or
terminator; the treadmill only ever answers. Acknowledgement = command + 0x10 (``A0``→``B0``),
followed by data for status requests (``C0``→``D0`` + 1 byte, ``C1``→``D1`` + 4 digits).
``BE`` = data out of range, ``BF`` = unknown command, ``BD`` = host timeout (Woodway).

Because there is no framing, a reply can only be recognised against the command it answers:
:class:`ReplyParser` is built for one expected reply and accepts exactly that byte sequence.
Anything else — a wrong opcode, a non-digit, a NAK, a stray byte — is a :class:`ReplyError`,
never a valid acknowledgement. The parser is pure (no I/O, no time) and fuzzed by the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final

START_CDS: Final = 0xA0
START_NO_CDS: Final = 0xA1  # never sent: it disables the treadmill's communication watchdog
STOP: Final = 0xA2
SET_SPEED: Final = 0xA3
SET_ELEVATION: Final = 0xA4
AUTO_STOP: Final = 0xAA
TOGGLE_ACK_ECHO: Final = 0xAC
GET_STATUS: Final = 0xC0
GET_SPEED: Final = 0xC1
GET_ELEVATION: Final = 0xC2
GET_SET_SPEED: Final = 0xC3  # the set speed the treadmill holds: reads 0 after a power cycle

ACK_OFFSET: Final = 0x10
NAK_MASTER_TIMEOUT: Final = 0xBD
NAK_OUT_OF_RANGE: Final = 0xBE
NAK_UNKNOWN: Final = 0xBF
NAKS: Final = {
    NAK_MASTER_TIMEOUT: "BD (host timeout)",
    NAK_OUT_OF_RANGE: "BE (data out of range)",
    NAK_UNKNOWN: "BF (unknown command)",
}

# Seconds per byte on the wire: 10 bits (start, 8 data, stop) per byte.
BITS_PER_BYTE: Final = 10


class BeltStatus(Enum):
    """Belt status byte of the ``D0`` reply."""

    STOPPED = 0x31
    RUNNING_CDS = 0x32
    RUNNING_NO_CDS = 0x33


# Data length that follows each reply opcode (acks without the AC echo carry no data).
REPLY_DATA_LEN: Final = {GET_STATUS: 1, GET_SPEED: 4, GET_ELEVATION: 4, GET_SET_SPEED: 4}
# Replies whose 4 data bytes are speed digits (leading '0' forward, '3' reverse).
DIGIT_REPLIES: Final = (GET_SPEED, GET_ELEVATION, GET_SET_SPEED)


class ReplyError(Exception):
    """The treadmill's reply is not the acknowledgement the command expected."""


@dataclass(frozen=True)
class Command:
    """One host → treadmill command: its bytes, and the reply it must get."""

    opcode: int
    data: bytes = b""

    @property
    def wire(self) -> bytes:
        return bytes([self.opcode]) + self.data

    @property
    def reply_length(self) -> int:
        return 1 + REPLY_DATA_LEN.get(self.opcode, 0)

    def __str__(self) -> str:
        return self.wire.hex(" ").upper() if not self.data else (
            f"{self.opcode:02X} {self.data.decode('ascii', 'replace')}")


def speed_tenths(speed: float, unit_cap: float) -> int:
    """Tenths of the treadmill's unit for ``speed`` (in that unit), never above ``unit_cap``.

    Rounds to the nearest 0.1 but never up past the cap: a cap of 1.86 mph (3 km/h) yields at
    most 18 tenths, so the belt cannot exceed the configured limit through rounding.

    Raises:
        ValueError: ``speed`` not finite, negative, or above ``unit_cap`` (more than rounding).
    """
    if not math.isfinite(speed) or speed < 0.0:
        raise ValueError(f"speed must be a finite number ≥ 0, got {speed!r}")
    if speed > unit_cap + 1e-9:
        raise ValueError(f"speed {speed:.3f} is above the cap {unit_cap:.3f}")
    tenths = round(speed * 10.0)
    cap_tenths = math.floor(unit_cap * 10.0 + 1e-9)
    return min(tenths, cap_tenths)


def encode_digits(tenths: int, reverse: bool = False) -> bytes:
    """Four ASCII digits; a leading ``'3'`` marks reverse (Woodway-style, opt-in only)."""
    if not 0 <= tenths <= 999:
        raise ValueError(f"value {tenths} does not fit 3 digits of tenths")
    return f"{3 if reverse else 0}{tenths:03d}".encode("ascii")


def set_speed(tenths: int, reverse: bool = False) -> Command:
    return Command(SET_SPEED, encode_digits(tenths, reverse))


def decode_digits(data: bytes) -> tuple[int, bool]:
    """Decode 4 ASCII digits into (tenths, reverse). Raises :class:`ReplyError`."""
    if len(data) != 4 or not all(0x30 <= b <= 0x39 for b in data):
        raise ReplyError(f"expected 4 ASCII digits, got {data.hex(' ')}")
    lead = data[0] - 0x30
    if lead not in (0, 3):
        raise ReplyError(f"unexpected leading digit {lead} in {data.decode('ascii')}")
    return int(data[1:].decode("ascii")), lead == 3


@dataclass(frozen=True)
class Reply:
    """A complete, valid acknowledgement of ``command`` with its data bytes."""

    command: Command
    data: bytes

    def status(self) -> BeltStatus:
        return BeltStatus(self.data[0])

    def tenths(self) -> tuple[int, bool]:
        return decode_digits(self.data)


class ReplyParser:
    """Accepts exactly the reply ``command`` expects, byte by byte.

    :meth:`feed` returns a :class:`Reply` once complete, ``None`` while more bytes are needed,
    and raises :class:`ReplyError` as soon as a byte cannot belong to a valid reply.
    """

    def __init__(self, command: Command) -> None:
        self.command = command
        self._expected_ack = command.opcode + ACK_OFFSET
        self._buf = bytearray()

    def feed(self, data: bytes) -> Reply | None:
        for i, byte in enumerate(data):
            self._buf.append(byte)
            if len(self._buf) == 1:
                if byte in NAKS:
                    raise ReplyError(f"{self.command}: treadmill answered {NAKS[byte]}")
                if byte != self._expected_ack:
                    raise ReplyError(
                        f"{self.command}: expected ack {self._expected_ack:02X}, got {byte:02X}"
                    )
            elif self.command.opcode == GET_STATUS:
                try:
                    BeltStatus(byte)
                except ValueError:
                    raise ReplyError(f"{self.command}: unknown belt status {byte:02X}") from None
            elif not 0x30 <= byte <= 0x39:
                raise ReplyError(f"{self.command}: non-digit {byte:02X} in reply data")
            if len(self._buf) == self.command.reply_length:
                if i + 1 < len(data):
                    # The treadmill never speaks unprompted: extra bytes mean the link is out of
                    # step (echo mode switched on, noise, a reply to someone else's command).
                    raise ReplyError(
                        f"{self.command}: unexpected bytes after the reply: {data[i + 1:].hex(' ')}"
                    )
                reply = Reply(self.command, bytes(self._buf[1:]))
                if self.command.opcode in DIGIT_REPLIES:
                    reply.tenths()  # validates the leading digit
                return reply
        return None

    @property
    def received(self) -> bytes:
        return bytes(self._buf)
