"""``[treadmill]`` link options: read-back, reverse, relay-only."""

from __future__ import annotations

import pytest

from controller import config as cfg

from .conftest import SIM_TOML


def _sim_with(old: str, new: str) -> str:
    text = SIM_TOML.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def test_defaults_are_the_documented_ones() -> None:
    t = cfg.load(SIM_TOML).treadmill
    assert (t.readback_tolerance_kmh, t.readback_time_s, t.allow_reverse) == (0.5, 0.5, False)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("readback_tolerance_kmh = 5.0",
         r"\[treadmill\] readback_tolerance_kmh: expected a number from 0.1 to 1, got 5.0"),
        ("readback_time_s = 0", r"\[treadmill\] readback_time_s: expected a number from 0.1 to 2"),
        ('allow_reverse = "yes"', r"\[treadmill\] allow_reverse: expected true or false"),
    ],
)
def test_bad_link_options_are_one_line_errors(new: str, message: str) -> None:
    text = _sim_with("ack_timeout_s = 0.1", f"ack_timeout_s = 0.1\n{new}")
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse("sim.toml", text)


def test_trackmaster_still_needs_units() -> None:
    text = _sim_with('units = "mph"\n', "")
    with pytest.raises(cfg.ConfigError, match=r"\[treadmill\] units: missing"):
        cfg.parse("sim.toml", text)


def test_relay_only_needs_neither_port_nor_units_but_rejects_unknown_options() -> None:
    text = _sim_with('protocol = "trackmaster"\nsimulated = true\nunits = "mph"\n',
                     'protocol = "none"\n')
    settings = cfg.parse("relay.toml", text)
    assert settings.treadmill.protocol == "none" and not settings.treadmill.simulated
    with pytest.raises(cfg.ConfigError, match=r"\[treadmill\] sped: unknown option"):
        cfg.parse("relay.toml",
                  text.replace('protocol = "none"\n', 'protocol = "none"\nsped = 1\n'))
