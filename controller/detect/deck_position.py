"""Position on the deck: caution when the runner drifts out of the middle, stop at the ends.

A backward runner cannot see where they are going; on a treadmill that means drifting back
towards the deck's rear end (losing pace) or forward into the console (overtaking the belt).
The console's distance sensor (:mod:`hardware.vl53l1x`) measures the distance to the runner's
back; ``[deck]`` sets four nested limits:

- within ``stop_within_m`` or beyond ``stop_beyond_m``, held for ``stop_hold_s``: STOP
  ``deck_drift`` (the hold keeps one swinging arm from stopping the belt);
- within ``caution_within_m``: CAUTION ``deck_drift_forward``; beyond ``caution_beyond_m``:
  CAUTION ``deck_drift_back`` (slow down and warn).

Readings that are not valid carry no position and change nothing here: "position unknown" is
the health's verdict (:mod:`controller.health_deck`), never "in the middle".
"""

from __future__ import annotations

from controller.config import DeckSettings
from controller.detect.base import OK, Decision, Level
from controller.stop_reasons import StopReason
from hardware.vl53l1x import RangeReading


class DeckPositionDetector:
    """Streams :class:`~hardware.vl53l1x.RangeReading`\\ s into decisions.

    Args:
        settings: ``[deck]`` limits (metres from the sensor) and the stop hold time.
    """

    name = "deck_position"

    def __init__(self, settings: DeckSettings) -> None:
        self._s = settings
        self._outside_since_s: float | None = None
        self.distance_m: float | None = None  # the last valid distance (for the display)

    def reset(self) -> None:
        self._outside_since_s = None
        self.distance_m = None

    def update(self, reading: RangeReading) -> Decision:
        if not reading.valid:
            return OK
        s = self._s
        d = self.distance_m = reading.distance_m
        if d <= s.stop_within_m or d >= s.stop_beyond_m:
            if self._outside_since_s is None:
                self._outside_since_s = reading.t_s
            held_s = reading.t_s - self._outside_since_s
            where = "into the console" if d <= s.stop_within_m else "to the deck's end"
            if held_s >= s.stop_hold_s:
                return Decision(Level.STOP, StopReason.DECK_DRIFT,
                                f"runner {d:.2f} m from the console: drifted {where}")
        else:
            self._outside_since_s = None
        if d <= s.caution_within_m:
            return Decision(Level.CAUTION, "deck_drift_forward",
                            f"runner {d:.2f} m from the console")
        if d >= s.caution_beyond_m:
            return Decision(Level.CAUTION, "deck_drift_back", f"runner {d:.2f} m from the console")
        return OK
