"""The speed profile the link puts on the wire: ramps up, at once down, and controlled stops.

Separate from the link's transactions so that "which speed digits may the wire carry now" is
one small, testable function of time. Speeds are in km/h; the digits in tenths of the
treadmill's own unit (mph or km/h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware.trackmaster_protocol import speed_tenths
from hardware.units import KMH_PER_MPS


@dataclass(frozen=True)
class ControlledStop:
    """A stop as a ramp of lowered speeds, begun at ``start_s`` from ``from_kmh`` (whose digits
    were ``from_tenths``), at ``decel_mps2``."""

    start_s: float
    from_kmh: float
    decel_mps2: float
    from_tenths: int


class SpeedProfile:
    """Where the commanded speed is heading, and what the wire may carry now.

    Args:
        unit_per_kmh: the treadmill's unit per km/h (1 for km/h, 1/1.609344 for mph).
        max_speed_kmh: the cap; never exceeded through rounding.
        ramp_mps2: the fastest rise of the commanded speed, m/s² (decreases are immediate).
        now_s: the clock's time at creation.
    """

    def __init__(self, unit_per_kmh: float, max_speed_kmh: float, ramp_mps2: float,
                 now_s: float) -> None:
        self.unit_per_kmh = unit_per_kmh
        self.max_speed_kmh = max_speed_kmh
        self.cap_tenths = speed_tenths(max_speed_kmh * unit_per_kmh,
                                       max_speed_kmh * unit_per_kmh)
        self.ramp_kmh_per_s = ramp_mps2 * KMH_PER_MPS
        self.target_kmh = 0.0
        self.ramp_kmh = 0.0
        self._ramp_at_s = now_s
        self.controlled: ControlledStop | None = None

    def start_from(self, now_s: float, kmh: float) -> None:
        """A new run, from the speed on the wire (non-zero only if a controlled stop is
        interrupted): a start never drops the belt to 0 abruptly, nor jumps it up."""
        self.controlled = None
        self.ramp_kmh = kmh
        self._ramp_at_s = now_s
        self.target_kmh = 0.0

    def to_zero(self) -> None:
        """An immediate stop: nothing to ramp, no controlled stop under way."""
        self.controlled = None
        self.target_kmh = 0.0
        self.ramp_kmh = 0.0

    def advance(self, now_s: float, running: bool) -> None:
        """Move the ramp position towards the target: up at no more than ``ramp_mps2``; down at
        once. Lowering the speed is the safe direction (a stop command is a bigger step still),
        and a slow-down the governor asked for must reach the wire in the same tick; how fast
        the belt itself decelerates is the governor's (and the treadmill's) business."""
        dt = max(0.0, now_s - self._ramp_at_s)
        self._ramp_at_s = now_s
        goal = self.target_kmh if running else 0.0
        max_change = self.ramp_kmh_per_s * dt
        if goal <= self.ramp_kmh or goal - self.ramp_kmh <= max_change:
            self.ramp_kmh = goal
        else:
            self.ramp_kmh += max_change

    def desired_tenths(self, now_s: float, running: bool, sent_tenths: int) -> int:
        """The speed digits the wire may carry now, tenths of the treadmill's unit."""
        per = self.unit_per_kmh * 10.0
        controlled = self.controlled
        if controlled is not None:
            elapsed = now_s - controlled.start_s
            kmh = controlled.from_kmh - controlled.decel_mps2 * KMH_PER_MPS * elapsed
            # One step below the profile: the first lowered A3 goes out the moment the stop is
            # asked for (the latency budget counts the first byte that lowers the speed), and
            # the stop is at most one 0.1-unit step quicker than asked, never slower.
            profile = math.ceil(kmh * per - 1e-9) - 1
            return max(0, min(sent_tenths, controlled.from_tenths - 1, profile))
        if not running:
            return 0
        if self.ramp_kmh == self.target_kmh:
            tenths = speed_tenths(self.target_kmh * self.unit_per_kmh,
                                  self.max_speed_kmh * self.unit_per_kmh)
        elif self.ramp_kmh < self.target_kmh:
            tenths = math.floor(self.ramp_kmh * per + 1e-9)  # rising: never ahead of the ramp
        else:
            tenths = math.ceil(self.ramp_kmh * per - 1e-9)  # falling: never ahead of the ramp
        return max(0, min(tenths, self.cap_tenths))
