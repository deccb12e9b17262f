"""``treadguard bench-link``: measured figures of the treadmill link — round trips, polling,
the stop latency (also with a slow-replying treadmill), and the cost of ``step()`` — on the
simulated treadmill in lockstep and in real time on a pty. Prints a table (JSON with
``--json``); never runs inside the daemon.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Final, TextIO

from controller.report_table import flatten, fmt, table
from controller.transports import open_serial
from controller.treadmill_bench import (
    BenchError,
    RealTimeStepper,
    SimRig,
    rtt_summary,
)
from hardware.clock import MonotonicClock
from hardware.trackmaster import TrackmasterLink
from hardware.trackmaster_protocol import AUTO_STOP, GET_SPEED, STOP
from hardware.trackmaster_timing import stop_latency_budget_s


def start_realtime_sim(units: str, baud: int) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m hardware.sim.treadmill --pty`` (real time); return it and its pty."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardware.sim.treadmill", "--pty", "--units", units,
         "--baud", str(baud)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    if not path:
        proc.kill()
        raise BenchError("real-time simulated treadmill did not start")
    return proc, path


# ---------------------------------------------------------------------- the benchmark


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stats_ms(values_s: list[float]) -> dict[str, float]:
    if not values_s:
        raise BenchError("nothing was measured")
    v = [x * 1000.0 for x in values_s]
    return {"n": len(v), "median_ms": round(statistics.median(v), 3),
            "p99_ms": round(_percentile(v, 0.99), 3), "max_ms": round(max(v), 3)}


def stop_latencies(rig: SimRig, cycles: int, settle_s: float, phase_step_s: float,
                   speed_kmh: float = 0.5) -> list[float]:
    """Immediate stops at ``cycles`` moments, ``settle_s + k * phase_step_s`` after a start (so
    at different phases of the poll cycle and of the transaction in flight); for each, the time
    from ``stop()`` to the first stop byte the treadmill recorded, s. Each stop must end with
    the belt confirmed stopped.

    Raises:
        BenchError: a link fault, or a belt not confirmed stopped within 3 s of a stop.
    """
    link = rig.link
    latencies: list[float] = []
    for k in range(cycles):
        link.start()
        link.set_speed_kmh(speed_kmh)
        rig.run(settle_s + phase_step_s * k)
        asked_s = rig.clock.now_s()
        link.stop()
        stopped = rig.run_until(lambda: link.belt_stopped or link.fault is not None, 3.0)
        if link.fault is not None:
            raise BenchError(f"treadmill link fault: {link.fault}")
        if not stopped:
            raise BenchError("belt not confirmed stopped within 3 s of a stop")
        sent = [t for t, who, b in rig.treadmill.wire_log()
                if who == "host" and b in (STOP, AUTO_STOP) and t >= asked_s]
        latencies.append(sent[0] - asked_s)
    return latencies


def _no_fault(link: TrackmasterLink, what: str) -> None:
    """Raise :class:`BenchError` naming the link fault, if there is one."""
    if link.fault is not None:
        raise BenchError(f"{what}: treadmill link fault: {link.fault}")


SLOW_ACK_TIMEOUT_S: Final = 0.25
"""Ack timeout of the slow-treadmill runs: the longest ``[treadmill] ack_timeout_s`` allows."""


def bench_slow_treadmill(units: str, baud: int, delay_s: float, cycles: int) -> dict[str, Any]:
    """A treadmill whose replies are ``delay_s`` late (lockstep, 5 ms ticks — the loop's
    period — and ``ack_timeout_s`` 0.25): stop request → stop byte at ``cycles`` moments
    spread over 15 ms steps, against the budget of one period + one byte + one command."""
    with SimRig(units=units, baud=baud, tick_s=0.005,
                link_kwargs={"ack_timeout_s": SLOW_ACK_TIMEOUT_S}) as rig:
        rig.treadmill.inject("delay_s", seconds=delay_s)
        rig.run_until(lambda: rig.link.belt_stopped or rig.link.fault is not None, 3.0)
        _no_fault(rig.link, f"reply delay {delay_s:g} s")
        try:
            latencies = stop_latencies(rig, cycles, settle_s=0.6, phase_step_s=0.015)
        except BenchError as exc:
            raise BenchError(f"reply delay {delay_s:g} s: {exc}") from None
        return {
            "reply_delay_s": delay_s,
            "ack_timeout_s": SLOW_ACK_TIMEOUT_S,
            "tick_ms": rig.tick_s * 1000.0,
            "budget_ms": round(stop_latency_budget_s(rig.tick_s, baud) * 1000.0, 2),
            "stop_request_to_stop_byte": _stats_ms(latencies),
        }


def bench_simulated(units: str, baud: int, hold_s: float, cycles: int) -> dict[str, Any]:
    """Lockstep rig (simulated time, 1 ms ticks): polling, round trips, stop latency, and the
    wall-clock cost of ``step()``.

    Raises:
        BenchError: the link faulted.
    """
    with SimRig(units=units, baud=baud, tick_s=0.001) as rig:
        link = rig.link
        step_costs: list[float] = []
        real_step = link.step

        def timed_step() -> None:
            t = time.perf_counter()
            real_step()
            step_costs.append(time.perf_counter() - t)

        link.step = timed_step  # type: ignore[method-assign]
        rig.run_until(lambda: link.belt_stopped, 2.0)
        _no_fault(link, "simulated run")
        link.start()
        link.set_speed_kmh(1.0)
        rig.run(1.0 / link.ramp_kmh_per_s + 1.0)
        hold_from_s = rig.clock.now_s()
        first_tr = len(link.transaction_log)
        rig.run(hold_s)
        _no_fault(link, "simulated run")
        hold = list(link.transaction_log)[first_tr:]
        wire = rig.treadmill.wire_log()
        host_times = sorted({t for t, who, _ in wire if who == "host" and t >= hold_from_s})
        gaps = [b - a for a, b in itertools.pairwise(host_times)]
        link.stop()
        rig.run_until(lambda: link.belt_stopped, 5.0)

        # Stop latency: stop() at many phases of the poll cycle, from stop() to the stop byte.
        latencies = stop_latencies(rig, cycles, settle_s=0.05, phase_step_s=0.0013)
        return {
            "clock": "simulated (lockstep over a real pty), 1 ms ticks",
            "baud": baud,
            "round_trip_sim": rtt_summary(hold),
            "polls_per_s": round(len(hold) / hold_s, 2),
            "speed_reads_per_s": round(sum(1 for tr in hold if tr.opcode == GET_SPEED) / hold_s,
                                       2),
            "max_gap_between_host_commands_ms": round(max(gaps) * 1000.0, 2) if gaps else None,
            "stop_request_to_stop_byte": _stats_ms(latencies),
            "wall_clock_step": _stats_ms(step_costs),
        }


def bench_realtime(units: str, baud: int, hold_s: float, period_s: float) -> dict[str, Any]:
    """The real-time simulated treadmill on a pty, the link on the real clock stepped every
    ``period_s``: round trips as the OS delivers them, achieved polling, step cost."""
    proc, path = start_realtime_sim(units, baud)
    try:
        port = open_serial(path, baud)
        try:
            clock = MonotonicClock()
            link = TrackmasterLink(port, clock, units, max_speed_kmh=3.0)
            stepper = RealTimeStepper(link, clock, period_s)
            tick = stepper.tick

            end = clock.now_s() + 2.0
            while not link.belt_stopped and clock.now_s() < end:
                tick()
            link.start()
            link.set_speed_kmh(1.0)
            end = clock.now_s() + 1.0 / link.ramp_kmh_per_s + 0.5  # ramp up, then measure
            while clock.now_s() < end and link.fault is None:
                tick()
            _no_fault(link, f"real-time run ({period_s * 1000:g} ms steps)")
            end = clock.now_s() + hold_s
            first_tr = len(link.transaction_log)
            stepper.measure = True
            while clock.now_s() < end and link.fault is None:
                stepper.tick()
            stepper.measure = False
            hold = list(link.transaction_log)[first_tr:]
            sent = [tr.sent_s for tr in hold]
            link.stop()
            end = clock.now_s() + 5.0
            while not link.belt_stopped and clock.now_s() < end and link.fault is None:
                tick()
            _no_fault(link, f"real-time run ({period_s * 1000:g} ms steps)")
            if len(sent) < 2:
                raise BenchError(f"real-time run ({period_s * 1000:g} ms steps): fewer than two "
                                 f"transactions in {hold_s:g} s")
            return {
                "clock": f"real time, link stepped every {period_s * 1000:g} ms, "
                         "real-time simulated treadmill on a pty",
                "baud": baud,
                "fault": link.fault,
                "round_trip_real": rtt_summary(hold),
                "polls_per_s": round(len(hold) / hold_s, 2),
                "speed_reads_per_s": round(
                    sum(1 for tr in hold if tr.opcode == GET_SPEED) / hold_s, 2),
                "max_gap_between_host_commands_ms": round(
                    max(b - a for a, b in itertools.pairwise(sent)) * 1000.0, 2),
                "step_wakeup_lateness": _stats_ms(stepper.lateness_s),
                "wall_clock_step": _stats_ms(stepper.step_cost_s),
            }
        finally:
            port.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def cmd_bench_link(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``treadguard bench-link``: print measured link figures as a table, or as JSON when
    ``args.json``. Exit 0, or 1 with one line on stderr when the link faults (or a run
    measures nothing)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        figures: dict[str, Any] = {
            "python": sys.version.split()[0],
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "simulated": bench_simulated(args.units, args.baud, args.hold_s, args.stop_cycles),
            "simulated_slow_treadmill": [
                bench_slow_treadmill(args.units, args.baud, delay, args.stop_cycles)
                for delay in args.reply_delay_s],
        }
        if not args.no_realtime:
            figures["realtime_pty"] = [bench_realtime(args.units, args.baud, args.hold_s, p)
                                       for p in (0.001, 0.005)]
    except BenchError as exc:
        print(f"treadguard bench-link: {exc}", file=err)
        return 1
    if args.json:
        print(json.dumps(figures, indent=2), file=out)
    else:
        print(table([(name, fmt(value)) for name, value in flatten(figures)],
                    header=("figure", "value")), file=out)
    return 0
