"""Framing and parsing of the Trackmaster protocol, apart from any transport (fuzzed)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hardware.clock import SimClock
from hardware.trackmaster import TrackmasterLink
from hardware.trackmaster_protocol import (
    AUTO_STOP,
    GET_SET_SPEED,
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    START_CDS,
    START_NO_CDS,
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


def test_set_speed_read_back_parses_like_actual_speed() -> None:
    reply = ReplyParser(Command(GET_SET_SPEED)).feed(b"\xd3\x30\x30\x31\x35")
    assert reply is not None and reply.tenths() == (15, False)
    with pytest.raises(ReplyError):
        ReplyParser(Command(GET_SET_SPEED)).feed(b"\xd3\x30\x30\x31\x3f")


# ---------------------------------------------------------------------- the driver, fuzzed


class FakeTreadmillPort:
    """A pyserial stand-in that answers every command as a well-behaved treadmill would (the
    belt follows the set speed at once), except the reply to write number ``garbage_at``,
    which is replaced by ``garbage``."""

    def __init__(self, garbage_at: int, garbage: bytes) -> None:
        self.garbage_at = garbage_at
        self.garbage = garbage
        self.writes: list[bytes] = []
        self.expected: bytes | None = None
        self._out = bytearray()
        self._running = False
        self._set = 0

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self._out[:size])
        del self._out[:size]
        return data

    def write(self, data: bytes, /) -> int:
        op = data[0]
        if op == START_CDS:
            self._running = True
        elif op in (STOP, AUTO_STOP):
            self._running, self._set = False, 0
        elif op == SET_SPEED:
            self._set = int(data[2:])
        extra = {GET_STATUS: bytes([0x32 if self._running else 0x31]),
                 GET_SPEED: f"0{self._set:03d}".encode(),
                 GET_SET_SPEED: f"0{self._set:03d}".encode()}.get(op, b"")
        reply = bytes([op + 0x10]) + extra
        if len(self.writes) == self.garbage_at:
            self.expected = reply
            reply = self.garbage
        self.writes.append(bytes(data))
        self._out += reply
        return len(data)

    def close(self) -> None:
        pass


def _well_formed(command: bytes, reply: bytes) -> bool:
    """Would the parser accept ``reply`` as the complete answer to ``command``?"""
    opcode, data = command[0], command[1:]
    try:
        return ReplyParser(Command(opcode, data)).feed(reply) is not None
    except ReplyError:
        return False


@settings(max_examples=150, deadline=None)
@given(garbage_at=st.integers(min_value=0, max_value=40),
       garbage=st.binary(min_size=0, max_size=8))
def test_fuzz_driver_any_bad_reply_faults_and_stops(garbage_at: int, garbage: bytes) -> None:
    """Whatever bytes replace one reply, the driver does not crash, never takes them for a valid
    ack unless they are one, and ends faulted with the stop command as its next write."""
    clock = SimClock()
    port = FakeTreadmillPort(garbage_at, garbage)
    link = TrackmasterLink(port, clock, "kmh", max_speed_kmh=3.0)
    for tick in range(400):  # 2 s at 5 ms
        clock.advance_s(0.005)
        if tick == 10 and link.fault is None:
            link.start()
        if link.running_requested:
            link.set_speed_kmh(1.5)
        link.step()
    assume(len(port.writes) > garbage_at + 1)
    command = port.writes[garbage_at]
    if _well_formed(command, garbage):
        return  # a well-formed answer (perhaps with other digits): judged by the read-back
    assert link.fault is not None
    assert port.writes[garbage_at + 1] in (bytes([STOP]), bytes([AUTO_STOP]))
    for later in port.writes[garbage_at + 1:]:
        assert later[0] not in (START_CDS, START_NO_CDS)
    ups = [int(w[2:]) for w in port.writes[garbage_at + 1:] if w[0] == SET_SPEED]
    assert ups == sorted(ups, reverse=True)  # never a speed increase after the fault


ACTIONS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=200),
              st.sampled_from(["start", "stop", "controlled_stop", "speed", "reset"]),
              st.floats(min_value=0.0, max_value=3.0)),
    max_size=12)


@settings(max_examples=150, deadline=None)
@given(actions=ACTIONS)
def test_fuzz_driver_api_sequences_always_end_stopped(
        actions: list[tuple[int, str, float]]) -> None:
    """Any sequence of start / stop / controlled stop / speed / reset calls at any ticks: the
    treadmill never sees A1, never a speed above the cap, and a final stop always stops it."""
    clock = SimClock()
    port = FakeTreadmillPort(garbage_at=10**9, garbage=b"")
    link = TrackmasterLink(port, clock, "kmh", max_speed_kmh=3.0)
    schedule = sorted(actions)
    for tick in range(260):
        clock.advance_s(0.005)
        for _, action, value in [a for a in schedule if a[0] == tick]:
            if action == "start" and link.fault is None:
                link.start()
            elif action == "stop":
                link.stop()
            elif action == "controlled_stop":
                link.stop(decel_mps2=0.5 + value / 3)
            elif action == "speed":
                link.set_speed_kmh(value)
            else:
                link.reset()
        link.step()
    link.stop()
    for _ in range(300):  # 1.5 s: any controlled stop is over, the stop acknowledged
        clock.advance_s(0.005)
        link.step()
    assert link.fault is None
    assert not port._running and port._set == 0
    assert link.belt_stopped
    for write in port.writes:
        assert write[0] != START_NO_CDS
        if write[0] == SET_SPEED:
            assert int(write[2:]) <= 30
