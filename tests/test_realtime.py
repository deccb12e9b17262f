"""controller/realtime.py: what is asked for, and a clear line when it is not permitted."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from controller import realtime
from controller.settings import RealtimeSettings
from tests.conftest import ROOT


def test_not_permitted_is_said_and_never_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    monkeypatch.setattr(realtime, "lock_memory", lambda: "not permitted (EPERM)")
    lines = realtime.apply(RealtimeSettings(priority=60))
    assert "realtime: memory NOT locked: mlockall not permitted (EPERM)" in lines
    assert any(line.startswith("realtime: loop thread under normal scheduling: SCHED_FIFO not "
                               "permitted (needs CAP_SYS_NICE") for line in lines)


def test_sched_fifo_is_asked_for_at_the_configured_priority(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "sched_setscheduler",
                        lambda pid, policy, param: asked.append((policy, param.sched_priority)))
    monkeypatch.setattr(realtime, "lock_memory", lambda: None)
    lines = realtime.apply(RealtimeSettings(priority=60))
    assert asked == [(os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, 60)]
    assert "realtime: loop thread SCHED_FIFO priority 60" in lines
    off = realtime.apply(RealtimeSettings(sched_fifo=False, lock_memory=False))
    assert len(asked) == 1 and "sched_fifo = false" in off[-1]


CHILD = """
import os, threading
from controller import realtime
from controller.settings import RealtimeSettings
lines = realtime.apply(RealtimeSettings(priority=10, lock_memory=False))
if any("not permitted" in line for line in lines):
    print("not permitted")
else:
    seen = []
    t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
    t.start(); t.join()
    print(os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK, seen[0])
"""


def test_threads_started_later_do_not_inherit_the_loops_priority() -> None:
    """A thread started after the loop's thread raised its priority (a control socket's
    handler, a rebuilt system's writer) runs under normal scheduling."""
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    if out == ["not permitted"]:
        pytest.skip("SCHED_FIFO is not permitted here")
    assert out == [str(os.SCHED_FIFO), str(os.SCHED_OTHER)]


def test_garbage_is_collected_only_when_the_belt_cannot_move() -> None:
    latched = [False]
    policy = realtime.GcPolicy(lambda: latched[0])
    policy.start()
    try:
        assert not gc.isenabled()
        junk: list[list[int]] = [[] for _ in range(realtime.GC_EVERY_ALLOCATIONS + 10)]
        assert gc.get_count()[0] >= realtime.GC_EVERY_ALLOCATIONS
        policy.idle()  # running: never
        assert policy.collections == 0
        latched[0] = True
        policy.idle()
        assert policy.collections == 1 and gc.get_count()[0] < realtime.GC_EVERY_ALLOCATIONS
        del junk
    finally:
        policy.stop()
    assert gc.isenabled()
