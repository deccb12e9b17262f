"""Defects found by a safety review in the commands that run a session (`run`, `sim`).

Each test here failed on the code before its fix (see docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli import main

from .conftest import SIM_TOML


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
