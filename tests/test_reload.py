"""SIGHUP re-reads the configuration: a valid change at the next arming, never during a run; an
invalid one keeps the old and says why."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from controller import config as cfg
from controller.reload import ConfigReload
from controller.supervisor import State
from tests.conftest import ROOT, SIM_TOML, Build


def _config(tmp_path: Path, speed: str) -> Path:
    path = tmp_path / "treadguard.toml"
    text = SIM_TOML.read_text().replace("[session]\nspeed_kmh = 1.5", f"[session]\nspeed_kmh = "
                                        f"{speed}")
    path.write_text(text)
    return path


def test_a_change_waits_for_the_stop_never_during_a_run(build_sim: Build,
                                                       tmp_path: Path) -> None:
    path = _config(tmp_path, "1.5")
    system = build_sim("walk")
    lines: list[str] = []
    reload = ConfigReload(str(path), cfg.load(path), lines.append, install=False)
    try:
        system.loop.run(9.0)
        assert system.supervisor.state is State.RUNNING
        _config(tmp_path, "1.0")
        reload.request()
        assert reload.done.wait(10.0)
        assert reload.pending is not None and reload.pending.session.speed_kmh == 1.0
        assert "changed [session]" in lines[-1]
        assert not reload.due(system.supervisor)  # running: never now
        system.supervisor.request_stop("shutdown", "test")
        assert not reload.due(system.supervisor)  # stopping: not yet
        system.loop.run_until(lambda: system.supervisor.state is State.LATCHED, 10.0)
        assert reload.due(system.supervisor)  # latched: at the next arming
    finally:
        reload.close()


def test_an_invalid_file_keeps_the_configuration_in_force(tmp_path: Path) -> None:
    path = _config(tmp_path, "1.5")
    lines: list[str] = []
    reload = ConfigReload(str(path), cfg.load(path), lines.append, install=False)
    try:
        path.write_text(path.read_text().replace("max_speed_kmh = 3.0", "max_speed_kmh = 12.0"))
        reload.request()
        assert reload.done.wait(10.0)
        assert reload.pending is None
        assert "[limits] max_speed_kmh" in lines[-1]
        assert lines[-1].endswith("keeping the configuration in force")
    finally:
        reload.close()


def start_daemon(config: Path, state: Path) -> subprocess.Popen[str]:
    """``treadguard run --config CONFIG --state STATE`` in its own process, unbuffered, its
    output read as text (with :class:`Lines`)."""
    return subprocess.Popen([sys.executable, "-m", "controller.cli", "run", "--config",
                             str(config), "--state", str(state)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


class Lines:
    """The daemon's stdout, line by line, read by a thread: ``select`` on a buffered pipe misses
    lines already in Python's buffer (several lines arrive in one read on a loaded machine)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._queue: queue.Queue[str | None] = queue.Queue()
        stdout = proc.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, needle: str, out: list[str], max_s: float = 30.0) -> bool:
        """Read lines into ``out`` until one contains ``needle`` (False at EOF or timeout)."""
        end = time.monotonic() + max_s
        while (left := end - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            out.append(line)
            if needle in line:
                return True
        return False

    def rest(self) -> str:
        """Every line left, once the process has exited."""
        lines = []
        while (line := self._queue.get(timeout=30)) is not None:
            lines.append(line)
        return "".join(lines)


def test_sighup_to_the_daemon(tmp_path: Path) -> None:
    """`treadguard run`, latched: a valid change is built at once (starting latched), an
    invalid one is refused with its reason, SIGTERM still ends it with exit 0."""
    path = _config(tmp_path, "1.5")
    proc = start_daemon(path, tmp_path / "state")
    out: list[str] = []
    lines = Lines(proc)
    try:
        assert lines.until("LATCHED (power_on)", out)
        _config(tmp_path, "1.0")
        proc.send_signal(signal.SIGHUP)
        assert lines.until("in force: it starts latched", out), out
        assert any("changed [session]" in line for line in out)
        assert lines.until("LATCHED (power_on)", out)  # the new system, latched
        path.write_text(path.read_text().replace("relay_pin = 17", "relay_pin = 2"))
        proc.send_signal(signal.SIGHUP)
        assert lines.until("keeping the configuration in force", out), out
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
        rest = lines.rest()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    text = "".join(out) + rest
    assert text.count("SIGHUP received") == 1 and "SIGTERM received" in text
