"""Safety I/O on GPIO: everything the loop needs from the machine's panel and stop chain.

A driver, so it reports facts and never decides: whether the e-stop reads pressed, the key
present, the relay's feedback contact closed, and when the relay was last commanded. The
verdicts on those facts (``estop``, ``safety_key_removed``, ``relay_welded``,
``relay_feedback_lost``) are :class:`controller.stop_chain.StopChain`'s.

Inputs (all read by polling from the loop; press durations on the injected clock, so tests and
simulations need no real time):

- **E-stop** (``estop_pin``): normally-closed contact to ground on a pulled-up input. Not
  pressed = closed = low; pressed *or a broken wire* = high — so a cut cable reads as pressed.
  The e-stop also cuts motor power through the treadmill's own chain; this input only tells
  the controller.
- **Safety key present** (optional ``key_pin``): contact to ground while the key/lanyard is in.
- **Reset** (``reset_pin``): normally open to ground on a pulled-up input; held ≥
  ``reset_hold_s`` (default 1 s) is a reset. **Start** (optional ``start_pin``): a short press
  confirms a start. Without a start pin, the reset button does both (short press = start, long
  = reset). A press shorter than :data:`MIN_PRESS_S` is contact bounce, never a start.

Outputs — each created in its safe state, declared here:

- **Stop relay** (``relay_pin``): energised = the safety-key loop is closed = the treadmill may
  have power. Safe state: de-energised, the first device created. Wire a pull-down so a dead
  process or a floating pin opens it.
- **Relay feedback** (optional ``relay_feedback_pin``, input): a force-guided auxiliary contact
  that closes with the relay (high = closed), on a pull-down: a broken feedback wire reads
  "open", which with an energised relay is a fault, never a false "all well".
- **Heartbeat** (optional ``heartbeat_pin``): toggled once per healthy tick, for an external
  charge-pump watchdog relay that drops out if the toggling stops (hang, crash). Safe: low.
- **Buzzer** and **status LED** (optional): see :mod:`hardware.annunciator`. Safe: off.

Pin numbers are BCM numbers handed in by the composition root (from ``[gpio]``), as is the pin
factory: nothing here picks a backend. Tests use gpiozero's ``MockFactory``
(``MockConnectedPin`` models the feedback contact, welded or not:
:mod:`hardware.sim.safety_io_wiring`).
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any, Final

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from hardware.annunciator import Annunciator
from hardware.clock import Clock
from hardware.held import HeldTimer

MIN_PRESS_S: Final = 0.05
"""A start (short press) must be held at least this long, s: contact bounce (a few ms, e.g. as
the reset button is let go after its hold) is not a deliberate start."""


class Press(Enum):
    """What :meth:`SafetyIO.poll_button` saw in one tick."""

    NONE = "none"
    SHORT = "short"  # confirm a start
    LONG = "long"  # reset a latched stop


class SafetyIO:
    """The panel and the stop chain's pins.

    Args:
        pin_factory: a gpiozero pin factory (MockFactory in simulation and tests).
        clock: the injected clock (press durations, when the relay was commanded).
        relay_pin, estop_pin, reset_pin: BCM pins of the stop relay (output), the e-stop and
            the reset button (inputs); required.
        start_pin, key_pin, relay_feedback_pin: optional inputs (None = not fitted; then
            :attr:`key_present` / :attr:`relay_feedback_closed` read None, and a welded relay
            cannot be seen).
        heartbeat_pin, buzzer_pin, led_pin: optional outputs (None = not fitted).
        reset_hold_s: how long the reset button must be held to count as a reset, s (default
            1.0: long enough that a bump cannot reset).
    """

    def __init__(self, pin_factory: Any, clock: Clock, *, relay_pin: int, estop_pin: int,
                 reset_pin: int, start_pin: int | None = None, key_pin: int | None = None,
                 relay_feedback_pin: int | None = None, heartbeat_pin: int | None = None,
                 buzzer_pin: int | None = None, led_pin: int | None = None,
                 reset_hold_s: float = 1.0) -> None:
        self._clock = clock
        self._pins = {"relay": relay_pin, "estop": estop_pin, "reset": reset_pin,
                      "start": start_pin, "key": key_pin, "feedback": relay_feedback_pin,
                      "heartbeat": heartbeat_pin, "buzzer": buzzer_pin, "led": led_pin}
        self._reset_hold_s = reset_hold_s
        opened: list[Any] = []
        try:
            # The relay first, de-energised (treadmill power interrupted): whatever fails
            # after it, the machine is already in its safe state.
            self.relay = DigitalOutputDevice(relay_pin, active_high=True, initial_value=False,
                                             pin_factory=pin_factory)
            opened.append(self.relay)
            self._estop = DigitalInputDevice(estop_pin, pull_up=True, pin_factory=pin_factory)
            opened.append(self._estop)
            self._button = DigitalInputDevice(reset_pin, pull_up=True, pin_factory=pin_factory)
            opened.append(self._button)
            self._key = self._input(key_pin, pin_factory, pull_up=True, opened=opened)
            self._start = self._input(start_pin, pin_factory, pull_up=True, opened=opened)
            self._feedback = self._input(relay_feedback_pin, pin_factory, pull_up=False,
                                         opened=opened)
            self.heartbeat_out = None
            if heartbeat_pin is not None:
                self.heartbeat_out = DigitalOutputDevice(heartbeat_pin, initial_value=False,
                                                         pin_factory=pin_factory)
                opened.append(self.heartbeat_out)
            self.annunciator = Annunciator(pin_factory, clock, buzzer_pin, led_pin)
        except BaseException:
            for device in reversed(opened):
                device.close()
            raise
        self._relay_changed_at_s = clock.now_s()
        self._relay_lock = threading.Lock()
        self.relay_forced_open = False
        """Set by the watchdog thread's :meth:`force_open`; the relay stays open meanwhile."""
        self._reset_press = HeldTimer()
        self._long_sent = False  # the current press of the reset button has given its LONG
        self._start_press = HeldTimer()
        self._closed = False

    @staticmethod
    def _input(pin: int | None, factory: Any, pull_up: bool,
               opened: list[Any]) -> DigitalInputDevice | None:
        if pin is None:
            return None
        device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=factory)
        opened.append(device)
        return device

    # ------------------------------------------------------------------ inputs (facts)
    @property
    def estop_pressed(self) -> bool:
        """True when the e-stop is pressed or its wire is broken (the input is not pulled low)."""
        return not self._estop.is_active

    @property
    def key_present(self) -> bool | None:
        """True = safety key in; None = no key input fitted."""
        return None if self._key is None else bool(self._key.is_active)

    @property
    def reset_held(self) -> bool:
        """The reset button is pressed right now."""
        return bool(self._button.is_active)

    @property
    def relay_feedback_closed(self) -> bool | None:
        """The feedback contact (True = closed); None = no feedback input fitted."""
        return None if self._feedback is None else bool(self._feedback.is_active)

    @property
    def relay_closed(self) -> bool:
        """The relay as commanded (True = energised: the treadmill may have power)."""
        return bool(self.relay.value)

    @property
    def relay_changed_at_s(self) -> float:
        """Clock time, s, at which the relay command last changed (its creation, at first): how
        long the feedback contact has had to follow."""
        return self._relay_changed_at_s

    def poll_button(self) -> Press:
        """Call every tick. LONG once when the reset button has been held ``reset_hold_s``;
        SHORT on the release of a short press of the start button (or of the shared button);
        NONE otherwise. A reset hold never also counts as a start."""
        now = self._clock.now_s()
        hold_s = self._reset_hold_s - 1e-9  # clock arithmetic must not cost a tick
        result = Press.NONE
        if self._button.is_active:
            held_s = self._reset_press.hold(now)
            if not self._long_sent and held_s >= hold_s:
                self._long_sent = True
                result = Press.LONG
        else:
            held = self._reset_press.release(now)
            was_long, self._long_sent = self._long_sent, False
            # A bounce (one or two ticks "pressed", e.g. as the button is let go after a reset
            # hold) is not a start: reset and start stay two deliberate actions.
            if held is not None and not was_long and self._start is None and held >= MIN_PRESS_S:
                result = Press.SHORT
        if self._start is not None:
            if self._start.is_active:
                self._start_press.hold(now)
            else:
                held = self._start_press.release(now)
                # A start button held for a reset's time is a stuck or leaned-on button.
                if held is not None and MIN_PRESS_S <= held < hold_s and result is Press.NONE:
                    result = Press.SHORT
        return result

    # ------------------------------------------------------------------ outputs
    def set_relay(self, closed: bool) -> None:
        """Energise (``closed``) or de-energise the stop relay; a change is time-stamped for
        the stop chain's feedback check. While :attr:`relay_forced_open` (the watchdog thread
        cut the power) the relay stays open whatever is asked."""
        with self._relay_lock:
            closed = closed and not self.relay_forced_open
            if bool(self.relay.value) != closed:
                self._relay_changed_at_s = self._clock.now_s()
            self.relay.value = closed

    def force_open(self) -> None:
        """Open the relay from another thread (the loop watchdog), whatever the loop does next.

        The flag is set first, so a :meth:`set_relay` that starts after it keeps the relay
        open; one already inside the lock finishes its write before ours. The lock is held by
        the loop only for one pin write: if it cannot be had within 50 ms the pin is written
        anyway (the write is idempotent; the flag still holds every later ``set_relay``).
        The loop calls :meth:`release_forced_open` once the supervisor has latched the stop
        with the power cut (which keeps the relay open until a human reset)."""
        self.relay_forced_open = True
        locked = self._relay_lock.acquire(timeout=0.05)
        try:
            if self.relay.value:
                self._relay_changed_at_s = self._clock.now_s()
            self.relay.off()
        finally:
            if locked:
                self._relay_lock.release()

    def release_forced_open(self) -> None:
        """The supervisor now holds the power cut itself (see :meth:`force_open`)."""
        self.relay_forced_open = False

    def heartbeat(self) -> None:
        """Toggle the charge-pump output. Call once per tick, only from a healthy loop."""
        if self.heartbeat_out is not None:
            self.heartbeat_out.toggle()

    def update(self) -> None:
        """Step buzzer and LED patterns (call every tick)."""
        self.annunciator.update()

    def service(self, healthy: bool) -> None:
        """Everything the outputs need once per loop tick: toggle the heartbeat (only if
        ``healthy``: a sick loop must let the charge pump drop out), step buzzer and LED."""
        if healthy:
            self.heartbeat()
        self.update()

    def describe(self) -> list[str]:
        """One line per pin, for ``treadguard check``."""
        p = self._pins
        lines = [f"GPIO{p['relay']} stop relay (output, safe = de-energised)",
                 f"GPIO{p['estop']} e-stop (input, NC to ground)",
                 f"GPIO{p['reset']} reset{'' if p['start'] is not None else '/start'} button"]
        optional = [(p["start"], "start button"), (p["key"], "safety key"),
                    (p["feedback"], "relay feedback contact"),
                    (p["heartbeat"], "heartbeat (charge pump, safe = low)"),
                    (p["buzzer"], "buzzer (safe = off)"), (p["led"], "status LED (safe = off)")]
        lines += [f"GPIO{pin} {name}" for pin, name in optional if pin is not None]
        return lines

    def close(self) -> None:
        """Safe state first (relay open, heartbeat low, buzzer and LED off), then release the
        pins. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.relay.off()
        if self.heartbeat_out is not None:
            self.heartbeat_out.off()
        self.annunciator.close()
        for device in (self._key, self._start, self._feedback, self.heartbeat_out,
                       self.relay, self._estop, self._button):
            if device is not None:
                device.close()
