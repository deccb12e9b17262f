"""``[gpio]`` pins that cannot work: the I²C pins, a pin with two roles, a pin the serial
port already uses. Each is refused when the configuration loads — one line naming the file,
the option and the pin, exit status 2 — before any pin, port or belt is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main

from .conftest import SIM_TOML

BASE = SIM_TOML.read_text(encoding="utf-8")

# The simulated configuration with its treadmill on the Pi's own UART instead of a twin.
UART = BASE.replace("simulated = true\nunits", 'simulated = false\nport = "/dev/serial0"\nunits', 1)


def _config(tmp_path: Path, text: str, old: str, new: str) -> Path:
    assert old in text, old
    path = tmp_path / "gpio.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


CASES = [
    pytest.param(BASE, "relay_feedback_pin = 24", "relay_feedback_pin = 2",
                 "[gpio] relay_feedback_pin: GPIO2 is the I²C bus's SDA", id="feedback-on-sda"),
    pytest.param(BASE, "relay_pin = 17", "relay_pin = 3",
                 "[gpio] relay_pin: GPIO3 is the I²C bus's SCL", id="relay-on-scl"),
    pytest.param(BASE, "estop_pin = 27", "estop_pin = 2",
                 "[gpio] estop_pin: GPIO2 is the I²C bus's SDA", id="estop-on-sda"),
    pytest.param(BASE, "reset_pin = 22", "reset_pin = 22\nstart_pin = 22",
                 "[gpio] start_pin: GPIO22 is already used by reset_pin", id="start-is-reset"),
    pytest.param(BASE, "led_pin = 6", "led_pin = 17",
                 "[gpio] led_pin: GPIO17 is already used by relay_pin", id="led-is-relay"),
    pytest.param(UART, "estop_pin = 27", "estop_pin = 14",
                 "[gpio] estop_pin: GPIO14 is the UART's TXD, used by [treadmill] port = "
                 '"/dev/serial0"', id="estop-on-uart-txd"),
    pytest.param(UART, "buzzer_pin = 5", "buzzer_pin = 15",
                 "[gpio] buzzer_pin: GPIO15 is the UART's RXD", id="buzzer-on-uart-rxd"),
]


@pytest.mark.parametrize(("text", "old", "new", "expected"), CASES)
@pytest.mark.parametrize("command", ["sim", "run"])
def test_unusable_pin_is_one_line_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, old: str, new: str,
    expected: str, command: str,
) -> None:
    path = _config(tmp_path, text, old, new)
    # --duration-s bounds the daemon should the configuration wrongly load (nothing is sent:
    # the relay of a mock panel only); --fast keeps a wrongly started simulation short.
    argv = (["sim", "--fast", "--config", str(path)] if command == "sim"
            else ["run", "--config", str(path), "--duration-s", "0.01"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"treadguard: {path}: "), err
    assert expected in err
    assert "Traceback" not in err


def test_uart_pins_are_free_when_the_treadmill_is_not_on_the_uart() -> None:
    """GPIO14/15 are ordinary pins while the treadmill is on a USB adapter or simulated."""
    settings = cfg.parse("t.toml", BASE.replace("estop_pin = 27", "estop_pin = 14", 1))
    assert settings.gpio.estop_pin == 14
    usb = UART.replace('"/dev/serial0"', '"/dev/ttyUSB0"', 1)
    assert cfg.parse("t.toml", usb.replace("estop_pin = 27", "estop_pin = 14", 1))
