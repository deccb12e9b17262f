"""Defects 3 and 4 through the real composition root on examples/sim.toml: one handrail chip
freezing or power-on-resetting while the others keep answering must stop a running belt (and
refuse a start), and a healthy session with hands on and off the rails must never trip.

Faults are injected in the twins (``system.world.rail_twins``), never by calling the
controller's internals.
"""

from __future__ import annotations

import random

import pytest

from controller.supervisor import State
from hardware.sim.ads1115 import Ads1115Model
from hardware.sim.grip import Hand, Hands
from hardware.sim.mpr121 import Mpr121Model
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.trackmaster_protocol import START_CDS

from .conftest import Build, SimSystem, host_bytes, treadmill

RIGHT_ADC = 0x49  # examples/sim.toml: ads1115_right_address


def twins(system: SimSystem) -> tuple[Mpr121Model, dict[int, Ads1115Model], Hands]:
    rail_twins = system.world.rail_twins
    assert rail_twins.touch is not None
    hands = rail_twins.touch.grip
    assert isinstance(hands, Hands)
    return rail_twins.touch, rail_twins.force, hands


def running(build_sim: Build, scenario: str | Scenario = "walk") -> SimSystem:
    system = build_sim(scenario)
    system.loop.run(9.0)  # start at 2.0 s, 3 s countdown, speed-up cue, ramp
    assert system.supervisor.state is State.RUNNING
    return system


def stop_time(system: SimSystem) -> float:
    stops = [e.t_s for e in system.events.of_kind("stop") if e.message.startswith("STOP: ")]
    assert stops, [e.message for e in system.events]
    return stops[0]


def test_one_frozen_force_chip_then_a_200_n_grab_on_its_rail_stops_the_belt(
        build_sim: Build) -> None:
    """The review's run: the right rail's ADS1115 freezes while the left one converts; a 200 N
    grab on the right rail kept the belt at 1.45 km/h."""
    system = running(build_sim)
    _, force, hands = twins(system)
    force[RIGHT_ADC].freeze = True
    system.loop.run(0.05)
    hands.right = Hand(True, 200.0)
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched, f"still {sup.state.value} at {treadmill(system)['belt_kmh']} km/h"
    assert sup.stop_reason == "rails_stuck"
    assert any("ADS1115 at 0x49" in e.message for e in system.events)
    assert treadmill(system)["belt_kmh"] == 0.0


def test_a_force_chip_power_on_reset_stops_the_belt(build_sim: Build) -> None:
    system = running(build_sim)
    _, force, _ = twins(system)
    t0 = system.clock.now_s()
    force[RIGHT_ADC].power_on_reset()
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "rail_force_reset", sup.stop_reason
    assert stop_time(system) - t0 <= 0.1
    assert treadmill(system)["belt_kmh"] == 0.0


def standing_holding_the_rail() -> Scenario:
    """The runner stands on the running belt (no steps) with a hand on the rail: rail contact
    alone keeps the no-runner check quiet."""
    return Scenario("standing", 60.0, 1.5, BackwardWalkWithSlip(0.0, 0.0, None),
                    (Action(0.5, "reset", 1.2, "reset"), Action(2.0, "reset", 0.2, "start")))


def test_a_frozen_touch_chip_with_a_hand_on_the_rail_stops_in_bounded_time(
        build_sim: Build) -> None:
    """The MPR121 freezes with a hand on the rail, then the runner leaves: its touch bit stayed
    set and the no-runner stop never came. Now the frozen chip itself stops the belt."""
    system = build_sim(standing_holding_the_rail())
    system.loop.run(6.0)  # start at 2.0 s, running after the 3 s countdown
    touch, _, hands = twins(system)
    hands.left = Hand(True, 2.0)
    system.loop.run(2.0)
    assert system.supervisor.state is State.RUNNING
    t0 = system.clock.now_s()
    touch.freeze = True
    system.loop.run(0.5)
    hands.left = Hand()  # the runner steps off; the frozen chip still says "touching"
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "rails_stuck", sup.stop_reason
    assert any("MPR121 at 0x5a" in e.message for e in system.events)
    assert stop_time(system) - t0 <= 1.05
    assert treadmill(system)["belt_kmh"] == 0.0


def test_a_touch_chip_reset_stops_the_belt(build_sim: Build) -> None:
    system = running(build_sim)
    touch, _, _ = twins(system)
    t0 = system.clock.now_s()
    touch.power_on_reset()
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "rail_touch_reset", sup.stop_reason
    assert stop_time(system) - t0 <= 0.1
    assert treadmill(system)["belt_kmh"] == 0.0


@pytest.mark.parametrize(("fault", "named"), [
    ("freeze-force", "ADS1115 at 0x49"), ("reset-force", "ADS1115 at 0x49"),
    ("freeze-touch", "MPR121 at 0x5a"), ("reset-touch", "MPR121 at 0x5a"),
])
def test_a_faulty_rail_chip_refuses_the_start(build_sim: Build, fault: str, named: str) -> None:
    """The fault comes while latched (before the reset at 0.5–1.7 s); the start at 2.0 s must
    be refused, saying which chip and what is wrong."""
    system = build_sim("walk")
    system.loop.run(0.3)
    touch, force, _ = twins(system)
    model: Mpr121Model | Ads1115Model = touch if "touch" in fault else force[RIGHT_ADC]
    if fault.startswith("freeze"):
        model.freeze = True
    else:
        model.power_on_reset()
    system.loop.run(3.0)
    assert START_CDS not in {b for _, b in host_bytes(system)}
    refused = [e.message for e in system.events if "start refused" in e.message]
    assert refused and named in refused[0], [e.message for e in system.events]
    assert treadmill(system)["running"] is False


def test_a_healthy_minute_with_hands_on_and_off_the_rails_never_trips(build_sim: Build) -> None:
    system = running(build_sim)
    _, _, hands = twins(system)
    rng = random.Random(11)
    choices = [Hand(), Hand(True, 0.0), Hand(True, 3.0), Hand(True, 20.0)]
    for _ in range(60):
        hands.left, hands.right = rng.choice(choices), rng.choice(choices)
        system.loop.run(1.0)
    assert system.supervisor.state is State.RUNNING, system.supervisor.stop_reason
