"""``treadguard check`` and ``treadguard calibrate rails`` on the simulated configurations."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from controller import cli
from controller import config as cfg
from controller.calibrate import CalibrationError, output_path, run_calibrate_rails
from controller.check import run_check
from tests.conftest import PI_TOML, ROOT, SIM_TOML

SIM_MPU_TOML = ROOT / "examples" / "sim-mpu6050.toml"


def check(path: Path, **kwargs) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_check(cfg.load(path), out, **kwargs)
    return code, out.getvalue().splitlines()


def test_sim_config_passes_and_names_every_chip() -> None:
    code, lines = check(SIM_TOML)
    assert code == 0
    text = "\n".join(lines)
    assert all(line.startswith("PASS") for line in lines[:-1])
    assert "LSM6DSOX at 0x6a: WHO_AM_I 0x6c" in text
    assert "MPR121 at 0x5a" in text and "ADS1115 at 0x48" in text and "ADS1115 at 0x49" in text
    for pin in (17, 22, 23, 27):
        assert f"GPIO{pin} " in text
    assert lines[-1] == f"{len(lines) - 1}/{len(lines) - 1} passed"


def test_mpu6050_config_passes() -> None:
    code, lines = check(SIM_MPU_TOML, cycle_relay=True)
    assert code == 0
    assert any("MPU-6050 at 0x68: WHO_AM_I 0x68" in line for line in lines)
    assert any("closes and opens, feedback follows" in line for line in lines)


@pytest.mark.parametrize(("inject", "item", "words"), [
    (lambda bus, twins: bus.unplug(0x6A), "IMU 0x6a", "Remote I/O error"),
    (lambda bus, twins: setattr(twins.imu, "who_am_i", 0x69), "IMU 0x6a", "WHO_AM_I reads 0x69"),
    (lambda bus, twins: setattr(twins.imu, "stuck_fifo", True), "IMU 0x6a data", "0 samples"),
    (lambda bus, twins: bus.unplug(0x49), "rails 0x49", "ADS1115"),
    (lambda bus, twins: bus.set_timeout(0x5A), "rails 0x5a", "timed out"),
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


def test_calibrate_rails_on_the_simulation(tmp_path: Path) -> None:
    out_file = tmp_path / "rails.toml"
    assert cli.main(["calibrate", "rails", "--config", str(SIM_TOML), "--out",
                     str(out_file)]) == 0
    data = tomllib.loads(out_file.read_text(encoding="utf-8"))
    for side in ("left", "right"):
        rail = data[side]
        assert rail["force_rest_n"] == pytest.approx(0.0, abs=0.1)
        assert rail["force_light_n"] == pytest.approx(5.0, rel=0.05)
        assert rail["force_firm_n"] == pytest.approx(150.0, rel=0.05)
        assert rail["touch_rest_counts"] - rail["touch_light_counts"] > 20
        assert abs(rail["touch_baseline_counts"] - rail["touch_rest_counts"]) <= 4
    suggested = data["suggested"]
    assert 2 <= suggested["release_threshold_counts"] < suggested["touch_threshold_counts"]


def test_calibrate_needs_an_output_file() -> None:
    settings = cfg.load(SIM_TOML)
    with pytest.raises(CalibrationError, match="--out"):
        output_path(settings, None)
    assert output_path(cfg.load(PI_TOML), None) == ROOT / "examples" / "rails-calibration.toml"


def test_calibrate_refuses_without_rails(tmp_path: Path) -> None:
    text = SIM_TOML.read_text(encoding="utf-8")
    start = text.index("[rails]")
    end = text.index("\n[", start + 1)
    config = tmp_path / "norails.toml"
    config.write_text(text[:start] + text[end + 1:], encoding="utf-8")
    with pytest.raises(CalibrationError, match="no \\[rails\\]"):
        run_calibrate_rails(cfg.load(config), tmp_path / "x.toml", io.StringIO())


def test_calibration_file_round_trips_and_is_checked(tmp_path: Path) -> None:
    from controller.calibrate import load_rail_calibration

    out_file = tmp_path / "rails.toml"
    assert cli.main(["calibrate", "rails", "--config", str(SIM_TOML), "--out",
                     str(out_file)]) == 0
    cal = load_rail_calibration(out_file)
    assert cal.left.force_firm_n is not None and cal.left.force_firm_n > 100
    assert cal.right.touch_light_counts is not None
    text = out_file.read_text(encoding="utf-8")
    swapped = tmp_path / "swapped.toml"
    swapped.write_text(text.replace("force_light_n", "force_x").replace("force_firm_n",
                                                                        "force_light_n")
                       .replace("force_x", "force_firm_n"), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"\[left\]: forces must rise"):
        load_rail_calibration(swapped)
    typo = tmp_path / "typo.toml"
    typo.write_text(text.replace("force_rest_n", "force_rst_n"), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"\[left\] force_rst_n: unknown"):
        load_rail_calibration(typo)
