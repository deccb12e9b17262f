"""Tick lateness: how late each tick of the loop started, counted for the whole life of the
process in constant memory and constant time per tick.

A tick is *late* by the time between when it was due (the loop's schedule) and when it began.
A *missed deadline* is a tick that began more than one loop period late (the next one was
already due). The *gap* is the time between the starts of two ticks; the longest one is what the
loop's stall check (``[controller] stall_after_s``) and the watchdog thread judge.

Percentiles come from a histogram of log-spaced bins (16 per factor of two, from 1 µs up to
about 4000 s): recording is one ``log2`` and one increment, never an allocation, so it can run
inside the tick for years; a percentile is exact to within one bin (≤ 4.4 %), reported as the
bin's upper edge (never an underestimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

BINS_PER_OCTAVE: Final = 16
FLOOR_S: Final = 1e-6
"""Everything up to 1 µs falls in the first bin (a tick on time)."""
N_BINS: Final = 32 * BINS_PER_OCTAVE  # 1 µs · 2³² ≈ 4300 s


@dataclass(frozen=True)
class LatenessSummary:
    """A snapshot of :class:`LatenessStats`, seconds."""

    ticks: int
    p50_s: float
    p99_s: float
    max_s: float
    missed: int
    longest_gap_s: float

    def line(self) -> str:
        """One line for a person (the exit summary, the status)."""
        if self.ticks == 0:
            return "tick lateness: no ticks"
        return (f"tick lateness over {self.ticks} ticks: p50 {_ms(self.p50_s)}, "
                f"p99 {_ms(self.p99_s)}, max {_ms(self.max_s)}; {self.missed} missed "
                f"deadline(s); longest gap between ticks {_ms(self.longest_gap_s)}")


def _ms(t_s: float) -> str:
    return f"{t_s * 1000:.3f} ms" if t_s < 0.01 else f"{t_s * 1000:.1f} ms"


class LatenessStats:
    """Counts tick lateness and gaps.

    Args:
        period_s: the loop period, s (a tick later than this missed its deadline).
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._bins = [0] * N_BINS
        self.ticks = 0
        self.max_s = 0.0
        self.missed = 0
        self.longest_gap_s = 0.0
        self.window_max_s = 0.0
        """The largest lateness since :meth:`take_window_max` last read it (telemetry)."""

    def record(self, late_s: float) -> None:
        """One tick began ``late_s`` seconds after it was due (negative counts as 0)."""
        late_s = max(late_s, 0.0)
        self.ticks += 1
        if late_s > self.max_s:
            self.max_s = late_s
        if late_s > self.window_max_s:
            self.window_max_s = late_s
        if late_s > self.period_s:
            self.missed += 1
        self._bins[_bin(late_s)] += 1

    def record_gap(self, gap_s: float) -> None:
        """The time between the starts of two ticks, s."""
        if gap_s > self.longest_gap_s:
            self.longest_gap_s = gap_s

    def take_window_max(self) -> float:
        """The largest lateness since the previous call, s; starts a new window."""
        value, self.window_max_s = self.window_max_s, 0.0
        return value

    def percentile_s(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the lateness, s: the upper edge of its bin, capped at
        the maximum seen."""
        if self.ticks == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.ticks))
        seen = 0
        for i, count in enumerate(self._bins):
            seen += count
            if seen >= rank:
                return min(_upper_edge(i), self.max_s)
        return self.max_s

    def summary(self) -> LatenessSummary:
        return LatenessSummary(self.ticks, self.percentile_s(0.50), self.percentile_s(0.99),
                               self.max_s, self.missed, self.longest_gap_s)


def _bin(late_s: float) -> int:
    if late_s <= FLOOR_S:
        return 0
    i = 1 + int(math.log2(late_s / FLOOR_S) * BINS_PER_OCTAVE)
    return min(i, N_BINS - 1)


def _upper_edge(i: int) -> float:
    if i == 0:
        return FLOOR_S
    return float(FLOOR_S * 2.0 ** (i / BINS_PER_OCTAVE))
