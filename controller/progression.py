"""Progression across sessions: what a runner's next session asks for, from how this one went.

- A *clean* session — the program completed (every bout, then the cool-down), no stop of any
  other kind, no caution — raises the bout speed, the bout length and the session length by
  the runner's steps (``bout_speed_step_kmh``, ``bout_steps_step``, ``session_limit_step_s``),
  never past the runner's ``max_speed_kmh`` (itself within the profile's cap) nor an option's
  upper bound.
- A session ended by an instability event (a slip, a trip, a fall, a rail grab) lowers the bout
  speed and the bout length by one step each (never below the warm-up speed nor the lower
  bound): the runner was pushed too far.
- Anything else (a caution, the time limit, a button, a sensor or link fault, a shutdown)
  holds every limit.

A pure function of the limits and the session summary: the program calls it when a session
ends, and the runner store records the change in the audit log (``who = progression``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from controller.options import option
from controller.profiles import Profile, RunnerLimits
from controller.stop_reasons import StopReason

INSTABILITY_STOPS: Final = frozenset({
    StopReason.SLIP_TRIP, StopReason.FALL, StopReason.PRE_IMPACT, StopReason.FREE_FALL,
    StopReason.IMPACT, StopReason.RAIL_GRAB, StopReason.RAIL_OVERLOAD,
})
"""Stops that mean the runner lost balance: the next session is easier."""


def is_clean(summary: dict[str, Any]) -> bool:
    """Did the session complete its program with no stop and no caution?"""
    return bool(summary["program"]["ended_by"] == "program" and summary["cautions"] == 0)


def next_limits(limits: RunnerLimits, profile: Profile,
                summary: dict[str, Any]) -> RunnerLimits | None:
    """The next session's limits, or None when they hold."""
    ended_by = summary["program"]["ended_by"]
    if is_clean(summary):
        cap = min(limits.max_speed_kmh, profile.cap_kmh)
        speed = min(cap, round(limits.bout_speed_kmh + limits.bout_speed_step_kmh, 2))
        steps = min(_max(RunnerLimits, "bout_steps"), limits.bout_steps + limits.bout_steps_step)
        session_s = min(_max(RunnerLimits, "session_limit_s"),
                        limits.session_limit_s + limits.session_limit_step_s)
        new = dataclasses.replace(limits, bout_speed_kmh=max(speed, limits.bout_speed_kmh),
                                  bout_steps=int(steps), session_limit_s=session_s)
    elif ended_by in INSTABILITY_STOPS:
        speed = max(limits.warmup_speed_kmh,
                    round(limits.bout_speed_kmh - limits.bout_speed_step_kmh, 2))
        steps = max(_min(RunnerLimits, "bout_steps"), limits.bout_steps - limits.bout_steps_step)
        new = dataclasses.replace(limits, bout_speed_kmh=min(speed, limits.bout_speed_kmh),
                                  bout_steps=int(steps))
    else:
        return None
    return None if new == limits else new


def _max(cls: type, name: str) -> float:
    bound = option(cls, name).spec.max
    assert bound is not None
    return bound


def _min(cls: type, name: str) -> float:
    bound = option(cls, name).spec.min
    assert bound is not None
    return bound
