"""The operator's panel on GPIO: e-stop input, reset/start button, and the stop relay.

The core that :class:`hardware.safety_io.SafetyIO` builds on; SafetyIO adds the key switch,
the relay feedback contact, the heartbeat, the buzzer and the LED.

- E-stop: a normally-closed contact to ground on a pulled-up input. Closed (not pressed) reads
  low; pressed *or a broken wire* reads high — so a cut cable stops the belt.
- Reset/start button: normally open to ground on a pulled-up input. Held ≥ ``RESET_HOLD_S``
  = reset (clears a latched stop); a shorter press = start (confirms a start).
  Press durations are measured on the injected clock, so simulations need no real time.
- Stop relay: energised (GPIO high) = safety-key loop closed = treadmill may have power.
  Created de-energised: its safe state. Wire a pull-down so a dead process opens it.

The pin factory is handed in by the composition root; nothing here picks a backend.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from hardware.clock import Clock

RESET_HOLD_S: Final = 1.0
MIN_PRESS_S: Final = 0.05
"""A start (short press) must be held at least this long: contact bounce (a few ms, e.g. as the
reset button is let go after its hold) is not a deliberate start."""


class Press(Enum):
    NONE = "none"
    SHORT = "short"  # confirm a start
    LONG = "long"  # reset a latched stop


class OperatorPanel:
    """E-stop, reset/start button and stop relay.

    Args:
        pin_factory: a gpiozero pin factory (MockFactory in simulation and tests).
        clock: the injected clock (press durations).
        relay_pin, estop_pin, reset_pin: BCM pin numbers from ``[gpio]``.
    """

    def __init__(
        self, pin_factory: Any, clock: Clock, relay_pin: int, estop_pin: int, reset_pin: int
    ) -> None:
        self._clock = clock
        # Safe state declared at creation: de-energised (treadmill power interrupted).
        self.relay = DigitalOutputDevice(
            relay_pin, active_high=True, initial_value=False, pin_factory=pin_factory
        )
        self._estop = DigitalInputDevice(estop_pin, pull_up=True, pin_factory=pin_factory)
        self._button = DigitalInputDevice(reset_pin, pull_up=True, pin_factory=pin_factory)
        self._pressed_since_s: float | None = None
        self._long_sent = False

    @property
    def estop_pressed(self) -> bool:
        """True when the e-stop is pressed or its wire is broken (the input is not pulled low)."""
        return not self._estop.is_active

    def poll_button(self) -> Press:
        """Call every tick. Returns LONG once when the hold reaches RESET_HOLD_S, SHORT on the
        release of a shorter press, NONE otherwise."""
        now = self._clock.now_s()
        if self._button.is_active:
            if self._pressed_since_s is None:
                self._pressed_since_s = now
                self._long_sent = False
            if not self._long_sent and now - self._pressed_since_s >= RESET_HOLD_S:
                self._long_sent = True
                return Press.LONG
            return Press.NONE
        if self._pressed_since_s is not None:
            was_long = self._long_sent
            held = now - self._pressed_since_s
            self._pressed_since_s = None
            if not was_long and held >= MIN_PRESS_S:
                return Press.SHORT
        return Press.NONE

    def set_relay(self, closed: bool) -> None:
        self.relay.value = closed

    @property
    def relay_closed(self) -> bool:
        return bool(self.relay.value)

    def close(self) -> None:
        # Safe state first: open the relay, then release the pins.
        self.relay.off()
        for device in (self.relay, self._estop, self._button):
            device.close()
