"""Handrail detector: sudden grab, overload, and hands off the rails in hands-on mode.

In hands-on mode a hand off a rail is a CAUTION at once (the governor slows the belt and the
buzzer warns the runner) and a STOP only if it stays off for ``rail_hands_off_s``: a hand moved
along the rail, or put back within that time, slows the belt but does not stop it.

Fed :class:`~hardware.rail_sample.RailSample` readings (touch from MPR121, force from FSRs). Light
touch for balance is below about 5 % of body weight; a grab to catch a fall is far above it and
arrives fast. A quantity that is not fitted is ``None`` and is never taken as "no hand".
"""

from __future__ import annotations

from controller.config import DetectSettings
from controller.detect.base import OK, Decision, Level
from controller.stop_reasons import StopReason
from hardware.held import HeldTimer
from hardware.rail_sample import RailSample

GRAB_WINDOW_S = 0.2
"""Time constant of the slow force reference a grab rises from, s."""


class RailDetector:
    """Decisions from the handrails.

    Args:
        settings: ``[detect]``: ``rail_light_touch_n`` (grip force that counts as contact),
            ``rail_overload_n`` (STOP ``rail_overload``), ``rail_grab_rise_n`` (a rise within
            about :data:`GRAB_WINDOW_S`: STOP ``rail_grab``) and ``rail_hands_off_s``.
        hands_on: True in a hands-on mode: the belt runs only while both hands touch the rails;
            a hand off a rail is a CAUTION ``hands_off`` from the first reading without it, and
            a STOP ``hands_off`` once it has been off for ``rail_hands_off_s``. A hands-on mode
            without touch or force sensors is a STOP ``rail_not_fitted`` at the first
            reading.

    ``rail_contact`` (after :meth:`update`) is True when any hand touches or grips a rail; the
    no-runner detector uses it.
    """

    name = "rails"

    def __init__(self, settings: DetectSettings, *, hands_on: bool = False) -> None:
        self.hands_on = hands_on
        self.light_touch_n = settings.rail_light_touch_n
        self.overload_n = settings.rail_overload_n
        self.grab_rise_n = settings.rail_grab_rise_n
        self.grab_window_s = GRAB_WINDOW_S
        self.hands_off_s = settings.rail_hands_off_s
        self.reset()

    def reset(self) -> None:
        self.rail_contact = False
        self._slow_n: float | None = None
        self._t_prev: float | None = None
        self._hand_off = HeldTimer()

    def update(self, rail: RailSample) -> Decision:
        """Consume one reading and return its decision."""
        dt = 0.0 if self._t_prev is None else max(0.0, rail.t_s - self._t_prev)
        self._t_prev = rail.t_s
        forces = [f for f in (rail.force_left_n, rail.force_right_n) if f is not None]
        total = sum(forces) if forces else None
        left = _hand(rail.touch_left, rail.force_left_n, self.light_touch_n)
        right = _hand(rail.touch_right, rail.force_right_n, self.light_touch_n)
        self.rail_contact = bool(left) or bool(right)
        decision = OK
        if total is not None:
            slow = total if self._slow_n is None else self._slow_n
            rise = total - slow
            k = dt / (self.grab_window_s + dt) if dt > 0 else 0.0
            self._slow_n = slow + k * (total - slow)
            if total > self.overload_n:
                decision = Decision(Level.STOP, StopReason.RAIL_OVERLOAD,
                                    f"rail force {total:.0f} N > {self.overload_n:.0f} N")
            elif rise > self.grab_rise_n:
                decision = Decision(Level.STOP, StopReason.RAIL_GRAB,
                                    f"rail force rose {rise:.0f} N suddenly")
        if decision is OK and self.hands_on:
            if left is None or right is None:
                return Decision(Level.STOP, StopReason.RAIL_NOT_FITTED,
                                "hands-on mode needs touch or force sensing on both rails")
            off_s = self._hand_off.update(not (left and right), rail.t_s)
            if off_s is not None:
                if off_s >= self.hands_off_s - 1e-9:
                    return Decision(Level.STOP, StopReason.HANDS_OFF,
                                    f"a hand off the rail for {off_s:.1f} s")
                return Decision(Level.CAUTION, StopReason.HANDS_OFF,
                                f"a hand off the rail: both hands back within "
                                f"{self.hands_off_s - off_s:.1f} s or the belt stops")
        return decision


def _hand(touch: bool | None, force_n: float | None, light_n: float) -> bool | None:
    """Contact of one hand: touch or force above light touch; None if neither is fitted."""
    if touch is None and force_n is None:
        return None
    return bool(touch) or (force_n is not None and force_n > light_n)
