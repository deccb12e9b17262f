"""Defects found by a safety review in the commands that run a session (`run`, `sim`).

Each test here failed on the code before its fix (see docs/architecture.md).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.cli import main

from .conftest import ROOT, SIM_TOML, Build


def variant(tmp_path: Path, *replacements: tuple[str, str]) -> str:
    """examples/sim.toml with some lines replaced, written to a temporary file."""
    text = SIM_TOML.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "variant.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


REAL_TREADMILL = ('protocol = "trackmaster"\nsimulated = true',
                  'protocol = "trackmaster"\nsimulated = false\nport = "loop://"')
REAL_I2C = ("[i2c]\nsimulated = true", "[i2c]\nsimulated = false\nbus = 250")
REAL_PINS = ('pin_factory = "mock"', 'pin_factory = "lgpio"')


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------- 2: simulated sensors, real belt
@pytest.mark.parametrize(("real", "names"), [
    (REAL_TREADMILL, "[treadmill]"),
    (REAL_I2C, "[i2c]"),
    (REAL_PINS, "[gpio] pin_factory"),
])
def test_sim_refuses_a_file_in_which_anything_is_real(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], real: tuple[str, str],
        names: str) -> None:
    """`sim` drives its scripted operator (reset, start): with a real treadmill port it reset
    and started a real belt."""
    code = main(["sim", "--fast", "--config", variant(tmp_path, real)])
    line = one_line_error(capsys)
    assert code == 2
    assert names in line and "simulated" in line
    assert "STOP" not in capsys.readouterr().out


@pytest.mark.parametrize("replacements", [
    (REAL_TREADMILL,),              # a real belt watched by an IMU twin and mock pins
    (REAL_TREADMILL, REAL_PINS),    # a real belt and relay, an IMU twin
    (REAL_PINS,),                   # a real relay, simulated sensors
])
def test_run_refuses_real_actuators_with_simulated_sensors_or_pins(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        replacements: tuple[tuple[str, str], ...]) -> None:
    code = main(["run", "--duration-s", "0.2", "--config", variant(tmp_path, *replacements)])
    line = one_line_error(capsys)
    assert code == 2
    assert "simulated" in line and "real" in line


# ---------------------------------------------------------------- 13: one-line errors
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "abc"])
def test_run_duration_must_be_a_positive_finite_number(
        capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--config", str(SIM_TOML), f"--duration-s={value}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--duration-s" in err


def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse printed a usage block before its error; one line names the option."""
    with pytest.raises(SystemExit) as info:
        main(["treadmill-test", "--port", "loop://", "--units", "kmh", "--hold-s", "abc"])
    assert info.value.code == 2
    line = one_line_error(capsys)
    assert "--hold-s" in line and "abc" in line


# ---------------------------------------------------------------- 10: the simulated account
def test_sim_walk_without_incident_exits_0_and_reports_the_state_after_shutdown(
        capsys: pytest.CaptureFixture[str]) -> None:
    """It exited 1 on every normal run: the account read the belt before the shutdown stop
    had finished ("1.4 km/h, RUNNING_CDS")."""
    code = main(["sim", "--fast", "--scenario", "walk", "--config", str(SIM_TOML)])
    out = capsys.readouterr().out
    assert "treadmill at the end: belt 0.0 km/h, status STOPPED" in out, out
    assert "controller at the end: latched (reason: shutdown)" in out
    assert code == 0


def test_sim_runs_at_the_configured_session_speed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`[session] speed_kmh = 2.5` still ramped to the scenario's 1.5 km/h: a supervisor could
    not rehearse a patient's settings."""
    config = variant(tmp_path, ("[session]\nspeed_kmh = 1.5", "[session]\nspeed_kmh = 2.5"))
    assert main(["sim", "--fast", "--scenario", "walk", "--config", config]) == 0
    out = capsys.readouterr().out
    speeds = next(line for line in out.splitlines() if "speeds commanded" in line)
    assert "2.5" in speeds.split(":")[1].split(), speeds


# ---------------------------------------------------------------- 9: deterministic simulation
class _SlowWallClock:
    """pyserial's timeout clock on a machine so loaded that every look at it finds another
    second gone (a process descheduled in the middle of a write)."""

    def __init__(self) -> None:
        self._now_s = 0.0

    def monotonic(self) -> float:
        self._now_s += 1.0
        return self._now_s


def test_a_simulated_session_is_the_same_on_a_loaded_machine(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """3 of 27 runs of `sim --fast --scenario walk` differed on a loaded machine; one stopped on
    `serial port error: Write timeout`: the port's wall-clock write_timeout leaked into
    simulated time. The account must be byte-identical whatever the machine's load."""
    import serial.serialutil

    argv = ["sim", "--fast", "--scenario", "walk", "--config", str(SIM_TOML)]
    assert main(argv) == 0
    calm = capsys.readouterr().out
    monkeypatch.setattr(serial.serialutil.Timeout, "TIME", staticmethod(_SlowWallClock().monotonic))
    code = main(argv)
    loaded = capsys.readouterr().out
    assert "serial port error" not in loaded
    assert loaded == calm
    assert code == 0


# ---------------------------------------------------------------- 11: Ctrl-C
def _interrupt_after_first_line(argv: list[str], marker: str) -> subprocess.CompletedProcess[str]:
    """Start a treadguard command in its own session (as a terminal's foreground job), wait
    for ``marker`` on its stdout, then press Ctrl-C: SIGINT to the whole process group, the
    simulated treadmill child included, as a terminal does."""
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + 30.0  # a bound on a wait for output, not a sleep
    while marker.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"no {marker!r} on stdout within 30 s: {seen.decode()}")
        chunk = os.read(fd, 65536)
        if not chunk:
            pytest.fail(f"exited before {marker!r}: {seen.decode()}")
        seen += chunk
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, seen.decode() + out, err)


def test_ctrl_c_on_run_is_a_clean_controlled_stop() -> None:
    """The simulated treadmill child died first (KeyboardInterrupt traceback), the daemon
    logged internal_error — ConnectionResetError, printed a second traceback and exited 1."""
    result = _interrupt_after_first_line(["run", "--config", str(SIM_TOML)], "LATCHED")
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal_error" not in result.stdout
    assert result.returncode == 0, result.stderr
    assert "treadguard stopped" in result.stdout


def test_ctrl_c_on_sim_still_prints_the_account() -> None:
    result = _interrupt_after_first_line(
        ["sim", "--realtime", "--scenario", "walk", "--config", str(SIM_TOML)], "start speed")
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal_error" not in result.stdout
    assert "Account of the session" in result.stdout
    assert "interrupted" in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- 14: what the daemon says
def test_run_prints_wall_clock_time_state_next_step_and_a_summary() -> None:
    """`run` printed seconds since boot (811.977) and never said what to do next."""
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "run", "--config", str(SIM_TOML),
         "--duration-s", "0.5"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^\d\d:\d\d:\d\d\.\d\d\d ", out, re.MULTILINE), out
    assert "LATCHED (power_on): hold reset 1 s to clear the stop" in out
    summary = out.split("treadguard stopped")[1]
    assert "state LATCHED" in summary and "treadmill power cut (power_on)" in summary


def test_a_start_refused_while_ready_says_what_is_wrong(build_sim: Build) -> None:
    """Refusals said "identical samples while the belt runs" while the belt stood still."""
    system = build_sim("walk")  # READY at 1.5 s, start pressed at 2.0 s
    system.loop.run(1.6)
    system.world.imu_model.freeze = True
    system.loop.run(2.0)
    refusals = [e.message for e in system.events if "start refused" in e.message]
    assert refusals
    assert all("while the belt runs" not in m and "running" not in m for m in refusals)
    assert any("frozen" in m for m in refusals), refusals
