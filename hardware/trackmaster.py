"""Driver for a Trackmaster-protocol treadmill: a non-blocking link state machine.

The control loop calls :meth:`TrackmasterLink.step` every tick; the link never blocks (a
transaction takes ~12.5 ms at 4800 baud, more than two 5 ms ticks). At most one transaction is
in flight; a stop request goes out as soon as the line is free — ahead of any queued speed
change or poll — so at most one in-flight transaction delays it.

Safety behaviour:
- the belt is only ever started with ``A0`` (the treadmill's 0.5 s communication watchdog
  armed); ``A1`` is never sent;
- the treadmill is polled (``C0`` status and ``C1`` actual speed, alternately) every
  ``poll_interval_s``, always, so the treadmill's own watchdog stops the belt if we die and we
  see a belt that moves when it should not;
- every command waits for its acknowledgement for at most ``ack_timeout_s``; a NAK, a wrong or
  missing ack, an unparsable reply or a port error is a latched link fault: the driver sends a
  stop and reports :attr:`TrackmasterLink.fault`; it never retries a speed increase;
- speeds are validated and rounded to 0.1 of the treadmill's unit, never up past the cap;
- read-back: a belt faster than commanded (runaway), a belt moving while we believe it stopped,
  or a belt found stopped while we believe it runs (power cycle, e-stop, watchdog) is a fault.

The opening of the serial port is not done here: the composition root hands in an open port.
"""

from __future__ import annotations

from typing import Final, Protocol

from controller.clock import Clock
from hardware.trackmaster_protocol import (
    AUTO_STOP,
    GET_SPEED,
    GET_STATUS,
    KMH_PER_MPH,
    START_CDS,
    STOP,
    BeltStatus,
    Command,
    Reply,
    ReplyError,
    ReplyParser,
    set_speed,
    speed_tenths,
)

RUNAWAY_TOLERANCE_KMH: Final = 0.5
RUNAWAY_AFTER_S: Final = 0.3


class SerialPort(Protocol):
    """The pyserial subset the link uses (``serial.Serial`` opened with ``timeout=0``)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


class TrackmasterLink:
    """The treadmill as the controller sees it.

    Args:
        port: an open pyserial port (non-blocking reads: ``timeout=0``).
        clock: the injected clock (ack timeouts and poll intervals run on it).
        units: ``"mph"`` or ``"kmh"``: the treadmill's speed unit. No default on purpose.
        max_speed_kmh: the cap; any request above it is refused with ``ValueError``.
        stop_mode: ``"A2"`` (stop belt) or ``"AA"`` (auto stop: to minimum, then stop).
        poll_interval_s: poll period (default 0.05 s; must stay well under 0.5 s).
        ack_timeout_s: acknowledgement timeout per command (default 0.1 s).
    """

    def __init__(
        self,
        port: SerialPort,
        clock: Clock,
        units: str,
        max_speed_kmh: float,
        stop_mode: str = "A2",
        poll_interval_s: float = 0.05,
        ack_timeout_s: float = 0.1,
    ) -> None:
        if units not in ("mph", "kmh"):
            raise ValueError(f"units must be 'mph' or 'kmh', got {units!r}")
        if stop_mode not in ("A2", "AA"):
            raise ValueError(f"stop_mode must be 'A2' or 'AA', got {stop_mode!r}")
        self._port = port
        self._clock = clock
        self.units = units
        self.max_speed_kmh = max_speed_kmh
        self._unit_per_kmh = 1.0 / KMH_PER_MPH if units == "mph" else 1.0
        self._stop_command = Command(STOP if stop_mode == "A2" else AUTO_STOP)
        self.poll_interval_s = poll_interval_s
        self.ack_timeout_s = ack_timeout_s

        self.fault: str | None = None
        self.belt_status: BeltStatus | None = None
        self.actual_speed_kmh: float | None = None
        self.commanded_kmh = 0.0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.transactions = 0

        self._want_running = False
        self._stop_pending = True  # at power-on we are stopped: say so to the treadmill first
        self._start_pending = False
        self._speed_pending: int | None = None
        self._sent_tenths = 0
        self._in_flight: ReplyParser | None = None
        self._sent_at_s = 0.0
        self._next_poll_s = 0.0
        self._poll_speed_next = False
        self._runaway_since_s: float | None = None
        self.last_round_trip_s: float | None = None
        self._stop_acked_s: float | None = None
        self._start_acked_s: float | None = None
        self._status_at_s = -1.0
        self._speed_at_s = -1.0

    # ------------------------------------------------------------------ requests
    @property
    def running_requested(self) -> bool:
        return self._want_running

    def start(self) -> None:
        """Start the belt at speed 0 (``A0``). Refused after a fault."""
        if self.fault is not None:
            raise RuntimeError(f"treadmill link is faulted ({self.fault}); reset first")
        self._want_running = True
        self._stop_pending = False
        self._start_pending = True
        self._start_acked_s = None

    def set_speed_kmh(self, speed_kmh: float) -> None:
        """Command a belt speed, km/h.

        Raises:
            ValueError: not finite, negative, or above the cap (the request is refused whole).
        """
        per_kmh = self._unit_per_kmh
        tenths = speed_tenths(speed_kmh * per_kmh, self.max_speed_kmh * per_kmh)
        if not self._want_running or self.fault is not None:
            return  # a stopped belt is not sped up by a late speed request
        self.commanded_kmh = tenths / 10.0 / self._unit_per_kmh
        if tenths != self._sent_tenths:
            self._speed_pending = tenths

    def stop(self) -> None:
        """Stop the belt. Takes priority over everything queued; idempotent."""
        self._want_running = False
        self._start_pending = False
        self._speed_pending = None
        self.commanded_kmh = 0.0
        self._stop_pending = True

    @property
    def belt_stopped(self) -> bool:
        """True only if, since the last acknowledged stop, the treadmill reported status
        "stopped" and an actual speed of zero, and the link has no fault."""
        acked = self._stop_acked_s
        return (
            self.fault is None
            and not self._want_running
            and acked is not None
            and self._status_at_s > acked
            and self._speed_at_s > acked
            and self.belt_status is BeltStatus.STOPPED
            and self.actual_speed_kmh == 0.0
        )

    def reset(self) -> None:
        """Clear a fault after a human reset: forget what we knew and start with a stop command
        (which also clears a treadmill's power-up start lockout). Never starts the belt."""
        self.fault = None
        self._in_flight = None
        self.belt_status = None
        self.actual_speed_kmh = None
        self._stop_acked_s = None
        self._runaway_since_s = None
        self.stop()

    def _fail(self, reason: str) -> None:
        if self.fault is None:
            self.fault = reason
        self.stop()

    # ------------------------------------------------------------------ the state machine
    def step(self) -> None:
        """Advance the link: collect a reply, check timeouts, send the next command."""
        now = self._clock.now_s()
        if self._in_flight is not None:
            self._collect(now)
        if self._in_flight is None:
            command = self._next_command(now)
            if command is not None:
                self._send(command, now)

    def _collect(self, now: float) -> None:
        assert self._in_flight is not None
        try:
            waiting = self._port.in_waiting
            data = self._port.read(waiting) if waiting else b""
        except Exception as exc:  # pyserial raises SerialException (an OSError subclass) or OSError
            self._in_flight = None
            self._fail(f"serial port error: {exc}")
            return
        self.bytes_received += len(data)
        try:
            reply = self._in_flight.feed(data) if data else None
        except ReplyError as exc:
            self._in_flight = None
            self._fail(f"bad reply: {exc}")
            return
        if reply is not None:
            self._in_flight = None
            self.last_round_trip_s = now - self._sent_at_s
            self._handle(reply, now)
        elif now - self._sent_at_s > self.ack_timeout_s:
            command = self._in_flight.command
            self._in_flight = None
            self._fail(f"no acknowledgement of {command} within {self.ack_timeout_s:g} s")

    def _next_command(self, now: float) -> Command | None:
        if self._stop_pending:
            self._stop_pending = False
            return self._stop_command
        if self._start_pending:
            self._start_pending = False
            return Command(START_CDS)
        if self._speed_pending is not None:
            tenths, self._speed_pending = self._speed_pending, None
            self._sent_tenths = tenths
            return set_speed(tenths)
        if now >= self._next_poll_s:
            self._next_poll_s = now + self.poll_interval_s
            self._poll_speed_next = not self._poll_speed_next
            return Command(GET_SPEED if self._poll_speed_next else GET_STATUS)
        return None

    def _send(self, command: Command, now: float) -> None:
        try:
            self._port.write(command.wire)
        except Exception as exc:
            self._fail(f"serial port error: {exc}")
            return
        self.bytes_sent += len(command.wire)
        self.transactions += 1
        self._in_flight = ReplyParser(command)
        self._sent_at_s = now
        if command.opcode in (STOP, AUTO_STOP):
            self._sent_tenths = 0

    def _handle(self, reply: Reply, now: float) -> None:
        op = reply.command.opcode
        if op in (STOP, AUTO_STOP):
            self._stop_acked_s = now
        elif op == START_CDS:
            self._start_acked_s = now
        elif op == GET_STATUS:
            self._status_at_s = now
            self.belt_status = reply.status()
            started = self._start_acked_s is not None and not self._start_pending
            if self._want_running and started and self.belt_status is BeltStatus.STOPPED:
                self._fail("treadmill reports the belt stopped while it should run "
                           "(power cycle, its own stop button, or its watchdog)")
            elif self.belt_status is BeltStatus.RUNNING_NO_CDS:
                self._fail("treadmill runs with its communication watchdog disabled")
        elif op == GET_SPEED:
            self._speed_at_s = now
            tenths, reverse = reply.tenths()
            self.actual_speed_kmh = tenths / 10.0 / self._unit_per_kmh * (-1 if reverse else 1)
            self._check_speed(now)

    def _check_speed(self, now: float) -> None:
        """Runaway: the belt faster than commanded (+ tolerance) for RUNAWAY_AFTER_S."""
        actual = abs(self.actual_speed_kmh or 0.0)
        allowed = (self.commanded_kmh if self._want_running else 0.0) + RUNAWAY_TOLERANCE_KMH
        if actual <= allowed or not self._want_running:
            # A stopping belt is checked by the supervisor against its stop deadline.
            self._runaway_since_s = None
            return
        if self._runaway_since_s is None:
            self._runaway_since_s = now
        elif now - self._runaway_since_s >= RUNAWAY_AFTER_S:
            self._fail(f"belt runaway: {actual:.1f} km/h read back, "
                       f"{self.commanded_kmh:.1f} km/h commanded")

    def close(self) -> None:
        self._port.close()
