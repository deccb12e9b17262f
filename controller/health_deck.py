"""Health of the deck position sensor (the VL53L1X facing the runner): is it still ranging?

A position sensor that stopped measuring, froze, or sees nobody must not read as "the runner
holds their place". Each check is a STOP, named:

- ``deck_stale``: no completed measurement for ``[deck] stale_after_s`` (a sensor that lost
  power comes back with ranging stopped: it goes stale too), always;
- ``i2c_error_budget``: bus errors beyond ``[health] i2c_errors_per_s``, always;
- ``deck_stuck``: ``[deck] stuck_readings`` identical distances in a row, belt running (a live
  sensor's distance carries millimetres of noise);
- ``deck_position_unknown``: no valid distance for ``[deck] unknown_after_s``, belt running
  (nobody within range: the runner stepped off, or something blocks the sensor).

The checks while the belt runs also apply to the arming checklist (``belt_running=True``).
"""

from __future__ import annotations

from controller.config import DeckSettings, HealthSettings
from controller.detect.base import OK, Decision, Level
from controller.health import ErrorBudget, StuckCounter
from controller.stop_reasons import StopReason
from hardware.clock import Clock
from hardware.vl53l1x import RangeReading


class DeckHealth:
    """Health of the deck position sensor, fed every reading and every bus error.

    Args:
        deck: ``[deck]`` settings (freshness, unknown time, stuck count).
        health: ``[health]`` settings (the I²C error budget).
        clock: the injected clock (a sensor that never measures goes stale
            ``stale_after_s`` after the health was built).
    """

    def __init__(self, deck: DeckSettings, health: HealthSettings, clock: Clock) -> None:
        self._s = deck
        self.errors = ErrorBudget(health.i2c_errors_per_s, clock, "deck sensor")
        self._last_s = clock.now_s()
        self._valid_s = clock.now_s()
        self._stuck: StuckCounter[int] = StuckCounter()

    def on_error(self, exc: OSError) -> None:
        """A bus error from the driver: counted against the error budget."""
        self.errors.on_error(exc)

    def on_reading(self, reading: RangeReading) -> None:
        self._last_s = reading.t_s
        if reading.valid:
            self._valid_s = reading.t_s
            self._stuck.see(round(reading.distance_m * 1000.0))
        else:
            self._stuck.see(None)

    def check(self, now_s: float, belt_running: bool) -> Decision:
        """The sensor's health now: :data:`OK` or a STOP (first that applies)."""
        s = self._s
        age_s = now_s - self._last_s
        if age_s > s.stale_after_s:
            return Decision(Level.STOP, StopReason.DECK_STALE,
                            f"deck sensor: no measurement for {1000 * age_s:.0f} ms")
        budget = self.errors.check(now_s)
        if budget is not OK or not belt_running:
            return budget
        if self._stuck.in_a_row >= s.stuck_readings:
            return Decision(Level.STOP, StopReason.DECK_STUCK,
                            f"deck sensor: {self._stuck.in_a_row} identical distances in a row: "
                            f"frozen")
        unknown_s = now_s - self._valid_s
        if unknown_s > s.unknown_after_s:
            return Decision(Level.STOP, StopReason.DECK_POSITION_UNKNOWN,
                            f"deck sensor: no valid distance for {unknown_s:.1f} s "
                            f"(nobody within range)")
        return OK
