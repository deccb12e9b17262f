"""The link's outstanding transactions: the command in flight, and those a stop pre-empted.

A stop never waits for a slow treadmill's reply: the transaction in flight is *abandoned*, not
forgotten. The treadmill answers in order, so the abandoned commands' replies come first, each
exactly as long as its command expects; only the bytes after them belong to the command in
flight. Every reply is still checked (the exact bytes its command expects, within
``ack_timeout_s`` of that command), so a late ``D1``/``D0`` can never be taken for a stop's
``B2``, and a valid late reply is no fault.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from hardware.trackmaster_protocol import AUTO_STOP, STOP, Command, Reply, ReplyError, ReplyParser

MAX_ABANDONED: Final = 3
"""Abandoned transactions awaiting their replies, at most: a poll (or a held/raising ``A3``, or
``A0``) pre-empted by a slow-down's ``A3``, that ``A3`` by a controlled stop's first ``A3``,
that one by the stop command; a stop is never pre-empted."""

OnReply = Callable[[Reply, float, bool], None]
"""Called with (reply, when its command was sent, whether it was abandoned)."""
OnProblem = Callable[[str], None]
"""Called with the one-line reason of a bad or missing reply (everything is dropped first)."""


class SerialPort(Protocol):
    """The pyserial subset the link uses (``serial.Serial`` opened with ``timeout=0``)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Transaction:
    """One completed command/acknowledgement pair (for the bench command and the benchmark).

    Attributes:
        opcode: the command byte.
        sent_s: when its bytes were written (clock time, s).
        round_trip_s: from the write to the step that saw the complete reply, s. Includes up to
            one loop period of polling granularity.
    """

    opcode: int
    sent_s: float
    round_trip_s: float


class Transactions:
    """The command in flight and the abandoned ones, oldest first.

    Args:
        ack_timeout_s: how long each command may wait for its reply, s.
    """

    def __init__(self, ack_timeout_s: float) -> None:
        self.ack_timeout_s = ack_timeout_s
        self.in_flight: ReplyParser | None = None
        self.sent_at_s = 0.0
        """When the command in flight was written (clock time, s)."""
        self.in_flight_slowing = False
        """The command in flight lowers the speed or stops the belt."""
        self._abandoned: deque[tuple[ReplyParser, float]] = deque()

    @property
    def stop_in_flight(self) -> bool:
        return self.in_flight is not None and self.in_flight.command.opcode in (STOP, AUTO_STOP)

    @property
    def may_abandon(self) -> bool:
        """A command is in flight that may be abandoned: never a stop, and never more than
        :data:`MAX_ABANDONED` at once."""
        return (self.in_flight is not None and not self.stop_in_flight
                and len(self._abandoned) < MAX_ABANDONED)

    def begin(self, command: Command, now_s: float, slowing: bool) -> None:
        """``command`` was written at ``now_s``; it is in flight now."""
        self.in_flight = ReplyParser(command)
        self.sent_at_s = now_s
        self.in_flight_slowing = slowing

    def abandon(self) -> None:
        """The command in flight is pre-empted: its reply, still expected, comes first."""
        assert self.in_flight is not None
        self._abandoned.append((self.in_flight, self.sent_at_s))
        self.in_flight = None

    def drop(self) -> None:
        """Forget everything outstanding (after a fault or a reset)."""
        self.in_flight = None
        self._abandoned.clear()

    def feed(self, data: bytes, now_s: float, on_reply: OnReply, on_problem: OnProblem) -> None:
        """Hand the bytes read at ``now_s`` to the outstanding transactions, oldest first; each
        completed reply goes to ``on_reply`` at once, in order. A bad reply, or none within
        ``ack_timeout_s`` of its command, drops everything and goes to ``on_problem``."""
        current = self.in_flight
        assert current is not None
        while self._abandoned:
            parser, sent_s = self._abandoned[0]
            need = parser.command.reply_length - len(parser.received)
            chunk, data = data[:need], data[need:]
            reply = self._parse(parser, sent_s, chunk, now_s, on_problem)
            if reply is None:
                return  # still waiting for it (data is used up), or a link problem
            self._abandoned.popleft()
            on_reply(reply, sent_s, True)
        reply = self._parse(current, self.sent_at_s, data, now_s, on_problem)
        if reply is not None:
            self.in_flight = None
            on_reply(reply, self.sent_at_s, False)

    def _parse(self, parser: ReplyParser, sent_s: float, data: bytes, now_s: float,
               on_problem: OnProblem) -> Reply | None:
        try:
            reply = parser.feed(data) if data else None
        except ReplyError as exc:
            self.drop()
            on_problem(f"bad reply: {exc}")
            return None
        if reply is None and now_s - sent_s > self.ack_timeout_s:
            self.drop()
            on_problem(f"no acknowledgement of {parser.command} within {self.ack_timeout_s:g} s")
        return reply
