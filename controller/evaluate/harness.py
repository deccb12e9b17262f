"""Stream trials through a detector exactly as the loop would while the belt runs.

Each trial is resampled to the loop rate, converted to SI :class:`~hardware.imu.ImuSample`
and fed, one sample at a time and in order, to the detector object the loop uses (after a
``reset()``, as at the start of a session). Only the ``update`` calls are timed, for
``cost_us_per_sample``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from controller.detect.base import Detector, Level
from controller.evaluate.metrics import TrialResult, alarm_starts
from controller.evaluate.trial import LOOP_RATE_HZ, Trial, resample, samples


@dataclass
class Cost:
    """Accumulated detector time, for ``cost_us_per_sample``."""

    seconds: float = 0.0
    samples: int = 0

    @property
    def us_per_sample(self) -> float:
        return 1e6 * self.seconds / self.samples if self.samples else 0.0


def run_trial(detector: Detector, trial: Trial, cost: Cost | None = None,
              rate_hz: float = LOOP_RATE_HZ) -> TrialResult:
    """Feed one trial through ``detector`` (reset first) and summarise its alarms."""
    tr = resample(trial, rate_hz)
    stream = list(samples(tr))
    detector.reset()
    update = detector.update
    start = time.perf_counter()
    levels = [update(s).level for s in stream]
    elapsed = time.perf_counter() - start
    if cost is not None:
        cost.seconds += elapsed
        cost.samples += len(stream)
    times = [s.t_s for s in stream]
    stops = alarm_starts(times, [lv is Level.STOP for lv in levels])
    first_caution = next((t for t, lv in zip(times, levels, strict=True)
                          if lv >= Level.CAUTION), None)
    return TrialResult(
        subject=tr.subject,
        file=tr.file,
        task_code=tr.task_code,
        kind=tr.kind,
        duration_s=tr.duration_s,
        alarm_starts_s=tuple(stops),
        first_caution_s=first_caution,
        onset_s=tr.onset_s,
        impact_s=tr.impact_s,
    )


def run_all(detector: Detector, trials: Iterable[Trial], cost: Cost | None = None
            ) -> Iterator[TrialResult]:
    """:func:`run_trial` over ``trials``, lazily (one trial in memory at a time)."""
    for trial in trials:
        yield run_trial(detector, trial, cost)
