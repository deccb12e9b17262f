"""The treadmill link on the bench: ``treadmill-test`` (first contact with a real treadmill)
and the lockstep rig the tests and ``bench-link`` (:mod:`controller.link_bench`) use.

This module is a small composition root of its own: it opens a serial port through
:func:`controller.transports.open_serial` (on a real device, or on the simulated treadmill's pty
without a write timeout, as the daemon does), builds a
:class:`~hardware.trackmaster.TrackmasterLink` on it and drives its ``step()``. It never runs
inside the daemon.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Self, TextIO

import serial

from controller.transports import open_serial
from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.sim.treadmill import SimTreadmill
from hardware.trackmaster import TrackmasterLink
from hardware.trackmaster_protocol import speed_tenths
from hardware.trackmaster_transactions import Transaction
from hardware.units import KMH_PER_MPH, KMH_PER_MPS

OPCODE_NAMES: Final = {0xA0: "A0", 0xA2: "A2", 0xA3: "A3", 0xAA: "AA", 0xC0: "C0", 0xC1: "C1",
                       0xC3: "C3"}


SIM_FAULT_PARAMS: Final[dict[str, dict[str, float]]] = {
    "drop": {"rate": 0.5}, "corrupt": {"rate": 0.5}, "delay_s": {"seconds": 0.3},
    "power_cycle": {"off_s": 1.0}, "runaway": {"kmh": 2.0}, "nak": {"code": 0xBE},
}
"""``treadmill-test --sim-fault``'s parameters (the rest take the model's defaults): half the
reply bytes lost or bit-flipped, replies 0.3 s late (past the 0.1 s ack timeout, inside the
treadmill's 0.5 s watchdog), power lost for 1 s, the belt 2 km/h fast, every command BE."""


AFTER_FAULT_WATCH_S: Final = 1.5
"""After a fault, how long the test keeps stepping the link (the stop sent) to see what the
treadmill does: answers late, comes back from a power loss, or stays silent."""


class BenchError(Exception):
    """The bench sequence failed; ``str()`` is the one line for stderr."""


@dataclass
class SimRig:
    """A :class:`TrackmasterLink` on a real pty to a :class:`SimTreadmill` process, in lockstep
    on a :class:`SimClock`: deterministic, no sleeps. Close it (or use it as a context manager).

    Args:
        units, baud, seed: the simulated treadmill's.
        link_kwargs: passed to :class:`TrackmasterLink` (``max_speed_kmh`` defaults to 3.0).
        tick_s: simulated time per :meth:`tick` (default 5 ms, the loop's period).
    """

    units: str = "kmh"
    baud: int = 4800
    seed: int = 0
    link_kwargs: dict[str, Any] = field(default_factory=dict)
    tick_s: float = 0.005
    relay_closed: bool = True

    def __post_init__(self) -> None:
        self.clock = SimClock()
        self.treadmill = SimTreadmill(self.units, self.baud, self.seed)
        try:
            self.port = open_serial(self.treadmill.port, self.baud, write_timeout_s=None)
        except BaseException:
            self.treadmill.close()
            raise
        kwargs = {"max_speed_kmh": 3.0, **self.link_kwargs}
        self.link = TrackmasterLink(self.port, self.clock, self.units, **kwargs)

    def sync(self) -> None:
        """Bring the treadmill to the clock's time and wait until its bytes are readable."""
        self.treadmill.sync_port(self.clock.now_s(), self.port, self.link.bytes_sent,
                                 self.link.bytes_received, self.relay_closed)

    def tick(self) -> None:
        """One loop period: time moves, the treadmill catches up, the link steps."""
        self.clock.advance_s(self.tick_s)
        self.sync()
        self.link.step()

    def run(self, duration_s: float) -> None:
        for _ in range(round(duration_s / self.tick_s)):
            self.tick()

    def run_until(self, done: Callable[[], bool], max_s: float) -> bool:
        """Tick until ``done()`` (True) or ``max_s`` of simulated time passed (False)."""
        for _ in range(round(max_s / self.tick_s)):
            if done():
                return True
            self.tick()
        return done()

    def close(self) -> None:
        try:
            self.port.close()
        finally:
            self.treadmill.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RealTimeStepper:
    """Steps a link on the real clock every ``period_s`` (bench use only).

    With ``measure`` on, each tick records how late it woke up and what ``step()`` cost
    (wall-clock seconds) in :attr:`lateness_s` and :attr:`step_cost_s`.
    """

    def __init__(self, link: TrackmasterLink, clock: Clock, period_s: float = 0.001) -> None:
        self.link = link
        self.clock = clock
        self.period_s = period_s
        self.measure = False
        self.lateness_s: list[float] = []
        self.step_cost_s: list[float] = []
        self._next_s = clock.now_s()

    def tick(self) -> None:
        self._next_s += self.period_s
        self.clock.sleep_until(self._next_s)
        if not self.measure:
            self.link.step()
            return
        self.lateness_s.append(self.clock.now_s() - self._next_s)
        t = time.perf_counter()
        self.link.step()
        self.step_cost_s.append(time.perf_counter() - t)


def rtt_summary(log: list[Transaction]) -> dict[str, dict[str, float]]:
    by_op: dict[str, list[float]] = {}
    for tr in log:
        by_op.setdefault(OPCODE_NAMES.get(tr.opcode, f"{tr.opcode:02X}"), []).append(
            tr.round_trip_s * 1000.0)
    return {
        name: {"n": len(v), "min_ms": round(min(v), 2), "median_ms": round(statistics.median(v), 2),
               "max_ms": round(max(v), 2)}
        for name, v in sorted(by_op.items())
    }


def treadmill_test(link: TrackmasterLink, clock: Clock, tick: Callable[[], None],
                   speed_kmh: float, hold_s: float,
                   at_speed: Callable[[], None] | None = None) -> dict[str, Any]:
    """The bench sequence: belt confirmed stopped (``C0``/``C1``) → ``A0`` → speed (ramped) →
    hold while polling → stop → confirmed stopped. Returns the JSON-able summary.
    ``at_speed`` is called once the belt is at speed, as the hold begins (a simulated fault
    then meets a running belt and a link in its steady polling, where each fault shows its
    own face).

    Raises:
        BenchError: a link fault or a step that did not complete in time; the stop has been
            sent (as far as the port allows) before it is raised.
    """
    t0 = clock.now_s()
    speeds: list[tuple[float, float]] = []
    phases: dict[str, float] = {}

    def wait(what: str, done: Callable[[], bool], max_s: float) -> None:
        end = clock.now_s() + max_s
        while not done():
            if link.fault is not None:
                raise BenchError(f"{what}: treadmill link fault: {link.fault}")
            if clock.now_s() > end:
                raise BenchError(f"{what}: not done within {max_s:.1f} s")
            tick()
            speeds.append((clock.now_s() - t0, link.actual_speed_kmh or 0.0))
        if link.fault is not None:
            raise BenchError(f"{what}: treadmill link fault: {link.fault}")
        phases[what] = round(clock.now_s() - t0, 3)

    ramp_s = speed_kmh / link.ramp_kmh_per_s
    try:
        # The link's first command is a stop (and it clears a power-up lockout); the first
        # speed read after it tells whether the belt was moving when we came.
        wait("first speed read-back", lambda: link.actual_speed_kmh is not None, 1.0)
        if abs(link.actual_speed_kmh or 0.0) > 0.0:
            raise BenchError(f"the belt was moving ({link.actual_speed_kmh:.1f} km/h) when the "
                             f"test began; nothing started")
        wait("belt confirmed stopped before the start", lambda: link.belt_stopped, 3.0)
        link.start()
        link.set_speed_kmh(speed_kmh)
        target = link_target_kmh(link, speed_kmh)
        wait("belt at speed", lambda: abs((link.actual_speed_kmh or 0.0) - target) <= 0.05
             and link.commanded_kmh == target, ramp_s + 3.0)
        if at_speed is not None:
            at_speed()
        hold_end = clock.now_s() + hold_s
        wait("hold", lambda: clock.now_s() >= hold_end, hold_s + 1.0)
        link.stop()
        wait("belt confirmed stopped after the stop", lambda: link.belt_stopped,
             speed_kmh / KMH_PER_MPS / 0.25 + 3.0)
    except BenchError as exc:
        link.stop()
        heard = link.bytes_received
        seen_s = clock.now_s()
        end = seen_s + AFTER_FAULT_WATCH_S
        again_s: float | None = None
        while clock.now_s() < end and not link.belt_stopped:
            try:
                tick()  # let the stop reach the wire (and its ack come back)
            except Exception:
                break
            if again_s is None and link.bytes_received > heard:
                again_s = clock.now_s() - seen_s
        if link.belt_stopped:
            after = "the belt read back stopped"
        elif again_s is not None:
            after = (f"the treadmill answered again {again_s:.2f} s later "
                     f"({link.bytes_received - heard} bytes, late or garbled)")
        else:
            after = f"no byte from the treadmill in the {AFTER_FAULT_WATCH_S:g} s after"
        raise BenchError(f"{exc}; {after}") from None
    return summary(link, speeds, phases)


def link_target_kmh(link: TrackmasterLink, speed_kmh: float) -> float:
    """What the link will settle at for ``speed_kmh``: 0.1 of its unit, never above the cap."""
    per = 1.0 / KMH_PER_MPH if link.units == "mph" else 1.0
    return speed_tenths(speed_kmh * per, link.max_speed_kmh * per) / 10.0 / per


def summary(link: TrackmasterLink, speeds: list[tuple[float, float]],
            phases: dict[str, float]) -> dict[str, Any]:
    read = [v for _, v in speeds]
    # Thin the read-back trace to one value per 0.1 s so the summary stays readable.
    trace: list[list[float]] = []
    for i, (t, v) in enumerate(speeds):
        if not trace or t - trace[-1][0] >= 0.1 or i == len(speeds) - 1:
            trace.append([round(t, 2), round(v, 2)])
    return {
        "units": link.units,
        "fault": link.fault,
        "bytes_sent": link.bytes_sent,
        "bytes_received": link.bytes_received,
        "transactions": link.transactions,
        "round_trip": rtt_summary(list(link.transaction_log)),
        "phases_s": phases,
        "max_speed_read_kmh": round(max(read), 2) if read else None,
        "set_speed_read_kmh": link.set_speed_read_kmh,
        "speeds_read_kmh": trace,
    }


# ---------------------------------------------------------------------- commands


def cmd_treadmill_test(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``treadguard treadmill-test``: see :func:`treadmill_test`. Exit 0 ok, 1 on a fault."""
    out = out or sys.stdout
    err = err or sys.stderr
    speed = float(args.speed_kmh)
    if not 0.1 <= speed <= 3.0:
        print(f"treadguard treadmill-test: --speed-kmh must be 0.1–3.0, got {speed:g}", file=err)
        return 2
    link_kwargs: dict[str, Any] = {"stop_mode": args.stop_mode, "max_speed_kmh": 3.0}
    rig: SimRig | None = None
    port: Any = None
    clock: Clock
    at_speed: Callable[[], None] | None
    try:
        if args.simulated:
            rig = SimRig(units=args.units, baud=args.baud, link_kwargs=link_kwargs, tick_s=0.001)
            link, clock, tick = rig.link, rig.clock, rig.tick
            fault = args.sim_fault

            def at_speed() -> None:
                if fault and rig is not None:
                    rig.treadmill.inject(fault, **SIM_FAULT_PARAMS.get(fault, {}))
        else:
            if args.port is None:
                print("treadguard treadmill-test: give --port URL (or --simulated)", file=err)
                return 2
            try:
                port = open_serial(args.port, args.baud)
            except (serial.SerialException, ValueError) as exc:
                print(f"treadguard treadmill-test: cannot open {args.port}: {exc}", file=err)
                return 1
            clock = MonotonicClock()
            link = TrackmasterLink(port, clock, args.units, **link_kwargs)
            tick = RealTimeStepper(link, clock).tick
            at_speed = None
        try:
            result = treadmill_test(link, clock, tick, speed, float(args.hold_s), at_speed)
        except BenchError as exc:
            print(json.dumps(summary(link, [], {}), indent=2), file=out)
            print(f"treadguard treadmill-test: {exc} (stop sent)", file=err)
            return 1
        except KeyboardInterrupt:
            link.stop()
            for _ in range(100):
                tick()
            print("treadguard treadmill-test: interrupted (stop sent)", file=err)
            return 130
        result["result"] = "ok"
        print(json.dumps(result, indent=2), file=out)
        return 0
    finally:
        if rig is not None:
            rig.close()
        if port is not None:
            port.close()
