"""How long a condition has held: the one "held since" timer of the project.

Detectors (a fall held for ``fall_hold_s``), sensor health (an axis pinned for
``saturated_after_s``) and the buttons (reset held for ``reset_hold_s``) all ask the same
question: since when has this been true, without a break? :class:`HeldTimer` answers it, so the
start, the reset on a break and the duration are written once.

It reads no clock: callers pass the time — a sample's ``t_s`` or the injected clock's
``now_s()`` — so a timer fed sample times measures consecutive samples, and a simulated session
stays deterministic. It sits at the bottom layer because drivers (``hardware/safety_io.py``) use
it as well as the controller.
"""

from __future__ import annotations


class HeldTimer:
    """When a condition became true and has stayed true since (seconds, caller's time base).

    A new timer is released (the condition not held). Comparing the duration against a limit
    is left to the caller, who knows whether a clock-arithmetic tolerance (``- 1e-9``) applies.
    """

    __slots__ = ("since_s",)

    def __init__(self) -> None:
        self.since_s: float | None = None
        """Time the condition became true, or None while it is not held."""

    def hold(self, now_s: float) -> float:
        """The condition is true at ``now_s``: start timing if it was not. Returns how long it
        has held, s (0.0 on the first true)."""
        if self.since_s is None:
            self.since_s = now_s
        return now_s - self.since_s

    def release(self, now_s: float) -> float | None:
        """The condition is false at ``now_s``: stop timing. Returns how long it had held, s,
        or None if it was not held (a release is reported once)."""
        since_s, self.since_s = self.since_s, None
        return None if since_s is None else now_s - since_s

    def update(self, active: bool, now_s: float) -> float | None:
        """:meth:`hold` when ``active``, else :meth:`release`: how long the condition has held
        at ``now_s``, s, or None when it is not true now."""
        if active:
            return self.hold(now_s)
        self.since_s = None
        return None

    def held_s(self, now_s: float) -> float | None:
        """How long the condition has held at ``now_s``, s, without changing anything; None
        when it is not held."""
        return None if self.since_s is None else now_s - self.since_s
