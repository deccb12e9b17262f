"""``treadguard check --config FILE``: is every configured part there and answering?

One line per bus device and per pin, ``PASS`` or ``FAIL``, then exit status 0 only if every
line passed. On a simulated configuration it lists each simulated device by chip name with
the identity and configuration it reported, so the same command proves the drivers and twins
agree.

What each line proves:

- IMU: WHO_AM_I in the allow-list, reset done, every setting read back, and a live stream:
  samples arriving at the chip's rate with |a| within 1 ± 0.3 g (keep the clip still).
- Rails: MPR121 identified by CONFIG2 after reset, thresholds and ECR read back, one reading;
  ADS1115 identified by its threshold registers, config read back, one conversion.
- Pins: e-stop released (a pressed button or a cut wire fails), safety key in, stop relay
  de-energised with its feedback contact open (a welded relay fails); with ``--cycle-relay``
  the relay is also energised for 0.1 s and its feedback must close and reopen.

Before those, whether a controller already runs on the control socket (then the hardware is
its own: nothing is opened, and the line says so); after them (controller/preflight.py) the rails'
calibration, the serial port, the treadmill answering with the belt stopped, and the stop-path
test after a reset. A FAIL line ends with what to do. ``--json`` prints one JSON object
instead: ``{"passed": bool, "items": [{"ok", "item", "text", "fix"}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any, Final, TextIO

from controller import config as cfg
from controller import preflight
from controller.devices import (
    SETUP_ERRORS,
    make_imu,
    make_rails,
    make_safety_io,
    world_without_treadmill,
)
from controller.transports import HardwareError, open_bus, open_pin_factory
from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.i2c import I2CBus
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.motion import Still
from hardware.sim.world import SimWorld

IMU_LISTEN_S = 0.1
RELAY_SETTLE_S = 0.1


FIXES: Final = (
    ("I2C", "enable I²C (install.sh, then reboot); the user needs the group i2c"),
    ("IMU", "check the clip's cable and connector, and [imu] chip and address"),
    ("rails", "check the rail board's cable and [rails] addresses; remove [rails] if none"),
    ("GPIO", "see docs/troubleshooting.md for this pin; a daemon holding the pins: stop it"),
)
"""What to do on a FAIL, by item, where the check itself does not say (first match)."""


class Report:
    """Collects PASS/FAIL lines; prints them as they come, or all at once as JSON."""

    def __init__(self, out: TextIO, as_json: bool = False) -> None:
        self._out = out
        self._json = as_json
        self.items: list[dict[str, Any]] = []
        self.failed = 0
        self.lines = 0

    def line(self, ok: bool, item: str, text: str, fix: str = "") -> None:
        self.lines += 1
        self.failed += not ok
        if not ok and not fix:
            fix = next((f for prefix, f in FIXES if item.startswith(prefix)), "")
        self.items.append({"ok": ok, "item": item, "text": text, "fix": "" if ok else fix})
        if not self._json:
            todo = f" — {fix}" if not ok and fix else ""
            print(f"{'PASS' if ok else 'FAIL'}  {item:<14} {text}{todo}", file=self._out,
                  flush=True)

    def finish(self) -> int:
        """The summary (a line, or the JSON object); 0 if everything passed."""
        if self._json:
            json.dump({"passed": self.failed == 0, "items": self.items}, self._out, indent=2)
            self._out.write("\n")
        else:
            print(f"{self.lines - self.failed}/{self.lines} passed", file=self._out)
        return 0 if self.failed == 0 and self.lines > 0 else 1


def configured_chips(settings: cfg.Settings) -> list[tuple[str, str]]:
    """(item, chip) for every configured bus device, for lines when the bus itself fails."""
    chips = [(f"IMU {settings.imu.address:#04x}", settings.imu.chip.upper())]
    r = settings.rails
    if r is not None:
        if r.touch_chip == "mpr121":
            chips.append((f"rails {r.mpr121_address:#04x}", "MPR121"))
        if r.force_chip == "ads1115":
            addresses = [r.ads1115_left_address]
            if r.ads1115_layout == "chip_per_rail":
                addresses.append(r.ads1115_right_address)
            chips += [(f"rails {a:#04x}", "ADS1115") for a in addresses]
    return chips


def check_bus(settings: cfg.Settings, clock: Clock, report: Report,
              world: SimWorld | None) -> None:
    sim = " (simulated)" if settings.i2c.simulated else ""
    try:
        bus = open_bus(settings, world)
    except HardwareError as exc:
        report.line(False, f"I2C bus {settings.i2c.bus}", str(exc))
        for item, name in configured_chips(settings):
            report.line(False, item, f"{name}: not checked, the bus is unavailable",
                        "fix the I2C bus line above first")
        return
    if settings.i2c.simulated:
        report.line(True, "I2C", "simulated bus holding a twin of each configured chip")
    else:
        report.line(True, f"I2C bus {settings.i2c.bus}", f"/dev/i2c-{settings.i2c.bus} open")
    try:
        check_imu(settings, bus, clock, report, sim)
        rails = make_rails(settings, bus, clock)
        if rails is None:
            return
        for chip in rails.devices:
            item = f"rails {chip.address:#04x}"
            try:
                chip.setup()
            except SETUP_ERRORS as exc:
                report.line(False, item, f"{chip.chip}: {exc}")
                continue
            report.line(True, item, chip.describe() + sim)
        try:
            rails.prime()
            sample = rails.read()
            report.line(True, "rails", f"reading: touch {sample.touch_left}/{sample.touch_right}"
                                       f", force {_n(sample.force_left_n)}/"
                                       f"{_n(sample.force_right_n)} (left/right)")
        except (OSError, TypeError) as exc:
            report.line(False, "rails", f"no reading: {exc}")
    finally:
        bus.close()


def _n(force: float | None) -> str:
    return "—" if force is None else f"{force:.1f} N"


def check_imu(settings: cfg.Settings, bus: I2CBus, clock: Clock, report: Report,
              sim: str) -> None:
    imu = make_imu(settings, bus, clock)
    item = f"IMU {settings.imu.address:#04x}"
    try:
        imu.setup()
    except SETUP_ERRORS as exc:
        report.line(False, item, f"{settings.imu.chip}: {exc}")
        return
    report.line(True, item, imu.describe() + sim)
    samples = []
    try:
        end_s = clock.now_s() + IMU_LISTEN_S
        while clock.now_s() < end_s:
            clock.sleep_until(clock.now_s() + 0.005)
            samples += imu.read()
    except OSError as exc:
        report.line(False, f"{item} data", f"read failed: {exc}")
        return
    expected = imu.rate_hz * IMU_LISTEN_S
    if len(samples) < 0.8 * expected:
        report.line(False, f"{item} data", f"{len(samples)} samples in {IMU_LISTEN_S:g} s, "
                                           f"expected ≈ {expected:.0f}")
        return
    norm_g = sum(math.hypot(*s.acc_mps2) for s in samples) / len(samples) / STANDARD_GRAVITY_MPS2
    ok = abs(norm_g - 1.0) <= 0.3
    report.line(ok, f"{item} data", f"{len(samples)} samples in {IMU_LISTEN_S:g} s, "
                                    f"|a| = {norm_g:.2f} g" + ("" if ok else
                                    " (expected 1 ± 0.3 g with the clip still)"))


def check_pins(settings: cfg.Settings, clock: Clock, report: Report, cycle_relay: bool,
               world: SimWorld | None, inject: Callable[[Any], None] | None = None) -> None:
    g = settings.gpio
    try:
        factory: Any = open_pin_factory(settings, world)
    except HardwareError as exc:
        report.line(False, "GPIO", str(exc))
        return
    mock = g.pin_factory == "mock"
    try:
        if mock and world is not None:
            io = world.claim_pins(lambda pins: make_safety_io(pins, clock, g))
        else:
            io = make_safety_io(factory, clock, g)
    except Exception as exc:  # gpiozero raises assorted errors for a busy or invalid pin
        report.line(False, "GPIO", f"cannot claim the pins: {type(exc).__name__}: {exc}")
        return
    try:
        if mock and inject is not None:
            inject(factory)  # tests: press the e-stop, pull the key, weld the relay
        report.line(True, "GPIO", f"{g.pin_factory} pin factory"
                                  + (" (simulated machine)" if mock else ""))
        report.line(not io.estop_pressed, f"GPIO{g.estop_pin}",
                    "e-stop: " + ("pressed or its wire broken" if io.estop_pressed
                                  else "released (contact closed)"))
        if g.key_pin is not None:
            report.line(bool(io.key_present), f"GPIO{g.key_pin}",
                        "safety key: " + ("in" if io.key_present else "out"))
        report.line(True, f"GPIO{g.reset_pin}", "reset" + ("" if g.start_pin else "/start")
                    + " button: " + ("held" if io.reset_held else "released"))
        if g.start_pin is not None:
            report.line(True, f"GPIO{g.start_pin}", "start button")
        check_relay(io, g, clock, report, cycle_relay)
        for pin, name in ((g.heartbeat_pin, "heartbeat output (low)"),
                          (g.buzzer_pin, "buzzer (off)"), (g.led_pin, "status LED (off)")):
            if pin is not None:
                report.line(True, f"GPIO{pin}", name)
    finally:
        io.close()


def check_relay(io: Any, g: cfg.GpioSettings, clock: Clock, report: Report,
                cycle_relay: bool) -> None:
    item = f"GPIO{g.relay_pin}"
    if g.relay_feedback_pin is None:
        report.line(True, item, "stop relay: de-energised (no feedback contact configured: a "
                                "welded relay cannot be detected)")
        return
    if io.relay_feedback_closed:
        report.line(False, item, f"stop relay: de-energised but feedback GPIO"
                                 f"{g.relay_feedback_pin} reads closed (welded?)")
        return
    if not cycle_relay:
        report.line(True, item, f"stop relay: de-energised, feedback GPIO"
                                f"{g.relay_feedback_pin} open")
        return
    io.set_relay(True)
    clock.sleep_until(clock.now_s() + RELAY_SETTLE_S)
    closed = io.relay_feedback_closed
    io.set_relay(False)
    clock.sleep_until(clock.now_s() + RELAY_SETTLE_S)
    reopened = not io.relay_feedback_closed
    ok = bool(closed) and reopened
    report.line(ok, item, "stop relay: " + ("closes and opens, feedback follows" if ok else
                "feedback did not close when energised" if not closed else
                "feedback stayed closed after de-energising (welded?)"))


def run_check(settings: cfg.Settings, out: TextIO, cycle_relay: bool = False,
              inject_bus: Callable[[SimWorld], None] | None = None,
              inject_pins: Callable[[Any], None] | None = None, as_json: bool = False,
              machine: bool = False) -> int:
    """Check everything; print the lines; 0 if all passed, 1 otherwise.

    Simulated parts are checked on a simulated machine without a treadmill (the runner still,
    nobody at the buttons, seed 1). ``inject_bus`` (given the world, before the checks) and
    ``inject_pins`` (given the mock pin factory, once the pins are claimed and wired) let tests
    break twins and pins on purpose, to show each failure line. ``machine``: also the
    preflight's whole-machine items (controller/preflight.py)."""
    report = Report(out, as_json)
    if not preflight.check_service(settings, report):
        return report.finish()
    clock: Clock = SimClock() if settings.i2c.simulated else MonotonicClock()
    world = None
    if settings.i2c.simulated or settings.gpio.pin_factory == "mock":
        world = world_without_treadmill(settings, clock, Still())
        if inject_bus is not None:
            inject_bus(world)  # tests: unplug a chip, a wrong identity, a stuck FIFO
    try:
        check_bus(settings, clock, report, world)
        check_pins(settings, clock, report, cycle_relay, world, inject_pins)
    finally:
        if world is not None:
            world.close()
    if machine:
        preflight.check_calibration(settings, report)
        preflight.check_machine(settings, report, sys.stderr)
    return report.finish()


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="the preflight: every sensor, pin, the treadmill and the "
                                     "stop-path test (PASS/FAIL lines)")
    p.add_argument("--config", required=True, help="configuration file (TOML)")
    p.add_argument("--cycle-relay", action="store_true",
                   help="also energise the stop relay for 0.1 s and check its feedback follows")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (passed, and every item) instead of the lines")
    p.add_argument("--parts-only", action="store_true",
                   help="only the chips and pins: skip the rails' calibration, the treadmill "
                        "and the stop-path test (which needs a reset at the machine)")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    return run_check(cfg.load(args.config), sys.stdout, args.cycle_relay, as_json=args.json,
                     machine=not args.parts_only)
