"""Position on the deck: the ``[deck]`` options, the detector's zones, the sensor's health, and
the whole system stopping the belt when the runner drifts or the sensor fails."""

from __future__ import annotations

import dataclasses
import errno

import pytest

from controller import app
from controller import config as cfg
from controller.config import DeckSettings, HealthSettings
from controller.detect.base import Level
from controller.detect.deck_position import DeckPositionDetector
from controller.devices import world_seed, world_with_treadmill
from controller.health_deck import DeckHealth
from controller.stop_reasons import StopReason
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.scenarios import SCENARIOS
from hardware.vl53l1x import RangeReading

from .conftest import Build, SimSystem, treadmill

DECK = DeckSettings()


def reading(t_s: float, distance_m: float, valid: bool = True) -> RangeReading:
    return RangeReading(t_s, distance_m, valid, 0x09 if valid else 0x04)


# ------------------------------------------------------------------ the detector
def test_middle_of_the_deck_is_ok() -> None:
    detector = DeckPositionDetector(DECK)
    assert detector.update(reading(0.0, 0.8)).level is Level.OK


@pytest.mark.parametrize(("distance_m", "reason"), [(1.3, "deck_drift_back"),
                                                    (0.4, "deck_drift_forward")])
def test_caution_zones(distance_m: float, reason: str) -> None:
    decision = DeckPositionDetector(DECK).update(reading(0.0, distance_m))
    assert (decision.level, decision.reason) == (Level.CAUTION, reason)


@pytest.mark.parametrize("distance_m", [1.5, 0.25])
def test_stop_zone_must_hold(distance_m: float) -> None:
    detector = DeckPositionDetector(DECK)
    assert detector.update(reading(0.0, distance_m)).level is Level.CAUTION
    assert detector.update(reading(0.1, distance_m)).level is Level.CAUTION
    decision = detector.update(reading(0.15, distance_m))
    assert (decision.level, decision.reason) == (Level.STOP, StopReason.DECK_DRIFT)


def test_one_reading_back_in_the_middle_restarts_the_hold() -> None:
    detector = DeckPositionDetector(DECK)
    detector.update(reading(0.0, 1.5))
    detector.update(reading(0.1, 0.8))  # an arm swung through the beam, say
    assert detector.update(reading(0.2, 1.5)).level is Level.CAUTION


def test_invalid_readings_carry_no_position() -> None:
    detector = DeckPositionDetector(DECK)
    detector.update(reading(0.0, 1.5))
    assert detector.update(reading(0.1, 0.0, valid=False)).level is Level.OK
    assert detector.distance_m == 1.5


# ------------------------------------------------------------------ the health
def health() -> tuple[DeckHealth, SimClock]:
    clock = SimClock()
    return DeckHealth(DECK, HealthSettings(), clock), clock


def test_no_measurement_is_stale_even_when_stopped() -> None:
    h, clock = health()
    clock.advance_s(0.3)
    decision = h.check(clock.now_s(), belt_running=False)
    assert (decision.level, decision.reason) == (Level.STOP, StopReason.DECK_STALE)


def test_identical_distances_are_a_frozen_sensor() -> None:
    h, clock = health()
    for _ in range(DECK.stuck_readings):
        clock.advance_s(0.05)
        h.on_reading(reading(clock.now_s(), 0.812))
    assert h.check(clock.now_s(), belt_running=False).level is Level.OK
    assert h.check(clock.now_s(), belt_running=True).reason == StopReason.DECK_STUCK


def test_nobody_in_range_is_unknown_not_calm() -> None:
    h, clock = health()
    h.on_reading(reading(0.0, 0.8))
    for _ in range(11):
        clock.advance_s(0.05)
        h.on_reading(reading(clock.now_s(), 0.0, valid=False))
    assert h.check(clock.now_s(), belt_running=True).reason == StopReason.DECK_POSITION_UNKNOWN


def test_bus_errors_count_against_the_budget() -> None:
    h, clock = health()
    for _ in range(HealthSettings().i2c_errors_per_s + 1):
        h.on_error(OSError(errno.EREMOTEIO, "Remote I/O error"))
    assert h.check(clock.now_s(), belt_running=False).reason == StopReason.I2C_ERROR_BUDGET


# ------------------------------------------------------------------ the options
def with_deck(text: str) -> str:
    from .conftest import SIM_TOML

    return SIM_TOML.read_text(encoding="utf-8") + "\n[deck]\n" + text


def test_deck_section_is_optional_and_read() -> None:
    from .conftest import SIM_TOML

    assert cfg.load(SIM_TOML).deck is None
    settings = cfg.parse("x.toml", with_deck("stop_beyond_m = 1.6\n"))
    assert settings.deck == DeckSettings(stop_beyond_m=1.6)


@pytest.mark.parametrize(("text", "message"), [
    ("caution_beyond_m = 1.5\nstop_beyond_m = 1.4\n", "stop_beyond_m: expected more than"),
    ("caution_within_m = 0.2\n", "caution_within_m: expected more than stop_within_m"),
    ("timing_budget_ms = 100\nperiod_ms = 50\n", "period_ms: expected at least"),
    ("stale_after_s = 0.04\n", "stale_after_s: expected more than period_ms"),
])
def test_zone_and_timing_rules(text: str, message: str) -> None:
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse("x.toml", with_deck(text))


# ------------------------------------------------------------------ the whole system
@pytest.fixture
def deck_settings(sim_settings: cfg.Settings) -> cfg.Settings:
    return dataclasses.replace(sim_settings, deck=DECK)


def walking(build_sim: Build, settings: cfg.Settings) -> SimSystem:
    system = build_sim("walk", settings)
    system.loop.run(9.0)
    assert system.supervisor.state is State.RUNNING
    assert "deck position: VL53L1X at 0x29" in "\n".join(system.describe())
    return system


def test_drifting_back_cautions_then_stops_the_belt(build_sim: Build,
                                                     deck_settings: cfg.Settings) -> None:
    system = walking(build_sim, deck_settings)
    twin = system.world.deck_twin
    assert twin is not None
    twin.set_distance_m(1.3)
    system.loop.run(0.5)
    assert system.supervisor.state is State.RUNNING  # a caution slows, never stops
    assert any("deck_drift_back" in e.message for e in system.events)
    twin.set_distance_m(1.6)
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == StopReason.DECK_DRIFT
    assert treadmill(system)["belt_kmh"] == 0.0


@pytest.mark.parametrize(("fault", "reason"), [
    ("stall", StopReason.DECK_STALE),
    ("freeze", StopReason.DECK_STUCK),
    ("nobody", StopReason.DECK_POSITION_UNKNOWN),
    ("unplug", StopReason.I2C_ERROR_BUDGET),
])
def test_a_failing_deck_sensor_stops_the_belt(build_sim: Build, deck_settings: cfg.Settings,
                                              fault: str, reason: StopReason) -> None:
    system = walking(build_sim, deck_settings)
    twin = system.world.deck_twin
    assert twin is not None
    if fault == "stall":
        twin.stall = True
    elif fault == "freeze":
        twin.freeze = True
    elif fault == "nobody":
        twin.set_distance_m(None)
    else:
        system.world.bus.unplug(deck_settings.deck.address if deck_settings.deck else 0)
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == reason
    assert treadmill(system)["belt_kmh"] == 0.0


def test_a_configured_deck_sensor_that_is_missing_refuses_to_start(
        deck_settings: cfg.Settings) -> None:
    clock = SimClock()
    scenario = SCENARIOS["walk"]()
    world = world_with_treadmill(deck_settings, clock, scenario.motion, scenario.actions,
                                 world_seed(deck_settings))
    world.bus.unplug(0x29)
    with pytest.raises(app.HardwareError, match=r"\[deck\]"):
        app.assemble(deck_settings, clock, world)


def test_the_runner_model_feeds_the_deck_sensor_and_a_drift_is_stopped_before_the_deck_end(
        build_sim: Build, deck_settings: cfg.Settings) -> None:
    """The simulated person losing pace (``drift-back``) is seen by the console's sensor as
    they are carried toward the deck's end: a caution, then ``deck_drift``, before their feet
    pass the end (the runner model's fall ``deck_end``)."""
    from controller.sim_session import make_scenario

    scen = make_scenario("drift-back", world_seed(deck_settings), None, None)
    system = build_sim(scen, deck_settings)
    runner = system.world.runner
    assert runner is not None
    sup = system.supervisor
    system.loop.run_until(lambda: sup.state is State.LATCHED
                          and sup.stop_reason != StopReason.POWER_ON, scen.duration_s)
    assert sup.stop_reason == StopReason.DECK_DRIFT, sup.stop_reason
    cautions = [e.t_s for e in system.events if "deck_drift_back" in e.message]
    stop_t = next(e.t_s for e in system.events if e.kind == "stop")
    assert cautions and cautions[0] < stop_t
    assert runner.fell_at_s is None  # stopped before the deck's end
    assert treadmill(system)["belt_kmh"] == 0.0
