"""Configuration: one TOML file, read with :mod:`tomllib`, validated completely at start-up.

Every option has a unit in its name, a type, bounds and (where safe) a default. Errors name the
file, the section and the option, and say what was expected::

    examples/sim.toml: [limits] max_speed_kmh: expected a number from 0.1 to 8.0, got 12.0

Unknown sections and options are rejected (a typo must fail loudly, not be silently ignored
while the default stays in force). The result is a tree of frozen dataclasses; nothing else in
the project reads TOML.

Simulation is chosen only by the configuration (``simulated = true`` in a hardware section);
a configuration that names real hardware never falls back to a simulated twin.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from hardware.trackmaster import BAUD_RATES, min_ack_timeout_s

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem. ``str()`` is one line naming the file, section and option."""


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Final = _Missing()

# The hard ceiling of the safety requirements: backward running never above 8 km/h, even in a
# supervised profile with a harness. Raising it takes a code change, on purpose.
HARD_MAX_SPEED_KMH: Final = 8.0


class Section:
    """Typed, bounded access to one ``[section]`` of a TOML document.

    Every getter records the option as known; :meth:`finish` then rejects whatever is left.
    """

    def __init__(self, path: str, name: str, data: dict[str, Any]) -> None:
        self.path = path
        self.name = name
        self._data = data
        self._seen: set[str] = set()

    def _where(self, option: str) -> str:
        return f"{self.path}: [{self.name}] {option}"

    def error(self, option: str, message: str) -> ConfigError:
        return ConfigError(f"{self._where(option)}: {message}")

    def has(self, option: str) -> bool:
        return option in self._data

    def _raw(self, option: str, default: object) -> object:
        self._seen.add(option)
        if option in self._data:
            return self._data[option]
        if default is REQUIRED:
            raise self.error(option, "missing (this option is required)")
        return default

    def get_float(
        self,
        option: str,
        default: float | _Missing = REQUIRED,
        *,
        min_value: float | None = None,
        max_value: float | None = None,
        above: float | None = None,
    ) -> float:
        """A finite number (TOML integer or float). ``above`` is an exclusive lower bound."""
        value = self._raw(option, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(option, f"expected a number{_range(min_value, max_value, above)}, "
                                     f"got {_show(value)}")
        number = float(value)
        if not math.isfinite(number) or (
            (min_value is not None and number < min_value)
            or (max_value is not None and number > max_value)
            or (above is not None and number <= above)
        ):
            raise self.error(option, f"expected a number{_range(min_value, max_value, above)}, "
                                     f"got {_show(value)}")
        return number

    def get_int(
        self,
        option: str,
        default: int | _Missing = REQUIRED,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int:
        """An integer (TOML integers, including ``0x6A`` hex)."""
        value = self._raw(option, default)
        if isinstance(value, bool) or not isinstance(value, int) or (
            (min_value is not None and value < min_value)
            or (max_value is not None and value > max_value)
        ):
            raise self.error(option, f"expected an integer{_range(min_value, max_value, None)}, "
                                     f"got {_show(value)}")
        return value

    def get_bool(self, option: str, default: bool | _Missing = REQUIRED) -> bool:
        value = self._raw(option, default)
        if not isinstance(value, bool):
            raise self.error(option, f"expected true or false, got {_show(value)}")
        return value

    def get_str(
        self,
        option: str,
        default: str | _Missing = REQUIRED,
        *,
        choices: tuple[str, ...] | None = None,
    ) -> str:
        value = self._raw(option, default)
        if not isinstance(value, str) or (choices is not None and value not in choices):
            expected = ("one of " + ", ".join(f'"{c}"' for c in choices)) if choices else "a string"
            raise self.error(option, f"expected {expected}, got {_show(value)}")
        if not value and choices is None:
            raise self.error(option, "expected a non-empty string")
        return value

    def get_choice(
        self, option: str, choices: dict[str, T], default: str | _Missing = REQUIRED
    ) -> T:
        """A string option mapped through ``choices``."""
        return choices[self.get_str(option, default, choices=tuple(choices))]

    def finish(self) -> None:
        """Reject options that no getter asked for (typos, options from another version)."""
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise self.error(unknown[0], f"unknown option (known: {', '.join(sorted(self._seen))})")


def _range(lo: float | None, hi: float | None, above: float | None) -> str:
    if above is not None and hi is not None:
        return f" above {above:g} and at most {hi:g}"
    if above is not None:
        return f" above {above:g}"
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" ≥ {lo:g}"
    if hi is not None:
        return f" ≤ {hi:g}"
    return ""


def _show(value: object) -> str:
    if isinstance(value, _Missing):
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Document:
    """A parsed TOML file whose sections are handed out once each, then checked for leftovers."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data
        self._sections: dict[str, Section] = {}

    def section(self, name: str, *, required: bool = True) -> Section | None:
        raw = self._data.get(name)
        if raw is None:
            if required:
                raise ConfigError(f"{self.path}: [{name}]: missing (this section is required)")
            self._sections[name] = Section(self.path, name, {})
            return None
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.path}: {name}: expected a [{name}] section, got {_show(raw)}")
        sec = Section(self.path, name, raw)
        self._sections[name] = sec
        return sec

    def require(self, name: str) -> Section:
        sec = self.section(name, required=True)
        assert sec is not None
        return sec

    def finish(self) -> None:
        unknown = sorted(set(self._data) - set(self._sections))
        if unknown:
            raise ConfigError(
                f"{self.path}: [{unknown[0]}]: unknown section "
                f"(known: {', '.join(sorted(self._sections))})"
            )
        for sec in self._sections.values():
            sec.finish()


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ControllerSettings:
    """``[controller]``: the real-time loop.

    Attributes:
        loop_rate_hz: control loop rate (default 200). The IMU runs at ≥ this rate.
        stall_after_s: a loop iteration later than this is a stall ⇒ latched stop
            (default 0.1, the safety requirement's limit).
    """

    loop_rate_hz: float
    stall_after_s: float


@dataclass(frozen=True)
class I2CSettings:
    """``[i2c]``: the bus the IMU and rail chips sit on.

    Attributes:
        simulated: true = a simulated bus holding register-faithful twins of the configured
            chips. Never inferred: a real config whose bus is missing refuses to start.
        bus: Linux I²C bus number (``/dev/i2c-<bus>``; 1 on a Raspberry Pi). Ignored if simulated.
    """

    simulated: bool
    bus: int


@dataclass(frozen=True)
class ImuSettings:
    """``[imu]``: the belt-clip IMU.

    Attributes:
        chip: ``"lsm6dsox"`` (recommended) or ``"mpu6050"`` (the common hobby board).
        address: 7-bit I²C address (LSM6DSOX 0x6A/0x6B; MPU-6050 0x68/0x69).
        accel_range_g: full scale, g (16 default: falls and impacts exceed ±8 g).
        gyro_range_dps: full scale, degrees/s (2000 default).
    """

    chip: str
    address: int
    accel_range_g: int
    gyro_range_dps: int


@dataclass(frozen=True)
class TreadmillSettings:
    """``[treadmill]``: the serial link to the treadmill.

    Attributes:
        protocol: ``"trackmaster"`` or ``"none"`` (relay-only: no speed control, stop = relay).
        simulated: true = a simulated treadmill in its own process on a pseudo-terminal.
        port: pyserial URL (``/dev/ttyUSB0``, ``/dev/ttyAMA0``, ``socket://host:port``).
        baud: 4800 for Trackmaster (some compatibles use 9600).
        units: ``"mph"`` or ``"kmh"`` — the unit the treadmill's speed digits are in. No
            default: a wrong guess is a 1.6× speed error.
        stop_mode: ``"A2"`` (stop belt) or ``"AA"`` (speed and elevation to minimum, then stop).
        poll_interval_s: time between status polls while the belt may move (default 0.05;
            must stay well under the treadmill's 0.5 s communication watchdog).
        ack_timeout_s: how long a command may wait for its acknowledgement (default 0.1).
        readback_tolerance_kmh: how far the read-back belt speed may be from the command
            (default 0.5). Beyond it for ``readback_time_s`` is a link fault (relay opened).
        readback_time_s: how long a read-back deviation may last (default 0.5, 0.1–2.0).
        allow_reverse: Woodway-style reverse (leading '3' in the speed digits). Default false;
            most setups run backward by facing the rear of a forward-running belt.

    With ``protocol = "none"`` (relay-only) ``simulated``, ``port`` and ``units`` are not needed.
    """

    protocol: str
    simulated: bool
    port: str
    baud: int
    units: str
    stop_mode: str
    poll_interval_s: float
    ack_timeout_s: float
    readback_tolerance_kmh: float = 0.5
    readback_time_s: float = 0.5
    allow_reverse: bool = False


@dataclass(frozen=True)
class GpioSettings:
    """``[gpio]``: safety I/O pins (BCM numbering, GPIO4–27 usable).

    Every pin has one role. Refused at load, because each would defeat a safety function:
    GPIO0/1 (the HAT ID EEPROM's bus) and GPIO2/3 (I²C SDA/SCL: fixed 1.8 kΩ pull-ups on every
    Pi, so a relay output there is energised while the Pi boots and an input cannot be pulled
    down), two roles on one pin, and GPIO14/15 while ``[treadmill] port`` is the Pi's own UART
    (``/dev/serial0``, ``/dev/ttyAMA0``, ``/dev/ttyS0``).

    Attributes:
        pin_factory: ``"mock"`` (gpiozero's MockFactory: simulation and tests) or a real
            gpiozero backend (``"lgpio"`` — the only one that works on a Pi 5 — or ``"rpigpio"``).
        relay_pin: output energising the relay in the treadmill's safety-key loop. Energised
            only while the controller is alive and healthy; wire a pull-down so a dead process
            opens it.
        estop_pin: emergency-stop input, normally closed to ground: a broken wire reads as pressed.
        reset_pin: reset input (held ≥ 1 s clears a latched stop; a short press confirms a start).
        start_pin: separate start-confirm button, or None (default): a short press of the reset
            button confirms a start.
        key_pin: safety-key-present input (contact to ground when the key is in), or None.
        relay_feedback_pin: the relay's feedback contact (closed = high while energised), or
            None. Without it a welded relay cannot be detected: fit one on a real machine.
        heartbeat_pin: charge-pump output toggled once per loop cycle for an external watchdog
            relay, or None.
        buzzer_pin / led_pin: active buzzer and status LED, or None.
        reset_hold_s: how long the reset button must be held to clear a latched stop
            (default 1.0 s, 1–5 s: long enough that a bump cannot reset).
        relay_open_within_s: after the relay is de-energised its feedback must open within this
            time, else the relay is welded ⇒ fault (default 0.05 s, 0.01–0.2 s).
    """

    pin_factory: str
    relay_pin: int
    estop_pin: int
    reset_pin: int
    start_pin: int | None = None
    key_pin: int | None = None
    relay_feedback_pin: int | None = None
    heartbeat_pin: int | None = None
    buzzer_pin: int | None = None
    led_pin: int | None = None
    reset_hold_s: float = 1.0
    relay_open_within_s: float = 0.05


@dataclass(frozen=True)
class LimitsSettings:
    """``[limits]``: the speed envelope the governor enforces.

    Attributes:
        start_speed_kmh: first speed after a start (default 0.5, at most 1.0).
        max_speed_kmh: cap for this machine/profile (default 3.0; never above 8.0).
        ramp_mps2: normal acceleration and deceleration (default 0.25, at most 0.25).
        stop_decel_mps2: deceleration of a software controlled stop (0.5–1.5, default 1.0).
        start_countdown_s: the warning before the belt starts, seconds (default 3.0, 2–10).
            A confirmed start plays the buzzer's countdown for this long — short beeps a second
            apart, the final long beep marking "now" — and only then sends the start command
            (relay-only: closes the relay); a stop or a fault during it cancels the start. It
            cannot be turned off: a runner facing away from the console must never be
            surprised by the belt moving. Longer is safer but slower to start.
    """

    start_speed_kmh: float
    max_speed_kmh: float
    ramp_mps2: float
    stop_decel_mps2: float
    start_countdown_s: float = 3.0


@dataclass(frozen=True)
class SessionSettings:
    """``[session]``: what a run asks for (the governor still caps and ramps it).

    Attributes:
        speed_kmh: the session's belt speed (default 1.0; capped by ``[limits] max_speed_kmh``).
    """

    speed_kmh: float


@dataclass(frozen=True)
class HealthSettings:
    """``[health]``: when a sensor counts as lost.

    Every condition is a controlled, latched stop (see :mod:`controller.health`).

    Attributes:
        stale_after_s: no new IMU (or rail) sample for this long ⇒ sensor lost ⇒ stop
            (default 0.05, 0.01–0.05).
        stuck_samples: this many identical consecutive samples while the belt runs ⇒ stuck
            (default 10 = 50 ms at 200 Hz; a healthy chip's noise never repeats 3 in a row).
        still_rate_dps: gyro norm below this counts as "still" for the 1 g check (default 5).
        implausible_g: still, yet |a| differs from 1 g by more than this ⇒ implausible
            (default 0.3 g).
        implausible_after_s: ... for this long (default 0.1 s).
        saturated_after_s: an accelerometer axis at full scale this long ⇒ saturated
            (default 0.1 s; impacts saturate for a few ms only).
        i2c_errors_per_s: bus errors allowed within any one second per device (default 5 —
            1 in 40 transfers at 200 Hz; an unplugged sensor exceeds it within 30 ms).
        clip_moved_deg: change of the clip's gravity direction since arming that means the clip
            slipped or fell (default 45°).
        clip_lowpass_s: time constant of the gravity estimate (default 0.5 s: steps and sway
            average out, a slipping clip does not).
    """

    stale_after_s: float
    stuck_samples: int = 10
    still_rate_dps: float = 5.0
    implausible_g: float = 0.3
    implausible_after_s: float = 0.1
    saturated_after_s: float = 0.1
    i2c_errors_per_s: int = 5
    clip_moved_deg: float = 45.0
    clip_lowpass_s: float = 0.5


@dataclass(frozen=True)
class DetectSettings:
    """``[detect]``: detector thresholds (``controller.detect``; see ``docs/detection.md``).

    Raising a STOP threshold makes false stops rarer and real falls later or missed; lowering it
    does the reverse. Defaults were tuned on KFall development subjects only.

    Attributes:
        free_fall_g: specific-force norm below this is loss of support (default 0.4 g).
        impact_g: specific-force norm above this is an impact (default 3.0 g); the fall
            detector stops on it only with the trunk tilted beyond ``impact_tilt_deg``.
        arm_s: at start, the mean specific force over this long defines "up" (default 0.1 s).
        orientation_tau_s: time constant pulling the tracked up direction toward the
            accelerometer (default 1.0 s).
        velocity_leak_s: leak time constant of the vertical-velocity integrator (default 1.0 s).
        model_logit: the learned fall score's logit above this … (default 8.5; lower = earlier
            stops and more false stops)
        model_hold_s: … for this long is a STOP ``pre_impact`` (default 0.02 s).
        fall_velocity_mps: rule backstop: downward waist speed beyond this … (default 1.5 m/s)
        fall_tilt_deg: … with the trunk tilted beyond this from upright … (default 45°)
        fall_rate_dps: … and tipping faster than this (default 0 °/s: not required) …
        fall_hold_s: … for this long is a STOP ``fall`` (default 0.01 s).
        free_fall_hold_s: ``free_fall_g`` for this long is a STOP ``free_fall``
            (default 0.4 s, a 0.8 m drop: far longer than a jogging flight phase or a hop).
        impact_tilt_deg: tilt needed for an impact to count (default 45°).
        slip_rate_dps: while stepping, tipping faster than this … (default 150 °/s)
        slip_tilt_deg: … with tilt beyond this … (default 25°)
        slip_hold_s: … for this long is a STOP ``slip_trip`` (default 0.05 s).
        step_threshold_mps2: vertical-acceleration peak that counts as a step (default 1.0).
        step_min_interval_s: steps closer than this count once (default 0.25 s).
        sway_ratio: CAUTION ``trunk_sway`` when short-term tipping RMS exceeds this multiple of
            the runner's own long-term baseline (default 2.5) …
        sway_min_dps: … and exceeds this absolute level (default 40 °/s).
        stumble_rate_dps: while stepping, tipping faster than this … (default 120 °/s)
        stumble_ratio: … and faster than this multiple of the runner's own long-term RMS
            tipping rate is a CAUTION ``stumble`` (default 8).
        step_interval_cv: step-interval coefficient of variation above this is a CAUTION
            ``step_irregularity`` (default 0.3).
        rail_light_touch_n: grip force above this counts as rail contact (default 5 N).
        rail_overload_n: total rail force above this is a STOP ``rail_overload`` (default 150 N).
        rail_grab_rise_n: total rail force rising by more than this within ~0.2 s is a STOP
            ``rail_grab`` (default 80 N).
        rail_hands_off_s: in hands-on mode, a hand off a rail this long is a STOP ``hands_off``
            (default 0.5 s).
        no_runner_s: no steps and no rail contact this long while the belt runs starts the
            countdown (default 30 s) …
        no_runner_countdown_s: … a CAUTION countdown this long, then a STOP ``no_runner``
            (default 10 s).
    """

    free_fall_g: float = 0.4
    impact_g: float = 3.0
    arm_s: float = 0.1
    orientation_tau_s: float = 1.0
    velocity_leak_s: float = 1.0
    model_logit: float = 8.5
    model_hold_s: float = 0.02
    fall_velocity_mps: float = 1.5
    fall_tilt_deg: float = 45.0
    fall_rate_dps: float = 0.0
    fall_hold_s: float = 0.01
    free_fall_hold_s: float = 0.4
    impact_tilt_deg: float = 45.0
    slip_rate_dps: float = 150.0
    slip_tilt_deg: float = 25.0
    slip_hold_s: float = 0.05
    step_threshold_mps2: float = 1.0
    step_min_interval_s: float = 0.25
    sway_ratio: float = 2.5
    sway_min_dps: float = 40.0
    stumble_rate_dps: float = 120.0
    stumble_ratio: float = 8.0
    step_interval_cv: float = 0.3
    rail_light_touch_n: float = 5.0
    rail_overload_n: float = 150.0
    rail_grab_rise_n: float = 80.0
    rail_hands_off_s: float = 0.5
    no_runner_s: float = 30.0
    no_runner_countdown_s: float = 10.0


@dataclass(frozen=True)
class SimSettings:
    """``[sim]``: the simulated session for ``treadguard sim``.

    Attributes:
        scenario: name of a scripted session (``"demo"``: start, slow backward walking, a slip).
        seed: seed of the simulated sensor noise, so runs are reproducible.
    """

    scenario: str
    seed: int


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    path: str
    controller: ControllerSettings
    i2c: I2CSettings
    imu: ImuSettings
    treadmill: TreadmillSettings
    gpio: GpioSettings
    limits: LimitsSettings
    session: SessionSettings
    health: HealthSettings
    detect: DetectSettings
    sim: SimSettings | None
    rails: RailsSettings | None = None

    @property
    def any_simulated(self) -> bool:
        return self.i2c.simulated or self.treadmill.simulated or self.gpio.pin_factory == "mock"

    def real_parts(self) -> list[str]:
        """The options that name real hardware, as written in the file."""
        parts = []
        if not self.i2c.simulated:
            parts.append("[i2c] simulated = false")
        if self.treadmill.protocol != "none" and not self.treadmill.simulated:
            parts.append(f'[treadmill] port = "{self.treadmill.port}"')
        if self.gpio.pin_factory != "mock":
            parts.append(f'[gpio] pin_factory = "{self.gpio.pin_factory}"')
        return parts

    def mixing_problem(self) -> str | None:
        """Why this file must not run as a daemon, or None.

        A real actuator (the treadmill's serial link, the relay on real pins) supervised by a
        simulated sensor or simulated pins would be watched by a twin that always reports a calm
        runner, a released e-stop and a following relay. Real sensors with a simulated treadmill
        are fine (a bench test of the sensors).
        """
        actuators = [part for part in self.real_parts() if not part.startswith("[i2c]")]
        simulated = []
        if self.i2c.simulated:
            simulated.append("[i2c] simulated = true")
        if self.gpio.pin_factory == "mock":
            simulated.append('[gpio] pin_factory = "mock"')
        if actuators and simulated:
            are = ("is", "are")
            return (f"{self.path}: {' and '.join(actuators)} {are[len(actuators) > 1]} real but "
                    f"{' and '.join(simulated)} {are[len(simulated) > 1]} simulated: a real "
                    f"belt must never be supervised by simulated sensors or pins (make every "
                    f"part real, or every part simulated)")
        return None


IMU_ADDRESSES: Final = {"lsm6dsox": (0x6A, 0x6B), "mpu6050": (0x68, 0x69)}
# Real gpiozero backends. pigpio is left out on purpose: it talks to a daemon over a socket,
# which would put a network service in the safety path.
REAL_PIN_FACTORIES: Final = ("lgpio", "rpigpio")


def _controller(doc: Document) -> ControllerSettings:
    s = doc.require("controller")
    return ControllerSettings(
        loop_rate_hz=s.get_float("loop_rate_hz", 200.0, min_value=50.0, max_value=1000.0),
        stall_after_s=s.get_float("stall_after_s", 0.1, above=0.0, max_value=0.1),
    )


def _i2c(doc: Document) -> I2CSettings:
    s = doc.require("i2c")
    simulated = s.get_bool("simulated")
    bus = s.get_int("bus", 1, min_value=0, max_value=255)
    return I2CSettings(simulated=simulated, bus=bus)


def _imu(doc: Document) -> ImuSettings:
    s = doc.require("imu")
    chip = s.get_str("chip", choices=tuple(IMU_ADDRESSES))
    address = s.get_int("address", IMU_ADDRESSES[chip][0], min_value=0x03, max_value=0x77)
    if address not in IMU_ADDRESSES[chip]:
        raise s.error("address", f"expected one of {', '.join(hex(a) for a in IMU_ADDRESSES[chip])}"
                                 f" for {chip}, got {hex(address)}")
    accel = s.get_int("accel_range_g", 16)
    if accel not in (2, 4, 8, 16):
        raise s.error("accel_range_g", f"expected 2, 4, 8 or 16, got {accel}")
    gyro = s.get_int("gyro_range_dps", 2000)
    if gyro not in (250, 500, 1000, 2000):
        raise s.error("gyro_range_dps", f"expected 250, 500, 1000 or 2000, got {gyro}")
    return ImuSettings(chip=chip, address=address, accel_range_g=accel, gyro_range_dps=gyro)


def _treadmill(doc: Document) -> TreadmillSettings:
    s = doc.require("treadmill")
    protocol = s.get_str("protocol", choices=("trackmaster", "none"))
    relay_only = protocol == "none"  # no serial link: port and units mean nothing
    simulated = s.get_bool("simulated", False if relay_only else REQUIRED)
    port = s.get_str("port", "sim" if simulated else "none" if relay_only else REQUIRED)
    baud = _baud(s)
    ack_timeout_s = s.get_float("ack_timeout_s", 0.1, min_value=0.02, max_value=0.25)
    if not relay_only and ack_timeout_s < min_ack_timeout_s(baud):
        # Shorter than the bytes of one command and its reply: every command would time out,
        # a link fault forever that does not say why.
        raise s.error("ack_timeout_s", f"{ack_timeout_s:g} s cannot fit one command and its "
                                       f"reply (and a stop behind it) at {baud} baud: at least "
                                       f"{math.ceil(min_ack_timeout_s(baud) * 1000) / 1000:g} s")
    return TreadmillSettings(
        protocol=protocol,
        simulated=simulated,
        port=port,
        baud=baud,
        units=s.get_str("units", "none" if relay_only else REQUIRED,
                        choices=("mph", "kmh", "none") if relay_only else ("mph", "kmh")),
        stop_mode=s.get_str("stop_mode", "A2", choices=("A2", "AA")),
        poll_interval_s=s.get_float("poll_interval_s", 0.05, min_value=0.02, max_value=0.1),
        ack_timeout_s=ack_timeout_s,
        readback_tolerance_kmh=s.get_float("readback_tolerance_kmh", 0.5, min_value=0.1,
                                           max_value=1.0),
        readback_time_s=s.get_float("readback_time_s", 0.5, min_value=0.1, max_value=2.0),
        allow_reverse=s.get_bool("allow_reverse", False),
    )


def _baud(s: Section) -> int:
    baud = s.get_int("baud", 4800)
    if baud not in BAUD_RATES:
        raise s.error("baud", f"expected one of {', '.join(map(str, BAUD_RATES))}, got {baud}")
    return baud


def _gpio(doc: Document, treadmill: TreadmillSettings) -> GpioSettings:
    s = doc.require("gpio")
    factory = s.get_str("pin_factory", choices=("mock", *REAL_PIN_FACTORIES))
    pins = {name: s.get_int(name, min_value=2, max_value=27)
            for name in ("relay_pin", "estop_pin", "reset_pin")}
    fitted = {name: s.get_int(name, min_value=2, max_value=27)  # absent = not fitted
              for name in OPTIONAL_PINS if s.has(name)}
    uart = treadmill.protocol != "none" and treadmill.port in UART_PORTS
    seen: dict[int, str] = {}
    for name, pin in {**pins, **fitted}.items():
        if pin in I2C_PINS:
            # Every Pi has 1.8 kΩ pull-ups on these two: an output there is high (a relay
            # energised) while the Pi boots or after the process dies, and an input cannot be
            # pulled down. They are also the sensors' bus.
            raise s.error(name, f"GPIO{pin} is the I²C bus's {I2C_PINS[pin]} (fixed 1.8 kΩ "
                                f"pull-up on every Raspberry Pi): choose another pin")
        if uart and pin in UART_PINS:
            raise s.error(name, f"GPIO{pin} is the UART's {UART_PINS[pin]}, used by [treadmill] "
                                f"port = \"{treadmill.port}\": choose another pin")
        if pin in seen:
            raise s.error(name, f"GPIO{pin} is already used by {seen[pin]}")
        seen[pin] = name
    return GpioSettings(
        pin_factory=factory,
        **pins,
        start_pin=fitted.get("start_pin"),
        key_pin=fitted.get("key_pin"),
        relay_feedback_pin=fitted.get("relay_feedback_pin"),
        heartbeat_pin=fitted.get("heartbeat_pin"),
        buzzer_pin=fitted.get("buzzer_pin"),
        led_pin=fitted.get("led_pin"),
        reset_hold_s=s.get_float("reset_hold_s", 1.0, min_value=1.0, max_value=5.0),
        relay_open_within_s=s.get_float("relay_open_within_s", 0.05, min_value=0.01,
                                        max_value=0.2),
    )


OPTIONAL_PINS: Final = ("start_pin", "key_pin", "relay_feedback_pin", "heartbeat_pin",
                        "buzzer_pin", "led_pin")
I2C_PINS: Final = {2: "SDA", 3: "SCL"}  # I²C bus 1 on every 40-pin Raspberry Pi
UART_PINS: Final = {14: "TXD", 15: "RXD"}
# Serial devices that are the UART on GPIO14/15 (a USB adapter uses no GPIO pin).
UART_PORTS: Final = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")


def _limits(doc: Document) -> LimitsSettings:
    s = doc.require("limits")
    max_speed = s.get_float("max_speed_kmh", 3.0, min_value=0.1, max_value=HARD_MAX_SPEED_KMH)
    start = s.get_float("start_speed_kmh", 0.5, min_value=0.1, max_value=1.0)
    if start > max_speed:
        raise s.error("start_speed_kmh", f"expected at most max_speed_kmh ({max_speed:g}), "
                                         f"got {start:g}")
    return LimitsSettings(
        start_speed_kmh=start,
        max_speed_kmh=max_speed,
        ramp_mps2=s.get_float("ramp_mps2", 0.25, min_value=0.05, max_value=0.25),
        stop_decel_mps2=s.get_float("stop_decel_mps2", 1.0, min_value=0.5, max_value=1.5),
        start_countdown_s=s.get_float("start_countdown_s", 3.0, min_value=2.0, max_value=10.0),
    )


def _session(doc: Document, limits: LimitsSettings) -> SessionSettings:
    s = doc.section("session", required=False) or Section(doc.path, "session", {})
    speed = s.get_float("speed_kmh", min(1.0, limits.max_speed_kmh), min_value=0.1,
                        max_value=HARD_MAX_SPEED_KMH)
    if speed > limits.max_speed_kmh:
        raise s.error("speed_kmh", f"expected at most [limits] max_speed_kmh "
                                   f"({limits.max_speed_kmh:g}), got {speed:g}")
    return SessionSettings(speed_kmh=speed)


def _health(doc: Document) -> HealthSettings:
    s = doc.section("health", required=False) or Section(doc.path, "health", {})
    return HealthSettings(
        stale_after_s=s.get_float("stale_after_s", 0.05, min_value=0.01, max_value=0.05),
        stuck_samples=s.get_int("stuck_samples", 10, min_value=3, max_value=40),
        still_rate_dps=s.get_float("still_rate_dps", 5.0, min_value=1.0, max_value=20.0),
        implausible_g=s.get_float("implausible_g", 0.3, min_value=0.1, max_value=0.5),
        implausible_after_s=s.get_float("implausible_after_s", 0.1, min_value=0.02,
                                        max_value=0.5),
        saturated_after_s=s.get_float("saturated_after_s", 0.1, min_value=0.02, max_value=0.5),
        i2c_errors_per_s=s.get_int("i2c_errors_per_s", 5, min_value=0, max_value=50),
        clip_moved_deg=s.get_float("clip_moved_deg", 45.0, min_value=10.0, max_value=90.0),
        clip_lowpass_s=s.get_float("clip_lowpass_s", 0.5, min_value=0.1, max_value=5.0),
    )


@dataclass(frozen=True)
class RailsSettings:
    """``[rails]``: handrail sensors (section absent = none fitted). See docs/hardware.md.

    Attributes:
        touch_chip: ``"mpr121"`` (capacitive: hand on rail) or ``"none"``.
        mpr121_address: 0x5A–0x5D (default 0x5A).
        left_electrode / right_electrode: MPR121 electrodes on the rails (default 0 and 1).
        touch_threshold_counts / release_threshold_counts: MPR121 thresholds, counts below the
            baseline (defaults 12 and 6; ``treadguard calibrate rails`` suggests values).
        force_chip: ``"ads1115"`` (FSR grip force) or ``"none"``.
        ads1115_layout: ``"chip_per_rail"`` (default: one ADS1115 per rail in continuous mode,
            each reading ≤ 1.2 ms old at 860 SPS) or ``"alternate"`` (one chip, channels
            alternated: each rail refreshed every other loop cycle, ≈ 10 ms old at 200 Hz).
        ads1115_left_address / ads1115_right_address: 0x48–0x4B (defaults 0x48, 0x49; the right
            address is unused when alternating).
        ads1115_left_channel / ads1115_right_channel: AIN0–3 (defaults 0 and 0 per chip; when
            alternating they must differ).
        ads1115_range_v: PGA full scale, one of 6.144, 4.096 (default), 2.048, 1.024, 0.512,
            0.256 V.
        fsr_supply_v / fsr_divider_ohm / fsr_microsiemens_per_n: the FSR divider (FSR from the
            supply to the input, the divider resistor to ground) and the FSR's conductance per
            newton (defaults 3.3 V, 1000 Ω, 100 µS/N — an Interlink 402 within ±30 %).

    ``treadguard calibrate rails`` measures the rails and prints the two threshold lines to
    paste here; the daemon reads no other calibration file (an old ``calibration_file`` option
    is refused with a message saying so).
    """

    touch_chip: str
    mpr121_address: int
    left_electrode: int
    right_electrode: int
    touch_threshold_counts: int
    release_threshold_counts: int
    force_chip: str
    ads1115_layout: str
    ads1115_left_address: int
    ads1115_right_address: int
    ads1115_left_channel: int
    ads1115_right_channel: int
    ads1115_range_v: float
    fsr_supply_v: float
    fsr_divider_ohm: float
    fsr_microsiemens_per_n: float


ADS1115_RANGES_V: Final = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256)


def _rails(doc: Document) -> RailsSettings | None:
    s = doc.section("rails", required=False)
    if s is None:
        return None
    touch = s.get_str("touch_chip", choices=("mpr121", "none"))
    force = s.get_str("force_chip", choices=("ads1115", "none"))
    layout = s.get_str("ads1115_layout", "chip_per_rail", choices=("chip_per_rail", "alternate"))
    left_e = s.get_int("left_electrode", 0, min_value=0, max_value=11)
    right_e = s.get_int("right_electrode", 1, min_value=0, max_value=11)
    if left_e == right_e:
        raise s.error("right_electrode", f"expected a different electrode than left ({left_e})")
    touch_th = s.get_int("touch_threshold_counts", 12, min_value=2, max_value=255)
    release_th = s.get_int("release_threshold_counts", 6, min_value=1, max_value=255)
    if release_th >= touch_th:
        raise s.error("release_threshold_counts",
                      f"expected less than touch_threshold_counts ({touch_th}), got {release_th}")
    left_a = s.get_int("ads1115_left_address", 0x48, min_value=0x48, max_value=0x4B)
    right_a = s.get_int("ads1115_right_address", 0x49, min_value=0x48, max_value=0x4B)
    left_c = s.get_int("ads1115_left_channel", 0, min_value=0, max_value=3)
    right_c = s.get_int("ads1115_right_channel", 1 if layout == "alternate" else 0,
                        min_value=0, max_value=3)
    if force == "ads1115" and layout == "chip_per_rail" and left_a == right_a:
        raise s.error("ads1115_right_address", f"expected a different address than the left "
                                               f"rail's ({hex(left_a)}) with one chip per rail")
    if force == "ads1115" and layout == "alternate" and left_c == right_c:
        raise s.error("ads1115_right_channel",
                      f"expected a different channel than the left rail's ({left_c})")
    range_v = s.get_float("ads1115_range_v", 4.096)
    if range_v not in ADS1115_RANGES_V:
        raise s.error("ads1115_range_v", "expected one of "
                      + ", ".join(f"{r:g}" for r in ADS1115_RANGES_V) + f", got {range_v:g}")
    if s.has("calibration_file"):
        raise s.error("calibration_file", "no longer read: paste the touch_threshold_counts and "
                                          "release_threshold_counts lines that `treadguard "
                                          "calibrate rails` prints into [rails] instead")
    return RailsSettings(
        touch_chip=touch,
        mpr121_address=s.get_int("mpr121_address", 0x5A, min_value=0x5A, max_value=0x5D),
        left_electrode=left_e,
        right_electrode=right_e,
        touch_threshold_counts=touch_th,
        release_threshold_counts=release_th,
        force_chip=force,
        ads1115_layout=layout,
        ads1115_left_address=left_a,
        ads1115_right_address=right_a,
        ads1115_left_channel=left_c,
        ads1115_right_channel=right_c,
        ads1115_range_v=range_v,
        fsr_supply_v=s.get_float("fsr_supply_v", 3.3, min_value=1.8, max_value=5.5),
        fsr_divider_ohm=s.get_float("fsr_divider_ohm", 1000.0, min_value=100.0,
                                    max_value=1e6),
        fsr_microsiemens_per_n=s.get_float("fsr_microsiemens_per_n", 100.0, above=0.0,
                                           max_value=1e5),
    )


def _detect(doc: Document) -> DetectSettings:
    s = doc.section("detect", required=False) or Section(doc.path, "detect", {})
    d = DetectSettings()
    f = s.get_float
    return DetectSettings(
        free_fall_g=f("free_fall_g", d.free_fall_g, min_value=0.1, max_value=0.9),
        impact_g=f("impact_g", d.impact_g, min_value=1.5, max_value=8.0),
        arm_s=f("arm_s", d.arm_s, min_value=0.02, max_value=2.0),
        orientation_tau_s=f("orientation_tau_s", d.orientation_tau_s, min_value=0.2,
                            max_value=10.0),
        velocity_leak_s=f("velocity_leak_s", d.velocity_leak_s, min_value=0.2, max_value=10.0),
        model_logit=f("model_logit", d.model_logit, min_value=-5.0, max_value=30.0),
        model_hold_s=f("model_hold_s", d.model_hold_s, min_value=0.0, max_value=0.3),
        fall_velocity_mps=f("fall_velocity_mps", d.fall_velocity_mps, min_value=0.2,
                            max_value=3.0),
        fall_tilt_deg=f("fall_tilt_deg", d.fall_tilt_deg, min_value=0.0, max_value=90.0),
        fall_rate_dps=f("fall_rate_dps", d.fall_rate_dps, min_value=0.0, max_value=500.0),
        fall_hold_s=f("fall_hold_s", d.fall_hold_s, min_value=0.0, max_value=0.3),
        free_fall_hold_s=f("free_fall_hold_s", d.free_fall_hold_s, min_value=0.05,
                           max_value=1.0),
        impact_tilt_deg=f("impact_tilt_deg", d.impact_tilt_deg, min_value=10.0, max_value=90.0),
        slip_rate_dps=f("slip_rate_dps", d.slip_rate_dps, min_value=30.0, max_value=1000.0),
        slip_tilt_deg=f("slip_tilt_deg", d.slip_tilt_deg, min_value=0.0, max_value=90.0),
        slip_hold_s=f("slip_hold_s", d.slip_hold_s, min_value=0.0, max_value=0.3),
        step_threshold_mps2=f("step_threshold_mps2", d.step_threshold_mps2, min_value=0.2,
                              max_value=10.0),
        step_min_interval_s=f("step_min_interval_s", d.step_min_interval_s, min_value=0.1,
                              max_value=1.0),
        sway_ratio=f("sway_ratio", d.sway_ratio, min_value=1.2, max_value=10.0),
        sway_min_dps=f("sway_min_dps", d.sway_min_dps, min_value=5.0, max_value=500.0),
        stumble_rate_dps=f("stumble_rate_dps", d.stumble_rate_dps, min_value=30.0,
                           max_value=1000.0),
        stumble_ratio=f("stumble_ratio", d.stumble_ratio, min_value=1.5, max_value=20.0),
        step_interval_cv=f("step_interval_cv", d.step_interval_cv, min_value=0.05,
                           max_value=2.0),
        rail_light_touch_n=f("rail_light_touch_n", d.rail_light_touch_n, min_value=0.5,
                             max_value=50.0),
        rail_overload_n=f("rail_overload_n", d.rail_overload_n, min_value=20.0,
                          max_value=1000.0),
        rail_grab_rise_n=f("rail_grab_rise_n", d.rail_grab_rise_n, min_value=10.0,
                           max_value=1000.0),
        rail_hands_off_s=f("rail_hands_off_s", d.rail_hands_off_s, min_value=0.1,
                           max_value=5.0),
        no_runner_s=f("no_runner_s", d.no_runner_s, min_value=5.0, max_value=120.0),
        no_runner_countdown_s=f("no_runner_countdown_s", d.no_runner_countdown_s,
                                min_value=0.0, max_value=60.0),
    )


def _sim(doc: Document) -> SimSettings | None:
    s = doc.section("sim", required=False)
    if s is None:
        return None
    from hardware.sim.scenarios import SCENARIOS

    return SimSettings(
        scenario=s.get_str("scenario", "demo", choices=tuple(SCENARIOS)),
        seed=s.get_int("seed", 1, min_value=0),
    )


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
