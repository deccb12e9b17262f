"""MPR121 and ADS1115 drivers and the handrails, on their twins (always) and on real chips
(``hardware`` mark: only driver tests that need no hand on the rail)."""

from __future__ import annotations

import errno

import pytest

from controller.config import HealthSettings, RailsSettings
from controller.detect.base import OK, Level
from controller.devices import build_handrails, twin_rails
from controller.health_rails import RailsHealth
from hardware.ads1115 import Ads1115, RailForceError
from hardware.clock import SimClock
from hardware.fsr import FsrDivider
from hardware.mpr121 import Mpr121, RailTouchError
from hardware.sim.ads1115 import Ads1115Model
from hardware.sim.bus import SimBus
from hardware.sim.grip import Hand, Hands
from hardware.sim.mpr121 import Mpr121Model
from tests.hwrig import Rig, hw_rig, real_bus, sim_rig

RAILS = RailsSettings(
    touch_chip="mpr121", mpr121_address=0x5A, left_electrode=0, right_electrode=1,
    touch_threshold_counts=12, release_threshold_counts=6, force_chip="ads1115",
    ads1115_layout="chip_per_rail", ads1115_left_address=0x48, ads1115_right_address=0x49,
    ads1115_left_channel=0, ads1115_right_channel=0, ads1115_range_v=4.096, fsr_supply_v=3.3,
    fsr_divider_ohm=1000.0, fsr_microsiemens_per_n=100.0,
)
ALTERNATE = RailsSettings(**{**RAILS.__dict__, "ads1115_layout": "alternate",
                             "ads1115_right_channel": 1})
FSR = FsrDivider()


# ------------------------------------------------------------------ rigs: twin or real chip
def mpr_twin(hands: Hands | None = None) -> Rig:
    grip = hands or Hands()
    return sim_rig(lambda c: Mpr121Model(c, grip, seed=1),
                   lambda b, c: Mpr121(b, 0x5A, c, (0, 1)), 0x5A)


def ads_twin(volts: float = 1.0) -> Rig:
    def model(c):
        m = Ads1115Model(c, seed=2)
        m.connect(0, lambda t: volts)
        m.connect(1, lambda t: volts / 2)
        return m

    return sim_rig(model, lambda b, c: Ads1115(b, 0x48, c, 0), 0x48)


@pytest.fixture(params=["twin", pytest.param("real", marks=pytest.mark.hardware)])
def mpr(request):
    if request.param == "twin":
        yield mpr_twin()
        return
    for bus in real_bus():
        yield hw_rig(bus, lambda b, c: Mpr121(b, 0x5A, c, (0, 1)), 0x5A, 0x5D)


@pytest.fixture(params=["twin", pytest.param("real", marks=pytest.mark.hardware)])
def ads(request):
    if request.param == "twin":
        yield ads_twin()
        return
    for bus in real_bus():
        yield hw_rig(bus, lambda b, c: Ads1115(b, 0x48, c, 0), 0x48, 0x01)


# ------------------------------------------------------------------ same tests, twin or chip
def test_mpr121_setup_and_untouched_reading(mpr: Rig) -> None:
    mpr.driver.setup()
    assert "MPR121 at 0x5a" in mpr.driver.describe()
    mpr.advance(0.02)
    reading = mpr.driver.read()
    assert reading.touched & 0b11 == 0  # nobody on the rails during this test
    assert len(reading.filtered_counts) == 2
    assert all(100 < c < 1023 for c in reading.filtered_counts)
    assert all(abs(b - c) < 16 for b, c in zip(mpr.driver.baselines(),
                                                reading.filtered_counts, strict=True))


def test_ads1115_setup_and_reading_in_range(ads: Rig) -> None:
    ads.driver.setup()
    assert "ADS1115 at 0x48" in ads.driver.describe() and "860 SPS" in ads.driver.describe()
    ads.advance(0.005)
    assert -0.1 <= ads.driver.read_volts() <= 4.096


# ------------------------------------------------------------------ twin detail and faults
def test_mpr121_touch_and_release_with_hysteresis() -> None:
    hands = Hands()
    rig = mpr_twin(hands)
    rig.driver.setup()
    rig.advance(0.01)
    assert rig.driver.read().touched == 0
    hands.left = Hand(touch=True, force_n=5.0)
    rig.advance(0.005)
    assert rig.driver.read().touched == 0b01
    hands.left, hands.right = Hand(), Hand(touch=True)
    rig.advance(0.005)
    assert rig.driver.read().touched == 0b10


def test_mpr121_is_identified_by_config2_after_reset() -> None:
    rig = mpr_twin()
    rig.model.config2_reset = 0x00
    rig.model.power_on_reset()
    with pytest.raises(RailTouchError, match="CONFIG2 reads 0x00"):
        rig.driver.setup()


def test_mpr121_twin_ignores_config_writes_in_run_mode() -> None:
    rig = mpr_twin()
    rig.driver.setup()
    rig.bus.write_byte_data(0x5A, 0x41, 99)  # as on the chip: ignored while scanning
    assert rig.bus.read_byte_data(0x5A, 0x41) == 12


def test_mpr121_over_current_is_an_io_error() -> None:
    rig = mpr_twin()
    rig.driver.setup()
    rig.model.over_current = True
    with pytest.raises(OSError) as info:
        rig.driver.read()
    assert info.value.errno == errno.EIO


def test_mpr121_read_is_one_transaction() -> None:
    rig = mpr_twin()
    rig.driver.setup()
    before = rig.sim_bus.transfers
    rig.driver.read()
    assert rig.sim_bus.transfers - before == 1


def test_ads1115_converts_like_the_chip() -> None:
    rig = ads_twin(volts=1.5)
    rig.driver.setup()
    rig.advance(1.0 / 860)  # the first conversion
    assert rig.driver.read_volts() == pytest.approx(1.5, abs=0.002)  # 2 LSB noise = 0.25 mV


def test_ads1115_channel_switch_costs_one_conversion() -> None:
    rig = ads_twin(volts=2.0)
    rig.driver.setup()
    rig.advance(1.0 / 860)
    rig.driver.select(1)
    assert rig.driver.read_volts() == pytest.approx(2.0, abs=0.002)  # still the old input
    rig.advance(1.0 / 860 + 1e-6)
    assert rig.driver.read_volts() == pytest.approx(1.0, abs=0.002)


def test_ads1115_saturates_at_full_scale() -> None:
    rig = ads_twin(volts=9.0)
    rig.driver.setup()
    rig.advance(1.0 / 860)
    assert rig.driver.read_volts() == pytest.approx(4.096 * 32767 / 32768)


def test_ads1115_identity_check() -> None:
    rig = ads_twin()
    rig.model.thresholds_reset = (0x0000, 0x0000)
    rig.model.power_on_reset()
    with pytest.raises(RailForceError, match="not an ADS1115"):
        rig.driver.setup()


def test_fsr_model_round_trip() -> None:
    for force in (0.5, 2.0, 10.0, 50.0, 200.0):
        assert FSR.newtons(FSR.volts(force)) == pytest.approx(force, rel=1e-9)
    assert FSR.volts(0.0) == 0.0 and FSR.newtons(0.0) == 0.0


# ------------------------------------------------------------------ handrails object
def rails_rig(settings: RailsSettings, hands: Hands):
    clock = SimClock()
    bus = SimBus(seed=3)
    twins = twin_rails(bus, settings, clock, hands, seed=4)
    rails = build_handrails(settings, bus, clock)
    rails.setup()
    return clock, bus, twins, rails


@pytest.mark.parametrize("settings", [RAILS, ALTERNATE], ids=["chip_per_rail", "alternate"])
def test_rails_report_touch_and_force(settings: RailsSettings) -> None:
    hands = Hands()
    clock, _, _, rails = rails_rig(settings, hands)
    clock.advance_s(0.005)
    rails.read()  # baselines are loaded from the first scans: hands off the rails until then
    hands.left = Hand(touch=True, force_n=20.0)
    hands.right = Hand(touch=True, force_n=5.0)
    samples = []
    for _ in range(4):
        clock.advance_s(0.005)
        samples.append(rails.read())
    s = samples[-1]
    assert (s.touch_left, s.touch_right) == (True, True)
    assert s.force_left_n == pytest.approx(20.0, rel=0.02)
    assert s.force_right_n == pytest.approx(5.0, rel=0.05)
    assert [x.seq for x in samples] == [2, 3, 4, 5]
    hands.left = Hand()
    for _ in range(2):  # alternate: a rail is refreshed every second cycle
        clock.advance_s(0.005)
        s = rails.read()
    assert s.touch_left is False and s.force_left_n == pytest.approx(0.0, abs=0.05)


def test_alternate_layout_costs_one_switch_per_cycle() -> None:
    clock, bus, _, rails = rails_rig(ALTERNATE, Hands())
    clock.advance_s(0.005)
    before = bus.transfers
    rails.read()
    # MPR121 block read, ADS1115 conversion read, its config read back (before the switch
    # rewrites it: a power-on reset is visible only then), config write for the switch.
    assert bus.transfers - before == 4


def test_rails_not_fitted_are_none_never_zero() -> None:
    touch_only = RailsSettings(**{**RAILS.__dict__, "force_chip": "none"})
    clock, _, twins, rails = rails_rig(touch_only, Hands())
    assert twins.force == {}
    clock.advance_s(0.005)
    s = rails.read()
    assert s.force_left_n is None and s.force_right_n is None and s.touch_left is False


def run_rails(clock, rails, health, seconds: float, belt: bool = True):
    for _ in range(round(seconds / 0.005)):
        clock.advance_s(0.005)
        try:
            health.on_sample(rails.read())
        except OSError as exc:
            health.on_error(exc)
        d = health.check(clock.now_s(), belt)
        if d is not OK:
            return clock.now_s(), d
    return None


def test_rails_faults_reach_health_with_named_reasons() -> None:
    settings = HealthSettings(stale_after_s=0.05)
    hands = Hands(left=Hand(touch=True, force_n=10.0))
    clock, bus, _, rails = rails_rig(RAILS, hands)
    health = RailsHealth(settings, clock)
    assert run_rails(clock, rails, health, 1.0) is None  # healthy: never a stop
    t0 = clock.now_s()
    bus.unplug(0x48)
    hit = run_rails(clock, rails, health, 1.0)
    assert hit is not None and hit[1].reason == "i2c_error_budget" and hit[1].level == Level.STOP
    assert hit[0] - t0 <= 6 * 0.005 + 1e-9



RAIL_CHIPS = {"mpr121": 0x5A, "ads1115-left": 0x48, "ads1115-right": 0x49}


@pytest.mark.parametrize("chip", sorted(RAIL_CHIPS))
@pytest.mark.parametrize(("fault", "within_s"), [
    ("unplug", 6 * 0.005), ("timeout", 6 * 0.005), ("intermittent", 0.5),
])
def test_every_rail_chip_bus_fault_reaches_rails_health(chip: str, fault: str,
                                                        within_s: float) -> None:
    settings = HealthSettings(stale_after_s=0.05)
    address = RAIL_CHIPS[chip]
    clock, bus, _, rails = rails_rig(RAILS, Hands())
    health = RailsHealth(settings, clock)
    assert run_rails(clock, rails, health, 0.5) is None
    t0 = clock.now_s()
    if fault == "unplug":
        bus.unplug(address)
    elif fault == "timeout":
        bus.set_timeout(address)
    else:
        bus.set_error_rate(address, 0.1)
    hit = run_rails(clock, rails, health, 2.0)
    assert hit is not None
    t, d = hit
    assert (d.level, d.reason) == (Level.STOP, "i2c_error_budget"), d.detail
    assert t - t0 <= within_s + 1e-9


def test_frozen_rail_readings_are_stuck_while_running() -> None:
    settings = HealthSettings(stale_after_s=0.05)
    clock, _, twins, rails = rails_rig(RAILS, Hands(left=Hand(touch=True, force_n=10.0)))
    health = RailsHealth(settings, clock)
    assert run_rails(clock, rails, health, 0.5) is None
    # Only a whole frozen sample is evidence: one frozen ADC beside live ones is not (a rail
    # at rest can legitimately read exactly 0 N several times in a row).
    assert twins.touch is not None
    twins.touch.freeze = True
    for model in twins.force.values():
        model.freeze = True
    t0 = clock.now_s()
    assert run_rails(clock, rails, health, 0.5, belt=False) is None  # stopped belt: no verdict
    hit = run_rails(clock, rails, health, 0.5)
    assert hit is not None
    t, d = hit
    assert (d.level, d.reason) == (Level.STOP, "rails_stuck")
    assert t - (t0 + 0.5) <= 0.005 + 1e-9  # already 10+ identical: the first running check
