"""Asking the kernel for the loop's time: SCHED_FIFO, locked memory, CPU pinning, and keeping
Python's garbage collector out of the tick (``[realtime]``).

Under normal scheduling on a busy machine the loop's tick lateness reached p99 of 95–190 ms
(``docs/performance.md``): every other process competes for the same core. Under SCHED_FIFO the
loop's thread runs as soon as it is runnable, ahead of every normal process.

- :func:`apply` is called from the loop's own thread just before the first tick, after the
  other threads (event printer, black-box writer, watchdog) have started: SCHED_FIFO applies to
  the calling thread only, and threads started afterwards would inherit it. The black box's
  writer must not share the loop's priority (a long SQLite commit would then delay a tick).
- What is not permitted (no CAP_SYS_NICE / ``LimitRTPRIO``, no CAP_IPC_LOCK /
  ``LimitMEMLOCK``, a CPU that does not exist) is said in one line each and never fatal: the
  loop runs as well as it can and the watchdogs still guard it.
- Garbage collection: after start-up everything allocated so far is moved out of the
  collector's reach (``gc.freeze``) and automatic collection is switched off. Most garbage is
  freed by reference counting at once; cycles wait for :meth:`GcPolicy.idle`, which collects
  only between ticks and only while the belt cannot move (latched or ready).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable
from typing import Final

from controller.settings import RealtimeSettings

MCL_CURRENT: Final = 1
MCL_FUTURE: Final = 2
GC_EVERY_ALLOCATIONS: Final = 700
"""Collect the youngest generation (in idle time) once this many allocations are pending:
Python's own default threshold."""
FULL_GC_EVERY: Final = 100
"""Every this many idle collections, a full one."""


def set_fifo(priority: int) -> str | None:
    """SCHED_FIFO at ``priority`` for the calling thread; None if done, else why not."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        return ("not permitted (needs CAP_SYS_NICE, or LimitRTPRIO= in the unit / an rtprio "
                "limit in /etc/security/limits.conf)")
    except OSError as exc:
        return f"failed: {exc.strerror or exc}"
    except AttributeError:
        return "not available on this system"
    return None


def set_normal() -> None:
    """Normal scheduling for the calling thread (a thread that must never compete with the
    loop, started after the loop's thread raised its own and so inheriting it). Lowering
    needs no privilege; where even that fails, nothing is lost but the intent."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def lock_memory() -> str | None:
    """mlockall(MCL_CURRENT | MCL_FUTURE); None if done, else why not."""
    name = ctypes.util.find_library("c")
    if name is None:
        return "no C library found"
    libc = ctypes.CDLL(name, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        return (f"not permitted ({os.strerror(err)}: needs CAP_IPC_LOCK or LimitMEMLOCK=infinity "
                f"in the unit)")
    return None


def pin_cpu(cpu: int) -> str | None:
    """Pin the whole process (every thread) to ``cpu``; None if done, else why not."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"failed: {exc.strerror or exc}"
    return None


def apply(settings: RealtimeSettings) -> list[str]:
    """Everything ``[realtime]`` asks for, for the calling thread (the loop's); one line each
    saying what was done or why not."""
    lines = []
    if settings.cpu is not None:
        why = pin_cpu(settings.cpu)
        lines.append(f"realtime: pinned to CPU {settings.cpu}" if why is None
                     else f"realtime: CPU {settings.cpu} pinning {why}")
    if settings.lock_memory:
        why = lock_memory()
        lines.append("realtime: memory locked (mlockall)" if why is None
                     else f"realtime: memory NOT locked: mlockall {why}")
    if settings.sched_fifo:
        why = set_fifo(settings.priority)
        lines.append(f"realtime: loop thread SCHED_FIFO priority {settings.priority}"
                     if why is None else
                     f"realtime: loop thread under normal scheduling: SCHED_FIFO {why}")
    else:
        lines.append("realtime: loop thread under normal scheduling ([realtime] sched_fifo = "
                     "false)")
    return lines


class GcPolicy:
    """The garbage collector kept out of the tick.

    Args:
        may_collect: whether now is a time to collect (the belt cannot move: latched or
            ready).
    """

    def __init__(self, may_collect: Callable[[], bool]) -> None:
        self._may_collect = may_collect
        self.collections = 0
        self.active = False

    def start(self) -> str:
        """After start-up: collect once, freeze what exists, switch automatic collection off."""
        gc.collect()
        gc.freeze()
        gc.disable()
        self.active = True
        return "realtime: garbage collection frozen after start-up; collected only while " \
               "latched or ready, between ticks"

    def idle(self) -> None:
        """Called after a tick (in the time left before the next)."""
        if not self.active or gc.get_count()[0] < GC_EVERY_ALLOCATIONS or \
                not self._may_collect():
            return
        self.collections += 1
        gc.collect(2 if self.collections % FULL_GC_EVERY == 0 else 0)

    def stop(self) -> None:
        if self.active:
            gc.enable()
            gc.unfreeze()
            self.active = False
