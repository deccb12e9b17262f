"""controller/realtime.py: what is asked for, and a clear line when it is not permitted."""

from __future__ import annotations

import gc
import os

import pytest

from controller import realtime
from controller.settings import RealtimeSettings


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
    assert asked == [(os.SCHED_FIFO, 60)]
    assert "realtime: loop thread SCHED_FIFO priority 60" in lines
    off = realtime.apply(RealtimeSettings(sched_fifo=False, lock_memory=False))
    assert asked == [(os.SCHED_FIFO, 60)] and "sched_fifo = false" in off[-1]


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
