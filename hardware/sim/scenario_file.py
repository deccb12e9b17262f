"""Scenarios with the runner on the belt: the named ones and the TOML files a user writes.

Both are a :class:`ScenarioSpec` — how long, what speed (and when it changes), how the hands
use the rails, and the runner's events with their times — turned into a
:class:`~hardware.sim.scenarios.Scenario` by :func:`build` with a seed. The operator is the same
in every one: holds reset at 0.5 s for 1.2 s, presses start at 2.0 s (the belt starts after the
3 s countdown, ≈ 5.2 s, and reaches 1.5 km/h ≈ 8.3 s); named events happen at 20 s.

A scenario file (TOML)::

    name = "slip-at-speed"            # optional: default the file's stem
    description = "a slip at 2 km/h"  # optional
    duration_s = 40                   # required, > 0
    speed_kmh = 2.0                   # optional: default [session] speed_kmh
    hands = "free"                    # optional: "free", "touch" or "rest"

    [[speed]]                         # optional, any number: the session's speed changes
    t_s = 25
    kmh = 1.0

    [[event]]                         # optional, any number
    t_s = 30
    kind = "slip"                     # slip, trip, stumble, drift_back, dizzy, rail_grab,
                                      # leave_belt, fall

Every speed is capped and ramped by the controller as any session's is. A bad file is one line
(:class:`ScenarioFileError`) naming the file and the key.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hardware.sim.runner import EventKind, HandsOn, Runner, RunnerEvent
from hardware.sim.scenarios import SCENARIOS, Action, Scenario

OPERATOR: Final = (Action(0.5, "reset", 1.2, "operator holds reset"),
                   Action(2.0, "reset", 0.2, "operator presses start"))
EVENT_AT_S: Final = 20.0
HANDS: Final = ("free", "touch", "rest")


class ScenarioFileError(Exception):
    """A scenario file that cannot be used (the message is one line naming file and key)."""


@dataclass(frozen=True)
class ScenarioSpec:
    """A runner scenario before it has a seed (see the module docstring for the fields)."""

    name: str
    description: str
    duration_s: float
    speed_kmh: float | None = None
    speed_profile: tuple[tuple[float, float], ...] = ()
    events: tuple[RunnerEvent, ...] = ()
    hands: str = "free"


def _event(kind: EventKind, duration_s: float, description: str, name: str) -> ScenarioSpec:
    return ScenarioSpec(name, description, duration_s,
                        events=(RunnerEvent(EVENT_AT_S, kind),))


NAMED: Final = {
    "walk-backward": ScenarioSpec("walk-backward", "start and walk backward at the session "
                                  "speed, no incident", 60.0),
    "jog-backward": ScenarioSpec("jog-backward", "start and jog backward at 6.5 km/h (capped "
                                 "by [limits] max_speed_kmh), no incident", 60.0, speed_kmh=6.5),
    "slip": _event(EventKind.SLIP, 35.0, "walking backward, a slip at 20 s", "slip"),
    "trip": _event(EventKind.TRIP, 35.0, "walking backward, the heel catches at 20 s", "trip"),
    "stumble": _event(EventKind.STUMBLE, 35.0, "walking backward, a stumble (recovered) at "
                      "20 s", "stumble"),
    "drift-back": _event(EventKind.DRIFT_BACK, 45.0, "walking backward, losing pace from 20 s: "
                         "carried toward the deck's end", "drift-back"),
    "dizzy": _event(EventKind.DIZZY, 45.0, "walking backward, dizzy from 20 s: growing sway "
                    "and irregular steps, a collapse 12 s later", "dizzy"),
    "rail-grab": _event(EventKind.RAIL_GRAB, 35.0, "walking backward, both hands clamp the "
                        "rails at 20 s", "rail-grab"),
    "leave-belt": _event(EventKind.LEAVE_BELT, 70.0, "walking backward, steps off onto the "
                         "side platforms at 20 s; the belt runs on empty", "leave-belt"),
    "fall": _event(EventKind.FALL, 35.0, "walking backward, the knees give way at 20 s",
                   "fall"),
}
"""The runner scenarios by name (``demo``, ``idle`` and ``walk`` are scripted signals in
:mod:`hardware.sim.scenarios`)."""


def build(spec: ScenarioSpec, seed: int, speed_kmh: float | None = None,
          duration_s: float | None = None) -> Scenario:
    """The scenario with its runner seeded; ``speed_kmh`` / ``duration_s`` override the spec's."""
    runner = Runner(spec.events, seed=seed, hands=HandsOn(spec.hands))
    onset = min((e.t_s for e in spec.events), default=None)
    return Scenario(name=spec.name,
                    duration_s=spec.duration_s if duration_s is None else duration_s,
                    target_speed_kmh=spec.speed_kmh if speed_kmh is None else speed_kmh,
                    motion=runner, actions=OPERATOR, description=spec.description,
                    speed_profile=spec.speed_profile, onset_s=onset)


def scenario_names() -> list[str]:
    """Every name ``--scenario`` takes (besides a file and ``replay:PATH``)."""
    return sorted({*SCENARIOS, *NAMED})


def scenario(name: str, seed: int, speed_kmh: float | None = None,
             duration_s: float | None = None) -> Scenario:
    """A named scenario or a ``.toml`` file.

    Raises:
        ScenarioFileError: an unknown name, or a file that cannot be read or is malformed.
    """
    if name in NAMED:
        return build(NAMED[name], seed, speed_kmh, duration_s)
    if name in SCENARIOS:
        base = SCENARIOS[name]()
        return Scenario(base.name, base.duration_s if duration_s is None else duration_s,
                        base.target_speed_kmh if speed_kmh is None else speed_kmh, base.motion,
                        base.actions, base.description, base.speed_profile, base.onset_s)
    if name.endswith(".toml"):
        return build(load(Path(name)), seed, speed_kmh, duration_s)
    raise ScenarioFileError(f"unknown scenario {name!r}: one of {', '.join(scenario_names())}, "
                            f"replay:PATH or a .toml file")


def _number(path: Path, where: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < low or (strict and value == low):
        bound = f"> {low:g}" if strict else f"≥ {low:g}"
        raise ScenarioFileError(f"{path}: {where}: expected a number {bound}, got {value!r}")
    return float(value)


def load(path: Path) -> ScenarioSpec:
    """Read a scenario file (see the module docstring).

    Raises:
        ScenarioFileError: one line naming the file and what is wrong.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(f"{path}: not valid TOML: {exc}") from None
    known = {"name", "description", "duration_s", "speed_kmh", "hands", "speed", "event"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioFileError(f"{path}: unknown key {unknown[0]!r} (known: "
                                f"{', '.join(sorted(known))})")
    if "duration_s" not in data:
        raise ScenarioFileError(f"{path}: duration_s is required")
    duration = _number(path, "duration_s", data["duration_s"], strict=True)
    speed = data.get("speed_kmh")
    speed_kmh = None if speed is None else _number(path, "speed_kmh", speed)
    hands = data.get("hands", "free")
    if hands not in HANDS:
        raise ScenarioFileError(f"{path}: hands: expected one of {', '.join(HANDS)}, got "
                                f"{hands!r}")
    profile = []
    for i, row in enumerate(_tables(path, data, "speed")):
        _only(path, f"speed[{i}]", row, {"t_s", "kmh"})
        profile.append((_number(path, f"speed[{i}].t_s", row.get("t_s")),
                        _number(path, f"speed[{i}].kmh", row.get("kmh"))))
    events = []
    kinds = [k.value for k in EventKind]
    for i, row in enumerate(_tables(path, data, "event")):
        _only(path, f"event[{i}]", row, {"t_s", "kind"})
        t_s = _number(path, f"event[{i}].t_s", row.get("t_s"))
        kind = row.get("kind")
        if kind not in kinds:
            raise ScenarioFileError(f"{path}: event[{i}].kind: expected one of "
                                    f"{', '.join(kinds)}, got {kind!r}")
        events.append(RunnerEvent(t_s, EventKind(kind)))
    name = data.get("name", path.stem)
    description = data.get("description", f"scenario file {path.name}")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioFileError(f"{path}: name and description must be strings")
    return ScenarioSpec(name, description, duration, speed_kmh,
                        tuple(sorted(profile)), tuple(events), hands)


def _tables(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = data.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ScenarioFileError(f"{path}: {key}: expected [[{key}]] tables")
    return rows


def _only(path: Path, where: str, row: dict[str, Any], keys: set[str]) -> None:
    extra = sorted(set(row) - keys)
    if extra:
        raise ScenarioFileError(f"{path}: {where}: unknown key {extra[0]!r}")
