"""A simulated Trackmaster-protocol treadmill: the unit's behaviour, with no I/O and no clock.

:class:`TreadmillModel` receives bytes with their arrival times and answers with timed reply
bytes, as a real unit does on its serial port. :mod:`hardware.sim.treadmill` runs it in its own
process on a pseudo-terminal; the tests also drive it directly.

Modelled:
- the command set of ``hardware.trackmaster_protocol`` (acks = command + 0x10, ``D0``/``D1``
  data, ``BE`` for out-of-range data — including an elevation that is not a multiple of 0.5 % —
  ``BF`` for unknown opcodes, the ``AC`` echo flag);
- belt speed that follows the set speed with limited acceleration and deceleration;
- the Communication Disconnect Stop: after ``A0`` the belt stops if no command arrives for 0.5 s;
- the safety-key loop: when it opens (the controller's relay drops out), motor and console lose
  power: the belt coasts down, the unit stops answering, and on power return it is in the
  power-up start lockout (start commands are acknowledged but ignored until a stop command or
  20 s of silence), with set speed reset to 0 — a TMX428's behaviour;
- bytes take ``10 / baud`` seconds each on the line, in both directions.

Fault injection (:meth:`TreadmillModel.inject`): ``silent`` (no replies), ``garbage`` (random
bytes instead of replies), ``drop`` (each reply byte lost with probability ``rate``),
``corrupt`` (each reply byte bit-flipped with probability ``rate``), ``delay_s`` (replies late
by that many seconds), ``runaway`` (belt runs ``runaway_kmh`` above the set speed),
``ignore_stop`` (stop commands acknowledged but ignored), ``power_cycle`` (the unit loses
power for ``off_s`` seconds), ``nak`` (every command answered with the byte ``code``: ``0xBD``,
``0xBE`` or ``0xBF``), ``echo`` (the ``AC`` echo flag switched on behind the host's back).
The process adds ``unplug`` (its pty closes).

Reverse: a set speed with a leading ``'3'`` (Woodway style) runs the belt backward, and ``D1``
then carries the same leading ``'3'``; the direction only changes through standstill.

Not modelled: elevation motion, the other C-commands' data (answered with zeros), belt load
and motor current, the real units' exact acceleration curves, RS-232 electrical faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from hardware.trackmaster_protocol import (
    ACK_OFFSET,
    AUTO_STOP,
    BITS_PER_BYTE,
    GET_SPEED,
    GET_STATUS,
    NAK_OUT_OF_RANGE,
    NAK_UNKNOWN,
    SET_ELEVATION,
    SET_SPEED,
    START_CDS,
    START_NO_CDS,
    STOP,
    TOGGLE_ACK_ECHO,
    BeltStatus,
)
from hardware.units import KMH_PER_MPH, KMH_PER_MPS

CDS_TIMEOUT_S: Final = 0.5
LOCKOUT_SILENCE_S: Final = 20.0
# Data bytes after each opcode the unit accepts. A5–A9: time, protocol, stage, reset, weight.
DATA_LEN: Final = {
    0xA0: 0, 0xA1: 0, 0xA2: 0, 0xA3: 4, 0xA4: 4, 0xA5: 4, 0xA6: 2, 0xA7: 2, 0xA8: 0, 0xA9: 4,
    0xAA: 0, 0xAB: 0, 0xAC: 0,
    **{op: 0 for op in range(0xC0, 0xCE)},
}
MAX_SPEED_TENTHS: Final = {"mph": 120, "kmh": 200}  # a 12 mph / 20 km/h unit
MAX_ELEVATION_TENTHS: Final = 250


class TreadmillFault(StrEnum):
    """Every fault a simulated treadmill can be given, named once (the command line's choices
    and :meth:`TreadmillModel.inject` both read this list)."""

    SILENT = "silent"
    GARBAGE = "garbage"
    DROP = "drop"
    CORRUPT = "corrupt"
    DELAY_S = "delay_s"
    RUNAWAY = "runaway"
    IGNORE_STOP = "ignore_stop"
    ECHO = "echo"
    NAK = "nak"
    POWER_CYCLE = "power_cycle"
    UNPLUG = "unplug"
    """The cable pulled: handled by the process around the model (it closes the pty)."""
    CLEAR = "clear"
    """Every fault off."""


@dataclass
class Faults:
    """Active injected faults."""

    silent: bool = False
    garbage: bool = False
    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    delay_s: float = 0.0
    runaway_kmh: float = 0.0
    ignore_stop: bool = False
    nak_code: int = 0


@dataclass
class TreadmillModel:
    """The treadmill. Times are seconds on the simulation's clock.

    Args:
        units: ``"mph"`` or ``"kmh"`` — what its speed digits mean.
        baud: line rate; each byte takes ``10 / baud`` s.
        accel_mps2: how fast the belt follows a higher set speed (default 0.5 m/s²).
        decel_mps2: how fast it follows a lower one or stops (default 1.0 m/s²).
        coast_decel_mps2: deceleration with motor power cut (key loop open), default 1.5 m/s².
        seed: seed for garbage / drop / corrupt faults.
    """

    units: str = "mph"
    baud: int = 4800
    accel_mps2: float = 0.5
    decel_mps2: float = 1.0
    coast_decel_mps2: float = 1.5
    seed: int = 0

    t_s: float = 0.0
    powered: bool = True
    key_closed: bool = True
    lockout: bool = True  # it has just powered up: starts are ignored until a stop
    running: bool = False
    cds: bool = False
    echo: bool = False
    set_tenths: int = 0
    reverse: bool = False
    elevation_tenths: int = 0
    belt_mps: float = 0.0
    last_command_s: float = 0.0
    power_off_until_s: float = -1.0
    faults: Faults = field(default_factory=Faults)
    power_cycles: int = 0

    def __post_init__(self) -> None:
        if self.units not in MAX_SPEED_TENTHS:
            raise ValueError(f"units must be mph or kmh, got {self.units!r}")
        self._rng = random.Random(self.seed)
        self._belt_reverse = False
        self._pending = bytearray()
        self._line_in_free_s = 0.0
        self._line_out_free_s = 0.0
        self._incoming: list[tuple[float, int]] = []
        self._outgoing: list[tuple[float, int]] = []

    # ------------------------------------------------------------------ units
    @property
    def byte_time_s(self) -> float:
        return BITS_PER_BYTE / self.baud

    def _tenths_to_mps(self, tenths: int) -> float:
        unit = tenths / 10.0
        kmh = unit * KMH_PER_MPH if self.units == "mph" else unit
        return kmh / KMH_PER_MPS

    def _mps_to_tenths(self, mps: float) -> int:
        kmh = mps * KMH_PER_MPS
        unit = kmh / KMH_PER_MPH if self.units == "mph" else kmh
        return max(0, min(999, round(unit * 10.0)))

    @property
    def belt_kmh(self) -> float:
        return self.belt_mps * KMH_PER_MPS

    @property
    def belt_reverse(self) -> bool:
        """The direction the belt is turning in (changes only through standstill)."""
        if self.belt_mps == 0.0:
            self._belt_reverse = self.reverse
        return self._belt_reverse

    @property
    def status(self) -> BeltStatus:
        if not self.running:
            return BeltStatus.STOPPED
        return BeltStatus.RUNNING_CDS if self.cds else BeltStatus.RUNNING_NO_CDS

    # ------------------------------------------------------------------ inputs
    def send(self, t_s: float, data: bytes) -> None:
        """Host wrote ``data`` at ``t_s``; each byte arrives one byte-time after the previous."""
        for byte in data:
            self._line_in_free_s = max(self._line_in_free_s, t_s) + self.byte_time_s
            self._incoming.append((self._line_in_free_s, byte))

    def set_key_loop(self, t_s: float, closed: bool) -> None:
        """The safety-key loop (through the controller's relay) opened or closed at ``t_s``."""
        self.advance(t_s)
        if closed == self.key_closed:
            return
        self.key_closed = closed
        if not closed:
            self._power_off()
        elif self.power_off_until_s < self.t_s:
            self._power_on()

    def inject(self, fault: str, **params: float) -> None:
        """Switch a fault on (see the module docstring for names and parameters)."""
        f = self.faults
        if fault == "silent":
            f.silent = bool(params.get("on", 1))
        elif fault == "garbage":
            f.garbage = bool(params.get("on", 1))
        elif fault == "drop":
            f.drop_rate = float(params.get("rate", 1.0))
        elif fault == "corrupt":
            f.corrupt_rate = float(params.get("rate", 1.0))
        elif fault == "delay_s":
            f.delay_s = float(params.get("seconds", 1.0))
        elif fault == "runaway":
            f.runaway_kmh = float(params.get("kmh", 2.0))
        elif fault == "ignore_stop":
            f.ignore_stop = bool(params.get("on", 1))
        elif fault == "echo":
            self.echo = bool(params.get("on", 1))  # as if someone had sent AC
        elif fault == "nak":
            code = int(params.get("code", NAK_OUT_OF_RANGE))
            if code not in (0, 0xBD, NAK_OUT_OF_RANGE, NAK_UNKNOWN):
                raise ValueError(f"nak code must be 0xBD, 0xBE or 0xBF, got {code:#x}")
            f.nak_code = code
        elif fault == "power_cycle":
            self._power_off()
            self.power_off_until_s = self.t_s + float(params.get("off_s", 1.0))
        elif fault == "clear":
            self.faults = Faults()
        elif fault == "unplug":
            raise ValueError("unplug is the serial cable, not the unit: SimTreadmill.inject "
                             "closes the pty")
        else:
            raise ValueError(f"unknown treadmill fault {fault!r}")

    # ------------------------------------------------------------------ time
    def advance(self, t_s: float) -> list[tuple[float, int]]:
        """Run the unit up to ``t_s``; return the reply bytes (with the time each finished
        arriving at the host) that are complete by then."""
        while self._incoming and self._incoming[0][0] <= t_s:
            arrival_s, byte = self._incoming.pop(0)
            self._run_until(arrival_s)
            self._receive(byte)
        self._run_until(t_s)
        out: list[tuple[float, int]] = []
        while self._outgoing and self._outgoing[0][0] <= t_s:
            out.append(self._outgoing.pop(0))
        return out

    def _run_until(self, t_s: float) -> None:
        if t_s <= self.t_s:
            return
        dt = t_s - self.t_s
        if not self.powered and self.key_closed and 0 <= self.power_off_until_s <= t_s:
            self._power_on()
        if (self.running and self.cds and self.powered
                and t_s - self.last_command_s > CDS_TIMEOUT_S):
            self.running = False  # Communication Disconnect Stop
        if (self.lockout and self.powered
                and t_s - self.last_command_s > LOCKOUT_SILENCE_S):
            self.lockout = False
        target, rate = self._belt_target()
        step = rate * dt
        if abs(target - self.belt_mps) <= step:
            self.belt_mps = target
        else:
            self.belt_mps += step if target > self.belt_mps else -step
        self.t_s = t_s

    def _belt_target(self) -> tuple[float, float]:
        """The speed the belt is heading for (m/s) and how fast it gets there (m/s²)."""
        if not self.powered:
            return 0.0, self.coast_decel_mps2
        if self.running:
            # A negative runaway is a belt that lags the set speed (overload, slipping belt).
            runaway_mps = self.faults.runaway_kmh / KMH_PER_MPS
            target = max(0.0, self._tenths_to_mps(self.set_tenths) + runaway_mps)
            if self.reverse != self.belt_reverse:
                target = 0.0  # a direction change goes through standstill
            return target, self.accel_mps2 if target > self.belt_mps else self.decel_mps2
        if self.faults.runaway_kmh > 0:
            return self.faults.runaway_kmh / KMH_PER_MPS, self.accel_mps2
        return 0.0, self.decel_mps2

    def quiet_until_s(self) -> float:
        """Until when (simulation time) nothing about the unit changes unless the host sends a
        byte or the key loop changes: no reply byte due, no byte arriving, the belt at its
        target speed, no timer (the communication watchdog, the start lockout's silence,
        power returning) running out. ``t_s`` when something is changing now; ``inf`` when
        nothing is pending at all. The lockstep skips its exchanges until then."""
        if self._incoming or self._pending or self._belt_target()[0] != self.belt_mps:
            return self.t_s
        until = self._outgoing[0][0] if self._outgoing else float("inf")
        if self.running and self.cds and self.powered:
            until = min(until, self.last_command_s + CDS_TIMEOUT_S)
        if self.lockout and self.powered:
            until = min(until, self.last_command_s + LOCKOUT_SILENCE_S)
        if not self.powered and self.key_closed and self.power_off_until_s >= 0:
            until = min(until, self.power_off_until_s)
        return until

    def _power_off(self) -> None:
        if self.powered:
            self.power_cycles += 1
        self.powered = False
        self.running = False
        self.set_tenths = 0
        self._pending.clear()

    def _power_on(self) -> None:
        self.powered = True
        self.lockout = True
        self.power_off_until_s = -1.0
        self.last_command_s = self.t_s

    # ------------------------------------------------------------------ protocol
    def _receive(self, byte: int) -> None:
        if not self.powered:
            return
        self._pending.append(byte)
        opcode = self._pending[0]
        need = DATA_LEN.get(opcode)
        if need is None:
            self._pending.clear()
            self._reply(bytes([NAK_UNKNOWN]))
            return
        if len(self._pending) < 1 + need:
            return
        data = bytes(self._pending[1:])
        self._pending.clear()
        self.last_command_s = self.t_s
        if self.faults.nak_code:
            self._reply(bytes([self.faults.nak_code]))
            return
        self._execute(opcode, data)

    def _execute(self, opcode: int, data: bytes) -> None:
        ack = bytes([opcode + ACK_OFFSET])
        if data and not all(0x30 <= b <= 0x39 for b in data):
            self._reply(bytes([NAK_OUT_OF_RANGE]))
            return
        if opcode in (START_CDS, START_NO_CDS):
            if not self.lockout:
                self.running = True
                self.cds = opcode == START_CDS
        elif opcode in (STOP, AUTO_STOP):
            self.lockout = False
            if not self.faults.ignore_stop:
                self.running = False
                self.set_tenths = 0
        elif opcode == SET_SPEED:
            lead, tenths = data[0] - 0x30, int(data[1:])
            if lead not in (0, 3) or tenths > MAX_SPEED_TENTHS[self.units]:
                self._reply(bytes([NAK_OUT_OF_RANGE]))
                return
            self.set_tenths = tenths
            self.reverse = lead == 3
        elif opcode == SET_ELEVATION:
            tenths = int(data)
            if tenths % 5 or tenths > MAX_ELEVATION_TENTHS:
                self._reply(bytes([NAK_OUT_OF_RANGE]))
                return
            self.elevation_tenths = tenths
        elif opcode == TOGGLE_ACK_ECHO:
            self.echo = not self.echo
        elif opcode == GET_STATUS:
            self._reply(ack + bytes([self.status.value]))
            return
        elif opcode == GET_SPEED:
            lead = 3 if self.belt_reverse else 0
            self._reply(ack + f"{lead}{self._mps_to_tenths(self.belt_mps):03d}".encode())
            return
        elif opcode >= 0xC2:
            value = {0xC2: self.elevation_tenths, 0xC3: self.set_tenths}.get(opcode, 0)
            self._reply(ack + f"{value:04d}".encode())
            return
        self._reply(ack + (data if self.echo else b""))

    def _reply(self, data: bytes) -> None:
        f = self.faults
        if f.silent:
            return
        if f.garbage:
            data = bytes(self._rng.randrange(256) for _ in range(max(1, len(data))))
        start_s = max(self.t_s + f.delay_s, self._line_out_free_s)
        for byte in data:
            if f.drop_rate and self._rng.random() < f.drop_rate:
                continue
            if f.corrupt_rate and self._rng.random() < f.corrupt_rate:
                byte ^= 1 << self._rng.randrange(8)
            start_s += self.byte_time_s
            self._outgoing.append((start_s, byte))
        self._line_out_free_s = start_s


def decode_host_commands(wire: list[tuple[float, str, int]]) -> list[tuple[float, int, bytes]]:
    """Group the host's bytes of a wire log into commands: (time of the opcode byte, opcode,
    data). Unknown opcodes come out alone with no data (as the treadmill would read them)."""
    commands: list[tuple[float, int, bytes]] = []
    need = 0
    for t_s, who, byte in wire:
        if who != "host":
            continue
        if need:
            t0, opcode, data = commands[-1]
            commands[-1] = (t0, opcode, data + bytes([byte]))
            need -= 1
            continue
        commands.append((t_s, byte, b""))
        need = DATA_LEN.get(byte, 0)
    return commands


def first_slowing_command_s(wire: list[tuple[float, str, int]], after_s: float) -> float | None:
    """Time of the first host command at or after ``after_s`` that stops the belt (``A2``,
    ``AA``) or lowers its set speed (an ``A3`` below the previous one): the end of the
    "onset → first byte that slows the belt" latency."""
    previous: int | None = None
    for t_s, opcode, data in decode_host_commands(wire):
        lowered = False
        if opcode == SET_SPEED and len(data) == 4 and data.isdigit():
            tenths = int(data[1:])
            lowered = previous is not None and tenths < previous
            previous = tenths
        if t_s >= after_s and (opcode in (STOP, AUTO_STOP) or lowered):
            return t_s
    return None
