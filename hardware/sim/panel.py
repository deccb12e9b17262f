"""Wiring gpiozero's MockFactory like a healthy machine: the simulated panel and stop chain.

A bare MockFactory reads every pulled-up input high — an e-stop pressed and a key out — which
is the safe answer, but not a machine anyone could start. :func:`wire_before` connects the stop
relay's output pin to its feedback input (a ``MockConnectedPin``: the contact follows the coil),
and must run before :class:`~hardware.safety_io.SafetyIO` claims the pins; :func:`wire_after`
closes the e-stop contact and inserts the key. Tests then break things on purpose: drive the
e-stop high (pressed / wire cut), the key high (removed), or leave the feedback unconnected and
drive it high (a welded relay).

Not modelled: contact bounce, relay operate/release times (the feedback follows instantly),
the treadmill losing power when the relay opens (the simulated treadmill does that itself).
"""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import MockConnectedPin

from controller.config import GpioSettings


def wire_before(factory: Any, gpio: GpioSettings, welded: bool = False) -> None:
    """Connect the relay to its feedback contact (unless ``welded``: then the feedback pin is
    left alone for the test to drive)."""
    if gpio.relay_feedback_pin is None or welded:
        return
    feedback = factory.pin(gpio.relay_feedback_pin)
    factory.pin(gpio.relay_pin, pin_class=MockConnectedPin, input_pin=feedback)


def wire_after(factory: Any, gpio: GpioSettings) -> None:
    """E-stop released (contact closed ⇒ low), key in (⇒ low)."""
    factory.pin(gpio.estop_pin).drive_low()
    if gpio.key_pin is not None:
        factory.pin(gpio.key_pin).drive_low()
