"""Which command the Trackmaster link sends next: the stop first, then the start, a speed change,
or a poll on its fixed grid.

Separate from the link's replies and faults so that the order of what goes on the wire — the
part the stop latency budget depends on — reads in one place:

1. a pending stop, always first;
2. an *urgent* lowered ``A3``: the first of a newly asked controlled stop, or the first after
   the speed was held or rising (a caution's slow-down) — it may even pre-empt the transaction
   in flight (see :mod:`hardware.trackmaster_transactions`);
3. a pending start (``A0``);
4. a speed change the profile wants, unless a poll is due right after a speed command (so a
   long ramp never starves the read-back);
5. the next poll when due: ``C1`` every other poll, ``C0`` and ``C3`` between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from hardware.trackmaster_protocol import (
    AUTO_STOP,
    GET_SET_SPEED,
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    START_CDS,
    STOP,
    Command,
    set_speed,
)

POLL_CYCLE: Final = (GET_SPEED, GET_STATUS, GET_SPEED, GET_STATUS, GET_SPEED, GET_SET_SPEED)
"""Poll order: actual speed every other poll (10 Hz at 50 ms), status and set speed between."""

DesiredTenths = Callable[[], int]
"""The speed digits the profile allows now (tenths of the treadmill's unit)."""


class CommandPicker:
    """What is pending and what went out last.

    Args:
        stop_command: ``A2`` or ``AA`` (``[treadmill] stop_mode``).
        poll_interval_s: time between polls, s.

    Attributes:
        stop_pending: a stop must go out before anything else.
        start_pending: the ``A0`` of a start is waiting for the line.
        slow_now: a controlled stop was just asked for: its first lowered ``A3`` must not wait.
        sent_tenths: the speed digits last sent (0 after a stop).
        reverse: the direction flag of the speed digits.
    """

    def __init__(self, stop_command: Command, poll_interval_s: float) -> None:
        self.stop_command = stop_command
        self.poll_interval_s = poll_interval_s
        self.stop_pending = True  # at power-on we are stopped: say so to the treadmill first
        self.start_pending = False
        self.slow_now = False
        self.sent_tenths = 0
        self.reverse = False
        self._slowing = False  # the last speed-changing command lowered the speed or stopped
        self._last_was_speed = False
        self._next_poll_s = 0.0
        self._poll_index = 0

    def urgent(self, speeds_allowed: bool, stopping: bool,
               desired: DesiredTenths) -> Command | None:
        """A command that must not wait behind anything but a stop (items 1 and 2 above).
        ``speeds_allowed``: speed commands may go out now; ``stopping``: a controlled stop is
        under way (its ramp ends in the stop command)."""
        if self.stop_pending:
            self.stop_pending = False
            self._last_was_speed = False
            return self.stop_command
        if not (self.slow_now or not self._slowing) or not speeds_allowed:
            return None
        tenths = desired()
        return self._speed_command(tenths, stopping) if tenths < self.sent_tenths else None

    def next(self, now_s: float, speeds_allowed: bool, stopping: bool,
             desired: DesiredTenths) -> Command | None:
        """The next command when the line is free, or None (nothing due)."""
        urgent = self.urgent(speeds_allowed, stopping, desired)
        if urgent is not None:
            return urgent
        if self.start_pending:
            self.start_pending = False
            self._last_was_speed = False
            return Command(START_CDS)
        poll_due = now_s >= self._next_poll_s
        if speeds_allowed and not (poll_due and self._last_was_speed):
            tenths = desired()
            if tenths != self.sent_tenths:
                return self._speed_command(tenths, stopping)
        if poll_due:
            # A fixed grid keeps the average poll rate even when speed commands cut in; after a
            # long gap (a fault, a power cycle) it restarts from now rather than bursting.
            self._next_poll_s = max(self._next_poll_s + self.poll_interval_s,
                                    now_s + self.poll_interval_s / 2)
            opcode = POLL_CYCLE[self._poll_index % len(POLL_CYCLE)]
            self._poll_index += 1
            self._last_was_speed = False
            return Command(opcode)
        return None

    def _speed_command(self, tenths: int, stopping: bool) -> Command:
        """The ``A3`` for ``tenths`` — or, when a controlled stop's ramp has reached zero, the
        stop command that finishes it."""
        if stopping and tenths == 0:
            self._last_was_speed = False
            return self.stop_command
        self._last_was_speed = True
        return set_speed(tenths, self.reverse)

    def sent(self, command: Command) -> bool:
        """``command`` was written; returns whether it lowers the speed or stops the belt."""
        slowing = False
        if command.opcode in (STOP, AUTO_STOP):
            slowing = True
            self.sent_tenths = 0
        elif command.opcode == SET_SPEED:
            tenths = int(command.data[1:])
            slowing = tenths < self.sent_tenths
            self.sent_tenths = tenths
        if command.opcode in (STOP, AUTO_STOP, SET_SPEED, START_CDS):
            self._slowing = slowing
        if slowing:
            self.slow_now = False
        return slowing
