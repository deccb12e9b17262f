"""Runner profiles and a runner's limits: what each profile allows, and which changes raise risk.

A runner has one profile and a set of limits (:class:`RunnerLimits`): the ``[program]`` options
(:class:`controller.settings.ProgramSettings`) plus their own ``max_speed_kmh``, under the
configuration's names and units. The profile caps every speed:

- ``backward-walking``: cap 3 km/h;
- ``hands-on``: cap 2 km/h, and the belt runs only while both hands touch the rails (the rail
  detector's hands-on mode: a hand off is a stop after ``[detect] rail_hands_off_s``);
- ``backward-running``: cap ``HARD_MAX_SPEED_KMH`` (8 km/h, which nothing raises), only with a
  supervisor present and a harness confirmed on the control socket before each start.

``[limits] max_speed_kmh`` still caps the machine: the lowest cap wins. Where each default
comes from is in ``docs/sessions.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final, get_args

from controller.options import Option, options
from controller.options import option as declared
from controller.settings import (
    HARD_MAX_SPEED_KMH,
    LimitsSettings,
    ProgramSettings,
    RestMode,
)


class LimitError(ValueError):
    """A runner limit that is out of bounds, or breaks a rule joining two limits. ``str()`` is
    one line naming the option."""


@dataclass(frozen=True, kw_only=True)
class RunnerLimits(ProgramSettings):
    """One runner's limits: the ``[program]`` options plus the runner's own speed cap."""

    max_speed_kmh: float = field(default=3.0, metadata={
        "spec": declared(LimitsSettings, "max_speed_kmh").spec})


@dataclass(frozen=True)
class Profile:
    """A kind of session, with its cap and its conditions.

    Attributes:
        name: as stored and typed (``--profile``).
        cap_kmh: no speed of a runner of this profile goes above it.
        hands_on: the belt runs only while both hands touch the rails.
        needs_harness: a harness confirmed (control socket) before each start.
        warmup_speed_kmh / bout_speed_kmh: a new runner's speeds (the rest comes from
            ``[program]``).
        meaning: one line for people.
    """

    name: str
    cap_kmh: float
    hands_on: bool
    needs_harness: bool
    warmup_speed_kmh: float
    bout_speed_kmh: float
    meaning: str


PROFILES: Final[dict[str, Profile]] = {p.name: p for p in (
    Profile("backward-walking", 3.0, False, False, 1.0, 1.5,
            "slow backward walking, hands free; cap 3 km/h"),
    Profile("hands-on", 2.0, True, False, 0.8, 1.2,
            "both hands on the rails the whole time; cap 2 km/h"),
    Profile("backward-running", HARD_MAX_SPEED_KMH, False, True, 3.0, 6.0,
            "backward running with a supervisor present and a harness confirmed at each "
            f"start; cap {HARD_MAX_SPEED_KMH:g} km/h"),
)}

RISK: Final[dict[str, int]] = {
    "max_speed_kmh": 1, "warmup_speed_kmh": 1, "bout_speed_kmh": 1, "bout_steps": 1,
    "bout_s": 1, "bouts": 1, "session_limit_s": 1, "sessions_per_week": 1,
    "bout_speed_step_kmh": 1, "bout_steps_step": 1, "session_limit_step_s": 1,
    "warmup_s": -1, "rest_s": -1, "cooldown_s": -1,
}
"""Which way a limit raises risk: +1 higher is riskier, -1 lower is; a change that way needs the
supervisor PIN (``rest_mode`` is missing: neither way raises risk)."""


def runner_options() -> list[Option]:
    """Every limit a runner has, with its declared bounds, in declaration order."""
    return options(RunnerLimits)


def profile(name: str) -> Profile:
    """The profile called ``name``.

    Raises:
        LimitError: no such profile.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise LimitError(f"profile: expected one of {', '.join(PROFILES)}, got {name!r}") from None


def new_limits(p: Profile, program: ProgramSettings) -> RunnerLimits:
    """A new runner's limits: ``[program]``'s, with the profile's speeds and cap."""
    values = dataclasses.asdict(program)
    values.update(warmup_speed_kmh=min(p.warmup_speed_kmh, p.cap_kmh),
                  bout_speed_kmh=min(p.bout_speed_kmh, p.cap_kmh), max_speed_kmh=p.cap_kmh)
    return RunnerLimits(**values)


def parse_value(name: str, text: str) -> Any:
    """``OPTION=VALUE``'s value as the option's type (bounds are checked by :func:`check`).

    Raises:
        LimitError: an unknown option, or a value of the wrong type.
    """
    found = {o.name: o for o in runner_options()}
    if name not in found:
        raise LimitError(f"{name}: unknown option (known: profile, {', '.join(sorted(found))})")
    o = found[name]
    if o.choices:
        if text not in o.choices:
            raise LimitError(f"{name}: expected one of {', '.join(o.choices)}, got {text!r}")
        return text
    try:
        return int(text) if o.type is int else float(text)
    except ValueError:
        kind = "an integer" if o.type is int else "a number"
        raise LimitError(f"{name}: expected {kind}, got {text!r}") from None


def check(p: Profile, limits: RunnerLimits) -> None:
    """Every limit within its bounds and the profile's cap, and the speeds in order.

    Raises:
        LimitError: the first problem, one line naming the option.
    """
    for o in runner_options():
        value = getattr(limits, o.name)
        sp = o.spec
        if o.choices:
            if value not in get_args(RestMode):
                raise LimitError(f"{o.name}: expected one of {', '.join(o.choices)}, got "
                                 f"{value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value \
                or (sp.min is not None and value < sp.min) \
                or (sp.max is not None and value > sp.max):
            raise LimitError(f"{o.name}: expected {_kind(o)} from {sp.min:g} to {sp.max:g}"
                             f"{_unit(o)}, got {value!r}")
    if limits.max_speed_kmh > p.cap_kmh:
        raise LimitError(f"max_speed_kmh: expected at most the {p.name} profile's cap "
                         f"({p.cap_kmh:g} km/h), got {limits.max_speed_kmh:g}")
    if limits.bout_speed_kmh > limits.max_speed_kmh:
        raise LimitError(f"bout_speed_kmh: expected at most max_speed_kmh "
                         f"({limits.max_speed_kmh:g} km/h), got {limits.bout_speed_kmh:g}")
    if limits.warmup_speed_kmh > limits.bout_speed_kmh:
        raise LimitError(f"warmup_speed_kmh: expected at most bout_speed_kmh "
                         f"({limits.bout_speed_kmh:g} km/h), got {limits.warmup_speed_kmh:g}")


def raises_risk(name: str, old: Any, new: Any) -> bool:
    """Does changing limit ``name`` from ``old`` to ``new`` raise risk (needs the PIN)?"""
    direction = RISK.get(name, 0)
    return bool(direction) and (new - old) * direction > 0


def _kind(o: Option) -> str:
    return "an integer" if o.type is int else "a number"


def _unit(o: Option) -> str:
    return f" {o.unit}" if o.unit else ""
