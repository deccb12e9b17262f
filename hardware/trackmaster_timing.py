"""Line timing of the Trackmaster link: accepted baud rates, byte times, the smallest ack
timeout that fits a reply, and the stop latency budget.

Pure arithmetic on the protocol's byte counts, used by the link, by the configuration's checks
(``[treadmill] baud`` and ``ack_timeout_s``) and by the bench.
"""

from __future__ import annotations

from typing import Final

from hardware.trackmaster_protocol import (
    AUTO_STOP,
    BITS_PER_BYTE,
    GET_SET_SPEED,
    GET_SPEED,
    GET_STATUS,
    START_CDS,
    STOP,
    Command,
    set_speed,
)

POLLS: Final = (GET_STATUS, GET_SPEED, GET_SET_SPEED)
"""The link's polls: status, actual speed, set speed."""
BAUD_RATES: Final = (1200, 2400, 4800, 9600, 19200, 38400)
"""Line rates the link accepts (Trackmaster: 4800; some compatibles, e.g. GE T2100: 9600)."""
LONGEST_COMMAND_BYTES: Final = len(set_speed(0).wire)
"""``A3`` and its 4 digits: the longest command the link writes (5 bytes)."""
LONGEST_TRANSACTION_BYTES: Final = max(
    len(command.wire) + command.reply_length
    for command in (set_speed(0), Command(START_CDS), Command(STOP), Command(AUTO_STOP),
                    *(Command(op) for op in POLLS)))
"""Bytes on the wire for the longest command and its reply: 6 (``A3 dddd`` + ``B3``, or ``C1`` +
``D1 dddd``)."""
ACK_MARGIN_S: Final = 0.01
"""Slack of the smallest acceptable ack timeout beyond the bytes' own time: one 5 ms loop period
(the link sees a complete reply at its next step) plus 5 ms for the treadmill to turn a command
round — an allowance, not a measured figure of a real unit."""


def byte_time_s(baud: int) -> float:
    """Seconds one byte takes on the line: 10 bits (start, 8 data, stop) at ``baud``."""
    return BITS_PER_BYTE / baud


def min_ack_timeout_s(baud: int) -> float:
    """The smallest ``ack_timeout_s`` that fits a reply at ``baud``, s: the longest transaction
    (6 bytes) plus a stop's own 2 bytes queued behind it (a stop pre-empts the transaction in
    flight, and its ack comes after that transaction's reply), plus :data:`ACK_MARGIN_S`.
    Below it the link would time out on a healthy treadmill — a fault on every command (4800
    baud: 26.7 ms; 1200 baud: 76.7 ms)."""
    stop_bytes = len(Command(STOP).wire) + Command(STOP).reply_length
    return (LONGEST_TRANSACTION_BYTES + stop_bytes) * byte_time_s(baud) + ACK_MARGIN_S


def stop_latency_budget_s(period_s: float, baud: int) -> float:
    """The most a stop request may take to put the first byte that slows or stops the belt on
    the wire, s: one loop period (the request waits for the next ``step()``), one byte time,
    and one command's transmission (the longest, ``A3``, may still be leaving the UART). It
    does not depend on the treadmill's reply delay: the stop pre-empts the transaction in
    flight (4800 baud, 5 ms period: 17.5 ms)."""
    return period_s + (1 + LONGEST_COMMAND_BYTES) * byte_time_s(baud)
