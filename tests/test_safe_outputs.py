"""``treadguard safe-outputs``: the service's ExecStopPost leaves the relay open and the heartbeat
low even when the daemon died with the relay energised; with mock pins it is a no-op."""

from __future__ import annotations

import io
from typing import Any

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from controller import config as cfg
from controller import safe_outputs as so
from controller.cli import main
from controller.transports import HardwareError

from .conftest import PI_TOML, SIM_TOML


def test_mock_pins_are_a_no_op_that_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["safe-outputs", "--config", str(SIM_TOML)]) == 0
    assert capsys.readouterr().out == "safe-outputs: mock pins (simulated): nothing to do\n"


def test_a_relay_left_energised_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = MockFactory()
    # What a daemon that died mid-session leaves: relay energised, heartbeat high, the lines
    # still driven (a released line keeps its level).
    factory.pin(17).output_with_state(1)
    factory.pin(25).output_with_state(1)
    monkeypatch.setattr(so, "open_pin_factory", lambda settings, world: factory)
    out = io.StringIO()
    assert so.safe_outputs(cfg.load(PI_TOML), out) == 0
    assert factory.pin(17).state == 0 and factory.pin(25).state == 0
    assert out.getvalue().splitlines() == ["safe-outputs: GPIO17 stop relay (open)",
                                           "safe-outputs: GPIO25 heartbeat (low)"]


def test_a_busy_pin_fails_loudly_and_still_does_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = MockFactory()
    holder: Any = DigitalOutputDevice(17, initial_value=True, pin_factory=factory)
    monkeypatch.setattr(so, "open_pin_factory", lambda settings, world: factory)
    out = io.StringIO()
    assert so.safe_outputs(cfg.load(PI_TOML), out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("safe-outputs: GPIO17 stop relay (open): FAILED (")
    assert lines[1] == "safe-outputs: GPIO25 heartbeat (low)"
    holder.close()


def test_no_gpio_backend_is_one_line_non_zero(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    def missing(settings: cfg.Settings, world: object) -> None:
        raise HardwareError(f'{settings.path}: [gpio] pin_factory = "lgpio": cannot start')

    monkeypatch.setattr(so, "open_pin_factory", missing)
    assert main(["safe-outputs", "--config", str(PI_TOML)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("safe-outputs: ") and "pin_factory" in out
