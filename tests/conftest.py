"""Shared fixtures: a simulated system built from examples/sim.toml by the real composition root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import app
from controller import config as cfg
from hardware.clock import SimClock
from hardware.sim.scenarios import SCENARIOS, Scenario

ROOT = Path(__file__).resolve().parents[1]
SIM_TOML = ROOT / "examples" / "sim.toml"
PI_TOML = ROOT / "examples" / "pi.toml"


Build = Callable[..., app.System]


def host_bytes(system: app.System) -> list[tuple[float, int]]:
    """Every byte the controller wrote to the simulated treadmill, with its time."""
    assert system.world is not None and system.world.treadmill is not None
    return [(t, b) for t, who, b in system.world.treadmill.wire_log() if who == "host"]


def treadmill(system: app.System) -> dict[str, Any]:
    """The simulated treadmill's own state (belt_kmh, running, status, …)."""
    assert system.world is not None and system.world.treadmill is not None
    return system.world.treadmill.state()


@pytest.fixture
def sim_settings() -> cfg.Settings:
    return cfg.load(SIM_TOML)


@pytest.fixture
def build_sim(sim_settings: cfg.Settings) -> Iterator[Callable[..., app.System]]:
    """Build simulated systems (closed after the test, relay opened, treadmill process ended)."""
    built: list[app.System] = []

    def make(scenario: str | Scenario = "walk", settings: cfg.Settings | None = None) -> app.System:
        scen = SCENARIOS[scenario]() if isinstance(scenario, str) else scenario
        system = app.build(settings or sim_settings, SimClock(), scen)
        built.append(system)
        return system

    yield make
    for system in built:
        system.shutdown()
