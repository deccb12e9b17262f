"""systemd notify, the loop watchdog thread and tick lateness.

The watchdog tests really block the loop (a supervisor tick that waits on an Event) and wait
for the watchdog's own Event; nothing here sleeps to wait for something.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import app
from controller import config as cfg
from controller.lateness import LatenessStats
from controller.sdnotify import Notifier
from controller.services import Services
from controller.stop_reasons import StopReason
from controller.supervisor import State
from controller.watchdog import LoopWatchdog
from hardware.clock import MonotonicClock
from hardware.trackmaster_protocol import STOP
from tests.conftest import ROOT, SIM_TOML, Build, host_bytes, treadmill

# ---------------------------------------------------------------------- the notify protocol


def test_notify_socket_addresses_and_watchdog_environment() -> None:
    n = Notifier({"NOTIFY_SOCKET": "@abstract-name", "WATCHDOG_USEC": "2000000"}, pid=42)
    assert n.address == "\0abstract-name"
    assert n.watchdog_interval_s == 2.0 and n.ping_every_s == 0.5
    n.close()
    n = Notifier({"NOTIFY_SOCKET": "/run/x.sock", "WATCHDOG_USEC": "2000000",
                  "WATCHDOG_PID": "41"}, pid=42)
    assert n.address == "/run/x.sock" and n.watchdog_interval_s is None  # meant for another pid
    n.close()
    for bad in ({"WATCHDOG_USEC": "soon"}, {"WATCHDOG_USEC": "0"}, {}):
        assert Notifier(bad).watchdog_interval_s is None
    quiet = Notifier({})
    assert not quiet.enabled and quiet.send("READY=1") is False  # nobody listens: no-op


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A real Unix datagram socket playing systemd's end (a path)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield sock, path
    sock.close()


def test_ready_is_sent_once_and_status_only_when_it_changes(
        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    sock.settimeout(1.0)
    n = Notifier({"NOTIFY_SOCKET": path})
    n.ready("LATCHED")
    n.ready("LATCHED")
    n.status("LATCHED")
    n.status("READY")
    n.stopping()
    got = [sock.recv(4096).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=LATCHED", "STATUS=READY", "STOPPING=1"]
    n.close()


def _collect(sock: socket.socket, until: Any, max_s: float) -> list[tuple[float, str]]:
    """Datagrams with their arrival time until ``until(messages)`` or ``max_s`` real seconds."""
    got: list[tuple[float, str]] = []
    end = time.monotonic() + max_s
    while not until(got) and time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        got.append((time.monotonic(), data.decode()))
    return got


def _pings(got: list[tuple[float, str]]) -> list[float]:
    return [t for t, m in got if "WATCHDOG=1" in m.split("\n")]


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_run_under_a_process_manager(tmp_path: Path, abstract: bool) -> None:
    """`treadguard run` under NOTIFY_SOCKET and WATCHDOG_USEC: READY=1, then WATCHDOG=1 at least
    twice per watchdog interval, and on SIGTERM the controlled stop, STOPPING=1, exit 0."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"treadguard-test-{os.getpid()}-{random.randrange(1 << 30)}"
        sock.bind("\0" + name)
        notify = "@" + name
    else:
        notify = str(tmp_path / "notify.sock")
        sock.bind(notify)
    interval_s = 1.0
    env = {**os.environ, "NOTIFY_SOCKET": notify, "WATCHDOG_USEC": str(int(interval_s * 1e6))}
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "run", "--config",
                             str(SIM_TOML), "--state", str(tmp_path / "state")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        got = _collect(sock, lambda g: len(_pings(g)) >= 8, max_s=30.0)
        proc.send_signal(signal.SIGTERM)
        got += _collect(sock, lambda g: any("STOPPING=1" in m for _, m in g), max_s=20.0)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    messages = [m for _, m in got]
    assert messages[0].startswith("READY=1"), messages[:3]
    assert sum(m.startswith("READY=1") for m in messages) == 1
    pings = _pings(got)
    assert len(pings) >= 8
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) <= interval_s / 2, gaps  # ⇒ at least two in every interval
    assert any(m.startswith("STOPPING=1") for m in messages)
    assert "relay open" in out and "tick lateness over" in out


def test_a_latched_controller_with_a_dead_sensor_keeps_pinging(
        notify_socket: tuple[socket.socket, str]) -> None:
    """Latched with the IMU gone is a controller in its safe state: systemd must not restart
    it again and again, so WATCHDOG=1 keeps coming while the loop runs on time."""
    sock, path = notify_socket
    settings = cfg.load(SIM_TOML)
    clock = MonotonicClock()
    system = app.build(settings, clock)
    assert system.world is not None
    try:
        system.world.bus.unplug(settings.imu.address)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        services = Services(system, clock, lambda line: None, notifier)
        done = threading.Event()
        loop = threading.Thread(target=system.loop.run_forever,
                                args=(lambda: not done.is_set(),), daemon=True)
        services.start()
        loop.start()
        got = _collect(sock, lambda g: len(_pings(g)) >= 10, max_s=20.0)
        done.set()
        loop.join(5.0)
        services.close()
    finally:
        system.shutdown()
    sup = system.supervisor
    assert sup.state is State.LATCHED and sup.stop_latched
    assert any(r in e.message for e in system.events for r in ("imu_stale", "i2c_error_budget"))
    assert len(_pings(got)) >= 10
    assert services.watchdog.trips == 0


# ---------------------------------------------------------------------- the watchdog thread


class RecordingPort:
    """The link's serial port, with the real (monotonic) time of every write."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> int | None:
        self.writes.append((time.monotonic(), bytes(data)))
        result: int | None = self._port.write(data)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def relay_closed(system: Any) -> bool:
    """The relay's pin as the mock factory holds it (read afresh each time)."""
    return bool(system.safety_io.relay.value)


def test_a_blocked_loop_is_stopped_by_the_watchdog_thread(build_sim: Build) -> None:
    """The loop really hangs (its supervisor tick waits on an Event) while the belt runs: the
    watchdog thread opens the relay and writes the stop byte within 150 ms of the last tick,
    without the loop; when the loop comes back it latches loop_stall with the power cut, and
    the simulated treadmill received the stop and stopped the belt."""
    system = build_sim("walk")
    link = system.link
    assert link is not None
    port = RecordingPort(link._port)
    link._port = port
    system.loop.run(9.0)
    assert system.supervisor.state is State.RUNNING and treadmill(system)["belt_kmh"] > 1.0
    assert relay_closed(system)

    gate = threading.Event()
    blocked = threading.Event()
    real_tick = system.supervisor.tick

    def hanging_tick() -> None:
        blocked.set()
        gate.wait(10.0)
        real_tick()

    last_tick = [time.monotonic()]

    def note_tick() -> None:
        last_tick[0] = time.monotonic()
        if system.loop.ticks == hang_at:
            system.supervisor.tick = hanging_tick  # type: ignore[method-assign]

    watchdog = LoopWatchdog(MonotonicClock(), lambda: system.loop.ticks, 0.1,
                            system.safety_io, link)
    system.loop.watchdog = watchdog
    hang_at = system.loop.ticks + 5
    sim_time_at_hang = system.clock.now_s()
    watchdog.start()
    runner = threading.Thread(target=system.loop.run, args=(1.0, note_tick), daemon=True)
    runner.start()
    try:
        assert blocked.wait(5.0)
        assert watchdog.tripped.wait(2.0), "the watchdog never tripped"
        # Still hung: the relay is open and the stop byte is on the wire, by the watchdog.
        assert system.loop.ticks == hang_at
        assert not relay_closed(system)
        stop_writes = [t for t, data in port.writes if t > last_tick[0] and STOP in data]
        assert stop_writes, port.writes[-5:]
        assert stop_writes[0] - last_tick[0] <= 0.150
        assert watchdog.last_trip_stalled_s is not None and watchdog.last_trip_stalled_s <= 0.150
    finally:
        gate.set()
        runner.join(10.0)
        watchdog.close()
    sup = system.supervisor
    assert sup.stop_reason == StopReason.LOOP_STALL and sup.power_cut
    assert link.fault is not None and "watchdog" in link.fault
    system.loop.run(3.0)
    assert not relay_closed(system)  # held open by the latched supervisor now
    assert any(b == STOP and t >= sim_time_at_hang for t, b in host_bytes(system))
    assert treadmill(system)["belt_kmh"] == 0.0


def test_a_loop_on_time_never_trips_the_watchdog(build_sim: Build) -> None:
    system = build_sim("walk")
    watchdog = LoopWatchdog(MonotonicClock(), lambda: system.loop.ticks, 0.1, system.safety_io,
                            system.link)
    system.loop.watchdog = watchdog
    watchdog.start()
    try:
        system.loop.run(12.0)  # fast simulated time: ticks far more often than every 100 ms
    finally:
        watchdog.close()
    assert watchdog.trips == 0 and system.supervisor.state is State.RUNNING


# ---------------------------------------------------------------------- tick lateness


def test_lateness_percentiles_match_the_data_within_one_bin() -> None:
    rng = random.Random(3)
    data = [rng.lognormvariate(-8, 1.5) for _ in range(20_000)]
    stats = LatenessStats(period_s=0.005)
    for x in data:
        stats.record(x)
    ordered = sorted(data)
    for q in (0.5, 0.99):
        exact = ordered[int(q * len(data)) - 1]
        assert exact <= stats.percentile_s(q) <= exact * 1.045
    summary = stats.summary()
    assert summary.max_s == max(data)
    assert summary.missed == sum(x > 0.005 for x in data)
    assert "p99" in summary.line()


def test_the_loop_counts_lateness_and_gaps(build_sim: Build) -> None:
    system = build_sim("walk")
    system.loop.run(1.0)
    late = system.loop.lateness
    assert late.ticks == system.loop.ticks == 200
    assert late.max_s == 0.0 and late.missed == 0  # simulated time is never late
    assert late.longest_gap_s == pytest.approx(0.005)


def test_the_shutdown_stands_the_watchdog_down_before_releasing_the_pins(
        build_sim: Build) -> None:
    """After the shutdown's last tick no tick ever comes again: that is the end, not a hang (a
    trip then would write to a closed port and pin)."""
    system = build_sim("walk")
    watchdog = LoopWatchdog(MonotonicClock(), lambda: system.loop.ticks, 0.1, system.safety_io,
                            system.link)
    system.loop.watchdog = watchdog
    watchdog.start()
    system.loop.run(1.0)
    system.shutdown()
    assert not watchdog.tripped.wait(0.3)  # three timeouts without a tick: no trip
    assert watchdog.trips == 0
    watchdog.close()
