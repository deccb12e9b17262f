"""The one power cycle the link does not treat as a fault: the one the controller causes.

Testing the stop path means opening the relay in the safety-key loop on purpose, with the belt
stopped: the treadmill loses power, goes silent, and comes back in its start lockout. For a
window of ``window_s`` seconds, silence and garbled bytes are expected; once the treadmill
answers again the link sends a stop (which clears the lockout), and the window closes as
``"completed"``. A treadmill that never went silent closes it as ``"not_observed"``; one that
went silent and is not back by the end is a latched fault.
"""

from __future__ import annotations

import math
from typing import Literal

Outcome = Literal["completed", "not_observed"]


class PowerCycleWindow:
    """The state of an expected power cycle (times in clock seconds)."""

    def __init__(self) -> None:
        self.until_s: float | None = None
        self.lost = False
        """The treadmill went silent (or garbled) inside the window."""
        self.stop_sent = False
        """It answered again and the stop that clears its lockout is queued."""
        self.result: Outcome | None = None
        """Outcome of the last window, or None (none yet, or it ended in a fault)."""

    @property
    def open(self) -> bool:
        return self.until_s is not None

    def expect(self, now_s: float, window_s: float) -> None:
        if not (math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be a finite number > 0, got {window_s!r}")
        self.until_s = now_s + window_s
        self.lost = False
        self.stop_sent = False
        self.result = None

    def close(self) -> None:
        """Forget the window (a fault or a reset)."""
        self.until_s = None

    def went_silent(self) -> None:
        """A missing, bad or unsolicited reply inside the window: the power is off."""
        self.lost = True
        self.stop_sent = False

    @property
    def waiting_for_answer(self) -> bool:
        """Lost and not answering yet: poll only, no speed commands."""
        return self.open and self.lost and not self.stop_sent

    def answered(self) -> bool:
        """A complete reply inside the window; True when the lockout-clearing stop is due."""
        if self.waiting_for_answer:
            self.stop_sent = True
            return True
        return False

    def stop_acked(self) -> None:
        """The stop was acknowledged: back after the power cycle, its lockout cleared."""
        if self.open and self.lost:
            self.until_s = None
            self.result = "completed"

    def expired(self, now_s: float) -> bool | None:
        """At or past the window's end: close it and return whether the treadmill was lost
        (and so is not back: a fault); None while the window runs or none is open."""
        if self.until_s is None or now_s < self.until_s:
            return None
        self.until_s = None
        if self.lost:
            self.result = None
            return True
        self.result = "not_observed"
        return False
