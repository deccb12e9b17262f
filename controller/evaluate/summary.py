"""The ``treadguard evaluate`` report as a table for people: one column per detector.

Every cell is a figure of the JSON report (:func:`controller.evaluate.metrics.report`), only
formatted: fractions as percentages, times in milliseconds, None as ``—``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.evaluate.metrics import GAIT_ADL, GAIT_FALLS
from controller.report_table import MISSING, fmt, table


def percent(fraction: float | None) -> str:
    """A fraction (0–1) as ``98.93 %``, or ``—``."""
    return MISSING if fraction is None else f"{fraction * 100:.2f} %"


def ms_triple(summary: Mapping[str, float | None]) -> str:
    """``{"median", "p10", "mean"}`` in ms as ``median / p10 / mean``, or ``—``."""
    if summary["median"] is None:
        return MISSING
    return " / ".join(fmt(summary[k]) for k in ("median", "p10", "mean"))


def _falls_rows(title: str, falls: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [title],
        ["  trials", *(fmt(f["trials"]) for f in falls)],
        ["  detected", *(fmt(f["detected"]) for f in falls)],
        ["  sensitivity", *(percent(f["sensitivity"]) for f in falls)],
        ["  missed: early / late / no alarm",
         *(f"{f['early_alarms']} / {f['late_alarms']} / {f['no_alarm']}" for f in falls)],
        ["  lead time, ms: median / p10 / mean", *(ms_triple(f["lead_time_ms"]) for f in falls)],
        ["  latency after onset, ms: median / p10 / mean",
         *(ms_triple(f["latency_after_onset_ms"]) for f in falls)],
    ]


def _adl_rows(title: str, adl: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [title],
        ["  trials", *(fmt(a["trials"]) for a in adl)],
        ["  trials with a stop", *(fmt(a["trials_with_alarm"]) for a in adl)],
        ["  specificity", *(percent(a["specificity"]) for a in adl)],
        ["  hours streamed", *(fmt(a["hours"]) for a in adl)],
        ["  false alarms per hour", *(fmt(a["false_alarms_per_hour"]) for a in adl)],
    ]


def _task_cell(entry: Mapping[str, Any] | None) -> str:
    """One task code for one detector: falls ``detected/trials, lead median ms``; activities
    ``trials with a stop/trials, false alarms per hour``."""
    if entry is None:
        return MISSING
    parts = []
    if "falls" in entry:
        f = entry["falls"]
        lead = f["lead_time_ms"]["median"]
        parts.append(f"{f['detected']}/{f['trials']} detected"
                     + ("" if lead is None else f", lead {fmt(lead)} ms"))
    if "adl" in entry:
        a = entry["adl"]
        parts.append(f"{a['trials_with_alarm']}/{a['trials']} stopped, "
                     f"{fmt(a['false_alarms_per_hour'])} /h")
    return "; ".join(parts)


def summary_rows(reports: Sequence[Mapping[str, Any]], *, by_task: bool = False
                 ) -> list[list[str]]:
    """The table's rows for ``reports`` (one JSON report per detector, same dataset)."""
    dataset = reports[0]["dataset"]
    gait_f = sorted(GAIT_FALLS.get(dataset, ()))
    gait_a = sorted(GAIT_ADL.get(dataset, ()))
    gait_f_title = f"gait falls ({gait_f[0]}–{gait_f[-1]})" if gait_f else "gait falls"
    gait_a_title = (f"walking and jogging ({gait_a[0]}–{gait_a[-1]})" if gait_a
                    else "walking and jogging")
    rows = [
        *_falls_rows("falls", [r["falls"] for r in reports]),
        *_adl_rows("daily activities", [r["adl"] for r in reports]),
        *_falls_rows(gait_f_title, [r["gait"]["falls"] for r in reports]),
        *_adl_rows(gait_a_title, [r["gait"]["adl"] for r in reports]),
        ["cost per sample, µs", *(fmt(r["cost_us_per_sample"]) for r in reports)],
    ]
    if by_task:
        codes = sorted({c for r in reports for c in r["by_task"]})
        rows.append(["by task"])
        rows += [[f"  {c}", *(_task_cell(r["by_task"].get(c)) for r in reports)]
                 for c in codes]
    return rows


def summary_table(reports: Sequence[Mapping[str, Any]], *, by_task: bool = False) -> str:
    """The whole summary: a title line naming the dataset, then the table."""
    header = ["", *(str(r["detector"]) for r in reports)]
    return (f"treadguard evaluate: {reports[0]['dataset']}\n\n"
            + table(summary_rows(reports, by_task=by_task), header))
