"""No-runner detector: the belt runs but nobody is on it.

After ``no_runner_s`` without a step and without rail contact while the belt runs, a CAUTION
``no_runner_countdown`` for ``no_runner_countdown_s`` (both ``[detect]``), then a STOP
``no_runner`` (Precor: 30 s without a user, a 10 s countdown, then stop). Any step or rail
contact restarts the count.
"""

from __future__ import annotations

from controller.config import DetectSettings
from controller.detect.base import OK, Decision, Level
from controller.stop_reasons import StopReason


class NoRunnerDetector:
    """``update(t_s, belt_running, steps, rail_contact)`` once per loop iteration.

    Args:
        settings: ``[detect]`` ``no_runner_s`` (no steps and no rail contact for this long
            starts the countdown) and ``no_runner_countdown_s`` (the CAUTION before the STOP).

    ``steps`` is the step counter's running total (:attr:`StepCounter.steps`); a change means
    a step was taken.
    """

    name = "no_runner"

    def __init__(self, settings: DetectSettings) -> None:
        self.absent_s = settings.no_runner_s
        self.countdown_s = settings.no_runner_countdown_s
        self.reset()

    def reset(self) -> None:
        self._last_seen_s: float | None = None
        self._steps: int | None = None

    def update(self, t_s: float, belt_running: bool, steps: int, rail_contact: bool) -> Decision:
        if not belt_running or rail_contact or steps != self._steps or self._last_seen_s is None:
            self._last_seen_s = t_s
            self._steps = steps
            return OK
        absent = t_s - self._last_seen_s
        if absent >= self.absent_s + self.countdown_s:
            return Decision(Level.STOP, StopReason.NO_RUNNER,
                            f"no steps and no rail contact for {absent:.0f} s")
        if absent >= self.absent_s:
            left = self.absent_s + self.countdown_s - absent
            return Decision(Level.CAUTION, "no_runner_countdown", f"stopping in {left:.0f} s")
        return OK
