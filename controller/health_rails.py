"""Handrail health: are the rail chips still reading, chip by chip?

The reasons (``rails_stale``, ``i2c_error_budget``, ``rails_stuck``, ``rail_force_reset``,
``rail_touch_reset``) and why a chip whose configuration read back wrong stays suspect are in
:mod:`controller.health`, with the freshness and error-budget logic this shares with the IMU's
health (:class:`~controller.health.SensorHealth`). A frozen or reset force chip hides a grab on
its rail, a frozen touch chip with a hand on it hides that the runner let go: each STOP here
stops the belt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from controller.config import HealthSettings
from controller.detect.base import OK, Decision, Level
from controller.health import SensorHealth, StuckCounter
from controller.stop_reasons import RAIL_RESET_REASON, StopReason
from hardware.clock import Clock
from hardware.rail_sample import ChipReport, RailSample

FORCE_CHIP_FROZEN_READINGS: Final = 20
"""Identical consecutive conversion codes of one ADS1115 that count as frozen (100 ms at
200 Hz). A frozen force chip hides a grab on its rail, so this is short; it is twice the
``stuck_samples`` default because one chip repeats a code far more often than two chips at
once: the twin (2 LSB rms noise) repeats a code up to 8 times in a row in 20 simulated minutes
(``scripts/rail_noise_runs.py``, 3 seeds, both layouts). A named constant rather than a
``[health]`` option for now."""

TOUCH_CHIP_FROZEN_READINGS: Final = 200
"""Identical consecutive filtered data of all the MPR121's enabled electrodes that count as
frozen (1 s at 200 Hz). A scanning chip's filtered data always carries a count or so of noise,
but with few electrodes a repeat is common (the twin, ±1 count on 2 electrodes: up to 13
identical readings in a row in 20 simulated minutes, same script), and a frozen touch chip
delays the no-runner check (40 s) or the hands-off check rather than hiding a grab, so the
margin is wide: 1 s. A named constant rather than a ``[health]`` option for now."""


@dataclass
class _Chip:
    """What rails health remembers about one chip (by its :attr:`ChipReport.chip` name)."""

    kind: str  # "touch" or "force" (ChipReport.kind)
    frozen_after: int  # identical readings that count as frozen
    stuck: StuckCounter[tuple[int, ...]] = field(default_factory=StuckCounter)
    fault: str = ""  # the first configuration read-back fault (kept: see the module doc)


class RailsHealth(SensorHealth[RailSample]):
    """Health of the handrail sensors (only built when rails are fitted), as a whole and chip
    by chip (:attr:`RailSample.chips`).

    Args:
        settings: ``[health]`` thresholds (the same freshness and stuck limits as the IMU).
        clock: the injected clock.

    Every verdict is a STOP; those about frozen or reset chips only while the belt runs (and
    in the strict arming check, ``belt_running=True``): a stopped belt has nothing to stop.
    """

    def __init__(self, settings: HealthSettings, clock: Clock) -> None:
        super().__init__(settings, clock, "rails")
        self._stuck: StuckCounter[tuple[float | tuple[int, int] | None, ...]] = StuckCounter()
        self._stuck_force: StuckCounter[tuple[float | None, float | None]] = StuckCounter()
        self._chips: dict[str, _Chip] = {}

    def _on_chip(self, report: ChipReport) -> None:
        chip = self._chips.get(report.chip)
        if chip is None:
            frozen_after = (TOUCH_CHIP_FROZEN_READINGS if report.kind == "touch"
                            else FORCE_CHIP_FROZEN_READINGS)
            chip = self._chips[report.chip] = _Chip(report.kind, frozen_after)
        if report.config_fault and not chip.fault:
            chip.fault = report.config_fault
        if report.raw:
            chip.stuck.see(report.raw)

    def on_sample(self, sample: RailSample) -> None:
        if self._seen(sample):
            return
        for report in sample.chips:
            self._on_chip(report)
        # Everything the chips measured, identical: live ADCs and touch electrodes jitter.
        measured = (sample.force_left_n, sample.force_right_n, sample.touch_counts)
        self._stuck.see(measured if any(v is not None for v in measured) else None)
        # The force ADCs on their own: a frozen ADS1115 beside a live MPR121 would otherwise
        # never count as stuck, and a grab or overload would go unseen. Raw volts, because the
        # forces are clamped to exactly 0 N with no hand on the rail.
        volts = sample.force_volts
        self._stuck_force.see(
            volts if volts is not None and any(v is not None for v in volts) else None)
        self._last = sample

    def _stale(self, age_s: float) -> Decision:
        return Decision(Level.STOP, StopReason.RAILS_STALE,
                        f"rails: no reading for {1000 * age_s:.0f} ms")

    def check(self, now_s: float, belt_running: bool) -> Decision:
        """The rails' health now: :data:`OK` or a STOP with a named reason (first that applies:
        no reading, bad bus, then — belt running — a reset chip, a frozen chip, all frozen)."""
        s = self._s
        timed = self._time_checks(now_s)
        if timed is not OK:
            return timed
        if not belt_running:
            return OK
        # A lost configuration first: it is the cause when a reset chip also reads frozen.
        for name, chip in self._chips.items():
            if chip.fault:
                return Decision(Level.STOP, RAIL_RESET_REASON[chip.kind],
                                f"rails: {name}: {chip.fault}")
        for name, chip in self._chips.items():
            if chip.stuck.in_a_row >= chip.frozen_after:
                return Decision(Level.STOP, StopReason.RAILS_STUCK,
                                f"rails: {name}: {chip.stuck.in_a_row} identical readings "
                                f"in a row: frozen (limit {chip.frozen_after})")
        if self._stuck.in_a_row >= s.stuck_samples:
            return Decision(Level.STOP, StopReason.RAILS_STUCK,
                            f"rails: {self._stuck.in_a_row} identical readings in a row: frozen")
        if self._stuck_force.in_a_row >= s.stuck_samples:
            # Every force chip frozen at once (both rails, or the alternate layout's one chip).
            names = ", ".join(n for n, c in self._chips.items() if c.kind == "force")
            return Decision(Level.STOP, StopReason.RAILS_STUCK,
                            f"rails: {names + ': ' if names else ''}"
                            f"{self._stuck_force.in_a_row} identical force readings in a row: "
                            f"frozen")
        return OK
