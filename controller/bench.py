"""``treadguard bench``: the loop's timing on the simulated machine, in a table.

Two parts:

1. **The loop in real time** (``--seconds``, default 20): the ``walk`` scenario on the real
   monotonic clock, as ``treadguard run`` drives it — optionally under SCHED_FIFO
   (``--realtime``: ``[realtime]`` of the file) and beside ``--hog N`` processes that spin on
   the CPU. Measured: tick lateness (p50, p99, max, missed deadlines, longest gap); sensor
   sample → decision (from the sample's time stamp — back-dated by the driver to when the chip
   took it — to the end of the supervisor's handling of the detector's decision); CPU time per
   tick by layer (``time.thread_time_ns`` around each call the tick makes).
2. **Detection → stop byte on the wire** (``--trials``, default 10): on simulated time (the
   lockstep world), a stop decision at a random moment while the belt runs, and the time to
   the first byte that slows the belt (a controlled stop's lowered ``A3``) and to the stop
   command itself (an immediate stop's ``A2``), as the simulated treadmill receives them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from controller import app, realtime
from controller import config as cfg
from controller.detect.base import Decision, Level
from controller.devices import world_seed, world_with_treadmill
from controller.lateness import LatenessStats
from controller.report_table import table
from controller.sim_session import require_all_simulated
from controller.stop_reasons import StopReason
from controller.supervisor import State
from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.sim.scenarios import SCENARIOS
from hardware.sim.world import SimTreadmillWorld
from hardware.trackmaster_protocol import AUTO_STOP, SET_SPEED, STOP

WARM_UP_S = 1.0
LAYERS = ("drivers", "health", "detectors", "supervisor", "link", "simulation")


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="measure the loop on the simulated machine: lateness, "
                                         "sample → decision, detection → stop byte, CPU per "
                                         "layer (a table)")
    bench.add_argument("--config", default="examples/sim.toml",
                       help="an all-simulated file (default: examples/sim.toml)")
    bench.add_argument("--seconds", type=float, default=20.0,
                       help="real-time part: seconds of loop (default 20)")
    bench.add_argument("--trials", type=int, default=10,
                       help="stop trials on simulated time (default 10)")
    bench.add_argument("--realtime", action="store_true",
                       help="apply [realtime] (SCHED_FIFO, mlockall, gc) to the loop's thread")
    bench.add_argument("--hog", type=int, default=0, metavar="N",
                       help="run N CPU-spinning processes beside the loop")
    bench.add_argument("--json", action="store_true", help="JSON instead of the table")
    bench.set_defaults(func=cmd_bench)


def _system(settings: cfg.Settings, clock: Clock) -> app.System[SimTreadmillWorld]:
    scenario = SCENARIOS["walk"]()
    world = world_with_treadmill(settings, clock, scenario.motion, scenario.actions,
                                 world_seed(settings))
    return app.assemble(settings, clock, world, scenario.target_speed_kmh)


class LayerTimer:
    """CPU time per tick by layer: wraps the calls the loop makes (a bench only)."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = defaultdict(int)

    def wrap(self, obj: Any, name: str, layer: str) -> None:
        inner: Callable[..., Any] = getattr(obj, name)
        ns = self.ns

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time_ns()
            try:
                return inner(*args, **kwargs)
            finally:
                ns[layer] += time.thread_time_ns() - t0

        setattr(obj, name, timed)


def _instrument(system: app.System[SimTreadmillWorld], timer: LayerTimer,
                latencies: list[float], clock: Clock) -> None:
    loop = system.loop
    sup = system.supervisor
    timer.wrap(loop._imu, "read", "drivers")
    for name in ("service", "poll_button", "set_relay"):
        timer.wrap(system.safety_io, name, "drivers")
    timer.wrap(loop.imu_health, "check", "health")
    timer.wrap(system.stop_chain, "check", "health")
    rails = loop._rails
    if rails is not None:
        timer.wrap(rails.driver, "read", "drivers")
        timer.wrap(rails.health, "check", "health")
        timer.wrap(rails.detector, "update", "detectors")
    if loop._presence is not None:
        timer.wrap(loop._presence, "update", "detectors")
    timer.wrap(sup, "tick", "supervisor")
    if system.link is not None:
        timer.wrap(system.link, "step", "link")
    timer.wrap(system.world, "before_tick", "simulation")
    loop._before_tick = system.world.before_tick

    detector = loop._detector
    inner_update = detector.update
    on_decision = sup.on_decision
    pending: list[float] = []

    def update(sample: Any) -> Decision:
        t0 = time.thread_time_ns()
        try:
            return inner_update(sample)
        finally:
            timer.ns["detectors"] += time.thread_time_ns() - t0
            pending.append(sample.t_s)

    def decided(decision: Decision) -> None:
        t0 = time.thread_time_ns()
        try:
            on_decision(decision)
        finally:
            timer.ns["supervisor"] += time.thread_time_ns() - t0
            if pending:  # the decision on a sample: its age now, in real time
                latencies.append(clock.now_s() - pending.pop())

    detector.update = update  # type: ignore[method-assign]
    sup.on_decision = decided  # type: ignore[method-assign]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def real_time_part(settings: cfg.Settings, seconds: float, use_realtime: bool,
                   hogs: int) -> dict[str, Any]:
    clock = MonotonicClock()
    # The hogs first, under normal scheduling; then the loop's thread asks for its own; then
    # the system is built (its simulated treadmill process inherits the loop's scheduling: a
    # real treadmill is not on this CPU at all).
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(hogs)]
    notes: list[str] = []
    if use_realtime:
        notes += realtime.apply(settings.realtime, inherit=True)
    system = _system(settings, clock)
    timer = LayerTimer()
    latencies: list[float] = []
    _instrument(system, timer, latencies, clock)
    gc_policy = realtime.GcPolicy(
        lambda: system.supervisor.state in (State.LATCHED, State.READY))
    try:
        if use_realtime:
            notes.append(gc_policy.start())
        # A second of warm-up (the samples queued while the system was built), then measure.
        warm_end = clock.now_s() + WARM_UP_S
        system.loop.run_forever(lambda: clock.now_s() < warm_end, idle=gc_policy.idle)
        system.loop.lateness = LatenessStats(system.loop.period_s)
        latencies.clear()
        timer.ns.clear()
        ticks0 = system.loop.ticks
        tick_cpu0 = time.thread_time_ns()
        end = clock.now_s() + seconds
        system.loop.run_forever(lambda: clock.now_s() < end, idle=gc_policy.idle)
        tick_cpu = time.thread_time_ns() - tick_cpu0
    finally:
        gc_policy.stop()
        for p in procs:
            p.kill()
            p.wait()
        system.shutdown()
    ticks = max(1, system.loop.ticks - ticks0)
    late = system.loop.lateness.summary()
    per_tick_us = {layer: timer.ns.get(layer, 0) / ticks / 1000 for layer in LAYERS}
    per_tick_us["total (the loop's thread)"] = tick_cpu / ticks / 1000
    return {
        "seconds": seconds, "realtime": use_realtime, "hogs": hogs, "notes": notes,
        "ticks": ticks, "state_at_end": system.supervisor.state.value,
        "lateness_ms": {"p50": late.p50_s * 1000, "p99": late.p99_s * 1000,
                        "max": late.max_s * 1000, "missed_deadlines": late.missed,
                        "longest_gap": late.longest_gap_s * 1000},
        "sample_to_decision_ms": {"n": len(latencies),
                                  "p50": _percentile(latencies, 0.5) * 1000,
                                  "p99": _percentile(latencies, 0.99) * 1000,
                                  "max": max(latencies, default=float("nan")) * 1000},
        "cpu_per_tick_us": per_tick_us,
    }


def _stop_trial(settings: cfg.Settings, immediate: bool, delay_s: float) -> float | None:
    """One stop decided inside a tick ``delay_s`` after 9 s of walking: the simulated time,
    s, from the decision to the first slowing byte (controlled) or the stop byte
    (immediate) the treadmill received."""
    clock = SimClock()
    system = _system(settings, clock)
    decided: list[float] = []
    try:
        system.loop.run(9.0 + delay_s)
        assert system.supervisor.state is State.RUNNING
        detector = system.loop._detector
        inner = detector.update

        def detect(sample: Any) -> Decision:
            # The decision comes from inside the tick, as a detector's does: the time from it
            # to the byte includes whatever the link has in flight at that moment.
            decision = inner(sample)
            if decided:
                return decision
            decided.append(clock.now_s())
            if immediate:
                system.supervisor.request_stop(StopReason.INTERNAL_ERROR, "bench",
                                               cut_power=True)
                return decision
            return Decision(Level.STOP, StopReason.SLIP_TRIP, "bench")

        detector.update = detect  # type: ignore[method-assign]
        system.loop.run(0.5)
        wire = system.world.treadmill.wire_log()
    finally:
        system.shutdown()
    if not decided:
        return None
    wanted = (STOP, AUTO_STOP) if immediate else (SET_SPEED, STOP, AUTO_STOP)
    return next((t - decided[0] for t, who, b in wire
                 if who == "host" and t >= decided[0] and b in wanted), None)


def stop_trials(settings: cfg.Settings, trials: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    slowing: list[float] = []
    stopping: list[float] = []
    for trial in range(trials):
        immediate = trial % 2 == 1
        latency = _stop_trial(settings, immediate, rng.uniform(0.0, 0.2))
        if latency is not None:
            (stopping if immediate else slowing).append(latency)
    return {"trials": trials,
            "controlled_stop_first_slowing_byte_ms": _stats(slowing),
            "immediate_stop_byte_ms": _stats(stopping)}


def _stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": _percentile(values, 0.5) * 1000,
            "max": max(values, default=float("nan")) * 1000}


def render(result: dict[str, Any]) -> str:
    rt = result["loop"]
    late = rt["lateness_ms"]
    s2d = rt["sample_to_decision_ms"]
    rows = [
        [f"loop in real time: {rt['seconds']:g} s, {rt['ticks']} ticks, "
         f"{'SCHED_FIFO/mlock/gc (see notes)' if rt['realtime'] else 'normal scheduling'}, "
         f"{rt['hogs']} CPU hog(s)"],
        ["tick lateness p50 / p99 / max (ms)", f"{late['p50']:.3f}", f"{late['p99']:.3f}",
         f"{late['max']:.3f}"],
        ["missed deadlines / longest gap (ms)", str(late["missed_deadlines"]),
         f"{late['longest_gap']:.3f}", ""],
        ["sample → decision p50 / p99 / max (ms)", f"{s2d['p50']:.3f}", f"{s2d['p99']:.3f}",
         f"{s2d['max']:.3f}"],
        ["CPU per tick by layer (µs)"],
        *[[f"  {layer}", f"{us:.1f}", "", ""] for layer, us in rt["cpu_per_tick_us"].items()],
    ]
    stops = result["stops"]
    c, i = (stops["controlled_stop_first_slowing_byte_ms"], stops["immediate_stop_byte_ms"])
    rows += [
        [f"detection → byte on the wire (simulated time, {stops['trials']} trials)"],
        ["controlled stop: first slowing byte p50 / max (ms)", f"{c['p50']:.1f}",
         f"{c['max']:.1f}", f"n={c['n']}"],
        ["immediate stop: stop byte p50 / max (ms)", f"{i['p50']:.1f}", f"{i['max']:.1f}",
         f"n={i['n']}"],
    ]
    out = table(rows, header=["figure", "a", "b", "c"])
    if rt["notes"]:
        out += "\n" + "\n".join(rt["notes"])
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    settings = cfg.load(args.config)
    require_all_simulated(settings, "treadguard bench")
    result = {"loop": real_time_part(settings, args.seconds, args.realtime, args.hog),
              "stops": stop_trials(settings, args.trials)}
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        print(render(result))
    return 0
