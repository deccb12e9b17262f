"""Every reason the belt can be stopped for, named once.

A stop reason is what :meth:`controller.supervisor.Supervisor.request_stop` latches: it is
printed in the log (``STOP: slip_trip``), kept as ``Supervisor.stop_reason`` until a human
reset, and looked up in the fault table of ``docs/architecture.md``. ``tests/test_stop_reasons.py``
checks that the table names every member and that no stop is requested with a bare string, so
the list here, the code and the docs cannot drift apart.

:class:`StopReason` is a :class:`~enum.StrEnum`: a member *is* its string (``StopReason.ESTOP ==
"estop"``, ``f"{StopReason.ESTOP}" == "estop"``), so the log and the account read the same as
plain strings would.
"""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    """Why the belt was stopped (grouped by who decides it)."""

    # ---- the supervisor itself
    POWER_ON = "power_on"
    """Power-on, restart or reboot: latched with the relay open until a human reset."""
    SHUTDOWN = "shutdown"
    """The controller is shutting down (SIGTERM, Ctrl-C, end of a simulated session)."""
    START_ABORTED = "start_aborted"
    """The arming checklist failed when the start countdown ended: no start goes out."""
    TREADMILL_LINK = "treadmill_link"
    """The treadmill link reported a fault (its detail says which); power is cut."""
    BELT_NOT_STOPPING = "belt_not_stopping"
    """The belt did not read back zero by the stop deadline: power is cut."""
    BELT_MOVING_WHILE_LATCHED = "belt_moving_while_latched"
    """The belt reads back moving while latched, ready or counting down: power is cut."""

    # ---- the loop
    LOOP_STALL = "loop_stall"
    """More than ``[controller] stall_after_s`` between two ticks: power is cut."""
    INTERNAL_ERROR = "internal_error"
    """An unexpected exception in a tick: power is cut before it propagates."""

    # ---- the stop chain (controller/stop_chain.py): power is cut with each
    ESTOP = "estop"
    """Emergency stop pressed, or its normally-closed wire broken."""
    SAFETY_KEY_REMOVED = "safety_key_removed"
    """The safety key is out."""
    RELAY_WELDED = "relay_welded"
    """The relay's feedback reads closed while the relay is commanded open."""
    RELAY_FEEDBACK_LOST = "relay_feedback_lost"
    """The relay's feedback reads open while the relay is commanded closed."""

    # ---- sensor health (controller/health.py)
    IMU_STALE = "imu_stale"
    """No IMU sample for ``[health] stale_after_s`` (or none yet, or no gravity to arm with)."""
    IMU_STUCK = "imu_stuck"
    """Identical IMU samples while running: a frozen sensor."""
    IMU_SATURATED = "imu_saturated"
    """IMU readings at the end of their range."""
    IMU_IMPLAUSIBLE = "imu_implausible"
    """IMU readings no person on a belt can produce."""
    I2C_ERROR_BUDGET = "i2c_error_budget"
    """Too many I²C errors in the window (IMU or rails)."""
    CLIP_MOVED = "clip_moved"
    """The belt clip's orientation changed since the run began."""
    RAILS_STALE = "rails_stale"
    """No handrail reading for ``[health] stale_after_s``."""
    RAILS_STUCK = "rails_stuck"
    """Identical handrail readings (one chip or all): a frozen chip."""
    RAIL_FORCE_RESET = "rail_force_reset"
    """A force chip (ADS1115) lost its configuration: a power-on reset."""
    RAIL_TOUCH_RESET = "rail_touch_reset"
    """A touch chip (MPR121) lost its configuration: a power-on reset."""

    DECK_STALE = "deck_stale"
    """No measurement from the deck position sensor for ``[deck] stale_after_s``."""
    DECK_STUCK = "deck_stuck"
    """Identical deck-position distances while running: a frozen sensor."""
    DECK_POSITION_UNKNOWN = "deck_position_unknown"
    """No valid distance for ``[deck] unknown_after_s`` while running: nobody in range."""

    # ---- the detectors (controller/detect/)
    SLIP_TRIP = "slip_trip"
    """A slip or trip: tipping fast at a large tilt while stepping."""
    PRE_IMPACT = "pre_impact"
    """The fall model's score held above its threshold: falling, before the impact."""
    FALL = "fall"
    """Falling and tipping past the tilt threshold."""
    FREE_FALL = "free_fall"
    """Specific force near zero for the hold time."""
    IMPACT = "impact"
    """A large impact at a large tilt."""
    KFALL_THRESHOLD = "kfall_threshold"
    """The published threshold baseline (``treadguard evaluate`` only, not the daemon's set)."""
    RAIL_GRAB = "rail_grab"
    """The rail force rose suddenly: a hand grabbing a rail."""
    RAIL_OVERLOAD = "rail_overload"
    """The rail force is above ``[detect] rail_overload_n``."""
    RAIL_NOT_FITTED = "rail_not_fitted"
    """Hands-on mode without touch or force sensing on both rails."""
    HANDS_OFF = "hands_off"
    """Hands-on mode: a hand off the rail for ``[detect] rail_hands_off_s`` (a caution from
    the moment it left)."""
    NO_RUNNER = "no_runner"
    """Nobody on the running belt, after the caution's countdown."""
    DECK_DRIFT = "deck_drift"
    """The runner drifted beyond ``[deck] stop_beyond_m`` or within ``stop_within_m``."""

    # ---- the session program and the control socket (controller/program.py,
    # controller/control_socket.py)
    SESSION_COMPLETE = "session_complete"
    """The program's cool-down is over: the controlled stop that ends a session."""
    BOUT_REST = "bout_rest"
    """A rest between bouts with the belt stopped (``rest_mode = "stop"``): the next bout needs a
    reset and a confirmed start."""
    STOP_REQUESTED = "stop_requested"
    """A stop asked for on the control socket (``treadguard stop``)."""


RAIL_RESET_REASON: dict[str, StopReason] = {
    "force": StopReason.RAIL_FORCE_RESET,
    "touch": StopReason.RAIL_TOUCH_RESET,
}
"""The reason for a rail chip's lost configuration, by its kind
(:attr:`hardware.rail_sample.ChipReport.kind`)."""


PLANNED_STOPS: frozenset[StopReason] = frozenset({StopReason.SESSION_COMPLETE,
                                                  StopReason.BOUT_REST})
"""The session program's own stops (the end of a session, a rest with the belt stopped): they
latch like every stop, but they are not safety stops."""
