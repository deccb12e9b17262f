"""Metric definitions for ``treadguard evaluate`` (stop-level alarms only).

Definitions:

* An *alarm* starts at a sample whose decision is STOP when the previous sample's was not.
  Alarms closer than :data:`MERGE_S` (2 s) count once: an alarm starting less than 2 s after
  the previous alarm's start joins it (so a chain 0 s, 1.5 s, 3 s is one alarm; 0 s, 2 s is two).
* A fall with labelled onset and impact is *detected* when its first alarm lies between
  ``onset − 100 ms`` and ``impact``, both inclusive. An earlier first alarm makes the trial a
  miss (counted in ``early_alarms``); a later one, or none, is a miss. Lead time =
  impact − first alarm; latency after onset = first alarm − onset (negative when the alarm
  came in the 100 ms before the labelled onset).
* A fall without labels (SisFall) is detected when it has any alarm; it has no lead time.
* Daily activities: ``specificity`` = fraction of trials with no alarm;
  ``false_alarms_per_hour`` = merged alarms / hours streamed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MERGE_S = 2.0
"""Alarms starting closer than this to the previous alarm count once, seconds."""
EARLY_TOLERANCE_S = 0.1
"""A first alarm up to this long before the labelled onset still counts as detected, seconds."""

GAIT_FALLS: dict[str, frozenset[str]] = {
    "kfall": frozenset(f"F{i:02d}" for i in range(9, 16)),
    "sisfall": frozenset(f"F{i:02d}" for i in range(1, 8)),
}
"""Falls while walking or jogging, by dataset (KFall F09–F15; SisFall F01–F07)."""
GAIT_ADL: dict[str, frozenset[str]] = {
    "kfall": frozenset(f"D{i:02d}" for i in range(6, 10)),
    "sisfall": frozenset(f"D{i:02d}" for i in range(1, 5)),
}
"""Walking and jogging, by dataset (KFall D06–D09; SisFall D01–D04)."""


@dataclass(frozen=True)
class TrialResult:
    """What the detector did on one trial (times in seconds from the trial's first sample).

    Attributes:
        subject, file, task_code, kind: as in :class:`~controller.evaluate.trial.Trial`.
        duration_s: length streamed, seconds.
        alarm_starts_s: start of every stop alarm (before merging), increasing.
        first_caution_s: first sample at CAUTION or above, or None.
        onset_s, impact_s: the fall labels, or None.
    """

    subject: str
    file: str
    task_code: str
    kind: str
    duration_s: float
    alarm_starts_s: tuple[float, ...]
    first_caution_s: float | None = None
    onset_s: float | None = None
    impact_s: float | None = None

    @property
    def first_stop_s(self) -> float | None:
        return self.alarm_starts_s[0] if self.alarm_starts_s else None

    @property
    def stop_alarms(self) -> int:
        """Alarm count after merging alarms closer than 2 s."""
        return merged_count(self.alarm_starts_s)

    @property
    def labelled(self) -> bool:
        return self.onset_s is not None and self.impact_s is not None

    @property
    def outcome(self) -> str:
        """For a fall: ``detected``, ``early`` (first alarm before onset − 100 ms), ``late``
        (first alarm after impact) or ``missed`` (no alarm). For a daily activity: ``alarm``
        or ``clean``."""
        first = self.first_stop_s
        if self.kind != "fall":
            return "clean" if first is None else "alarm"
        if first is None:
            return "missed"
        if not self.labelled:
            return "detected"
        assert self.onset_s is not None and self.impact_s is not None
        if first < self.onset_s - EARLY_TOLERANCE_S - 1e-9:
            return "early"
        if first > self.impact_s + 1e-9:
            return "late"
        return "detected"


def merged_count(starts: Sequence[float], merge_s: float = MERGE_S) -> int:
    """Number of alarms once alarms starting less than ``merge_s`` after the previous merge."""
    count = 0
    previous: float | None = None
    for s in starts:
        if previous is None or s - previous >= merge_s:
            count += 1
        previous = s
    return count


def alarm_starts(times_s: Sequence[float], is_stop: Sequence[bool]) -> list[float]:
    """Start times of stop alarms: samples at STOP whose predecessor was not."""
    out: list[float] = []
    prev = False
    for t, s in zip(times_s, is_stop, strict=True):
        if s and not prev:
            out.append(t)
        prev = s
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear interpolation between closest ranks (numpy's
    default). ``values`` must be non-empty."""
    v = sorted(values)
    if not v:
        raise ValueError("percentile of no values")
    pos = (len(v) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summary_ms(values_s: Sequence[float]) -> dict[str, float | None]:
    """``{"median", "p10", "mean"}`` of ``values_s`` converted to milliseconds (None if empty)."""
    if not values_s:
        return {"median": None, "p10": None, "mean": None}
    ms = [v * 1000.0 for v in values_s]
    return {
        "median": round(percentile(ms, 50), 1),
        "p10": round(percentile(ms, 10), 1),
        "mean": round(sum(ms) / len(ms), 1),
    }


def fall_metrics(results: Iterable[TrialResult]) -> dict[str, Any]:
    """The ``falls`` object: trials, detected, sensitivity, lead time and latency after onset."""
    falls = [r for r in results if r.kind == "fall"]
    detected = [r for r in falls if r.outcome == "detected"]
    leads = [r.impact_s - r.first_stop_s for r in detected  # type: ignore[operator]
             if r.labelled]
    latencies = [r.first_stop_s - r.onset_s for r in detected  # type: ignore[operator]
                 if r.labelled]
    return {
        "trials": len(falls),
        "detected": len(detected),
        "sensitivity": round(len(detected) / len(falls), 4) if falls else None,
        "early_alarms": sum(r.outcome == "early" for r in falls),
        "late_alarms": sum(r.outcome == "late" for r in falls),
        "no_alarm": sum(r.outcome == "missed" for r in falls),
        "lead_time_ms": summary_ms(leads),
        "latency_after_onset_ms": summary_ms(latencies),
    }


def adl_metrics(results: Iterable[TrialResult]) -> dict[str, Any]:
    """The ``adl`` object: trials, trials_with_alarm, specificity, hours, false alarms/hour."""
    adl = [r for r in results if r.kind != "fall"]
    with_alarm = sum(r.first_stop_s is not None for r in adl)
    hours = sum(r.duration_s for r in adl) / 3600.0
    alarms = sum(r.stop_alarms for r in adl)
    return {
        "trials": len(adl),
        "trials_with_alarm": with_alarm,
        "specificity": round(1.0 - with_alarm / len(adl), 4) if adl else None,
        "hours": round(hours, 4),
        "false_alarms_per_hour": round(alarms / hours, 2) if hours > 0 else None,
    }


def report(
    results: Sequence[TrialResult], *, detector: str, dataset: str, cost_us_per_sample: float
) -> dict[str, Any]:
    """The whole JSON report: detector, dataset, falls, adl, by_task, gait, cost_us_per_sample."""
    codes = sorted({r.task_code for r in results})
    by_task: dict[str, Any] = {}
    for code in codes:
        rs = [r for r in results if r.task_code == code]
        entry: dict[str, Any] = {"kind": rs[0].kind}
        if any(r.kind == "fall" for r in rs):
            entry["falls"] = fall_metrics(rs)
        if any(r.kind != "fall" for r in rs):
            entry["adl"] = adl_metrics(rs)
        by_task[code] = entry
    gait_falls = GAIT_FALLS.get(dataset, frozenset())
    gait_adl = GAIT_ADL.get(dataset, frozenset())
    return {
        "detector": detector,
        "dataset": dataset,
        "falls": fall_metrics(results),
        "adl": adl_metrics(results),
        "by_task": by_task,
        "gait": {
            "falls": fall_metrics([r for r in results
                                   if r.kind == "fall" and r.task_code in gait_falls]),
            "adl": adl_metrics([r for r in results
                                if r.kind != "fall" and r.task_code in gait_adl]),
        },
        "cost_us_per_sample": round(cost_us_per_sample, 2),
    }


TRIALS_CSV_HEADER = ("subject", "file", "task_code", "kind", "duration_s", "first_stop_s",
                     "stop_alarms", "first_caution_s", "onset_s", "impact_s", "outcome")


def trial_row(r: TrialResult) -> list[str]:
    """One ``--trials-csv`` row (empty strings for missing times)."""

    def fmt(v: float | None) -> str:
        return "" if v is None else f"{v:.3f}"

    return [r.subject, r.file, r.task_code, r.kind, f"{r.duration_s:.3f}", fmt(r.first_stop_s),
            str(r.stop_alarms), fmt(r.first_caution_s), fmt(r.onset_s), fmt(r.impact_s),
            r.outcome]
