"""The black box: what a simulated session leaves behind, a power cut (SIGKILL) in the middle of
a busy session, a full disk, an overflowing queue, rotation and pruning, and ``treadguard log``."""

from __future__ import annotations

import csv
import datetime
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.blackbox import store
from controller.blackbox.recorder import Recorder, start_blackbox
from controller.blackbox.writer import BoundedQueue, Item, Writer
from controller.cli import main
from controller.events import EventKind
from controller.profiles import PROFILES, new_limits
from controller.program import Plan
from controller.sessions import attach_program
from controller.settings import ProgramSettings
from controller.stop_reasons import StopReason
from tests.conftest import ROOT, Build, treadmill


def record(system: object, state: Path, **hooks: object) -> tuple[Recorder, list[str]]:
    lines: list[str] = []
    recorder = start_blackbox(system, state, lines.append, **hooks)  # type: ignore[arg-type]
    assert recorder is not None
    return recorder, lines


def test_a_simulated_session_reads_back_whole(build_sim: Build, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    system = build_sim("demo")
    recorder, lines = record(system, tmp_path)
    system.loop.run(15.0)
    system.shutdown()
    recorder.close()
    assert system.supervisor.stop_reason == StopReason.PRE_IMPACT
    assert recorder.writer.problem is None and lines == []

    [info] = store.sessions(tmp_path)
    events = list(store.rows(tmp_path, info, "events"))
    # Every event of the session's log, in order, after the start line (version, config hash).
    assert events[0][2].startswith("black box: treadguard ") and "sha256 " in events[0][2]
    assert [(t, k, m) for t, k, m in events[1:] if k != EventKind.LEVEL] == [
        (e.t_s, str(e.kind), e.message) for e in system.events]
    # The detectors' level changes are the black box's own: the slip rises to the stop.
    levels = [(t, m) for t, k, m in events if k == EventKind.LEVEL]
    stop_t = next(e.t_s for e in system.events if e.kind is EventKind.STOP)
    # (While at STOP, a change of which detector stops is a change too.)
    changes = [m for _, m in levels]
    assert changes[:2] == ["detectors: caution (stumble)", "detectors: stop (pre_impact)"]
    assert changes[-1] == "detectors: ok"
    assert all(m.startswith("detectors: stop (") for m in changes[1:-1])
    assert levels[1][0] == stop_t  # the rise at once, the calm after 0.5 s of it
    assert levels[-1][0] >= stop_t + 0.5
    telemetry = list(store.rows(tmp_path, info, "telemetry"))
    running = [r for r in telemetry if r[1] == "running"]
    assert len(running) >= 10 * 5  # 10 Hz over the ≥ 6 s the belt ran
    assert max(r[3] for r in running if r[3] is not None) > 1.0  # the belt's read-back speed
    idle = [r for r in telemetry if r[0] < 1.4]  # latched before the reset: 0.2 Hz
    assert len(idle) == 1
    imu = [r[0] for r in store.rows(tmp_path, info, "imu")]
    assert imu == sorted(set(imu))  # each sample once, in order
    assert min(imu) <= stop_t - 7.9 and max(imu) >= stop_t + 1.9  # 8 s before, 2 s after
    assert info.ended_utc is not None and info.lateness["longest_gap_ms"] == pytest.approx(5.0)

    assert main(["log", "list", "--state", str(tmp_path), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == info.id and listed["stops"] == 1
    assert main(["log", "show", info.id, "--state", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "STOP: pre_impact" in shown and "state → latched (pre_impact)" in shown
    assert main(["log", "export", info.id, "--state", str(tmp_path), "--csv",
                 str(tmp_path / "csv")]) == 0
    with (tmp_path / "csv" / f"{info.id}-telemetry.csv").open() as f:
        assert len(list(csv.reader(f))) == len(telemetry) + 1


def test_runner_and_session_ids_and_a_new_session(build_sim: Build, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    system = build_sim("walk")
    recorder, _ = record(system, tmp_path)
    system.loop.run(1.0)
    recorder.set_session("alice", "S-1")
    system.loop.run(1.0)
    second = recorder.new_session("bob", "S-2")
    system.loop.run(1.0)
    system.shutdown()
    recorder.close()
    found = store.sessions(tmp_path)
    assert [(s.runner, s.session_id) for s in found] == [("alice", "S-1"), ("bob", "S-2")]
    assert found[1].id == second and all(s.ended_utc for s in found)
    assert main(["log", "list", "--state", str(tmp_path), "--runner", "bob"]) == 0
    out = capsys.readouterr().out
    assert second in out and found[0].id not in out
    assert main(["log", "show", "S-1", "--state", str(tmp_path)]) == 0  # by session id too
    assert main(["log", "show", "nope", "--state", str(tmp_path)]) == 1
    assert "no session 'nope'" in capsys.readouterr().err


def test_sigkill_in_a_busy_session_loses_nothing_committed(tmp_path: Path) -> None:
    """The writer's process is killed (SIGKILL, as in a power cut, minus the disk cache) while
    it writes an event every tick, 50 Hz telemetry and an IMU burst every second. Reopened:
    every file is consistent, everything it said was committed is there, and nothing older than
    one second before the kill is missing."""
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "tests.blackbox_child", str(state)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    posted: list[tuple[float, int, float]] = []  # (received at, seq, clock time)
    committed = -1
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            words = line.split()
            if words[0] == "posted":
                posted.append((time.monotonic(), int(words[1]), float(words[2])))
            elif words[0] == "committed":
                committed = int(words[1])
            if committed >= 600 or time.monotonic() > deadline:
                break
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert committed >= 600, "the child never got busy"

    for path in store.files(state):
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
    [info] = store.sessions(state)
    assert info.ended_utc is None  # it never closed
    events = [m for _, _, m in store.rows(state, info, "events")]
    seqs = [int(m.split()[1]) for m in events if m.startswith("busy ")]
    assert seqs == list(range(len(seqs)))  # no hole
    assert seqs[-1] >= committed
    older = [(seq, t) for at, seq, t in posted if at <= killed_at - 1.0]
    assert older and seqs[-1] >= older[-1][0]  # at most the last second lost
    telemetry = [r[0] for r in store.rows(state, info, "telemetry")]
    assert telemetry[-1] >= older[-1][1] - 0.03
    gaps = [b - a for a, b in itertools.pairwise(telemetry)]
    assert max(gaps) < 0.1  # 50 Hz, none dropped
    assert info.imu_rows > 0


def test_a_full_disk_is_said_and_the_controller_runs_on(build_sim: Build,
                                                        tmp_path: Path) -> None:
    system = build_sim("demo")
    recorder, lines = record(system, tmp_path, max_pages=40)  # 160 kB: full within the demo
    system.loop.run(15.0)
    # The controller did its job: the slip stopped the belt and latched.
    assert system.supervisor.stop_reason == StopReason.PRE_IMPACT
    assert treadmill(system)["belt_kmh"] == 0.0
    system.shutdown()
    recorder.close()
    assert recorder.errors == 0
    assert any("cannot write" in line and "full" in line for line in lines), lines
    assert recorder.writer.telemetry_lost > 0
    if recorder.writer.problem is not None:
        assert "NOT WRITING" in recorder.status()
    else:  # a later, smaller batch fitted: the events kept in memory were written then
        assert "black box: writing again" in lines
        [info] = store.sessions(tmp_path)
        written = [m for _, k, m in store.rows(tmp_path, info, "events")
                   if k != EventKind.LEVEL]
        assert written[1:] == [e.message for e in system.events]


def test_an_overflowing_queue_drops_the_oldest_telemetry_never_an_event(
        tmp_path: Path) -> None:
    queue = BoundedQueue(max_items=10)
    for i in range(30):
        queue.put(Item("telemetry", [(float(i), "running", *([None] * 11))]))
        if i % 6 == 0:
            queue.put(Item("event", [(float(i), "stop", f"event {i}")]))
    assert queue.dropped_telemetry == 25 and queue.dropped_events == 0
    problems: list[str] = []
    s = store.Store(tmp_path, 10**9, 365, 10**9)
    session = dict.fromkeys(store.SESSION_COLUMNS) | {"id": "s1", "started_utc": "2026"}
    writer = Writer(s, queue, session, 0.5, problems.append)
    writer.write_batch()
    s.close()
    [info] = store.sessions(tmp_path)
    assert [m for _, _, m in store.rows(tmp_path, info, "events")] == [
        f"event {i}" for i in range(0, 30, 6)]
    assert [r[0] for r in store.rows(tmp_path, info, "telemetry")] == [25.0, 26.0, 27.0,
                                                                       28.0, 29.0]
    assert any("oldest telemetry dropped (25 so far" in p for p in problems)


def test_one_file_per_day_rotation_by_size_and_pruning(tmp_path: Path) -> None:
    day = [datetime.date(2026, 1, 1)]
    s = store.Store(tmp_path, file_max_bytes=200_000, retention_days=3,
                    retention_bytes=10**9)
    queue = BoundedQueue(100_000)
    session = dict.fromkeys(store.SESSION_COLUMNS) | {"id": "s1", "started_utc": "2026"}
    writer = Writer(s, queue, session, 0.5, lambda line: None, today=lambda: day[0])
    for d in range(6):
        day[0] = datetime.date(2026, 1, 1 + d)
        for _ in range(3):  # ~110 kB a batch: the second batch of a day starts a new file
            queue.put(Item("imu", [(float(i), *([0.5] * 9)) for i in range(2000)]))
            writer.write_batch()
    s.close()
    names = [p.name for p in store.files(tmp_path)]
    assert names[0].startswith("blackbox-20260103-")  # older than 3 days: pruned
    assert {n[:17] for n in names} == {f"blackbox-2026010{d}" for d in (3, 4, 5, 6)}
    assert any(n.endswith("-001.sqlite") for n in names)  # rotated by size within a day
    [info] = store.sessions(tmp_path)  # one session across every file
    assert len(info.files) == len(names)

    before = {p.name: p.stat().st_size for p in store.files(tmp_path)}
    small = store.Store(tmp_path, file_max_bytes=200_000, retention_days=365,
                        retention_bytes=sum(before.values()) - 1)
    small.open_for(datetime.date(2026, 1, 7))
    small.close()
    left = [p.name for p in store.files(tmp_path)]
    assert left[-1] == "blackbox-20260107-000.sqlite"  # the current file is never pruned
    assert left[:-1] == sorted(before)[1:]  # only the oldest went: the total fits again


def test_each_armed_run_of_a_runners_program_is_that_runners_recording(
        build_sim: Build, tmp_path: Path) -> None:
    system = build_sim("walk")
    program = attach_program(system)
    profile = PROFILES["backward-walking"]
    program.select(Plan("ann", profile, new_limits(profile, ProgramSettings())))
    recorder, _ = record(system, tmp_path)
    system.loop.run(6.0)  # the scripted start at 2 s: the countdown
    system.shutdown()
    recorder.close()
    before, ann = store.sessions(tmp_path)
    assert before.runner is None and ann.runner == "ann"
    assert any("countdown" in m for _, _, m in store.rows(tmp_path, ann, "events"))
