"""Safety I/O on GPIO: everything the loop needs from the machine's panel and stop chain.

Grows :class:`~hardware.operator_panel.OperatorPanel` (e-stop, reset/start button, stop relay)
into the full set, so the loop can take either:

Inputs (all read by polling from the loop; press durations on the injected clock, so tests and
simulations need no real time):

- **E-stop**: normally-closed contact to ground on a pulled-up input. Not pressed = closed =
  low; pressed *or a broken wire* = high = stop. The e-stop also cuts motor power through the
  treadmill's own chain; this input only tells the controller.
- **Safety key present** (optional ``key_pin``): contact to ground while the key/lanyard is in.
  Key out ⇒ the treadmill has lost power on its own; the controller latches a stop so that
  putting the key back cannot restart anything.
- **Reset** (``reset_pin``): held ≥ ``reset_hold_s`` (default 1 s) clears a latched stop.
  **Start** (optional ``start_pin``): a short press confirms a start. Without a start pin, the
  reset button does both (short press = start, long = reset).

Outputs — each created in its safe state, declared here:

- **Stop relay** (``relay_pin``): energised = the safety-key loop is closed = the treadmill may
  have power. Safe state: de-energised. Energised only while the loop runs and the supervisor is
  healthy; a dead process, a floating pin (wire a pull-down) or a hang opens it.
- **Relay feedback** (optional ``relay_feedback_pin``, input): a force-guided auxiliary contact
  that closes with the relay (high = closed). After a command the contact must follow within
  ``relay_open_within_s``: a relay that stays closed when told to open is *welded* ⇒ fault
  (``relay_welded``); one that does not close is ``relay_feedback_lost``.
- **Heartbeat** (optional ``heartbeat_pin``): toggled once per healthy tick, for an external
  charge-pump watchdog relay that drops out if the toggling stops (hang, crash). Safe: low.
- **Buzzer** and **status LED** (optional): see :mod:`hardware.annunciator`. Safe: off.

The pin factory is handed in by the composition root; nothing here picks a backend. Tests use
gpiozero's ``MockFactory`` (``MockConnectedPin`` models the feedback contact, welded or not).
"""

from __future__ import annotations

from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from controller.config import GpioSettings
from controller.detect.base import OK, Decision, Level
from hardware.annunciator import Annunciator
from hardware.clock import Clock
from hardware.operator_panel import MIN_PRESS_S, OperatorPanel, Press


class SafetyIO(OperatorPanel):
    """The full safety I/O set from ``[gpio]``.

    Args:
        pin_factory: a gpiozero pin factory (MockFactory in simulation and tests).
        clock: the injected clock.
        gpio: the ``[gpio]`` settings (pin numbers, reset hold time, relay timing).
    """

    def __init__(self, pin_factory: Any, clock: Clock, gpio: GpioSettings) -> None:
        self._gpio = gpio
        opened: list[Any] = []
        try:
            # The relay is created (de-energised) by the base class before anything else.
            super().__init__(pin_factory, clock, gpio.relay_pin, gpio.estop_pin, gpio.reset_pin)
            opened += [self.relay, self._estop, self._button]
            self._key = self._input(gpio.key_pin, pin_factory, pull_up=True, opened=opened)
            self._start = self._input(gpio.start_pin, pin_factory, pull_up=True, opened=opened)
            # Feedback contact to 3.3 V with a pull-down: a broken feedback wire reads "open",
            # which with an energised relay is a fault, never a false "all well".
            self._feedback = self._input(gpio.relay_feedback_pin, pin_factory, pull_up=False,
                                         opened=opened)
            self.heartbeat_out = None
            if gpio.heartbeat_pin is not None:
                self.heartbeat_out = DigitalOutputDevice(gpio.heartbeat_pin, initial_value=False,
                                                         pin_factory=pin_factory)
                opened.append(self.heartbeat_out)
            self.annunciator = Annunciator(pin_factory, clock, gpio.buzzer_pin, gpio.led_pin)
        except BaseException:
            for device in reversed(opened):
                device.close()
            raise
        self._relay_cmd_s = clock.now_s()
        self._start_pressed_since_s: float | None = None
        self._closed = False

    @staticmethod
    def _input(pin: int | None, factory: Any, pull_up: bool,
               opened: list[Any]) -> DigitalInputDevice | None:
        if pin is None:
            return None
        device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=factory)
        opened.append(device)
        return device

    # ------------------------------------------------------------------ inputs
    @property
    def key_present(self) -> bool | None:
        """True = safety key in; None = no key input fitted."""
        return None if self._key is None else bool(self._key.is_active)

    @property
    def reset_held(self) -> bool:
        """The reset button is pressed right now."""
        return bool(self._button.is_active)

    def poll_button(self) -> Press:
        """Call every tick. LONG once when the reset button has been held ``reset_hold_s``;
        SHORT on the release of a short press of the start button (or of the shared button);
        NONE otherwise. A reset hold never also counts as a start."""
        now = self._clock.now_s()
        hold_s = self._gpio.reset_hold_s - 1e-9  # clock arithmetic must not cost a tick
        result = Press.NONE
        if self._button.is_active:
            if self._pressed_since_s is None:
                self._pressed_since_s, self._long_sent = now, False
            if not self._long_sent and now - self._pressed_since_s >= hold_s:
                self._long_sent = True
                result = Press.LONG
        elif self._pressed_since_s is not None:
            was_long = self._long_sent
            held = now - self._pressed_since_s
            self._pressed_since_s = None
            # A bounce (one or two ticks "pressed", e.g. as the button is let go after a reset
            # hold) is not a start: reset and start stay two deliberate actions.
            if not was_long and self._start is None and held >= MIN_PRESS_S:
                result = Press.SHORT
        if self._start is not None:
            if self._start.is_active:
                if self._start_pressed_since_s is None:
                    self._start_pressed_since_s = now
            elif self._start_pressed_since_s is not None:
                held = now - self._start_pressed_since_s
                self._start_pressed_since_s = None
                # A start button held for a reset's time is a stuck or leaned-on button.
                if MIN_PRESS_S <= held < hold_s and result is Press.NONE:
                    result = Press.SHORT
        return result

    # ------------------------------------------------------------------ outputs
    def set_relay(self, closed: bool) -> None:
        if bool(self.relay.value) != closed:
            self._relay_cmd_s = self._clock.now_s()
        super().set_relay(closed)

    @property
    def relay_feedback_closed(self) -> bool | None:
        """The feedback contact (True = closed); None = no feedback input fitted."""
        return None if self._feedback is None else bool(self._feedback.is_active)

    def heartbeat(self) -> None:
        """Toggle the charge-pump output. Call once per tick, only from a healthy loop."""
        if self.heartbeat_out is not None:
            self.heartbeat_out.toggle()

    def update(self) -> None:
        """Step buzzer and LED patterns (call every tick)."""
        self.annunciator.update()

    def service(self, now_s: float, healthy: bool) -> Decision:
        """Everything safety I/O needs once per loop tick: toggle the heartbeat (only if
        ``healthy``: a sick loop must let the charge pump drop out), step buzzer and LED, and
        return :meth:`check` for the supervisor."""
        if healthy:
            self.heartbeat()
        self.update()
        return self.check(now_s)

    # ------------------------------------------------------------------ verdicts
    def check(self, now_s: float) -> Decision:
        """The stop chain's health: STOP with ``estop``, ``safety_key_removed``,
        ``relay_welded`` or ``relay_feedback_lost``, else OK."""
        if self.estop_pressed:
            return Decision(Level.STOP, "estop", "emergency-stop pressed or its wire broken")
        if self.key_present is False:
            return Decision(Level.STOP, "safety_key_removed", "safety key is out")
        feedback = self.relay_feedback_closed
        if feedback is not None and feedback != self.relay_closed:
            late_s = now_s - self._relay_cmd_s
            if late_s > self._gpio.relay_open_within_s:
                if feedback:
                    return Decision(
                        Level.STOP, "relay_welded",
                        f"stop relay told to open {late_s * 1000:.0f} ms ago but its feedback "
                        f"contact is still closed: welded? The treadmill's own e-stop and key "
                        f"still cut power; replace the relay before further use")
                return Decision(
                    Level.STOP, "relay_feedback_lost",
                    f"stop relay energised {late_s * 1000:.0f} ms ago but its feedback contact "
                    f"is open: check the relay, its coil supply and the feedback wire")
        return OK

    def arming_problems(self) -> list[str]:
        """What forbids a start: the e-stop, then :meth:`stop_chain_problems`."""
        problems = ["e-stop pressed (or its wire broken)"] if self.estop_pressed else []
        return problems + self.stop_chain_problems()

    def stop_chain_problems(self) -> list[str]:
        """Key and relay problems that forbid a start. Called while latched, i.e. with the relay
        open: a feedback contact that reads open now is the positive test that the stop path
        can open."""
        problems = []
        if self.key_present is False:
            problems.append("safety key is out")
        if self._feedback is not None and not self.relay_closed and self._feedback.is_active:
            problems.append("stop relay feedback reads closed while the relay is open (welded?)")
        return problems

    def describe(self) -> list[str]:
        """One line per pin, for ``treadguard check``."""
        g = self._gpio
        lines = [f"GPIO{g.relay_pin} stop relay (output, safe = de-energised)",
                 f"GPIO{g.estop_pin} e-stop (input, NC to ground)",
                 f"GPIO{g.reset_pin} reset{'' if g.start_pin is not None else '/start'} button"]
        optional = [(g.start_pin, "start button"), (g.key_pin, "safety key"),
                    (g.relay_feedback_pin, "relay feedback contact"),
                    (g.heartbeat_pin, "heartbeat (charge pump, safe = low)"),
                    (g.buzzer_pin, "buzzer (safe = off)"), (g.led_pin, "status LED (safe = off)")]
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
        for device in (self._key, self._start, self._feedback, self.heartbeat_out):
            if device is not None:
                device.close()
        super().close()
