"""Shared fixtures: a simulated system built from examples/sim.toml by the real composition root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from controller import app
from controller import config as cfg
from controller.devices import world_seed, world_with_treadmill, world_without_treadmill
from hardware.clock import SimClock
from hardware.sim.scenarios import SCENARIOS, Scenario
from hardware.sim.world import SimTreadmillWorld, SimWorld

ROOT = Path(__file__).resolve().parents[1]
SIM_TOML = ROOT / "examples" / "sim.toml"
PI_TOML = ROOT / "examples" / "pi.toml"
PI_RELAY_ONLY_TOML = ROOT / "examples" / "pi-relay-only.toml"
RELAY_ONLY_TOML = ROOT / "examples" / "sim-relay-only.toml"


SimSystem = app.System[SimTreadmillWorld]
"""A session on the simulated machine with its simulated treadmill (examples/sim.toml)."""
WorldSystem = app.System[SimWorld]
"""A session on any simulated world, with a treadmill or without (relay-only mode)."""
Build = Callable[..., SimSystem]
BuildRelayOnly = Callable[..., WorldSystem]


def host_bytes(system: SimSystem) -> list[tuple[float, int]]:
    """Every byte the controller wrote to the simulated treadmill, with its time."""
    return [(t, b) for t, who, b in system.world.treadmill.wire_log() if who == "host"]


def treadmill(system: SimSystem) -> dict[str, Any]:
    """The simulated treadmill's own state (belt_kmh, running, status, …)."""
    return system.world.treadmill.state()


@pytest.fixture
def sim_settings() -> cfg.Settings:
    return cfg.load(SIM_TOML)


WorldT = TypeVar("WorldT", bound=SimWorld)


def simulate(settings: cfg.Settings, scenario: str | Scenario,
             make_world: Callable[..., WorldT]) -> app.System[WorldT]:
    """A session on a world from ``make_world`` (``world_with_treadmill`` or
    ``world_without_treadmill``) playing ``scenario``, through the real composition root."""
    scen = SCENARIOS[scenario]() if isinstance(scenario, str) else scenario
    clock = SimClock()
    world = make_world(settings, clock, scen.motion, scen.actions, world_seed(settings))
    return app.assemble(settings, clock, world, scen.target_speed_kmh)


@pytest.fixture
def build_sim(sim_settings: cfg.Settings) -> Iterator[Build]:
    """Build simulated systems with a simulated treadmill (closed after the test, relay opened,
    treadmill process ended)."""
    built: list[SimSystem] = []

    def make(scenario: str | Scenario = "walk", settings: cfg.Settings | None = None
             ) -> SimSystem:
        built.append(simulate(settings or sim_settings, scenario, world_with_treadmill))
        return built[-1]

    yield make
    for system in built:
        system.shutdown()


@pytest.fixture
def build_relay_only() -> Iterator[BuildRelayOnly]:
    """Build simulated systems in relay-only mode (examples/sim-relay-only.toml unless
    settings are given): the world has no treadmill. Closed after the test."""
    built: list[WorldSystem] = []

    def make(scenario: str | Scenario = "walk", settings: cfg.Settings | None = None
             ) -> WorldSystem:
        built.append(simulate(settings or cfg.load(RELAY_ONLY_TOML), scenario,
                              world_without_treadmill))
        return built[-1]

    yield make
    for system in built:
        system.shutdown()
