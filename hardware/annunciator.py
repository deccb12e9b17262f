"""The buzzer and the status LED: how the controller talks to a runner who faces away from
any display.

Distinct buzzer patterns (active buzzer: on/off only), each a list of ``(on_s, off_s)`` steps:

- ``countdown``: three short beeps a second apart, then a long one — played before the belt
  starts; the long beep marks "now", the moment the start command goes out. Its length follows
  ``[limits] start_countdown_s`` (:func:`countdown_pattern`); the entry here is the default 3 s;
- ``speed_up``: one short beep, then a 0.3 s one a second later, when the speed starts to rise
  — the same language as the countdown ("beeps count down, the long one is now"), played before
  every upward speed segment (the ramp after the start speed, the return after a caution);
- ``caution``: a double beep, repeated while the caution lasts — "slowing down, steady";
- ``stop``: one long 1.5 s tone — the belt is stopping, the stop is latched.

The LED shows the controller state: off = not running, steady = armed/running, slow blink
(1 Hz) = latched stop (needs a reset), fast blink (4 Hz) = fault (a part failed its check).

Patterns are stepped by :meth:`Annunciator.update` from the loop with the injected clock's
time, never by gpiozero's background threads (``beep()``/``blink()`` run on real time, which a
simulated clock cannot drive). Both outputs are created off: their safe state.
"""

from __future__ import annotations

from typing import Any, Final

from gpiozero import DigitalOutputDevice

from hardware.clock import Clock

Pattern = tuple[tuple[float, float], ...]

COUNTDOWN_BEEP_S: Final = 0.1
"""A countdown's short beeps, seconds."""
COUNTDOWN_MIN_GAP_S: Final = 0.3
"""Closest two beeps' starts may be, seconds (0.1 s on, at least 0.2 s off: still two beeps)."""


def countdown_pattern(length_s: float, final_s: float = 0.6) -> Pattern:
    """Short beeps counting down to a long ``final_s`` beep that starts exactly ``length_s``
    after the pattern does (the moment the announced change happens).

    The first beep sounds at once (the runner hears the start was accepted); the others a whole
    number of seconds before the end (…, 3, 2, 1 s before "now"), so the last second is always
    one beep to the long one. A beep that would fall within ``COUNTDOWN_MIN_GAP_S`` of the
    first is left out.
    """
    if length_s < COUNTDOWN_MIN_GAP_S:
        raise ValueError(f"countdown length must be ≥ {COUNTDOWN_MIN_GAP_S} s, got {length_s!r}")
    whole = int(length_s + 1e-9)
    starts = [0.0] + [length_s - k for k in range(whole, 0, -1)
                      if length_s - k >= COUNTDOWN_MIN_GAP_S - 1e-9]
    ends = [*starts[1:], length_s]
    steps = [(COUNTDOWN_BEEP_S, end - begin - COUNTDOWN_BEEP_S)
             for begin, end in zip(starts, ends, strict=True)]
    return (*steps, (final_s, 0.0))


PATTERNS: Final[dict[str, Pattern]] = {
    "countdown": countdown_pattern(3.0),
    "speed_up": countdown_pattern(1.0, final_s=0.3),
    "caution": ((0.08, 0.08), (0.08, 0.76)),
    "stop": ((1.5, 0.0),),
}
REPEATING: Final = frozenset({"caution"})
LED_MODES: Final[dict[str, tuple[float, float] | None]] = {
    "off": None, "steady": None, "latched": (0.5, 0.5), "fault": (0.125, 0.125),
}


class Annunciator:
    """Buzzer and status LED on optional pins (None = not fitted: calls do nothing).

    Args:
        pin_factory: gpiozero pin factory.
        clock: the injected clock.
        buzzer_pin / led_pin: BCM numbers or None.
    """

    def __init__(self, pin_factory: Any, clock: Clock, buzzer_pin: int | None,
                 led_pin: int | None) -> None:
        self._clock = clock
        self.buzzer = (DigitalOutputDevice(buzzer_pin, initial_value=False,
                                           pin_factory=pin_factory)
                       if buzzer_pin is not None else None)
        self.led = (DigitalOutputDevice(led_pin, initial_value=False, pin_factory=pin_factory)
                    if led_pin is not None else None)
        self.playing: str | None = None
        self._pattern: Pattern = ()
        self._started_s = 0.0
        self.led_mode = "off"
        self._led_since_s = 0.0

    def play(self, name: str, pattern: Pattern | None = None) -> None:
        """Start pattern ``name`` (replacing any other), from now. ``pattern`` replaces the
        named one's steps (a countdown of another length). Unknown names raise KeyError."""
        if name not in PATTERNS:
            raise KeyError(f"no buzzer pattern {name!r} (known: {', '.join(PATTERNS)})")
        self.playing = name
        self._pattern = PATTERNS[name] if pattern is None else pattern
        self._started_s = self._clock.now_s()
        self.update()

    def silence(self) -> None:
        self.playing = None
        if self.buzzer is not None:
            self.buzzer.off()

    def set_led(self, mode: str) -> None:
        """``"off"``, ``"steady"``, ``"latched"`` (1 Hz blink) or ``"fault"`` (4 Hz blink)."""
        if mode not in LED_MODES:
            raise KeyError(mode)
        if mode != self.led_mode:
            self.led_mode = mode
            self._led_since_s = self._clock.now_s()
        self.update()

    def update(self) -> None:
        """Step the patterns to the clock's time. Call every loop tick."""
        now = self._clock.now_s()
        if self.buzzer is not None:
            on = False
            if self.playing is not None:
                on, finished = _pattern_state(self._pattern, now - self._started_s,
                                              self.playing in REPEATING)
                if finished:
                    self.playing = None
            self.buzzer.value = on
        if self.led is not None:
            blink = LED_MODES[self.led_mode]
            if blink is None:
                self.led.value = self.led_mode == "steady"
            else:
                on_s, off_s = blink
                self.led.value = (now - self._led_since_s) % (on_s + off_s) < on_s

    def close(self) -> None:
        for device in (self.buzzer, self.led):
            if device is not None:
                device.off()
                device.close()


def _pattern_state(pattern: Pattern, t_s: float, repeat: bool) -> tuple[bool, bool]:
    """(output on?, pattern finished?) at ``t_s`` seconds into ``pattern``."""
    total = sum(on + off for on, off in pattern)
    if repeat:
        t_s %= total
    elif t_s >= total:
        return False, True
    for on_s, off_s in pattern:
        if t_s < on_s:
            return True, False
        t_s -= on_s + off_s
        if t_s < 0:
            return False, False
    return False, not repeat
