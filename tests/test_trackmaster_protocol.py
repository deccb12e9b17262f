"""Framing and parsing of the Trackmaster protocol, apart from any transport (fuzzed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.trackmaster_protocol import (
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    STOP,
    BeltStatus,
    Command,
    ReplyError,
    ReplyParser,
    encode_digits,
    set_speed,
    speed_tenths,
)


def test_set_speed_bytes_match_the_manual() -> None:
    assert set_speed(15).wire == bytes([0xA3, 0x30, 0x30, 0x31, 0x35])  # 1.5 → "0015"
    assert set_speed(20, reverse=True).wire == bytes([0xA3, 0x33, 0x30, 0x32, 0x30])


@pytest.mark.parametrize(
    ("speed", "cap", "tenths"),
    [(1.0, 3.0, 10), (1.04, 3.0, 10), (1.06, 3.0, 11), (1.86, 1.864, 18), (1.864, 1.864, 18),
     (0.0, 3.0, 0)],
)
def test_speed_rounds_to_tenths_but_never_above_the_cap(speed: float, cap: float,
                                                         tenths: int) -> None:
    assert speed_tenths(speed, cap) == tenths


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, 3.5])
def test_bad_speeds_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        speed_tenths(bad, 3.0)


def test_replies_parse_only_when_exact() -> None:
    assert ReplyParser(Command(STOP)).feed(b"\xb2") is not None
    status = ReplyParser(Command(GET_STATUS)).feed(b"\xd0\x32")
    assert status is not None and status.status() is BeltStatus.RUNNING_CDS
    parser = ReplyParser(Command(GET_SPEED))
    assert parser.feed(b"\xd1\x30\x30") is None  # partial: needs more bytes
    reply = parser.feed(b"\x31\x35")
    assert reply is not None and reply.tenths() == (15, False)


@pytest.mark.parametrize(
    ("command", "data", "match"),
    [
        (Command(STOP), b"\xbe", "BE"),
        (Command(STOP), b"\xbf", "BF"),
        (Command(STOP), b"\xbd", "BD"),
        (Command(STOP), b"\xb3", "expected ack B2"),
        (set_speed(10), b"\xb3\x00", "unexpected bytes"),
        (Command(GET_STATUS), b"\xd0\x35", "unknown belt status"),
        (Command(GET_SPEED), b"\xd1\x30\x3a\x30\x30", "non-digit"),
        (Command(GET_SPEED), b"\xd1\x35\x30\x30\x30", "leading digit"),
    ],
)
def test_wrong_replies_are_errors(command: Command, data: bytes, match: str) -> None:
    with pytest.raises(ReplyError, match=match):
        ReplyParser(command).feed(data)


COMMANDS = [Command(STOP), Command(0xA0), set_speed(12), Command(GET_STATUS), Command(GET_SPEED)]


@given(st.sampled_from(COMMANDS), st.lists(st.binary(min_size=0, max_size=8), max_size=6))
def test_fuzz_no_byte_sequence_crashes_or_fakes_an_ack(command: Command,
                                                        chunks: list[bytes]) -> None:
    parser = ReplyParser(command)
    received = b""
    for chunk in chunks:
        try:
            reply = parser.feed(chunk)
        except ReplyError:
            return
        received += chunk
        if reply is not None:
            # Accepted only if it is exactly the expected ack + well-formed data.
            assert received[0] == command.opcode + 0x10
            assert len(received) == command.reply_length
            return


def test_encode_digits_bounds() -> None:
    assert encode_digits(0) == b"0000"
    with pytest.raises(ValueError):
        encode_digits(1000)
    assert SET_SPEED == 0xA3
