"""The declarations of every configuration option: one frozen dataclass per ``[section]``.

Each option is a field: name (with its unit), type, default (none = required), bounds and a
one-line meaning (:func:`controller.options.spec`). :mod:`controller.config` reads a TOML file
against these declarations and checks the rules that join two options; ``docs/configuration.md``
is generated from them. Code that needs settings imports them from :mod:`controller.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from controller.options import Spec, spec
from hardware.trackmaster_timing import BAUD_RATES

# The hard ceiling of the safety requirements: backward running never above 8 km/h, even in a
# supervised profile with a harness. Raising it takes a code change, on purpose.
HARD_MAX_SPEED_KMH: Final = 8.0

ImuChip = Literal["lsm6dsox", "mpu6050"]
Protocol = Literal["trackmaster", "none"]
SpeedUnits = Literal["mph", "kmh", "none"]  # "none" only with protocol = "none"
StopMode = Literal["A2", "AA"]
# Real gpiozero backends and the mock. pigpio is left out on purpose: it talks to a daemon over a
# socket, which would put a network service in the safety path.
PinFactory = Literal["mock", "lgpio", "rpigpio"]
TouchChip = Literal["mpr121", "none"]
ForceChip = Literal["ads1115", "none"]
Ads1115Layout = Literal["chip_per_rail", "alternate"]
RestMode = Literal["belt", "stop"]
StopPathTestWhen = Literal["each_session", "daily", "off"]

IMU_ADDRESSES: Final = {"lsm6dsox": (0x6A, 0x6B), "mpu6050": (0x68, 0x69)}
GPIO_MIN, GPIO_MAX = 2, 27  # BCM numbers on the 40-pin header (0/1 are the HAT EEPROM's bus)
I2C_PINS: Final = {2: "SDA", 3: "SCL"}  # I²C bus 1 on every 40-pin Raspberry Pi
UART_PINS: Final = {14: "TXD", 15: "RXD"}
# Serial devices that are the UART on GPIO14/15 (a USB adapter uses no GPIO pin).
UART_PORTS: Final = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
ADS1115_RANGES_V: Final = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256)


def _pin(doc: str) -> dict[str, Spec]:
    return spec(doc, min=GPIO_MIN, max=GPIO_MAX)


# --------------------------------------------------------------------------- the declarations


@dataclass(frozen=True, kw_only=True)
class ControllerSettings:
    """``[controller]`` (required): the real-time loop."""

    loop_rate_hz: float = field(default=200.0, metadata=spec(
        "control loop rate; the IMU runs at ≥ this rate", min=50.0, max=1000.0))
    stall_after_s: float = field(default=0.1, metadata=spec(
        "a loop iteration later than this is a stall ⇒ latched stop with power cut "
        "(0.1 s is the safety requirement's limit)", above=0.0, max=0.1))


@dataclass(frozen=True, kw_only=True)
class I2CSettings:
    """``[i2c]`` (required): the bus the IMU and rail chips sit on."""

    simulated: bool = field(metadata=spec(
        "true = a simulated bus with register-faithful twins of the configured chips; never "
        "inferred: a real configuration whose bus is missing refuses to start"))
    bus: int = field(default=1, metadata=spec(
        "Linux I²C bus number (`/dev/i2c-<bus>`; 1 on a Raspberry Pi); ignored if simulated",
        min=0, max=255))


@dataclass(frozen=True, kw_only=True)
class ImuSettings:
    """``[imu]`` (required): the belt-clip IMU.

    ``address`` must be one of the chip's two: LSM6DSOX 0x6A/0x6B, MPU-6050 0x68/0x69.
    """

    chip: ImuChip = field(metadata=spec(
        '"lsm6dsox" (recommended) or "mpu6050" (the common hobby board)'))
    address: int = field(metadata=spec(
        "7-bit I²C address of the chip", min=0x03, max=0x77,
        default_doc="the chip's first address (0x6a, 0x68)"))
    accel_range_g: int = field(default=16, metadata=spec(
        "accelerometer full scale; smaller ranges saturate on falls and impacts (> ±8 g)",
        one_of=(2, 4, 8, 16)))
    gyro_range_dps: int = field(default=2000, metadata=spec(
        "gyroscope full scale", one_of=(250, 500, 1000, 2000)))


@dataclass(frozen=True, kw_only=True)
class TreadmillSettings:
    """``[treadmill]`` (required): the serial link to the treadmill.

    With ``protocol = "none"`` (relay-only: no speed control, a stop opens the relay)
    ``simulated``, ``port`` and ``units`` are not needed. ``ack_timeout_s`` must fit one command,
    its reply and a stop behind it at ``baud`` (at least 0.027 s at 4800 baud, 0.077 s at
    1200; the load error says the figure).
    """

    protocol: Protocol = field(metadata=spec(
        '"trackmaster", or "none" (relay-only: no speed control, stop = relay)'))
    simulated: bool = field(metadata=spec(
        "true = a simulated treadmill in its own process on a pseudo-terminal",
        default_doc='**required** (false when protocol = "none")'))
    port: str = field(metadata=spec(
        "pyserial URL (`/dev/ttyUSB0`, `/dev/ttyAMA0`, `socket://host:port`)",
        default_doc='**required** ("sim" when simulated, "none" when protocol = "none")'))
    baud: int = field(default=4800, metadata=spec(
        "line speed: 4800 for Trackmaster (some compatibles use 9600)", one_of=BAUD_RATES))
    units: SpeedUnits = field(metadata=spec(
        "unit of the treadmill's speed digits; no default: a wrong guess is a 1.6× speed error",
        default_doc='**required** ("none" when protocol = "none")'))
    stop_mode: StopMode = field(default="A2", metadata=spec(
        '"A2" (stop belt) or "AA" (speed and elevation to minimum, then stop)'))
    poll_interval_s: float = field(default=0.05, metadata=spec(
        "time between status polls while the belt may move; must stay well under the "
        "treadmill's 0.5 s communication watchdog", min=0.02, max=0.1))
    ack_timeout_s: float = field(default=0.1, metadata=spec(
        "how long a command may wait for its acknowledgement; longer = a dead link is "
        "noticed later", min=0.02, max=0.25))
    readback_tolerance_kmh: float = field(default=0.5, metadata=spec(
        "how far the read-back belt speed may be from the command; beyond it for "
        "`readback_time_s` is a link fault (relay opened)", min=0.1, max=1.0))
    readback_time_s: float = field(default=0.5, metadata=spec(
        "how long a read-back deviation may last before it is a link fault",
        min=0.1, max=2.0))
    allow_reverse: bool = field(default=False, metadata=spec(
        "Woodway-style reverse (leading '3' in the speed digits); most setups run backward "
        "by facing the rear of a forward-running belt"))


@dataclass(frozen=True, kw_only=True)
class GpioSettings:
    """``[gpio]`` (required): safety I/O pins (BCM numbering, GPIO4–27 usable).

    Every pin has one role. Refused at load, because each would defeat a safety function:
    GPIO0/1 (the HAT ID EEPROM's bus) and GPIO2/3 (I²C SDA/SCL: fixed 1.8 kΩ pull-ups on every
    Pi, so a relay output there is energised while the Pi boots and an input cannot be pulled
    down), two roles on one pin, and GPIO14/15 while ``[treadmill] port`` is the Pi's own UART
    (``/dev/serial0``, ``/dev/ttyAMA0``, ``/dev/ttyS0``). An optional pin left out means the
    part is not fitted.
    """

    pin_factory: PinFactory = field(metadata=spec(
        '"mock" (gpiozero\'s MockFactory: simulation and tests) or a real gpiozero backend: '
        '"lgpio" (the only one that works on a Pi 5) or "rpigpio"'))
    relay_pin: int = field(metadata=_pin(
        "output energising the relay in the treadmill's safety-key loop; wire a pull-down so "
        "a dead process opens it"))
    estop_pin: int = field(metadata=_pin(
        "emergency-stop input, normally closed to ground: a broken wire reads as pressed"))
    reset_pin: int = field(metadata=_pin(
        "reset input: held clears a latched stop, a short press confirms a start"))
    start_pin: int | None = field(default=None, metadata=_pin(
        "separate start-confirm button; absent: a short press of reset confirms a start"))
    key_pin: int | None = field(default=None, metadata=_pin(
        "safety-key-present input (contact to ground when the key is in)"))
    relay_feedback_pin: int | None = field(default=None, metadata=_pin(
        "the relay's feedback contact (high while energised); without it a welded relay "
        "cannot be detected: fit one on a real machine"))
    heartbeat_pin: int | None = field(default=None, metadata=_pin(
        "charge-pump output toggled once per loop cycle for an external watchdog relay"))
    buzzer_pin: int | None = field(default=None, metadata=_pin("active buzzer"))
    led_pin: int | None = field(default=None, metadata=_pin("status LED"))
    harness_pin: int | None = field(default=None, metadata=_pin(
        "harness-confirm button (to ground): a press confirms the harness for the next start "
        "of a `backward-running` runner, as the control socket's confirmation does"))
    reset_hold_s: float = field(default=1.0, metadata=spec(
        "how long reset must be held to clear a latched stop: long enough that a bump "
        "cannot reset", min=1.0, max=5.0))
    relay_open_within_s: float = field(default=0.05, metadata=spec(
        "after the relay is de-energised its feedback must open within this, else the relay "
        "is welded ⇒ fault", min=0.01, max=0.2))


@dataclass(frozen=True, kw_only=True)
class LimitsSettings:
    """``[limits]`` (required): the speed envelope the governor enforces.

    ``start_speed_kmh`` must not exceed ``max_speed_kmh``. The 8 km/h hard ceiling is a constant
    in code (``HARD_MAX_SPEED_KMH``), on purpose.
    """

    start_speed_kmh: float = field(default=0.5, metadata=spec(
        "first speed after a start", min=0.1, max=1.0))
    max_speed_kmh: float = field(default=3.0, metadata=spec(
        "speed cap for this machine and profile (never above the 8 km/h hard ceiling)",
        min=0.1, max=HARD_MAX_SPEED_KMH))
    ramp_mps2: float = field(default=0.25, metadata=spec(
        "normal acceleration and deceleration", min=0.05, max=0.25))
    stop_decel_mps2: float = field(default=1.0, metadata=spec(
        "deceleration of a software controlled stop", min=0.5, max=1.5))
    start_countdown_s: float = field(default=3.0, metadata=spec(
        "the buzzer's countdown between a confirmed start and the belt moving; a stop or fault "
        "during it cancels the start; it cannot be turned off (a runner facing away from the "
        "console must never be surprised); longer is safer but slower", min=2.0, max=10.0))


@dataclass(frozen=True, kw_only=True)
class SessionSettings:
    """``[session]`` (optional): what a run asks for (the governor still caps and ramps it)."""

    speed_kmh: float = field(default=1.0, metadata=spec(
        "the session's belt speed; must not exceed `[limits] max_speed_kmh`",
        min=0.1, max=HARD_MAX_SPEED_KMH, default_doc="1, or `[limits] max_speed_kmh` if lower"))
    runner: str = field(default="", metadata=spec(
        "the runner (from the runner store) whose program every session runs — a home user "
        "with one runner; absent: sessions run `speed_kmh` until a runner is chosen on the "
        "control socket", default_doc="absent"))


@dataclass(frozen=True, kw_only=True)
class HealthSettings:
    """``[health]`` (optional): when a sensor counts as lost.

    Every condition is a controlled, latched stop (see ``controller/health.py``): a dead sensor
    must never look like a calm runner.
    """

    stale_after_s: float = field(default=0.05, metadata=spec(
        "no new IMU (or rail) sample for this long ⇒ sensor lost ⇒ stop", min=0.01, max=0.05))
    stuck_samples: int = field(default=10, metadata=spec(
        "this many identical consecutive samples while the belt runs ⇒ stuck (10 = 50 ms at "
        "200 Hz; a healthy chip's noise never repeats 3 in a row)", min=3, max=40))
    still_rate_dps: float = field(default=5.0, metadata=spec(
        'gyro norm below this counts as "still" for the 1 g check', min=1.0, max=20.0))
    implausible_g: float = field(default=0.3, metadata=spec(
        "still, yet |a| differs from 1 g by more than this … ⇒ implausible", min=0.1, max=0.5))
    implausible_after_s: float = field(default=0.1, metadata=spec(
        "… for this long", min=0.02, max=0.5))
    saturated_after_s: float = field(default=0.1, metadata=spec(
        "an accelerometer axis at full scale this long ⇒ saturated (impacts saturate for a "
        "few ms only)", min=0.02, max=0.5))
    i2c_errors_per_s: int = field(default=5, metadata=spec(
        "bus errors allowed within any one second per device (5 = 1 in 40 transfers at "
        "200 Hz; an unplugged sensor exceeds it within 30 ms)", min=0, max=50))
    clip_moved_deg: float = field(default=45.0, metadata=spec(
        "change of the clip's gravity direction since arming that means the clip slipped or "
        "fell", min=10.0, max=90.0))
    clip_lowpass_s: float = field(default=0.5, metadata=spec(
        "time constant of the gravity estimate (steps and sway average out, a slipping clip "
        "does not)", min=0.1, max=5.0))


@dataclass(frozen=True, kw_only=True)
class DetectSettings:
    """``[detect]`` (optional): detector thresholds (``controller.detect``; ``docs/detection.md``).

    Raising a STOP threshold makes false stops rarer and real falls later or missed; lowering it
    does the reverse. Defaults were tuned on KFall development subjects only.
    ``DetectSettings()`` is the set the daemon runs without a ``[detect]`` section, and what
    evaluation and tests use.
    """

    free_fall_g: float = field(default=0.4, metadata=spec(
        "specific-force norm below this is loss of support", min=0.1, max=0.9))
    impact_g: float = field(default=3.5, metadata=spec(
        "specific-force norm above this is an impact; STOP `impact` only with the trunk tilted "
        "beyond `impact_tilt_deg`", min=1.5, max=8.0))
    arm_s: float = field(default=0.1, metadata=spec(
        'at start, the mean specific force over this long with the body still defines "up"',
        min=0.02, max=2.0))
    arm_still_dps: float = field(default=20.0, metadata=spec(
        "arming: still means angular rate below this …", min=1.0, max=100.0))
    arm_still_g: float = field(default=0.1, metadata=spec(
        "… and specific-force norm within this of 1 g", min=0.01, max=0.5))
    arm_fallback_s: float = field(default=1.0, metadata=spec(
        'a body never still this long after start is armed on its mean specific force over '
        'that time (gait averages out)', min=0.5, max=10.0))
    posture_tau_s: float = field(default=4.0, metadata=spec(
        "while stepping, the tilt reference follows the runner's own posture with this time "
        "constant …", min=0.5, max=60.0))
    posture_max_tilt_deg: float = field(default=30.0, metadata=spec(
        "… but only while the trunk is within this of it (a fall does not drag it along)",
        min=5.0, max=60.0))
    orientation_tau_s: float = field(default=1.0, metadata=spec(
        "time constant pulling the tracked up direction toward the accelerometer",
        min=0.2, max=10.0))
    velocity_leak_s: float = field(default=1.0, metadata=spec(
        "leak time constant of the vertical-velocity integrator", min=0.2, max=10.0))
    model_logit: float = field(default=9.0, metadata=spec(
        "while the runner is stepping, the learned fall score's logit above this … (lower = "
        "earlier stops and more false stops)", min=-5.0, max=30.0))
    model_logit_still: float = field(default=10.0, metadata=spec(
        "… or, when not stepping, above this …", min=-5.0, max=30.0))
    model_hold_s: float = field(default=0.02, metadata=spec(
        "… for this long is a STOP `pre_impact`", min=0.0, max=0.3))
    gait_logit: float = field(default=7.0, metadata=spec(
        "while the runner is stepping, the gait-fall specialist's logit above this at two "
        "block ends 20 ms apart is a STOP `pre_impact` (lower = earlier stops and more false "
        "stops; 100 leaves the specialist out)", min=-5.0, max=100.0))
    fall_velocity_mps: float = field(default=1.5, metadata=spec(
        "rule backstop: downward waist speed beyond this …", min=0.2, max=3.0))
    fall_tilt_deg: float = field(default=45.0, metadata=spec(
        "… with the trunk tilted beyond this from upright …", min=0.0, max=90.0))
    fall_rate_dps: float = field(default=0.0, metadata=spec(
        "… and tipping faster than this (0: not required) …", min=0.0, max=500.0))
    fall_hold_s: float = field(default=0.01, metadata=spec(
        "… for this long is a STOP `fall`", min=0.0, max=0.3))
    free_fall_hold_s: float = field(default=0.4, metadata=spec(
        "`free_fall_g` for this long is a STOP `free_fall` (0.4 s ≈ a 0.8 m drop: far longer "
        "than a jogging flight phase or a hop)", min=0.05, max=1.0))
    impact_tilt_deg: float = field(default=45.0, metadata=spec(
        "tilt needed for an impact to count", min=10.0, max=90.0))
    slip_rate_dps: float = field(default=150.0, metadata=spec(
        "in mid-stride, tipping faster than this …", min=30.0, max=1000.0))
    slip_tilt_deg: float = field(default=30.0, metadata=spec(
        "… with tilt beyond this …", min=0.0, max=90.0))
    slip_hold_s: float = field(default=0.05, metadata=spec(
        "… for this long is a STOP `slip_trip` …", min=0.0, max=0.3))
    slip_rhythm_ratio: float = field(default=1.5, metadata=spec(
        "… in mid-stride: the last step less than this multiple of the mean recent step "
        "interval ago (not stopping to sit or lie down)", min=1.0, max=5.0))
    step_threshold_mps2: float = field(default=1.0, metadata=spec(
        "vertical-acceleration peak that counts as a step", min=0.2, max=10.0))
    step_min_interval_s: float = field(default=0.25, metadata=spec(
        "steps closer than this count once", min=0.1, max=1.0))
    sway_ratio: float = field(default=2.5, metadata=spec(
        "CAUTION `trunk_sway` when short-term tipping RMS exceeds this multiple of the "
        "runner's own long-term baseline …", min=1.2, max=10.0))
    sway_min_dps: float = field(default=40.0, metadata=spec(
        "… and exceeds this absolute level", min=5.0, max=500.0))
    stumble_rate_dps: float = field(default=120.0, metadata=spec(
        "while stepping, tipping faster than this …", min=30.0, max=1000.0))
    stumble_ratio: float = field(default=8.0, metadata=spec(
        "… and faster than this multiple of the runner's own long-term RMS tipping rate is a "
        "CAUTION `stumble`", min=1.5, max=20.0))
    step_interval_cv: float = field(default=0.3, metadata=spec(
        "step-interval coefficient of variation above this is a CAUTION `step_irregularity`",
        min=0.05, max=2.0))
    rail_light_touch_n: float = field(default=5.0, metadata=spec(
        "grip force above this counts as rail contact", min=0.5, max=50.0))
    rail_overload_n: float = field(default=150.0, metadata=spec(
        "total rail force above this is a STOP `rail_overload` (far above light touch for any "
        "adult)", min=20.0, max=1000.0))
    rail_grab_rise_n: float = field(default=80.0, metadata=spec(
        "total rail force rising by more than this within ~0.2 s is a STOP `rail_grab`",
        min=10.0, max=1000.0))
    rail_hands_off_s: float = field(default=0.5, metadata=spec(
        "in hands-on mode, a hand off a rail is a CAUTION (slowing) at once and a STOP "
        "`hands_off` once off this long",
        min=0.1, max=5.0))
    no_runner_s: float = field(default=30.0, metadata=spec(
        "no steps and no rail contact this long while the belt runs starts the countdown …",
        min=5.0, max=120.0))
    no_runner_countdown_s: float = field(default=10.0, metadata=spec(
        "… a CAUTION countdown this long, then a STOP `no_runner`", min=0.0, max=60.0))


@dataclass(frozen=True, kw_only=True)
class RailsSettings:
    """``[rails]`` (optional; absent = no handrail sensors). See ``docs/hardware.md``.

    ``left_electrode`` and ``right_electrode`` differ; ``release_threshold_counts`` is below
    ``touch_threshold_counts``; with the ADS1115 fitted, the two rails' addresses differ
    (``chip_per_rail``) or their channels do (``alternate``). ``treadguard calibrate rails``
    measures the rails and prints the two threshold lines to paste here; the daemon reads no
    other calibration file (an old ``calibration_file`` option is refused with a message saying
    so).
    """

    touch_chip: TouchChip = field(metadata=spec(
        '"mpr121" (capacitive: hand on rail) or "none"'))
    mpr121_address: int = field(default=0x5A, metadata=spec(
        "the MPR121's I²C address", min=0x5A, max=0x5D))
    left_electrode: int = field(default=0, metadata=spec(
        "MPR121 electrode on the left rail", min=0, max=11))
    right_electrode: int = field(default=1, metadata=spec(
        "MPR121 electrode on the right rail", min=0, max=11))
    touch_threshold_counts: int = field(default=12, metadata=spec(
        "MPR121 touch threshold, counts below the baseline (`treadguard calibrate rails` "
        "suggests one)", min=2, max=255))
    release_threshold_counts: int = field(default=6, metadata=spec(
        "MPR121 release threshold, counts below the baseline", min=1, max=255))
    force_chip: ForceChip = field(metadata=spec('"ads1115" (FSR grip force) or "none"'))
    ads1115_layout: Ads1115Layout = field(default="chip_per_rail", metadata=spec(
        '"chip_per_rail": one ADS1115 per rail, continuous, each reading ≤ 1.2 ms old; '
        '"alternate": one chip, channels alternated, each rail ≈ 10 ms old at 200 Hz'))
    ads1115_left_address: int = field(default=0x48, metadata=spec(
        "the left rail's ADS1115", min=0x48, max=0x4B))
    ads1115_right_address: int = field(default=0x49, metadata=spec(
        "the right rail's ADS1115 (unused when alternating)", min=0x48, max=0x4B))
    ads1115_left_channel: int = field(default=0, metadata=spec(
        "the left rail's input, AIN0–3", min=0, max=3))
    ads1115_right_channel: int = field(metadata=spec(
        "the right rail's input, AIN0–3", min=0, max=3,
        default_doc="0 (1 when alternating)"))
    ads1115_range_v: float = field(default=4.096, metadata=spec(
        "ADS1115 PGA full scale", one_of=ADS1115_RANGES_V))
    fsr_supply_v: float = field(default=3.3, metadata=spec(
        "FSR divider supply (FSR from the supply to the input)", min=1.8, max=5.5))
    fsr_divider_ohm: float = field(default=1000.0, metadata=spec(
        "divider resistor from the input to ground", min=100.0, max=1e6))
    fsr_microsiemens_per_n: float = field(default=100.0, metadata=spec(
        "the FSR's conductance per newton (100: an Interlink 402 within ±30 %)",
        above=0.0, max=1e5))


@dataclass(frozen=True, kw_only=True)
class DeckSettings:
    """``[deck]`` (optional; absent = no position sensor): the VL53L1X on the console facing the
    runner (``docs/hardware.md``). Distances are from the sensor to the runner's back; the zones
    are nested: ``stop_within_m`` < ``caution_within_m`` < ``caution_beyond_m`` <
    ``stop_beyond_m``, and ``period_ms`` ≥ ``timing_budget_ms``.
    """

    address: int = field(default=0x29, metadata=spec(
        "the VL53L1X's I²C address (0x29 at power-on)", min=0x08, max=0x77))
    timing_budget_ms: int = field(default=50, metadata=spec(
        "time the sensor spends on one measurement (longer: less noise)",
        one_of=(20, 33, 50, 100, 200, 500)))
    period_ms: int = field(default=50, metadata=spec(
        "time between measurements (50: 20 Hz)", min=20, max=1000))
    stop_within_m: float = field(default=0.3, metadata=spec(
        "STOP `deck_drift` when the runner is this close to the console", min=0.05, max=3.0))
    caution_within_m: float = field(default=0.45, metadata=spec(
        "CAUTION `deck_drift_forward` when the runner is this close to the console",
        min=0.05, max=3.0))
    caution_beyond_m: float = field(default=1.2, metadata=spec(
        "CAUTION `deck_drift_back` when the runner is this far from the console (towards the "
        "deck's rear end)", min=0.1, max=3.5))
    stop_beyond_m: float = field(default=1.45, metadata=spec(
        "STOP `deck_drift` when the runner is this far from the console", min=0.1, max=3.5))
    stop_hold_s: float = field(default=0.15, metadata=spec(
        "a stop zone must hold this long (one swinging arm is not a drift)", min=0.0, max=1.0))
    stale_after_s: float = field(default=0.25, metadata=spec(
        "STOP `deck_stale` after this long without a measurement", above=0.0, max=2.0))
    unknown_after_s: float = field(default=0.5, metadata=spec(
        "STOP `deck_position_unknown` after this long with no valid distance while running "
        "(nobody in range: the runner left the belt, or the sensor is blocked)",
        above=0.0, max=5.0))
    stuck_readings: int = field(default=20, metadata=spec(
        "STOP `deck_stuck` after this many identical distances in a row while running",
        min=5, max=1000))


@dataclass(frozen=True, kw_only=True)
class SimSettings:
    """``[sim]`` (optional): the simulated session for ``treadguard sim``."""

    scenario: str = field(default="demo", metadata=spec(
        'a named session (see `docs/simulation.md`; "demo": start, slow backward walking, a '
        "slip; \"walk-backward\": the runner model, no incident)"))
    seed: int = field(default=1, metadata=spec(
        "seed of the simulated sensor noise, so runs are reproducible", min=0))


@dataclass(frozen=True, kw_only=True)
class PathsSettings:
    """``[paths]`` (optional): where the controller keeps its state.

    The runner store (``treadguard.db``: runners, their limits, session summaries, the audit
    log, the supervisor PIN's hash) and the black box (``blackbox-YYYYMMDD-NNN.sqlite``, see
    ``[blackbox]``) live in ``state_dir``; every command's ``--state DIR`` overrides it.
    """

    state_dir: str = field(default="/var/lib/treadguard", metadata=spec(
        "directory of the runner store (SQLite, WAL mode); created if missing; a relative path "
        "is relative to the configuration file's directory"))


@dataclass(frozen=True, kw_only=True)
class ProgramSettings:
    """``[program]`` (optional): the session program a new runner starts with.

    Each runner then keeps their own copy of these values in the runner store (`treadguard
    runner set NAME OPTION=VALUE`), under the same names; progression raises them after clean
    sessions. A runner's profile caps the speeds (``docs/sessions.md``): the warm-up speed is at
    most the bout speed, which is at most the runner's ``max_speed_kmh`` and the profile's cap;
    ``[limits] max_speed_kmh`` still caps the machine. Where each default comes from:
    ``docs/sessions.md``.
    """

    warmup_speed_kmh: float = field(default=1.0, metadata=spec(
        "speed of the warm-up, the rests and the cool-down (slow backward walking)",
        min=0.1, max=HARD_MAX_SPEED_KMH))
    warmup_s: float = field(default=60.0, metadata=spec(
        "warm-up at the warm-up speed before the first bout; the detectors learn the "
        "runner's own walking that day during it", min=10.0, max=900.0))
    bout_speed_kmh: float = field(default=1.5, metadata=spec(
        "speed of a bout (never above the runner's max_speed_kmh nor the profile's cap)",
        min=0.1, max=HARD_MAX_SPEED_KMH))
    bout_steps: int = field(default=10, metadata=spec(
        "a bout lasts this many backward steps, counted by the step detector …",
        min=5, max=100))
    bout_s: float = field(default=0.0, metadata=spec(
        "… or, when above 0, this many seconds instead", min=0.0, max=600.0))
    bouts: int = field(default=4, metadata=spec(
        "bouts planned in a session", min=1, max=50))
    rest_s: float = field(default=20.0, metadata=spec(
        "rest after each bout (not after the last)", min=5.0, max=600.0))
    rest_mode: RestMode = field(default="belt", metadata=spec(
        '"belt": rest walking at the warm-up speed; "stop": the belt stops (latched) and the '
        "next bout needs a reset and a confirmed start"))
    session_limit_s: float = field(default=180.0, metadata=spec(
        "session time limit from the belt's start (warm-up, bouts, rests); when it is reached "
        "the cool-down begins", min=60.0, max=3600.0))
    cooldown_s: float = field(default=30.0, metadata=spec(
        "cool-down at the warm-up speed before the controlled stop that ends a session",
        min=10.0, max=600.0))
    sessions_per_week: int = field(default=3, metadata=spec(
        "sessions a runner may start within any 7 days (raising it needs the supervisor PIN)",
        min=1, max=14))
    bout_speed_step_kmh: float = field(default=0.1, metadata=spec(
        "progression: bout speed added after a clean session", min=0.0, max=0.5))
    bout_steps_step: int = field(default=2, metadata=spec(
        "progression: bout steps added after a clean session", min=0, max=10))
    session_limit_step_s: float = field(default=30.0, metadata=spec(
        "progression: session time added after a clean session", min=0.0, max=300.0))


@dataclass(frozen=True, kw_only=True)
class ControlSettings:
    """``[control]`` (optional): the status and control socket (``docs/sessions.md``).

    A Unix socket, mode 0660, served outside the loop's thread: status, the next runner, the
    harness confirmation, a stop request. Nothing on it can start the belt or raise a speed.
    """

    socket_path: str = field(default="/run/treadguard/control.sock", metadata=spec(
        "the socket's path; its directory is created if missing; a relative path is relative "
        "to the configuration file's directory"))
    socket_group: str = field(default="treadguard", metadata=spec(
        'group given the socket (read and write for the group); "-" = leave the process\'s '
        "own group"))


@dataclass(frozen=True, kw_only=True)
class WatchdogSettings:
    """``[watchdog]`` (optional): the independent thread that stops the belt when the loop
    hangs (`controller/watchdog.py`), and systemd's watchdog pings from it."""

    loop_timeout_s: float = field(default=0.1, metadata=spec(
        "no tick for this long ⇒ the watchdog thread opens the relay and writes the stop "
        "command itself (0.1 s is the safety requirement's limit)", min=0.02, max=0.1))


@dataclass(frozen=True, kw_only=True)
class RealtimeSettings:
    """``[realtime]`` (optional): how the loop's thread asks the kernel for its time; what is
    not permitted is said at start-up, never fatal."""

    sched_fifo: bool = field(default=True, metadata=spec(
        "run the loop's thread under SCHED_FIFO (needs CAP_SYS_NICE or an rtprio limit)"))
    priority: int = field(default=50, metadata=spec(
        "SCHED_FIFO priority of the loop's thread (1–98; above the kernel's threaded IRQs at "
        "50 only if they must wait for the loop)", min=1, max=98))
    lock_memory: bool = field(default=True, metadata=spec(
        "mlockall: no page of the process is ever paged out (needs CAP_IPC_LOCK or a memlock "
        "limit)"))
    freeze_gc: bool = field(default=True, metadata=spec(
        "after start-up freeze the heap and collect garbage only while latched or ready, "
        "between ticks, never inside one"))
    cpu: int | None = field(default=None, metadata=spec(
        "pin the process to this CPU core (absent: any core)", min=0, max=255))


@dataclass(frozen=True, kw_only=True)
class BlackboxSettings:
    """``[blackbox]`` (optional): the black box: events, telemetry and the IMU around every
    stop and caution, in SQLite files in ``[paths] state_dir``."""

    enabled: bool = field(default=True, metadata=spec("record the black box"))
    telemetry_hz: float = field(default=10.0, metadata=spec(
        "telemetry rate while the belt may move (countdown, running, stopping)",
        min=1.0, max=50.0))
    idle_telemetry_hz: float = field(default=0.2, metadata=spec(
        "telemetry rate while latched or ready (the belt stopped): an idle machine writes "
        "little", min=0.1, max=50.0))
    burst_before_s: float = field(default=8.0, metadata=spec(
        "full-rate IMU samples and detector scores kept from before each stop and caution",
        min=0.0, max=30.0))
    burst_after_s: float = field(default=2.0, metadata=spec(
        "full-rate IMU samples and detector scores recorded after each stop and caution",
        min=0.0, max=30.0))
    commit_every_s: float = field(default=0.5, metadata=spec(
        "the writer commits (and syncs) at least this often: a power cut loses at most this "
        "and the sync's time", min=0.05, max=1.0))
    queue_items: int = field(default=5000, metadata=spec(
        "the loop→writer queue; when full the oldest telemetry is dropped (counted and "
        "logged), never an event", min=100, max=1_000_000))
    file_max_mb: float = field(default=64.0, metadata=spec(
        "a new database file when the current one reaches this size (one per day anyway)",
        min=1.0, max=4096.0))
    retention_days: int = field(default=365, metadata=spec(
        "files older than this are deleted", min=1, max=36500))
    retention_mb: float = field(default=2048.0, metadata=spec(
        "the oldest files are deleted while all of them together are larger than this",
        min=4.0, max=1e6))


@dataclass(frozen=True, kw_only=True)
class ArmingSettings:
    """``[arming]`` (optional): the stop-path test before a start (``docs/sessions.md``).

    After a reset, before the start is allowed, the relay is opened: its feedback contact must
    be seen open, and the treadmill must be seen to react — its console loses power with the
    key loop, so the link goes silent; that expected power cycle is waited out and its start
    lockout cleared with a stop. Relay-only mode checks the feedback contact only. A start is
    refused without a passing test within the interval.
    """

    stop_path_test: StopPathTestWhen = field(default="each_session", metadata=spec(
        '"each_session": after the reset before every session; "daily": once a day; "off": '
        "never (simulations only: a real machine should test its stop path)"))
    relay_open_hold_s: float = field(default=1.0, metadata=spec(
        "how long the relay is held open during the test (long enough for the console to "
        "lose power)", min=0.2, max=5.0))
    power_cycle_window_s: float = field(default=15.0, metadata=spec(
        "how long the treadmill may take to come back after the test's power cycle; longer "
        "or silent is a link fault", min=2.0, max=60.0))


@dataclass(frozen=True, kw_only=True)
class FleetSettings:
    """``[fleet]`` (optional; off by default): publish this treadmill's status and events to
    the gym's MQTT broker, and take the one remote command there is, ``stop``
    (``docs/fleet.md``).

    Outside the real-time loop, on threads of its own: the broker down, slow or sending garbage
    changes nothing on the belt. With ``enabled = true``, ``broker_url``, ``site`` and
    ``treadmill`` are required; ``site`` and ``treadmill`` are levels of the topics (1-32
    letters, digits, ``_`` or ``-``); ``password_file`` needs ``username``; ``cert_file`` and
    ``key_file`` (a client certificate) go together and need ``mqtts://``. Relative paths are
    relative to the configuration file's directory. The password is read from its file at
    start-up, never written in this file.
    """

    enabled: bool = field(default=False, metadata=spec(
        "publish to the broker (false: no network at all)"))
    broker_url: str = field(default="", metadata=spec(
        '"mqtt://HOST:PORT" or "mqtts://HOST:PORT" (TLS); no default: it must name the '
        "gym's broker"))
    site: str = field(default="", metadata=spec(
        "the gym, the second level of the topics (`treadguard/<site>/<treadmill>/...`)"))
    treadmill: str = field(default="", metadata=spec(
        "this treadmill's name, the third level of the topics"))
    username: str = field(default="", metadata=spec(
        "broker user (absent: no username; a gym's broker should refuse anonymous clients)"))
    password_file: str = field(default="", metadata=spec(
        "file holding the broker user's password (its first line; keep it mode 0600)"))
    ca_file: str = field(default="", metadata=spec(
        "CA certificate(s) the broker's certificate must chain to (absent: the system's CAs)"))
    cert_file: str = field(default="", metadata=spec(
        "client certificate, PEM (with key_file: TLS client authentication)"))
    key_file: str = field(default="", metadata=spec(
        "the client certificate's private key, PEM"))
    status_interval_s: float = field(default=1.0, metadata=spec(
        "a retained status message this often", min=0.2, max=60.0))
    event_buffer: int = field(default=1000, metadata=spec(
        "events waiting for the broker (a count); when full the oldest is dropped and the "
        "count is carried in the next event's dropped_before", min=10, max=100_000))
    keepalive_s: int = field(default=10, metadata=spec(
        "MQTT keepalive: the broker publishes the Last Will (offline) after 1.5 times this "
        "without a word from the Pi", min=2, max=600))
    reconnect_max_s: int = field(default=30, metadata=spec(
        "longest wait between two connection attempts (the wait doubles from 1 s)",
        min=1, max=600))


SECTIONS: Final[list[tuple[str, type]]] = [
    ("controller", ControllerSettings), ("i2c", I2CSettings), ("imu", ImuSettings),
    ("treadmill", TreadmillSettings), ("gpio", GpioSettings), ("limits", LimitsSettings),
    ("session", SessionSettings), ("health", HealthSettings), ("detect", DetectSettings),
    ("rails", RailsSettings), ("deck", DeckSettings), ("sim", SimSettings),
    ("paths", PathsSettings), ("program", ProgramSettings), ("control", ControlSettings),
    ("arming", ArmingSettings), ("watchdog", WatchdogSettings), ("realtime", RealtimeSettings),
    ("blackbox", BlackboxSettings), ("fleet", FleetSettings),
]
"""Every section and the dataclass that declares its options, in the order of the doc."""


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
    paths: PathsSettings = field(default_factory=PathsSettings)
    program: ProgramSettings = field(default_factory=ProgramSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    watchdog: WatchdogSettings = field(default_factory=WatchdogSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    blackbox: BlackboxSettings = field(default_factory=BlackboxSettings)
    arming: ArmingSettings = field(default_factory=ArmingSettings)
    deck: DeckSettings | None = None
    fleet: FleetSettings = field(default_factory=FleetSettings)

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
