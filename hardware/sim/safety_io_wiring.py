"""Wiring gpiozero's MockFactory like a healthy machine: the simulated panel and stop chain.

A bare MockFactory reads every pulled-up input high — an e-stop pressed and a key out — which
is the safe answer, but not a machine anyone could start. :func:`wire_before` connects the stop
relay's output pin to its feedback input (a ``MockConnectedPin``: the contact follows the coil),
and must run before :class:`~hardware.safety_io.SafetyIO` claims the pins; :func:`wire_after`
closes the e-stop contact and inserts the key. Tests then break things on purpose: drive the
e-stop high (pressed / wire cut), the key high (removed), or leave the feedback unconnected and
drive it high (a welded relay). Pins are BCM numbers, the same ones SafetyIO is given.

Not modelled: contact bounce, relay operate/release times (the feedback follows instantly),
the treadmill losing power when the relay opens (the simulated treadmill does that itself).
"""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import MockConnectedPin


def wire_before(factory: Any, relay_pin: int, relay_feedback_pin: int | None,
                welded: bool = False) -> None:
    """Connect the relay to its feedback contact (unless ``welded``, or no feedback is fitted:
    then the feedback pin is left alone for the test to drive)."""
    if relay_feedback_pin is None or welded:
        return
    feedback = factory.pin(relay_feedback_pin)
    factory.pin(relay_pin, pin_class=MockConnectedPin, input_pin=feedback)


def wire_after(factory: Any, estop_pin: int, key_pin: int | None = None) -> None:
    """E-stop released (contact closed ⇒ low), key in (⇒ low) when a key input is fitted."""
    factory.pin(estop_pin).drive_low()
    if key_pin is not None:
        factory.pin(key_pin).drive_low()
