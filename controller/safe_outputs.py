"""``treadguard safe-outputs --config FILE``: leave the outputs safe after the daemon is gone.

The service runs it as ``ExecStopPost=``, so it runs however the daemon ended — a controlled
stop, a crash, a kill by the systemd watchdog. A released GPIO line keeps the level it was
last driven to, so a daemon that died with the stop relay energised would leave the key loop
closed; this drives the relay pin low (relay open: the belt loses its key) and the heartbeat
pin low (the charge pump's relay driver drops out, docs/hardware.md), then releases them.

It touches only output pins, never the bus or the serial port, and never closes the relay.
With ``pin_factory = "mock"`` there are no real pins: it says so and does nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from controller import config as cfg
from controller.transports import HardwareError, open_pin_factory


def safe_outputs(settings: cfg.Settings, out: TextIO) -> int:
    """Drive the relay and heartbeat pins low; 0 if done (or nothing to do), 1 if not."""
    g = settings.gpio
    if g.pin_factory == "mock":
        print("safe-outputs: mock pins (simulated): nothing to do", file=out)
        return 0
    try:
        factory: Any = open_pin_factory(settings, None)
        from gpiozero import DigitalOutputDevice  # after the factory: its error names the fix
    except HardwareError as exc:
        print(f"safe-outputs: {exc}", file=out)
        return 1
    failed = 0
    for pin, name in ((g.relay_pin, "stop relay (open)"), (g.heartbeat_pin, "heartbeat (low)")):
        if pin is None:
            continue
        try:
            DigitalOutputDevice(pin, initial_value=False, pin_factory=factory).close()
        except Exception as exc:  # gpiozero: a busy or invalid pin; say which, try the next
            print(f"safe-outputs: GPIO{pin} {name}: FAILED ({type(exc).__name__}: {exc})",
                  file=out)
            failed += 1
            continue
        print(f"safe-outputs: GPIO{pin} {name}", file=out)
    factory.close()
    return 1 if failed else 0


def register(sub: Any) -> None:
    p = sub.add_parser("safe-outputs", help="drive the stop relay and heartbeat pins low (the "
                                            "service's ExecStopPost)")
    p.add_argument("--config", required=True, help="configuration file (TOML)")
    p.set_defaults(func=cmd_safe_outputs)


def cmd_safe_outputs(args: argparse.Namespace) -> int:
    return safe_outputs(cfg.load(args.config), sys.stdout)
