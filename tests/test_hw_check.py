"""``treadguard check`` on the simulated configurations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from controller import cli
from controller import config as cfg
from controller.check import run_check
from tests.conftest import PI_TOML, ROOT, SIM_TOML

SIM_MPU_TOML = ROOT / "examples" / "sim-mpu6050.toml"


def check(path: Path, **kwargs) -> tuple[int, list[str]]:
    """The lines after the first, which says no controller is running (tests/test_preflight.py
    covers that line)."""
    out = io.StringIO()
    code = run_check(cfg.load(path), out, **kwargs)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("PASS  service        no controller answers on "), lines[0]
    return code, lines[1:]


def test_sim_config_passes_and_names_every_chip() -> None:
    code, lines = check(SIM_TOML)
    assert code == 0
    text = "\n".join(lines)
    assert all(line.startswith("PASS") for line in lines[:-1])
    assert "LSM6DSOX at 0x6a: WHO_AM_I 0x6c" in text
    assert "MPR121 at 0x5a" in text and "ADS1115 at 0x48" in text and "ADS1115 at 0x49" in text
    for pin in (17, 22, 23, 27):
        assert f"GPIO{pin} " in text
    assert lines[-1] == f"{len(lines)}/{len(lines)} passed"  # with the service line


def test_mpu6050_config_passes() -> None:
    code, lines = check(SIM_MPU_TOML, cycle_relay=True)
    assert code == 0
    assert any("MPU-6050 at 0x68: WHO_AM_I 0x68" in line for line in lines)
    assert any("closes and opens, feedback follows" in line for line in lines)


@pytest.mark.parametrize(("inject", "item", "words"), [
    (lambda world: world.bus.unplug(0x6A), "IMU 0x6a", "Remote I/O error"),
    (lambda world: setattr(world.imu_model, "who_am_i", 0x69), "IMU 0x6a",
     "WHO_AM_I reads 0x69"),
    (lambda world: setattr(world.imu_model, "stuck_fifo", True), "IMU 0x6a data", "0 samples"),
    (lambda world: world.bus.unplug(0x49), "rails 0x49", "ADS1115"),
    (lambda world: world.bus.set_timeout(0x5A), "rails 0x5a", "timed out"),
], ids=["imu-missing", "imu-wrong-id", "imu-stuck", "ads-missing", "mpr-timeout"])
def test_missing_or_wrong_device_fails_clearly(inject, item: str, words: str) -> None:
    code, lines = check(SIM_TOML, inject_bus=inject)
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert any(line.split()[1:1 + len(item.split())] == item.split() and words in line
               for line in failed), failed


def weld(factory) -> None:
    factory.pin(24).drive_high()


@pytest.mark.parametrize(("inject", "pin", "words"), [
    (lambda f: f.pin(27).drive_high(), "GPIO27", "pressed or its wire broken"),
    (lambda f: f.pin(23).drive_high(), "GPIO23", "safety key: out"),
    (weld, "GPIO17", "welded"),
], ids=["estop", "key", "welded-relay"])
def test_pin_faults_fail(inject, pin: str, words: str) -> None:
    code, lines = check(SIM_TOML, inject_pins=inject)
    assert code == 1
    assert any(line.startswith(f"FAIL  {pin} ") and words in line for line in lines), lines


def test_real_config_without_hardware_fails_every_part() -> None:
    code, lines = check(PI_TOML)
    assert code == 1
    assert lines[0].startswith("FAIL  I2C bus 1")
    assert any(line.startswith("FAIL  IMU 0x6a") for line in lines)
    assert any(line.startswith("FAIL  GPIO") for line in lines)


def test_cli_registers_check(capsys) -> None:
    assert cli.main(["check", "--config", str(SIM_TOML)]) == 0
    assert "LSM6DSOX" in capsys.readouterr().out
