"""What ``treadguard run`` adds around the loop when it runs as a service: systemd's notify
socket (:mod:`controller.sdnotify`), the loop watchdog thread (:mod:`controller.watchdog`),
and the one-line status both show.

The order matters and is fixed here: the watchdog starts watching just before the loop's first
tick and ``READY=1`` goes out with it; at the end, :meth:`Services.close` runs after the
shutdown's controlled stop has ended with the relay open, and only then sends ``STOPPING=1``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from controller import realtime
from controller.app import AnySystem
from controller.blackbox.recorder import start_blackbox
from controller.sdnotify import Notifier
from controller.supervisor import State
from controller.watchdog import LoopWatchdog
from hardware.clock import Clock


def status_line(system: AnySystem, problem: str | None = None) -> str:
    """The state and the loop's timing (and the black box's ``problem``, if any), for
    systemd's ``STATUS=`` (``systemctl status``)."""
    sup = system.supervisor
    state = sup.state.name + (f" ({sup.stop_reason})" if sup.stop_latched else "")
    late = system.loop.lateness
    return (f"{state}; tick lateness p99 {late.percentile_s(0.99) * 1000:.2f} ms, max "
            f"{late.max_s * 1000:.1f} ms, {late.missed} missed"
            + ("; black box NOT WRITING" if problem else ""))


class Services:
    """The notify socket and the loop watchdog of one daemon run.

    Args:
        system: the built system.
        clock: the real monotonic clock.
        log: a thread-safe line printer (the daemon's ``EventPrinter.post_line``).
        notifier: the notify socket (default: from the environment).
        state_dir: where the black box is kept (None: no black box).
    """

    def __init__(self, system: AnySystem, clock: Clock, log: Callable[[str], None],
                 notifier: Notifier | None = None, state_dir: Path | None = None) -> None:
        self.system = system
        self._log = log
        rt = system.settings.realtime
        self.gc = realtime.GcPolicy(
            lambda: system.supervisor.state in (State.LATCHED, State.READY))
        self.recorder = start_blackbox(system, state_dir, log) if state_dir is not None \
            else None
        self.notifier = notifier if notifier is not None else Notifier()
        self.watchdog = LoopWatchdog(
            clock, lambda: system.loop.ticks, system.settings.watchdog.loop_timeout_s,
            system.safety_io, system.link, self.notifier,
            status=lambda: status_line(system, self._blackbox_problem()),
            on_trip=lambda what: log(f"WATCHDOG: {what}"),
            fifo_priority=min(rt.priority + 1, 99) if rt.sched_fifo else None)
        system.loop.watchdog = self.watchdog

    def _blackbox_problem(self) -> str | None:
        return self.recorder.writer.problem if self.recorder is not None else None

    def describe(self) -> list[str]:
        n = self.notifier
        wd = self.watchdog
        lines = [f"loop watchdog thread: relay open and stop command if no tick for "
                 f"{wd.timeout_s * 1000:.0f} ms"]
        if self.recorder is not None:
            lines.append(f"black box: {self.recorder.state_dir} (session "
                         f"{self.recorder.session})")
        if n.enabled:
            every = n.ping_every_s
            lines.append("systemd notify: READY=1 at start" + (
                f", WATCHDOG=1 every {every:.3g} s while the loop is on time"
                if every is not None else " (no watchdog asked for)"))
        return lines

    def start(self) -> None:
        """Just before the loop's first tick, from the loop's thread: watch it, give that
        thread its real-time scheduling, keep the garbage collector out of its ticks, and tell
        systemd it is up."""
        settings = self.system.settings.realtime
        for line in realtime.apply(settings):  # mlockall and the first collection take time:
            self._log(line)                    # the watchdog starts watching after them
        if settings.freeze_gc:
            self._log(self.gc.start())
        self.watchdog.start()
        self.notifier.ready(status_line(self.system))

    def idle(self) -> None:
        """After each tick (``ControlLoop.run_forever``'s ``idle``)."""
        self.gc.idle()

    def close(self) -> None:
        """After the shutdown (belt stopped, relay open): stop watching, close the black box
        (its last commit), ``STOPPING=1``."""
        self.gc.stop()
        self.watchdog.close()
        if self.recorder is not None:
            self.recorder.close()
        self.notifier.stopping(status_line(self.system))
        self.notifier.close()
