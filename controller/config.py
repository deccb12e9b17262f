"""Configuration: one TOML file, read with :mod:`tomllib`, validated completely at start-up.

Each option is declared once, as a field of the frozen dataclass of its section below: name,
type, default (none = required), bounds and a one-line meaning (see :mod:`controller.options`).
The unit is in the name. The parser, the dataclasses' defaults (what ``DetectSettings()``
gives evaluation and tests) and ``docs/configuration.md`` all come from that declaration;
regenerate the doc with ``python -m controller.config --markdown > docs/configuration.md``.

Errors name the file, the section and the option, and say what was expected::

    examples/sim.toml: [limits] max_speed_kmh: expected a number from 0.1 to 8, got 12.0

Unknown sections and options are rejected (a typo must fail loudly, not be silently ignored
while the default stays in force). Nothing else in the project reads TOML.

Simulation is chosen only by the configuration (``simulated = true`` in a hardware section);
a configuration that names real hardware never falls back to a simulated twin.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Final

from controller.fleet.topics import name_problem
from controller.fleet.url import BrokerAddress, parse_broker_url
from controller.options import (
    REQUIRED,
    ConfigError,
    Document,
    default_of,
    markdown,
    option,
    read,
    read_option,
)
from controller.options import options as declared_options
from controller.settings import (
    HARD_MAX_SPEED_KMH,
    I2C_PINS,
    IMU_ADDRESSES,
    SECTIONS,
    UART_PINS,
    UART_PORTS,
    ArmingSettings,
    BlackboxSettings,
    ControllerSettings,
    ControlSettings,
    DeckSettings,
    DetectSettings,
    FleetSettings,
    GpioSettings,
    HealthSettings,
    I2CSettings,
    ImuSettings,
    LimitsSettings,
    PathsSettings,
    ProgramSettings,
    RailsSettings,
    RealtimeSettings,
    SessionSettings,
    Settings,
    SimSettings,
    TreadmillSettings,
    WatchdogSettings,
)
from hardware.trackmaster_timing import min_ack_timeout_s

__all__ = [
    "HARD_MAX_SPEED_KMH", "SECTIONS", "ArmingSettings", "ConfigError", "ControlSettings",
    "ControllerSettings", "DeckSettings", "DetectSettings", "Document", "FleetSettings",
    "GpioSettings",
    "HealthSettings", "I2CSettings", "ImuSettings", "LimitsSettings", "PathsSettings",
    "ProgramSettings", "RailsSettings", "SessionSettings", "Settings", "SimSettings",
    "TreadmillSettings", "load", "parse",
]

UNIX_PATH_MAX: Final = 107
"""Longest path a Unix socket may have on Linux (sun_path is 108 bytes with its NUL)."""

# --------------------------------------------------------------------------- sections and rules
# Each function reads its section against the declarations, then checks the rules that join
# two options (or another section), in that order.


def _controller(doc: Document) -> ControllerSettings:
    return ControllerSettings(**read(doc.require("controller"), ControllerSettings))


def _i2c(doc: Document) -> I2CSettings:
    return I2CSettings(**read(doc.require("i2c"), I2CSettings))


def _imu(doc: Document) -> ImuSettings:
    s = doc.require("imu")
    chip = read_option(s, option(ImuSettings, "chip"))
    imu = ImuSettings(**read(s, ImuSettings, defaults={"address": IMU_ADDRESSES[chip][0]}))
    if imu.address not in IMU_ADDRESSES[chip]:
        raise s.error("address", f"expected one of {', '.join(hex(a) for a in IMU_ADDRESSES[chip])}"
                                 f" for {chip}, got {hex(imu.address)}")
    return imu


def _treadmill(doc: Document) -> TreadmillSettings:
    s = doc.require("treadmill")
    relay_only = read_option(s, option(TreadmillSettings, "protocol")) == "none"
    # Relay-only has no serial link: port and units mean nothing there.
    simulated = read_option(s, option(TreadmillSettings, "simulated"),
                            False if relay_only else REQUIRED)
    t = TreadmillSettings(**read(
        s, TreadmillSettings,
        defaults={"simulated": simulated,
                  "port": "sim" if simulated else "none" if relay_only else REQUIRED,
                  "units": "none" if relay_only else REQUIRED},
        choices={} if relay_only else {"units": ("mph", "kmh")}))
    if not relay_only and t.ack_timeout_s < min_ack_timeout_s(t.baud):
        # Shorter than the bytes of one command and its reply: every command would time out,
        # a link fault forever that does not say why.
        raise s.error("ack_timeout_s", f"{t.ack_timeout_s:g} s cannot fit one command and its "
                                       f"reply (and a stop behind it) at {t.baud} baud: at least "
                                       f"{math.ceil(min_ack_timeout_s(t.baud) * 1000) / 1000:g} s")
    return t


def _gpio(doc: Document, treadmill: TreadmillSettings) -> GpioSettings:
    s = doc.require("gpio")
    gpio = GpioSettings(**read(s, GpioSettings))
    uart = treadmill.protocol != "none" and treadmill.port in UART_PORTS
    seen: dict[int, str] = {}
    for o in declared_options(GpioSettings):
        pin = getattr(gpio, o.name)
        if not o.name.endswith("_pin") or pin is None:
            continue
        if pin in I2C_PINS:
            # Every Pi has 1.8 kΩ pull-ups on these two: an output there is high (a relay
            # energised) while the Pi boots or after the process dies, and an input cannot be
            # pulled down. They are also the sensors' bus.
            raise s.error(o.name, f"GPIO{pin} is the I²C bus's {I2C_PINS[pin]} (fixed 1.8 kΩ "
                                  f"pull-up on every Raspberry Pi): choose another pin")
        if uart and pin in UART_PINS:
            raise s.error(o.name, f"GPIO{pin} is the UART's {UART_PINS[pin]}, used by [treadmill] "
                                  f"port = \"{treadmill.port}\": choose another pin")
        if pin in seen:
            raise s.error(o.name, f"GPIO{pin} is already used by {seen[pin]}")
        seen[pin] = o.name
    return gpio


def _limits(doc: Document) -> LimitsSettings:
    s = doc.require("limits")
    limits = LimitsSettings(**read(s, LimitsSettings))
    if limits.start_speed_kmh > limits.max_speed_kmh:
        raise s.error("start_speed_kmh", f"expected at most max_speed_kmh "
                                         f"({limits.max_speed_kmh:g}), got "
                                         f"{limits.start_speed_kmh:g}")
    return limits


def _session(doc: Document, limits: LimitsSettings) -> SessionSettings:
    s = doc.optional("session")
    # A file that lowers the cap below the default session speed gets the cap, not an error.
    default = min(default_of(SessionSettings, "speed_kmh"), limits.max_speed_kmh)
    session = SessionSettings(**read(s, SessionSettings, defaults={"speed_kmh": default}))
    if session.speed_kmh > limits.max_speed_kmh:
        raise s.error("speed_kmh", f"expected at most [limits] max_speed_kmh "
                                   f"({limits.max_speed_kmh:g}), got {session.speed_kmh:g}")
    return session


def _health(doc: Document) -> HealthSettings:
    return HealthSettings(**read(doc.optional("health"), HealthSettings))


def _detect(doc: Document) -> DetectSettings:
    return DetectSettings(**read(doc.optional("detect"), DetectSettings))


def _rails(doc: Document) -> RailsSettings | None:
    s = doc.section("rails", required=False)
    if s is None:
        return None
    if s.has("calibration_file"):
        raise s.error("calibration_file", "no longer read: paste the touch_threshold_counts and "
                                          "release_threshold_counts lines that `treadguard "
                                          "calibrate rails` prints into [rails] instead")
    layout = read_option(s, option(RailsSettings, "ads1115_layout"))
    r = RailsSettings(**read(
        s, RailsSettings, defaults={"ads1115_right_channel": 1 if layout == "alternate" else 0}))
    if r.left_electrode == r.right_electrode:
        raise s.error("right_electrode",
                      f"expected a different electrode than left ({r.left_electrode})")
    if r.release_threshold_counts >= r.touch_threshold_counts:
        raise s.error("release_threshold_counts",
                      f"expected less than touch_threshold_counts ({r.touch_threshold_counts}), "
                      f"got {r.release_threshold_counts}")
    if r.force_chip == "ads1115" and layout == "chip_per_rail" \
            and r.ads1115_left_address == r.ads1115_right_address:
        raise s.error("ads1115_right_address",
                      f"expected a different address than the left rail's "
                      f"({hex(r.ads1115_left_address)}) with one chip per rail")
    if r.force_chip == "ads1115" and layout == "alternate" \
            and r.ads1115_left_channel == r.ads1115_right_channel:
        raise s.error("ads1115_right_channel",
                      f"expected a different channel than the left rail's "
                      f"({r.ads1115_left_channel})")
    return r


def _deck(doc: Document) -> DeckSettings | None:
    s = doc.section("deck", required=False)
    if s is None:
        return None
    d = DeckSettings(**read(s, DeckSettings))
    zones = ("stop_within_m", "caution_within_m", "caution_beyond_m", "stop_beyond_m")
    for near, far in itertools.pairwise(zones):
        if getattr(d, far) <= getattr(d, near):
            raise s.error(far, f"expected more than {near} ({getattr(d, near):g}), "
                               f"got {getattr(d, far):g}")
    if d.period_ms < d.timing_budget_ms:
        raise s.error("period_ms", f"expected at least timing_budget_ms ({d.timing_budget_ms}), "
                                   f"got {d.period_ms}")
    if d.stale_after_s * 1000.0 <= d.period_ms:
        raise s.error("stale_after_s", f"expected more than period_ms ({d.period_ms} ms), "
                                       f"got {d.stale_after_s:g} s")
    return d


def _sim(doc: Document) -> SimSettings | None:
    s = doc.section("sim", required=False)
    if s is None:
        return None
    # The simulator only where a file asks for it.
    from hardware.sim.scenario_file import scenario_names

    return SimSettings(**read(s, SimSettings, choices={"scenario": tuple(scenario_names())}))


def _beside(config_path: str, value: str) -> str:
    """A relative path in the file is relative to the file's own directory."""
    p = Path(value)
    return str(p if p.is_absolute() else Path(config_path).parent / p)


def _paths(doc: Document, config_path: str) -> PathsSettings:
    paths = PathsSettings(**read(doc.optional("paths"), PathsSettings))
    return PathsSettings(state_dir=_beside(config_path, paths.state_dir))


def _control(doc: Document, config_path: str) -> ControlSettings:
    s = doc.optional("control")
    control = ControlSettings(**read(s, ControlSettings))
    path = _beside(config_path, control.socket_path)
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        raise s.error("socket_path", f"{path!r} is longer than a Unix socket path may be "
                                     f"({UNIX_PATH_MAX} bytes)")
    return ControlSettings(socket_path=path, socket_group=control.socket_group)


def _program(doc: Document) -> ProgramSettings:
    s = doc.optional("program")
    program = ProgramSettings(**read(s, ProgramSettings))
    if program.warmup_speed_kmh > program.bout_speed_kmh:
        raise s.error("warmup_speed_kmh", f"expected at most bout_speed_kmh "
                                          f"({program.bout_speed_kmh:g}), got "
                                          f"{program.warmup_speed_kmh:g}")
    return program


def _fleet(doc: Document, config_path: str) -> FleetSettings:
    s = doc.optional("fleet")
    fleet = FleetSettings(**read(s, FleetSettings))
    def beside(value: str) -> str:
        return _beside(config_path, value) if value else ""

    fleet = dataclasses.replace(
        fleet, password_file=beside(fleet.password_file), ca_file=beside(fleet.ca_file),
        cert_file=beside(fleet.cert_file), key_file=beside(fleet.key_file))
    if not fleet.enabled:
        return fleet
    for name in ("broker_url", "site", "treadmill"):
        if not getattr(fleet, name):
            raise s.error(name, "missing (required with enabled = true)")
    address = parse_broker_url(fleet.broker_url)
    if not isinstance(address, BrokerAddress):
        raise s.error("broker_url", address)
    for name in ("site", "treadmill", "username"):
        value = getattr(fleet, name)
        problem = name_problem(name, value) if value else None
        if problem is not None:
            raise s.error(name, f"{problem.split(': ', 1)[1]}, got {value!r}")
    if fleet.password_file and not fleet.username:
        raise s.error("password_file", "needs username (the user the password is for)")
    if bool(fleet.cert_file) != bool(fleet.key_file):
        raise s.error("cert_file" if fleet.key_file else "key_file",
                      "cert_file and key_file go together (a client certificate and its key)")
    for name in ("ca_file", "cert_file"):
        if getattr(fleet, name) and not address.tls:
            raise s.error(name, f"needs TLS: broker_url {fleet.broker_url!r} is mqtt://, "
                                f"use mqtts://")
    return fleet


def parse(path: str, text: str) -> Settings:
    """Validate the TOML ``text`` (read from ``path``, used in messages) into :class:`Settings`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    doc = Document(path, data)
    limits = _limits(doc)
    treadmill = _treadmill(doc)
    settings = Settings(
        path=path,
        controller=_controller(doc),
        i2c=_i2c(doc),
        imu=_imu(doc),
        treadmill=treadmill,
        gpio=_gpio(doc, treadmill),
        limits=limits,
        session=_session(doc, limits),
        health=_health(doc),
        detect=_detect(doc),
        sim=_sim(doc),
        rails=_rails(doc),
        paths=_paths(doc, path),
        program=_program(doc),
        control=_control(doc, path),
        watchdog=WatchdogSettings(**read(doc.optional("watchdog"), WatchdogSettings)),
        realtime=RealtimeSettings(**read(doc.optional("realtime"), RealtimeSettings)),
        blackbox=BlackboxSettings(**read(doc.optional("blackbox"), BlackboxSettings)),
        arming=ArmingSettings(**read(doc.optional("arming"), ArmingSettings)),
        deck=_deck(doc),
        fleet=_fleet(doc, path),
    )
    doc.finish()
    return settings


def load(path: str | Path) -> Settings:
    """Read and validate a configuration file.

    Raises:
        ConfigError: one line naming the file, section and option, on any problem.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration: {exc}") from None
    return parse(str(p), text)


DOC_INTRO: Final = """\
# Configuration reference

<!-- Generated from the declarations in controller/settings.py by
     `python -m controller.config --markdown > docs/configuration.md`; do not edit by hand
     (tests/test_config_options.py fails when this file is stale). -->

One TOML file, validated completely at start-up. Every option has its unit in its name; an
option with a default may be left out, a **required** one may not. Unknown sections and options
are errors, so a typo never leaves a default silently in force. Errors are one line naming the
file, the section and the option:

    examples/sim.toml: [limits] max_speed_kmh: expected a number from 0.1 to 8, got 12.0

The examples in `examples/` are complete files. Rules that join two options (start speed ≤
max speed, one role per pin, ...) are given in each section's text.
"""


def render_markdown() -> str:
    """The text of ``docs/configuration.md``."""
    return markdown(SECTIONS, DOC_INTRO)


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m controller.config --markdown > docs/configuration.md")
    sys.stdout.write(render_markdown())
