"""Driver for a Trackmaster-protocol treadmill: a non-blocking link state machine.

The control loop calls :meth:`TrackmasterLink.step` every tick; the link never blocks (a
transaction takes ~12.5 ms at 4800 baud, more than two 5 ms ticks). Its parts, each in its own
file: what to send next (:mod:`~hardware.trackmaster_picker`), the outstanding transactions — a
stop pre-empts the one in flight, whose reply is still checked
(:mod:`~hardware.trackmaster_transactions`) — the speed profile
(:mod:`~hardware.trackmaster_profile`), the read-back monitor
(:mod:`~hardware.trackmaster_readback`), the expected power cycle
(:mod:`~hardware.trackmaster_power_cycle`) and the line timing
(:mod:`~hardware.trackmaster_timing`).

Safety behaviour (in full, with figures: ``docs/treadmill-link.md``, "What the driver
guarantees"): the belt is started only with ``A0`` (the treadmill's 0.5 s watchdog armed; ``A1``
is never sent); it is polled every ``poll_interval_s``, always; every command is acknowledged
within ``ack_timeout_s`` or the link faults — as it does on a NAK, a wrong ack, garbage,
unsolicited bytes, a port error, a read-back beyond tolerance (runaway, not following, not
slowing, moving while stopped) or a power cycle it did not cause — sending a stop and reporting
:attr:`TrackmasterLink.fault` (the supervisor then opens the relay); speeds are capped, rounded
never up past the cap and ramped here too; nothing is ever restarted; reverse only if
``allow_reverse``, and only at standstill.

The opening of the serial port is not done here: the composition root hands in an open port.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from enum import Enum
from typing import Final

from hardware.clock import Clock
from hardware.trackmaster_picker import CommandPicker
from hardware.trackmaster_power_cycle import Outcome, PowerCycleWindow
from hardware.trackmaster_profile import ControlledStop, SpeedProfile
from hardware.trackmaster_protocol import (
    AUTO_STOP,
    GET_SET_SPEED,
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    START_CDS,
    STOP,
    BeltStatus,
    Command,
    Reply,
    speed_tenths,
)
from hardware.trackmaster_readback import Commanded, ReadbackMonitor
from hardware.trackmaster_transactions import SerialPort, Transaction, Transactions
from hardware.units import KMH_PER_MPH, KMH_PER_MPS

TRANSACTION_LOG_MAX: Final = 10_000


class LinkMode(Enum):
    """What the link is doing with the belt. Orthogonal to it: :attr:`TrackmasterLink.fault`
    (latched until a reset) and an expected power cycle (:mod:`hardware.trackmaster_power_cycle`).
    """

    STOPPED = "stopped"
    """The stop command has gone out, or is queued ahead of everything."""
    RUNNING = "running"
    """Started with ``A0``; speeds follow the profile."""
    STOPPING = "stopping"
    """A controlled stop: lowered ``A3``s down the profile, then the stop command."""


class TrackmasterLink:
    """The treadmill as the controller sees it.

    Args:
        port: an open pyserial port (non-blocking reads: ``timeout=0``).
        clock: the injected clock (ack timeouts, polls, ramps and read-back timing run on it).
        units: ``"mph"`` or ``"kmh"``: the treadmill's speed unit. No default on purpose — a
            wrong guess is a 1.6× speed error.
        max_speed_kmh: the cap; any request above it is refused with ``ValueError``.
        stop_mode: ``"A2"`` (stop belt) or ``"AA"`` (auto stop: to minimum, then stop).
        poll_interval_s: poll period (default 0.05 s; must stay well under the treadmill's
            0.5 s watchdog — the speed read-back runs at half this rate).
        ack_timeout_s: acknowledgement timeout per command (default 0.1 s).
        ramp_mps2: the fastest the driver changes the commanded speed (default 0.25 m/s², the
            ``[limits] ramp_mps2``), whatever it is asked for.
        readback_tolerance_kmh: how far the read-back speed may be from the command (default
            0.5 km/h) before it counts as a deviation.
        readback_time_s: how long a deviation may last before it is a fault (default 0.5 s);
            also the grace after a start before a belt still reading "stopped" is a fault.
        allow_reverse: permit reverse (Woodway leading ``'3'``). Default False: then a reverse
            read-back is a fault and :meth:`set_reverse` refuses.
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
        *,
        ramp_mps2: float = 0.25,
        readback_tolerance_kmh: float = 0.5,
        readback_time_s: float = 0.5,
        allow_reverse: bool = False,
    ) -> None:
        if units not in ("mph", "kmh"):
            raise ValueError(f"units must be 'mph' or 'kmh', got {units!r}")
        if stop_mode not in ("A2", "AA"):
            raise ValueError(f"stop_mode must be 'A2' or 'AA', got {stop_mode!r}")
        for name, value in (("max_speed_kmh", max_speed_kmh), ("ramp_mps2", ramp_mps2),
                            ("poll_interval_s", poll_interval_s),
                            ("ack_timeout_s", ack_timeout_s),
                            ("readback_tolerance_kmh", readback_tolerance_kmh),
                            ("readback_time_s", readback_time_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self._port = port
        self._clock = clock
        self.units = units
        self.max_speed_kmh = max_speed_kmh
        self._unit_per_kmh = 1.0 / KMH_PER_MPH if units == "mph" else 1.0
        self._stop_command = Command(STOP if stop_mode == "A2" else AUTO_STOP)
        self._picker = CommandPicker(self._stop_command, poll_interval_s)
        self.poll_interval_s = poll_interval_s
        self.ack_timeout_s = ack_timeout_s
        self.ramp_kmh_per_s = ramp_mps2 * KMH_PER_MPS
        self._profile = SpeedProfile(self._unit_per_kmh, max_speed_kmh, ramp_mps2, clock.now_s())
        self._readback = ReadbackMonitor(readback_tolerance_kmh, readback_time_s)
        self.readback_tolerance_kmh = readback_tolerance_kmh
        self.readback_time_s = readback_time_s
        self.allow_reverse = allow_reverse

        self.fault: str | None = None
        self.belt_status: BeltStatus | None = None
        self.actual_speed_kmh: float | None = None
        """Last read-back speed, km/h; negative in reverse. None until read."""
        self.set_speed_read_kmh: float | None = None
        """Last ``C3`` read-back (the treadmill's set speed), km/h."""
        self.bytes_sent = 0
        self.bytes_received = 0
        self.transactions = 0
        self.transaction_log: deque[Transaction] = deque(maxlen=TRANSACTION_LOG_MAX)
        self.last_round_trip_s: float | None = None

        self.mode = LinkMode.STOPPED
        self._stop_unacked = True
        self._acked_tenths = 0
        self._outstanding = Transactions(ack_timeout_s)
        self._stop_acked_s: float | None = None
        self._start_acked_s: float | None = None
        self._status_at_s = -math.inf
        self._speed_at_s = -math.inf
        self._speed_zero_at_s = -math.inf
        self._power_cycle = PowerCycleWindow()
        self._abandoned_until_s = -math.inf
        # The port is written by the loop's thread, and by the watchdog thread's
        # emergency_stop() when the loop has stopped ticking: each write holds this lock (one
        # command, a few bytes, at most the port's 50 ms write timeout).
        self._write_lock = threading.Lock()
        self.emergency_stop_sent = False
        """The watchdog thread wrote a stop on its own (latched until :meth:`reset`)."""

    # ------------------------------------------------------------------ read-outs
    @property
    def running_requested(self) -> bool:
        return self.mode is LinkMode.RUNNING

    @property
    def commanded_kmh(self) -> float:
        """The speed last sent to the treadmill, km/h (0 after a stop)."""
        return self._picker.sent_tenths / 10.0 / self._unit_per_kmh

    @property
    def stopping(self) -> bool:
        """A controlled stop is lowering the speed; the stop command has not been sent yet."""
        return self.mode is LinkMode.STOPPING

    @property
    def target_kmh(self) -> float:
        """The speed last asked for with :meth:`set_speed_kmh`, km/h (0 when not running)."""
        return self._profile.target_kmh

    @property
    def power_cycle_expected(self) -> bool:
        return self._power_cycle.open

    @property
    def power_cycle_result(self) -> Outcome | None:
        """Outcome of the last :meth:`expect_power_cycle`: ``"completed"`` (lost, back, lockout
        cleared), ``"not_observed"`` (the treadmill never went silent), or None."""
        return self._power_cycle.result

    @property
    def belt_stopped(self) -> bool:
        """True only if, since the last acknowledged stop, the treadmill reported status
        "stopped" and an actual speed of zero, and the link has no fault."""
        acked = self._stop_acked_s
        return (
            self.fault is None
            and self.mode is LinkMode.STOPPED
            and not self._power_cycle.open
            and not self._stop_unacked
            and not self._picker.stop_pending
            and acked is not None
            and self._status_at_s > acked
            and self._speed_at_s > acked
            and self.belt_status is BeltStatus.STOPPED
            and self.actual_speed_kmh == 0.0
        )

    # ------------------------------------------------------------------ requests
    def start(self) -> None:
        """Start the belt at speed 0 (``A0``, watchdog armed). Speeds follow through
        :meth:`set_speed_kmh`, ramped.

        Raises:
            RuntimeError: the link is faulted (reset first) or waits out a power cycle.
        """
        if self.fault is not None:
            raise RuntimeError(f"treadmill link is faulted ({self.fault}); reset first")
        if self._power_cycle.open:
            raise RuntimeError("treadmill link is waiting out an expected power cycle")
        if self.mode is LinkMode.RUNNING:
            return
        now = self._clock.now_s()
        self.mode = LinkMode.RUNNING
        self._picker.slow_now = False
        self._picker.start_pending = True  # a stop still pending goes out first, then the start
        self._stop_unacked = True  # from now on a stop() must reach the wire
        self._start_acked_s = None
        self._profile.start_from(now, self.commanded_kmh)
        self._readback.clear()

    def set_speed_kmh(self, speed_kmh: float) -> None:
        """Ask for a belt speed, km/h. The driver approaches it at ``ramp_mps2`` in steps of
        0.1 of the treadmill's unit, never above the cap. Ignored unless running (a stopped or
        stopping belt is never sped up by a late request).

        Raises:
            ValueError: not finite, negative, or above the cap (the request is refused whole).
        """
        per_kmh = self._unit_per_kmh
        speed_tenths(speed_kmh * per_kmh, self.max_speed_kmh * per_kmh)  # validates
        if self.mode is not LinkMode.RUNNING or self.fault is not None:
            return
        self._profile.target_kmh = speed_kmh

    def set_reverse(self, reverse: bool) -> bool:
        """Choose the belt direction for the next speeds (Woodway-style, opt-in).

        Returns False (and changes nothing) unless the belt reads back zero and the commanded
        speed is zero: a direction change only ever happens at standstill.

        Raises:
            ValueError: reverse asked for while ``allow_reverse`` is off.
        """
        if reverse and not self.allow_reverse:
            raise ValueError("reverse is not enabled ([treadmill] allow_reverse = false)")
        if reverse == self._picker.reverse:
            return True
        # Zero must have been read back recently (C1 runs every other poll).
        fresh = self._clock.now_s() - self._speed_zero_at_s <= 4 * self.poll_interval_s
        if (self._picker.sent_tenths != 0 or self._profile.ramp_kmh > 0 or not fresh
                or self.actual_speed_kmh != 0.0):
            return False
        self._picker.reverse = reverse
        return True

    def stop(self, decel_mps2: float | None = None) -> None:
        """Stop the belt; idempotent, never raises for a valid call.

        Without ``decel_mps2`` (faults, e-stop, stalls) the stop command goes out first thing,
        ahead of everything queued. With it, a running belt is slowed by a ramp of lowered
        ``A3`` commands at that deceleration (m/s²), and the stop command follows when the ramp
        reaches zero. An immediate stop during a controlled stop takes over at once.
        """
        now = self._clock.now_s()
        moving_kmh = max(abs(self.actual_speed_kmh or 0.0), self.commanded_kmh)
        if (decel_mps2 is not None and math.isfinite(decel_mps2) and decel_mps2 > 0
                and self.mode is LinkMode.RUNNING and self._picker.sent_tenths > 0):
            self.mode = LinkMode.STOPPING
            self._picker.start_pending = False
            self._profile.controlled = ControlledStop(now, self.commanded_kmh, decel_mps2,
                                                      self._picker.sent_tenths)
            self._picker.slow_now = True  # its first A3 pre-empts even a slow-down's A3 in flight
            self._readback.begin_stop(now, moving_kmh)
            return
        if self.mode is LinkMode.STOPPING and decel_mps2 is not None:
            return  # already slowing down under control; a second controlled stop changes nothing
        if self.mode is not LinkMode.STOPPED:
            self._readback.begin_stop(now, moving_kmh)
        self.mode = LinkMode.STOPPED
        self._picker.start_pending = False
        self._profile.to_zero()
        if self._stop_unacked and not self._outstanding.stop_in_flight:
            self._picker.stop_pending = True

    def expect_power_cycle(self, window_s: float) -> None:
        """The controller is about to cut the treadmill's power itself (stop-path test).

        For ``window_s`` seconds missing or garbled replies are not faults; once the
        treadmill answers again the link sends a stop (clearing its power-up start lockout) and
        the window closes with :attr:`power_cycle_result` = ``"completed"``. If the treadmill
        never went silent the window closes with ``"not_observed"``; if it went silent and is not
        back (lockout cleared) by the end of the window, that is a latched fault.

        Raises:
            RuntimeError: the belt is not stopped and idle, or the link is faulted.
        """
        if self.fault is not None:
            raise RuntimeError(f"treadmill link is faulted ({self.fault}); reset first")
        if self.mode is not LinkMode.STOPPED:
            raise RuntimeError("a power cycle can only be expected with the belt stopped")
        self._power_cycle.expect(self._clock.now_s(), window_s)

    def reset(self) -> None:
        """Clear a fault after a human reset: forget what we knew and start with a stop command
        (which also clears a treadmill's power-up start lockout). Never starts the belt; the
        direction goes back to forward."""
        self.fault = None
        self.belt_status = None
        self.actual_speed_kmh = None
        self.set_speed_read_kmh = None
        self._stop_acked_s = None
        self._power_cycle.close()
        self._stop_unacked = True
        self.emergency_stop_sent = False
        self._picker.reverse = False
        self.stop()
        self._readback.forget_stop()
        if self._outstanding.in_flight is not None:
            # Whatever is in flight was sent before the reset (maybe a stop retried into a
            # dead line): its reply, or its silence, is not judged. Wait it out quietly.
            self._abandoned_until_s = self._outstanding.sent_at_s + self.ack_timeout_s
            self._outstanding.drop()
        self._discard_input()
        self._picker.stop_pending = True  # always: it also clears a power-up start lockout

    def emergency_stop(self, lock_timeout_s: float = 0.06) -> bool:
        """Write the stop command now, from another thread (the loop watchdog), without the
        link's state machine.

        From here on the loop's own writes are refused except stops, and its next
        :meth:`step` latches a fault (its picture of the line is stale: the treadmill has
        stopped, and the stop's reply will arrive unannounced), which sends its own stop.
        Returns False if the port was not free within ``lock_timeout_s`` (the loop stuck in a
        write: the line is wedged, and the relay, opened first, is the stop) or the write
        failed.
        """
        self.emergency_stop_sent = True
        if not self._write_lock.acquire(timeout=lock_timeout_s):
            return False
        try:
            self._port.write(self._stop_command.wire)
            self.bytes_sent += len(self._stop_command.wire)
        except Exception:
            return False
        finally:
            self._write_lock.release()
        return True

    def _fail(self, reason: str) -> None:
        """Latch the first fault and send a stop now (again, even if one was acknowledged)."""
        if self.fault is None:
            self.fault = reason
        self._power_cycle.close()
        self.stop()
        self._picker.stop_pending = True

    # ------------------------------------------------------------------ the state machine
    def step(self) -> None:
        """Advance the link: collect a reply, check timeouts, send the next command."""
        now = self._clock.now_s()
        if self.emergency_stop_sent and self.fault is None:
            self._fail("the loop watchdog sent a stop: the control loop stalled")
        self._profile.advance(now, self.mode is LinkMode.RUNNING)
        if now <= self._abandoned_until_s:
            self._discard_input()  # the transaction abandoned by reset() may still answer
            return
        if self._outstanding.in_flight is not None:
            self._collect(now)
        else:
            self._check_unsolicited()
        if self._power_cycle.expired(now):
            self._fail("treadmill not back (start lockout not cleared) by the end of the "
                       "expected power cycle")
        stopping = self.mode is LinkMode.STOPPING
        if self._outstanding.in_flight is None:
            command = self._picker.next(now, self._speeds_allowed(), stopping,
                                        lambda: self._desired_tenths(now))
            if command is not None:
                self._send(command, now)
        elif self._may_preempt():
            command = self._picker.urgent(self._speeds_allowed(), stopping,
                                          lambda: self._desired_tenths(now))
            if command is not None:
                # The stop must not wait for a slow treadmill's reply (see the module
                # docstring): the transaction in flight is abandoned, its reply still checked.
                self._outstanding.abandon()
                self._send(command, now)

    def _may_preempt(self) -> bool:
        """Whether a command wanted now may go out ahead of the reply in flight: never ahead of
        a stop; ahead of a slow-down's ``A3`` only for a newly asked-for stop."""
        if not self._outstanding.may_abandon or self._power_cycle.open:
            return False
        picker = self._picker
        return not self._outstanding.in_flight_slowing or picker.stop_pending or picker.slow_now

    def _check_unsolicited(self) -> None:
        """The treadmill never speaks unprompted: bytes with nothing in flight mean the link is
        out of step (echo mode switched on, noise, a late reply)."""
        try:
            waiting = self._port.in_waiting
            data = self._port.read(waiting) if waiting else b""
        except Exception as exc:  # pyserial raises SerialException (an OSError subclass)
            self._fail(f"serial port error: {exc}")
            return
        if not data:
            return
        self.bytes_received += len(data)
        if self._power_cycle.open:
            self._power_cycle.lost = True  # line noise while its power comes and goes
            return
        self._fail(f"unsolicited bytes from the treadmill: {data[:16].hex(' ')}")

    def _discard_input(self) -> None:
        try:
            waiting = self._port.in_waiting
            if waiting:
                self.bytes_received += len(self._port.read(waiting))
        except Exception as exc:
            self._fail(f"serial port error: {exc}")

    def _collect(self, now: float) -> None:
        try:
            waiting = self._port.in_waiting
            data = self._port.read(waiting) if waiting else b""
        except Exception as exc:  # pyserial raises SerialException (an OSError subclass) or OSError
            self._outstanding.drop()
            self._fail(f"serial port error: {exc}")
            return
        self.bytes_received += len(data)
        self._outstanding.feed(data, now, lambda reply, sent_s, abandoned: self._complete(
            reply, sent_s, now, abandoned=abandoned), self._link_problem)

    def _complete(self, reply: Reply, sent_s: float, now: float, *, abandoned: bool) -> None:
        self.last_round_trip_s = now - sent_s
        self.transaction_log.append(
            Transaction(reply.command.opcode, sent_s, self.last_round_trip_s))
        self._handle(reply, now, abandoned=abandoned)

    def _link_problem(self, reason: str) -> None:
        """A missing or bad reply: a fault — unless we are waiting out a power cycle we caused."""
        if self._power_cycle.open:
            self._power_cycle.went_silent()
            self._discard_input()
            return
        self._fail(reason)

    def _speeds_allowed(self) -> bool:
        """Speed commands may go out: running (or stopping under control) after the ``A0`` was
        acknowledged, and not waiting for a power-cycled treadmill to answer."""
        if self._power_cycle.waiting_for_answer:
            return False  # waiting out a power cycle: poll until it answers, then stop
        return self.mode is not LinkMode.STOPPED and self._start_acked_s is not None

    def _send(self, command: Command, now: float) -> None:
        if self.mode is LinkMode.STOPPING and command.opcode in (STOP, AUTO_STOP):
            # The controlled stop's ramp reached zero: the stop command finishes it.
            self.mode = LinkMode.STOPPED
            self._profile.controlled = None
            self._stop_unacked = True
        try:
            with self._write_lock:
                if self.emergency_stop_sent and command.opcode not in (STOP, AUTO_STOP):
                    return  # the watchdog stopped the belt behind our back: nothing else now
                self._port.write(command.wire)
                self.bytes_sent += len(command.wire)
        except Exception as exc:
            self._outstanding.drop()
            self._fail(f"serial port error: {exc}")
            return
        self.transactions += 1
        self._outstanding.begin(command, now, self._picker.sent(command))
        # Invariant: anything that may have moved the belt since the last acknowledged stop —
        # or a stop not yet acknowledged — means a later stop() must reach the wire.
        self._stop_unacked = self._stop_unacked or command.opcode in (
            STOP, AUTO_STOP, START_CDS, SET_SPEED)

    def _handle(self, reply: Reply, now: float, *, abandoned: bool = False) -> None:
        """Act on a complete reply. ``abandoned``: the reply of a transaction a stop pre-empted
        (polls are used as usual; an ``A0``'s ack then starts nothing we still want)."""
        op = reply.command.opcode
        if op in (STOP, AUTO_STOP):
            self._stop_acked_s = now
            self._readback.stop_acked(abs(self.actual_speed_kmh or 0.0))
            self._stop_unacked = False
            self._acked_tenths = 0
            self._power_cycle.stop_acked()  # back after a power cycle we caused, if any
        elif op == START_CDS:
            if not abandoned:
                self._start_acked_s = now
        elif op == SET_SPEED:
            self._acked_tenths = int(reply.command.data[1:])
        elif op == GET_STATUS:
            self._status_at_s = now
            self.belt_status = reply.status()
            self._judge(self._readback.check_status(now, self.belt_status, self._commanded()))
        elif op == GET_SPEED:
            self._speed_at_s = now
            tenths, reverse = reply.tenths()
            kmh = tenths / 10.0 / self._unit_per_kmh
            self.actual_speed_kmh = -kmh if reverse else kmh
            if tenths == 0:
                self._speed_zero_at_s = now
            self._judge(self._readback.check_speed(now, kmh, reverse, self._commanded()))
        elif op == GET_SET_SPEED:
            tenths, _ = reply.tenths()
            self.set_speed_read_kmh = tenths / 10.0 / self._unit_per_kmh
            if self.mode is LinkMode.RUNNING and self._acked_tenths > 0 and tenths == 0:
                self._fail("treadmill's set speed reset to 0 while running "
                           "(power cycle or its own stop)")
        if self._power_cycle.answered():
            self._picker.stop_pending = True  # it answers again: clear its start lockout

    def _desired_tenths(self, now: float) -> int:
        running = self.mode is LinkMode.RUNNING
        return self._profile.desired_tenths(now, running, self._picker.sent_tenths)

    def _commanded(self) -> Commanded:
        return Commanded(running=self.mode is LinkMode.RUNNING,
                         stopping=self.mode is LinkMode.STOPPING,
                         speed_kmh=self.commanded_kmh, reverse=self._picker.reverse,
                         start_acked_s=self._start_acked_s, stop_acked_s=self._stop_acked_s,
                         stop_unacked=self._stop_unacked)

    def _judge(self, fault: str | None) -> None:
        """Latch the read-back monitor's verdict, if any."""
        if fault is not None:
            self._fail(fault)

    def close(self) -> None:
        self._port.close()
