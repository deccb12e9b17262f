"""Injected clocks.

Everything that needs time takes a :class:`Clock`. The daemon uses :class:`MonotonicClock`;
simulations and tests use :class:`SimClock`, which only moves when told to, so a simulated
session is deterministic and can run faster than real time. Nothing in the project calls
``time.monotonic()`` or ``time.sleep()`` directly except :class:`MonotonicClock` (and the
``pace`` option of :class:`SimClock`, which only slows a simulation down for a human to watch).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of monotonic time in seconds."""

    def now_s(self) -> float:
        """Current time in seconds. Monotonic; the epoch is arbitrary."""
        ...

    def sleep_until(self, t_s: float) -> None:
        """Return once :meth:`now_s` ≥ ``t_s`` (immediately if it already is)."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic()``, immune to wall-clock steps (NTP, RTC-less boots)."""

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_until(self, t_s: float) -> None:
        delay_s = t_s - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)


class SimClock:
    """Simulated time that advances only through :meth:`advance_s` / :meth:`sleep_until`.

    Args:
        start_s: initial time, seconds (default 0.0).
        pace: 0 (default) = as fast as possible; 1.0 = follow real time so a person can
            watch a simulated session; 2.0 = twice real time, and so on. Pacing only adds
            real sleeps; the simulated times seen by the code are identical either way.
    """

    def __init__(self, start_s: float = 0.0, pace: float = 0.0) -> None:
        if not start_s >= 0.0:
            raise ValueError(f"SimClock start_s must be ≥ 0, got {start_s!r}")
        if not pace >= 0.0:
            raise ValueError(f"SimClock pace must be ≥ 0, got {pace!r}")
        self._now_s = float(start_s)
        self._pace = float(pace)
        self._real_origin_s = time.monotonic()
        self._sim_origin_s = self._now_s

    def now_s(self) -> float:
        return self._now_s

    def advance_s(self, dt_s: float) -> None:
        """Move time forward by ``dt_s`` seconds (must be ≥ 0: time never runs backwards)."""
        if not dt_s >= 0.0:
            raise ValueError(f"SimClock cannot go backwards (dt_s={dt_s!r})")
        self.sleep_until(self._now_s + dt_s)

    def sleep_until(self, t_s: float) -> None:
        if t_s <= self._now_s:
            return
        if self._pace > 0.0:
            real_target_s = self._real_origin_s + (t_s - self._sim_origin_s) / self._pace
            delay_s = real_target_s - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)
        self._now_s = float(t_s)
