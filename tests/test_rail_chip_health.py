"""Each handrail chip has its own health (defects 3 and 4): one of two force chips, or the touch
chip, freezing or power-on-resetting is a lost sensor, not a quiet rail.

On the twins, through the real drivers and :class:`~controller.health_rails.RailsHealth`; the
end-to-end versions through the composition root are in
``tests/test_rail_chip_faults_end_to_end.py``.
"""

from __future__ import annotations

import random

import pytest

from controller.config import HealthSettings, RailsSettings
from controller.detect.base import OK, Decision, Level
from controller.health_rails import (
    FORCE_CHIP_FROZEN_READINGS,
    TOUCH_CHIP_FROZEN_READINGS,
    RailsHealth,
)
from hardware.ads1115 import Ads1115
from hardware.clock import SimClock
from hardware.handrails import CONFIG_CHECK_EVERY, Handrails
from hardware.mpr121 import Mpr121
from hardware.sim.ads1115 import Ads1115Model
from hardware.sim.bus import SimBus
from hardware.sim.grip import Hand, Hands
from hardware.sim.handrails import RailTwins
from hardware.sim.mpr121 import Mpr121Model
from tests.test_hw_rails import ALTERNATE, RAILS, rails_rig, run_rails

HEALTH = HealthSettings(stale_after_s=0.05)
TICK = 0.005
LAYOUTS = pytest.mark.parametrize("settings", [RAILS, ALTERNATE],
                                  ids=["chip_per_rail", "alternate"])


def healthy_start(settings: RailsSettings, hands: Hands
                  ) -> tuple[SimClock, SimBus, RailTwins, Handrails, RailsHealth]:
    clock, bus, twins, rails = rails_rig(settings, hands)
    health = RailsHealth(HEALTH, clock)
    assert run_rails(clock, rails, health, 0.5) is None  # healthy: never a stop
    return clock, bus, twins, rails, health


def stop_after(clock: SimClock, rails: Handrails, health: RailsHealth,
               seconds: float, belt: bool = True) -> tuple[float, Decision]:
    t0 = clock.now_s()
    hit = run_rails(clock, rails, health, seconds, belt)
    assert hit is not None, "no stop: the faulty chip went unseen"
    assert hit[1].level is Level.STOP
    return hit[0] - t0, hit[1]


# ------------------------------------------------------------------ drivers: facts, no verdicts
def test_ads1115_driver_reports_a_lost_configuration() -> None:
    clock = SimClock()
    bus = SimBus()
    model = Ads1115Model(clock, seed=1)
    bus.attach(0x49, model)
    adc = Ads1115(bus, 0x49, clock, 0)
    adc.setup()
    assert adc.config_fault() == ""
    model.power_on_reset()
    fault = adc.config_fault()
    assert "0x8583" in fault and "power-on reset" in fault, fault
    assert "\n" not in fault


def test_mpr121_driver_reports_electrodes_not_scanning() -> None:
    clock = SimClock()
    bus = SimBus()
    model = Mpr121Model(clock, Hands(), seed=1)
    bus.attach(0x5A, model)
    touch = Mpr121(bus, 0x5A, clock, (0, 1))
    touch.setup()
    assert touch.config_fault() == ""
    model.power_on_reset()
    fault = touch.config_fault()
    assert "ECR reads 0x00" in fault and "not scanning" in fault, fault


@LAYOUTS
def test_every_chip_is_read_back_in_turn_within_a_bounded_bus_cost(
        settings: RailsSettings) -> None:
    """At most one read-back per cycle beside the data reads (the alternate layout's single
    ADS1115 every cycle, before its channel switch would rewrite — and so hide — a reset)."""
    clock, bus, twins, rails = rails_rig(settings, Hands())
    clock.advance_s(TICK)
    rails.read()
    data_reads = 3  # MPR121 + ADS1115 × 2, or MPR121 + ADS1115 + its channel switch
    extra = []
    for _ in range(4 * CONFIG_CHECK_EVERY * 3):
        clock.advance_s(TICK)
        before = bus.transfers
        sample = rails.read()
        extra.append(bus.transfers - before - data_reads)
        assert all(c.config_fault == "" for c in sample.chips)
    assert set(extra) == ({1, 2} if settings is ALTERNATE else {0, 1})
    assert twins.touch is not None
    twins.touch.power_on_reset()
    for model in twins.force.values():
        model.power_on_reset()
    seen: set[str] = set()
    for _ in range(3 * CONFIG_CHECK_EVERY):
        clock.advance_s(TICK)
        seen |= {c.chip for c in rails.read().chips if c.config_fault}
    assert seen == {c.chip for c in sample.chips}, seen


# ------------------------------------------------------------------ health per chip
@LAYOUTS
def test_one_frozen_force_chip_is_stuck_while_the_other_converts(
        settings: RailsSettings) -> None:
    hands = Hands(left=Hand(True, 10.0), right=Hand(True, 10.0))
    clock, _, twins, rails, health = healthy_start(settings, hands)
    address = 0x49 if settings is RAILS else 0x48
    twins.force[address].freeze = True
    dt, d = stop_after(clock, rails, health, 1.0)
    assert d.reason == "rails_stuck" and f"ADS1115 at {address:#04x}" in d.detail, d.detail
    assert dt <= (FORCE_CHIP_FROZEN_READINGS + 1) * TICK + 1e-9


@LAYOUTS
def test_a_force_chip_power_on_reset_stops_with_its_own_reason(settings: RailsSettings) -> None:
    clock, _, twins, rails, health = healthy_start(settings, Hands())
    address = 0x49 if settings is RAILS else 0x48
    twins.force[address].power_on_reset()
    dt, d = stop_after(clock, rails, health, 1.0)
    assert d.reason == "rail_force_reset", (d.reason, d.detail)
    assert f"ADS1115 at {address:#04x}" in d.detail and "0x8583" in d.detail, d.detail
    assert dt <= 3 * CONFIG_CHECK_EVERY * TICK + 1e-9


def test_a_frozen_touch_chip_with_a_hand_on_the_rail_is_stuck_in_bounded_time() -> None:
    hands = Hands(left=Hand(True, 2.0))
    clock, _, twins, rails, health = healthy_start(RAILS, hands)
    assert twins.touch is not None
    twins.touch.freeze = True
    dt, d = stop_after(clock, rails, health, 2.0)
    assert d.reason == "rails_stuck" and "MPR121 at 0x5a" in d.detail, d.detail
    assert dt <= (TOUCH_CHIP_FROZEN_READINGS + 1) * TICK + 1e-9


def test_a_touch_chip_reset_stops_with_its_own_reason() -> None:
    clock, _, twins, rails, health = healthy_start(RAILS, Hands(left=Hand(True, 2.0)))
    assert twins.touch is not None
    twins.touch.power_on_reset()
    dt, d = stop_after(clock, rails, health, 1.0)
    assert d.reason == "rail_touch_reset", (d.reason, d.detail)
    assert "MPR121 at 0x5a" in d.detail and "not scanning" in d.detail, d.detail
    assert dt <= 3 * CONFIG_CHECK_EVERY * TICK + 1e-9


@pytest.mark.parametrize("fault", ["freeze-force", "reset-force", "freeze-touch",
                                   "reset-touch"])
def test_chip_faults_are_judged_at_arming_not_while_latched(fault: str) -> None:
    """While the belt is stopped there is nothing to stop; the strict (arming) check sees it,
    and a reset chip stays suspect even after the alternate layout's rewrite repaired it."""
    clock, _, twins, rails, health = healthy_start(RAILS, Hands())
    assert twins.touch is not None
    model: Ads1115Model | Mpr121Model = twins.touch if "touch" in fault else twins.force[0x49]
    if fault.startswith("freeze"):
        model.freeze = True
    else:
        model.power_on_reset()
    assert run_rails(clock, rails, health, 1.5, belt=False) is None
    d = health.check(clock.now_s(), True)
    assert d.level is Level.STOP and ("MPR121" if "touch" in fault else "0x49") in d.detail


@LAYOUTS
def test_healthy_chips_never_meet_the_frozen_criteria(settings: RailsSettings) -> None:
    """Ten simulated minutes of hands on and off the rails (light touch, firm grip, none)."""
    hands = Hands()
    clock, _, _, rails = rails_rig(settings, hands)
    health = RailsHealth(HEALTH, clock)
    rng = random.Random(7)
    for second in range(600):
        hands.left = rng.choice([Hand(), Hand(True, 0.0), Hand(True, 3.0), Hand(True, 40.0)])
        hands.right = rng.choice([Hand(), Hand(True, 0.0), Hand(True, 3.0)])
        assert run_rails(clock, rails, health, 1.0) is None, second
    assert health.check(clock.now_s(), True) is OK
