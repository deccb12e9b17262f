"""The sensor, rails, health and GPIO options: bounds, defaults, and errors that name the
file, section and option."""

from __future__ import annotations

import pytest

from controller import config as cfg
from tests.conftest import SIM_TOML

BASE = SIM_TOML.read_text(encoding="utf-8")


def parse_with(old: str, new: str) -> cfg.Settings:
    assert old in BASE, old
    return cfg.parse("test.toml", BASE.replace(old, new, 1))


def test_sim_toml_sensor_sections() -> None:
    s = cfg.load(SIM_TOML)
    assert s.rails is not None
    assert (s.rails.touch_chip, s.rails.force_chip) == ("mpr121", "ads1115")
    assert (s.gpio.key_pin, s.gpio.relay_feedback_pin, s.gpio.start_pin) == (23, 24, None)
    assert s.health.stuck_samples == 10 and s.health.i2c_errors_per_s == 5


def test_mpu6050_chip_and_address() -> None:
    s = parse_with('chip = "lsm6dsox"\naddress = 0x6A', 'chip = "mpu6050"\naddress = 0x69')
    assert (s.imu.chip, s.imu.address) == ("mpu6050", 0x69)
    with pytest.raises(cfg.ConfigError, match=r"\[imu\] address: expected one of 0x68, 0x69"):
        parse_with('chip = "lsm6dsox"\naddress = 0x6A', 'chip = "mpu6050"\naddress = 0x6A')


def test_health_defaults_when_section_absent() -> None:
    start = BASE.index("[health]")
    end = BASE.index("\n[", start)
    s = cfg.parse("t.toml", BASE[:start] + BASE[end + 1:])
    assert s.health == cfg.HealthSettings(stale_after_s=0.05)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("stale_after_s = 0.05", "stale_after_s = 0.2",
     r"test.toml: \[health\] stale_after_s: expected a number from 0.01 to 0.05, got 0.2"),
    ("stuck_samples = 10", "stuck_samples = 1", r"\[health\] stuck_samples: expected an integer"),
    ("clip_moved_deg = 45", "clip_moved_deg = 180", r"\[health\] clip_moved_deg"),
    ("i2c_errors_per_s = 5", "i2c_errors_per_s = 500", r"\[health\] i2c_errors_per_s"),
    ("key_pin = 23", "key_pin = 17", r"\[gpio\] key_pin: GPIO17 is already used by relay_pin"),
    ("relay_feedback_pin = 24", "relay_feedback_pin = 40", r"\[gpio\] relay_feedback_pin"),
    ("reset_hold_s = 1.0", "reset_hold_s = 0.2", r"\[gpio\] reset_hold_s: expected a number"),
    ('touch_chip = "mpr121"', 'touch_chip = "mpr12"', r"\[rails\] touch_chip: expected one of"),
    ("right_electrode = 1", "right_electrode = 0", r"\[rails\] right_electrode"),
    ("release_threshold_counts = 6", "release_threshold_counts = 12",
     r"\[rails\] release_threshold_counts"),
    ("ads1115_right_address = 0x49", "ads1115_right_address = 0x48",
     r"\[rails\] ads1115_right_address: expected a different address"),
    ("ads1115_range_v = 4.096", "ads1115_range_v = 5.0", r"\[rails\] ads1115_range_v"),
    ("fsr_supply_v = 3.3", "fsr_supply_v = 3.3\nfsr_supplyv = 5",
     r"\[rails\] fsr_supplyv: unknown"),
])
def test_bad_values_name_section_and_option(old: str, new: str, message: str) -> None:
    with pytest.raises(cfg.ConfigError, match=message):
        parse_with(old, new)


def test_alternate_layout_needs_two_channels() -> None:
    with pytest.raises(cfg.ConfigError, match=r"\[rails\] ads1115_right_channel"):
        parse_with('ads1115_layout = "chip_per_rail"',
                   'ads1115_layout = "alternate"\nads1115_right_channel = 0')
    s = parse_with('ads1115_layout = "chip_per_rail"', 'ads1115_layout = "alternate"')
    assert s.rails is not None and s.rails.ads1115_right_channel == 1  # default differs


def test_optional_pins_absent_are_none() -> None:
    s = parse_with("key_pin = 23\n", "")
    assert s.gpio.key_pin is None
