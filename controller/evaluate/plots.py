"""``treadguard evaluate --plots DIR``: the figures as PNGs, to choose by looking.

* ``lead_time.png``: lead time (impact − first stop) of every detected labelled fall, per fall
  type, one box per detector;
* ``latency.png``: latency after the labelled onset, distribution per detector;
* ``false_alarms.png``: stop alarms per hour for each daily-activity type, per detector;
* ``threshold_sweep.png`` (detectors with a score): sensitivity and median lead time against
  false alarms per hour, one point per threshold, the configured one marked.

matplotlib (the ``report`` extra) with the headless ``Agg`` backend: no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: a Pi over ssh has no display

import matplotlib.pyplot as plt  # (after the backend is chosen)
from matplotlib.figure import Figure

from controller.evaluate.metrics import TrialResult, adl_metrics

Results = Mapping[str, Sequence[TrialResult]]
"""Trial results by detector name (the first is the evaluated detector)."""

SweepPoint = tuple[float, Mapping[str, Any]]
"""A threshold and the JSON report of the detector run with it."""


def _lead_ms(r: TrialResult) -> float:
    assert r.impact_s is not None and r.first_stop_s is not None
    return (r.impact_s - r.first_stop_s) * 1000.0


def _latency_ms(r: TrialResult) -> float:
    assert r.onset_s is not None and r.first_stop_s is not None
    return (r.first_stop_s - r.onset_s) * 1000.0


def _detected(results: Sequence[TrialResult]) -> list[TrialResult]:
    return [r for r in results if r.kind == "fall" and r.labelled and r.outcome == "detected"]


def lead_time_figure(results: Results) -> Figure | None:
    """Boxes of lead time per fall type and detector (ms); None without labelled falls."""
    detected = {name: _detected(rs) for name, rs in results.items()}
    codes = sorted({r.task_code for rs in detected.values() for r in rs})
    if not codes:
        return None
    wide = min(12.0, max(6.0, 0.4 * len(codes) * len(results) + 2))  # inches
    fig, ax = plt.subplots(figsize=(wide, 4.0))
    width = 0.8 / len(results)
    for k, (name, rs) in enumerate(detected.items()):
        data = [[_lead_ms(r) for r in rs if r.task_code == c] for c in codes]
        positions = [i + (k - (len(results) - 1) / 2) * width for i in range(len(codes))]
        kept = [(p, d) for p, d in zip(positions, data, strict=True) if d]
        if not kept:
            continue
        box = ax.boxplot([d for _, d in kept], positions=[p for p, _ in kept],
                         widths=width * 0.9, patch_artist=True, showfliers=True)
        color = f"C{k}"
        for patch in box["boxes"]:
            patch.set_facecolor(color)
            patch.set_alpha(0.6)
        ax.plot([], [], color=color, linewidth=8, alpha=0.6, label=name)
    ax.set_xticks(range(len(codes)), codes)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("fall type (task code)")
    ax.set_ylabel("lead time before impact, ms")
    ax.set_title("Lead time of detected falls (higher is earlier)")
    ax.legend()
    fig.tight_layout()
    return fig


def latency_figure(results: Results) -> Figure | None:
    """Histogram of latency after the labelled onset (ms) per detector; None without any."""
    latencies = {name: [_latency_ms(r) for r in _detected(rs)] for name, rs in results.items()}
    if not any(latencies.values()):
        return None
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    every = [v for vs in latencies.values() for v in vs]
    lo, hi = min(every), max(every)
    bins = [lo + (hi - lo + 1e-9) * i / 30 for i in range(31)]
    for name, vs in latencies.items():
        if vs:
            ax.hist(vs, bins=bins, alpha=0.55, label=f"{name} ({len(vs)} falls)")
    ax.set_xlabel("first stop after the labelled onset, ms")
    ax.set_ylabel("falls")
    ax.set_title("Latency after fall onset")
    ax.legend()
    fig.tight_layout()
    return fig


def false_alarms_figure(results: Results) -> Figure | None:
    """Horizontal bars of stop alarms per hour for each activity type and detector."""
    adl = {name: [r for r in rs if r.kind != "fall"] for name, rs in results.items()}
    codes = sorted({r.task_code for rs in adl.values() for r in rs}, reverse=True)
    if not codes:
        return None
    tall = min(8.0, max(3.0, 0.18 * len(codes) * len(results) + 1.5))  # inches
    fig, ax = plt.subplots(figsize=(7.0, tall))
    height = 0.8 / len(results)
    for k, (name, rs) in enumerate(adl.items()):
        rates = [adl_metrics([r for r in rs if r.task_code == c])["false_alarms_per_hour"] or 0.0
                 for c in codes]
        ax.barh([i + (k - (len(results) - 1) / 2) * height for i in range(len(codes))], rates,
                height=height, label=name, color=f"C{k}")
    ax.set_yticks(range(len(codes)), codes)
    ax.set_xlabel("stop alarms per hour streamed")
    ax.set_ylabel("daily activity (task code)")
    ax.set_title("False alarms per activity")
    ax.legend()
    fig.tight_layout()
    return fig


def sweep_figure(detector: str, option: str, configured: float,
                 sweep: Sequence[SweepPoint], gait: bool = False) -> Figure | None:
    """Sensitivity (%) and median lead time (ms) against false alarms per hour, one point per
    threshold of ``option``; ``configured`` is ringed. ``gait``: gait falls and walking /
    jogging only. None if no point has a false-alarm rate."""
    points = []
    for threshold, rep in sorted(sweep, key=lambda p: p[0]):
        part = rep["gait"] if gait else rep
        fah = part["adl"]["false_alarms_per_hour"]
        if fah is not None:
            points.append((threshold, fah, part["falls"]["sensitivity"],
                           part["falls"]["lead_time_ms"]["median"]))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    xs = [p[1] for p in points]
    sens = [100.0 * p[2] if p[2] is not None else float("nan") for p in points]
    ax.plot(xs, sens, "o-", color="C0", label="sensitivity")
    ax.set_xlabel("false alarms per hour (daily activities)")
    ax.set_ylabel("sensitivity, %", color="C0")
    # A rate is never negative: the axis starts at 0 (a little room for the markers) and spans
    # at least 1 /h, so a sweep with no false alarm at all is not drawn around -0.04 … 0.04.
    span = max(1.0, *xs)
    ax.set_xlim(-0.04 * span, 1.06 * span)
    lead_ax = ax.twinx()
    leads = [p[3] if p[3] is not None else float("nan") for p in points]
    lead_ax.plot(xs, leads, "s--", color="C1", label="median lead time")
    lead_ax.set_ylabel("median lead time, ms", color="C1")
    for threshold, x, s in zip((p[0] for p in points), xs, sens, strict=True):
        ax.annotate(f"{threshold:g}", (x, s), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
        if abs(threshold - configured) < 1e-9:
            ax.plot([x], [s], "o", markersize=14, markerfacecolor="none", color="k",
                    label=f"configured ({option} = {configured:g})")
    handles = ax.get_legend_handles_labels()
    lead_handles = lead_ax.get_legend_handles_labels()
    ax.legend(handles[0] + lead_handles[0], handles[1] + lead_handles[1], loc="lower right")
    ax.set_title(f"{detector}: threshold sweep of {option}"
                 + (" (gait falls, walking and jogging)" if gait else ""))
    fig.tight_layout()
    return fig


def write_plots(out_dir: Path, results: Results, sweep: tuple[str, str, float,
                Sequence[SweepPoint]] | None = None) -> list[Path]:
    """Write every figure that has data to ``out_dir`` (created); return the files written.
    ``sweep``: (detector, option, configured value, points), for detectors with a score."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Figure | None] = {
        "lead_time.png": lead_time_figure(results),
        "latency.png": latency_figure(results),
        "false_alarms.png": false_alarms_figure(results),
    }
    if sweep is not None:
        figures["threshold_sweep.png"] = sweep_figure(*sweep)
        figures["threshold_sweep_gait.png"] = sweep_figure(*sweep, gait=True)
    written = []
    for name, fig in figures.items():
        if fig is None:
            continue
        path = out_dir / name
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
