from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main

from .conftest import PI_RELAY_ONLY_TOML, PI_TOML, SIM_TOML


def test_examples_load_and_validate() -> None:
    sim = cfg.load(SIM_TOML)
    assert sim.i2c.simulated and sim.treadmill.simulated and sim.gpio.pin_factory == "mock"
    assert sim.limits.max_speed_kmh == 3.0
    pi = cfg.load(PI_TOML)
    assert not pi.i2c.simulated and pi.i2c.bus == 1
    assert not pi.treadmill.simulated and pi.treadmill.port == "/dev/ttyUSB0"
    assert pi.gpio.pin_factory == "lgpio"
    assert not pi.any_simulated


def test_pi_examples_use_the_installers_paths() -> None:
    """Both Pi examples run as the service: install.sh's state directory and the unit's
    RuntimeDirectory= for the socket; the relay-only one has no serial link and nothing
    simulated."""
    for path in (PI_TOML, PI_RELAY_ONLY_TOML):
        s = cfg.load(path)
        assert s.paths.state_dir == "/var/lib/treadguard", path
        assert s.control.socket_path == "/run/treadguard/control.sock", path
        assert not s.any_simulated and s.gpio.pin_factory == "lgpio", path
    relay_only = cfg.load(PI_RELAY_ONLY_TOML)
    assert relay_only.treadmill.protocol == "none"


def _with(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("max_speed_kmh = 3.0", "max_speed_kmh = 12.0",
         r"\[limits\] max_speed_kmh: expected a number from 0.1 to 8, got 12.0"),
        ("max_speed_kmh = 3.0", 'max_speed_kmh = "fast"',
         r"\[limits\] max_speed_kmh: expected a number .*got 'fast'"),
        ("max_speed_kmh = 3.0", "max_speed_kmh = true",
         r"\[limits\] max_speed_kmh: expected a number .*got true"),
        ("max_speed_kmh = 3.0", "max_speed_kmh = nan",
         r"\[limits\] max_speed_kmh: expected a number"),
        ("max_speed_kmh = 3.0", "max_speed_kmh = 3.0\nmax_speed_kph = 2.0",
         r"\[limits\] max_speed_kph: unknown option"),
        ('units = "mph"\n', "", r"\[treadmill\] units: missing"),
        ('units = "mph"', 'units = "m/s"', r'\[treadmill\] units: expected one of "mph", "kmh"'),
        ("stale_after_s = 0.05", "stale_after_s = 0.5",
         r"\[health\] stale_after_s: expected a number from 0.01 to 0.05, got 0.5"),
        ("start_speed_kmh = 0.5", "start_speed_kmh = 0.9\n",
         None),  # valid: proves the parametrisation is not vacuous
        ("reset_pin = 22", "reset_pin = 17", r"\[gpio\] reset_pin: GPIO17 is already used"),
        ("address = 0x6A", "address = 0x68", r"\[imu\] address: expected one of 0x6a, 0x6b"),
        ("[sim]", "[simulation]", r"\[simulation\]: unknown section"),
        ("simulated = true\n\n[imu]", "simulated = 1\n\n[imu]",
         r"\[i2c\] simulated: expected true or false, got 1"),
        ("speed_kmh = 1.5", "speed_kmh = 4.0",
         r"\[session\] speed_kmh: expected at most \[limits\] max_speed_kmh \(3\), got 4"),
    ],
)
def test_bad_values_name_file_section_and_option(old: str, new: str, expected: str | None) -> None:
    text = _with(SIM_TOML.read_text(), old, new)
    if expected is None:
        cfg.parse("x.toml", text)
        return
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse("x.toml", text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("x.toml: ")
    assert re.search(expected, message), message


def test_missing_section_and_invalid_toml() -> None:
    text = SIM_TOML.read_text()
    start = text.index("[limits]")
    end = text.index("[session]")
    with pytest.raises(cfg.ConfigError, match=r"\[limits\]: missing"):
        cfg.parse("x.toml", text[:start] + text[end:])
    with pytest.raises(cfg.ConfigError, match=r"x\.toml: not valid TOML"):
        cfg.parse("x.toml", "[limits\nmax_speed_kmh = ")


def test_missing_file() -> None:
    with pytest.raises(cfg.ConfigError, match=r"nowhere\.toml: configuration file not found"):
        cfg.load("nowhere.toml")


def test_cli_broken_config_is_one_line_and_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(_with(SIM_TOML.read_text(), "ramp_mps2 = 0.25", "ramp_mps2 = 2.0"))
    for command in (["sim", "--fast", "--config", str(bad)], ["run", "--config", str(bad)]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert "[limits] ramp_mps2: expected a number from 0.05 to 0.25, got 2.0" in err


@pytest.mark.skipif(os.path.exists("/dev/i2c-1"), reason="this machine has a real I²C bus 1")
def test_real_config_without_hardware_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    """A production config never falls back to simulation: missing hardware is an error."""
    assert main(["run", "--config", str(PI_TOML), "--duration-s", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "[i2c] bus = 1: /dev/i2c-1 not found" in err
