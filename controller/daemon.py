"""``treadguard run``: the daemon the service starts, and its log for a person at the machine.

The command builds the system through the composition root (:func:`controller.app.build`),
runs the loop until SIGTERM/SIGINT (or ``--duration-s``), then shuts down with a controlled
stop. The log is printed by :class:`EventPrinter` on its own thread, never inside a tick.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller import config as cfg
from controller.app import AnySystem, HardwareError, build
from controller.control_socket import ControlError
from controller.events import Event, EventKind
from controller.reload import ConfigReload
from controller.services import Services
from controller.sessions import start_services
from controller.store import StoreError
from controller.supervisor import State
from hardware.clock import Clock, MonotonicClock


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="run the safety controller (the daemon the service starts)")
    run.add_argument("--config", required=True, help="configuration file (TOML)")
    run.add_argument("--duration-s", type=positive_seconds, default=None,
                     help="stop after this many seconds (default: run until SIGTERM/SIGINT)")
    run.add_argument("--state", metavar="DIR", default=None,
                     help="state directory for the black box (default: [paths] state_dir)")
    run.set_defaults(func=cmd_run)


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0 (nan would run for ever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    settings = cfg.load(args.config)
    problem = settings.mixing_problem()
    if problem is not None:
        raise cfg.ConfigError(problem)
    clock = MonotonicClock()
    try:
        system = build(settings, clock)
    except HardwareError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
    stop = StopSignals()
    printer = EventPrinter(sys.stdout, wall_time=lambda t_s: wall_clock(clock, t_s))
    reload = ConfigReload(args.config, settings, printer.post_line)
    end_s = clock.now_s() + args.duration_s if args.duration_s is not None else None
    try:
        # One pass per configuration: a valid SIGHUP change ends the pass while the belt is
        # stopped and not armed, and the system is built again from the new file.
        while run_session(system, clock, printer, args.state, reload,
                          lambda: not stop.requested
                          and (end_s is None or clock.now_s() < end_s), lambda: stop.name):
            system = rebuild(clock, reload, printer.post_line)
    except HardwareError as exc:  # neither the new file's hardware nor the old one's opened
        printer.post_line(f"treadguard: {exc}")
        return 1
    except (StoreError, ControlError) as exc:  # the runner store or the control socket
        printer.post_line(f"treadguard: {exc}")
        return 2
    finally:
        reload.close()
        printer.close()
    return 0


def run_session(system: AnySystem, clock: Clock, printer: EventPrinter, state: str | None,
                reload: ConfigReload, keep_running: Callable[[], bool],
                signal_name: Callable[[], str | None]) -> bool:
    """Run ``system`` until ``keep_running()`` is false or a reload is due, then shut it down
    (a controlled stop, the relay open). True if it ended for a configuration change."""
    def on_event(event: Event) -> None:
        printer.post(event)
        if event.kind is EventKind.STATE:
            printer.post_line(next_step(system), at_s=event.t_s)

    # Before the services start: what they say (the fleet's connection) is in the log too.
    system.events.subscribe(on_event)
    try:
        session_services = start_services(system, system.settings, state)
    except (StoreError, ControlError, cfg.ConfigError):  # ConfigError: [fleet]'s files
        system.shutdown()
        raise
    started_s = clock.now_s()
    services = Services(system, clock, printer.post_line,
                        state_dir=Path(state or system.settings.paths.state_dir))
    reloading = False
    try:
        for line in system.describe() + services.describe():
            printer.post_line(line)
        printer.post_line(next_step(system), at_s=started_s)
        services.start()

        def go_on() -> bool:
            nonlocal reloading
            reloading = reload.due(system.supervisor)
            return keep_running() and not reloading

        system.loop.run_forever(go_on, idle=services.idle)
    finally:
        system.shutdown()
        services.close()
        session_services.close()
        why = "SIGHUP" if reloading else signal_name()
        printer.post_line(exit_summary(system, clock.now_s() - started_s, why))
        printer.post_line(system.loop.lateness.summary().line())
    return reloading and keep_running()


def rebuild(clock: Clock, reload: ConfigReload, log: Callable[[str], None]) -> AnySystem:
    """The system from the pending configuration; if its hardware cannot be opened, from the
    one in force (and if that fails too, :class:`HardwareError`: exit 1, systemd restarts)."""
    new = reload.pending
    assert new is not None
    try:
        system = build(new, clock)
    except HardwareError as exc:
        log(f"SIGHUP: {exc}: building the configuration in force again")
        reload.pending = None
        return build(reload.current, clock)
    reload.applied(new)
    log(f"configuration {new.path} in force: it starts latched; hold reset to arm with it")
    return system


class StopSignals:
    """SIGTERM (systemd) and SIGINT (Ctrl-C) end a session the same way: the loop finishes its
    tick, then the shutdown's controlled stop. Never a KeyboardInterrupt in the middle of a
    tick (which would be an ``internal_error`` stop with the power cut)."""

    def __init__(self) -> None:
        self.name: str | None = None
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    @property
    def requested(self) -> bool:
        return self.name is not None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.name = signal.Signals(signum).name


def wall_clock(clock: Clock, t_s: float) -> str:
    """Local wall-clock time (HH:MM:SS.mmm) of clock time ``t_s``: for people reading the log;
    never used for any decision."""
    wall_s = time.time() - (clock.now_s() - t_s)
    return datetime.datetime.fromtimestamp(wall_s).strftime("%H:%M:%S.%f")[:-3]


def next_step(system: AnySystem) -> str:
    """The state and what a person does next, for the daemon's log."""
    sup = system.supervisor
    g = system.settings.gpio
    state = sup.state.name
    if sup.state is State.LATCHED:
        reason = sup.stop_reason or "stopped"
        hint = f"hold reset {g.reset_hold_s:g} s to clear the stop"
        if system.safety_io.estop_pressed:
            hint = "release the e-stop, then " + hint
        return f"{state} ({reason}): {hint}"
    if sup.state is State.READY:
        button = "start" if g.start_pin is not None else "reset (short press)"
        return f"{state}: press {button} to start the belt"
    if sup.state is State.COUNTDOWN:
        return (f"{state}: the belt starts in {sup.start_countdown_s:g} s; any stop or fault "
                f"cancels the start")
    if sup.state is State.STOPPING:
        return f"{state} ({sup.stop_reason}): the belt is slowing to a stop; it stays latched"
    return f"{state}: every stop latches until a person holds reset"


def exit_summary(system: AnySystem, ran_s: float, signal_name: str | None) -> str:
    """One line at exit: how long, why it ended, the stops, and the belt's state."""
    sup = system.supervisor
    stops = [e.message.removeprefix("STOP: ") for e in system.events.of_kind(EventKind.STOP)
             if e.message.startswith("STOP: ")]
    why = f"{signal_name} received" if signal_name else "duration reached"
    link = system.link
    if link is not None and link.belt_stopped:
        belt = "belt confirmed stopped"
    elif sup.power_cut:
        belt = f"treadmill power cut ({sup.power_cut_reason})"
    else:
        belt = "belt NOT confirmed stopped"
    return (f"treadguard stopped after {ran_s:.1f} s ({why}): {len(stops)} stop(s)"
            + (f", first {stops[0]}" if stops else "")
            + f"; {belt}; relay open; state {sup.state.name} ({sup.stop_reason})")


class EventPrinter:
    """Prints events from a bounded queue on its own thread, so a slow or blocked stdout (a
    full pipe, a restarting journald) never holds up the loop's tick. The thread spends its
    time blocked in I/O, which releases the GIL. When the queue is full, lines are dropped and
    counted rather than waited for.

    Args:
        stream: where lines go.
        maxlen: queue length (lines beyond it are dropped and counted).
        wall_time: turns a clock time into the text that starts each line (formatted on the
            printer's thread, not in the tick); default: no time stamp.
    """

    def __init__(self, stream: Any, maxlen: int = 1000,
                 wall_time: Callable[[float], str] | None = None) -> None:
        self._stream = stream
        self._wall_time = wall_time
        self._queue: queue.Queue[tuple[float | None, str] | None] = queue.Queue(maxsize=maxlen)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="event-printer", daemon=True)
        self._thread.start()

    def post(self, event: Event) -> None:
        self.post_line(f"{event.kind:7} {event.message}", at_s=event.t_s)

    def post_line(self, line: str, at_s: float | None = None) -> None:
        """Queue ``line``; with ``at_s`` (clock time) it is stamped with its wall-clock time."""
        try:
            self._queue.put_nowait((at_s, line))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            at_s, line = item
            if at_s is not None and self._wall_time is not None:
                line = f"{self._wall_time(at_s)} {line}"
            with contextlib.suppress(OSError, ValueError):
                print(line, file=self._stream, flush=True)

    def close(self, timeout_s: float = 1.0) -> None:
        """Flush what is queued (waiting at most ``timeout_s``) and end the thread."""
        if self.dropped:
            self.post_line(f"({self.dropped} log lines dropped: the output was too slow)")
        with contextlib.suppress(Exception):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)
