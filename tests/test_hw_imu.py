"""The same IMU driver tests against every twin (always) and real chips (``hardware`` mark).

Fault tests inject each fault into the twin and check what the driver reports; the named
reasons reaching the supervisor are in ``test_health_faults.py``.
"""

from __future__ import annotations

import errno
import math
from itertools import pairwise

import pytest

from hardware.imu import STANDARD_GRAVITY_MPS2, ImuError, ImuSample
from hardware.lsm6dsox import Lsm6dsox
from hardware.mpu6050 import Mpu6050
from hardware.sim.lsm6dsox import Lsm6dsoxModel
from hardware.sim.motion import Still
from hardware.sim.mpu6050 import Mpu6050Model
from tests.hwrig import Rig, hw_rig, real_bus, sim_rig

CHIPS = {
    # name: (model class, driver class, address, WHO_AM_I register)
    "lsm6dsox": (Lsm6dsoxModel, Lsm6dsox, 0x6A, 0x0F),
    "mpu6050": (Mpu6050Model, Mpu6050, 0x68, 0x75),
}


def make_twin(chip: str) -> Rig:
    model_cls, driver_cls, address, _ = CHIPS[chip]
    return sim_rig(
        lambda clock: model_cls(clock, Still(up=(0.0, 0.0, 1.0)), seed=3),
        lambda bus, clock: driver_cls(bus, address, clock),
        address,
    )


@pytest.fixture(params=sorted(CHIPS))
def twin(request) -> Rig:
    return make_twin(request.param)


@pytest.fixture(params=[
    *[pytest.param(("twin", c), id=f"twin-{c}") for c in sorted(CHIPS)],
    *[pytest.param(("real", c), id=f"real-{c}", marks=pytest.mark.hardware) for c in sorted(CHIPS)],
])
def rig(request):
    """The driver tests that must pass on the twin and on the real chip alike."""
    kind, chip = request.param
    if kind == "twin":
        yield make_twin(chip)
        return
    _, driver_cls, address, who = CHIPS[chip]
    for bus in real_bus():
        yield hw_rig(bus, lambda b, clock: driver_cls(b, address, clock), address, who)


def collect(rig: Rig, seconds: float, step_s: float = 0.005) -> list[ImuSample]:
    """Read on an absolute ``step_s`` schedule for ``seconds`` of clock time (on real hardware
    the reads' own duration must not stretch the window)."""
    samples: list[ImuSample] = []
    start = rig.clock.now_s()
    for i in range(1, round(seconds / step_s) + 1):
        rig.clock.sleep_until(start + i * step_s)
        samples += rig.driver.read()
    return samples


# ------------------------------------------------------------------ same tests, twin or chip
def test_setup_identifies_and_describes(rig: Rig) -> None:
    rig.driver.setup()
    text = rig.driver.describe()
    assert rig.driver.chip in text
    assert f"{rig.address:#04x}" in text
    assert "±16 g" in text and "±2000 °/s" in text


def test_stream_is_complete_ordered_and_at_rate(rig: Rig) -> None:
    rig.driver.setup()
    samples = collect(rig, 0.5)
    rate = rig.driver.rate_hz
    assert abs(len(samples) - 0.5 * rate) <= 3
    seqs = [s.seq for s in samples]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no repeat
    times = [s.t_s for s in samples]
    assert all(b > a for a, b in pairwise(times))


def test_still_sensor_reads_one_g_with_noise(rig: Rig) -> None:
    rig.driver.setup()
    samples = collect(rig, 0.3)
    norms = [math.hypot(*s.acc_mps2) for s in samples]
    assert abs(sum(norms) / len(norms) - STANDARD_GRAVITY_MPS2) < 0.5
    # A healthy sensor never repeats itself exactly (this is what stuck detection relies on).
    assert all(a.acc_mps2 + a.gyro_rads != b.acc_mps2 + b.gyro_rads
               for a, b in pairwise(samples))


def test_late_loop_loses_nothing(rig: Rig) -> None:
    rig.driver.setup()
    collect(rig, 0.05)
    first = rig.driver.read()
    rig.advance(0.08)  # a 80 ms stall
    late = collect(rig, 0.05)
    seqs = [s.seq for s in first + late]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len(late) >= round(0.13 * rig.driver.rate_hz) - 2


# ------------------------------------------------------------------ twin only: timing detail
def test_backdated_timestamps_follow_chip_spacing(twin: Rig) -> None:
    twin.driver.setup()
    twin.advance(0.05)
    batch = twin.driver.read()
    spacing = [b.t_s - a.t_s for a, b in pairwise(batch)]
    assert len(batch) >= 9
    assert all(abs(d - 1.0 / twin.driver.rate_hz) < 1e-9 for d in spacing)
    assert batch[-1].t_s == pytest.approx(twin.clock.now_s())


def test_read_costs_two_transactions(twin: Rig) -> None:
    twin.driver.setup()
    twin.advance(0.005)
    before = twin.sim_bus.transfers
    twin.driver.read()
    # One block read of the FIFO count + one i2c_rdwr (pointer write, data read) = 3 messages.
    assert twin.sim_bus.transfers - before == 3


def test_catch_up_is_bounded_per_read(twin: Rig) -> None:
    twin.driver.setup()
    twin.advance(0.2)
    assert len(twin.driver.read()) <= 12
    rest = collect(twin, 0.1)
    assert len(rest) >= 30


def test_fifo_overflow_shows_as_gap_not_as_fresh_data(twin: Rig) -> None:
    twin.driver.setup()
    collect(twin, 0.02)
    last = twin.driver.read() or collect(twin, 0.01)
    twin.advance(5.0)  # far beyond what any FIFO holds
    after = collect(twin, 0.1)
    assert twin.driver.overruns >= 1
    assert after and after[0].seq - last[-1].seq > 100


# ------------------------------------------------------------------ twin only: faults
def test_wrong_who_am_i_refuses(twin: Rig) -> None:
    twin.model.who_am_i = 0x00
    with pytest.raises(ImuError, match="WHO_AM_I reads 0x00"):
        twin.driver.setup()


@pytest.mark.parametrize("fault", ["unplug", "timeout"])
def test_bus_faults_raise_kernel_errno(twin: Rig, fault: str) -> None:
    twin.driver.setup()
    if fault == "unplug":
        twin.sim_bus.unplug(twin.address)
        expected = errno.EREMOTEIO
    else:
        twin.sim_bus.set_timeout(twin.address)
        expected = errno.ETIMEDOUT
    twin.advance(0.005)
    with pytest.raises(OSError) as info:
        twin.driver.read()
    assert info.value.errno == expected


def test_replug_after_power_loss_needs_setup_again(twin: Rig) -> None:
    twin.driver.setup()
    collect(twin, 0.02)
    twin.sim_bus.unplug(twin.address)
    twin.advance(0.01)
    twin.sim_bus.replug(twin.address)
    # The chip came back in its power-on state: no samples until it is set up again.
    assert collect(twin, 0.05) == []
    twin.driver.setup()
    assert len(collect(twin, 0.05)) >= 9


def test_intermittent_errors_lose_no_sample_between_failures(twin: Rig) -> None:
    twin.driver.setup()
    twin.sim_bus.set_error_rate(twin.address, 0.2)
    samples, errors = [], 0
    for _ in range(200):
        twin.advance(0.005)
        try:
            samples += twin.driver.read()
        except OSError as exc:
            assert exc.errno == errno.EREMOTEIO
            errors += 1
    assert 60 <= errors <= 140  # 3 messages per read: ≈ 49 % of reads fail
    seqs = [s.seq for s in samples]
    assert seqs == sorted(set(seqs))  # never a repeat, whatever failed


def test_frozen_data_keeps_coming_identical(twin: Rig) -> None:
    twin.driver.setup()
    collect(twin, 0.02)
    twin.model.freeze = True
    samples = collect(twin, 0.05)[1:]
    assert len(samples) >= 8
    assert len({(s.acc_mps2, s.gyro_rads) for s in samples}) == 1


def test_saturation_reads_full_scale(twin: Rig) -> None:
    twin.driver.setup()
    twin.model.saturate = True
    samples = collect(twin, 0.03)[2:]
    full_scale = 16 * STANDARD_GRAVITY_MPS2
    assert samples and all(abs(s.acc_mps2[0] - full_scale) < 0.01 * full_scale for s in samples)


def test_real_range_saturates_like_the_chip() -> None:
    class Hard:
        def at(self, t_s):
            return (400.0, 0.0, 9.8), (0.0, 0.0, 100.0)  # 40 g, 5700 °/s

    for model_cls, driver_cls, address, _ in CHIPS.values():
        def model(c, m=model_cls):
            return m(c, Hard())

        def driver(b, c, d=driver_cls, a=address):
            return d(b, a, c)

        rig = sim_rig(model, driver, address)
        rig.driver.setup()
        s = collect(rig, 0.02)[-1]
        # Pinned at the most positive count, whatever the true value (the chip does the same).
        assert s.acc_mps2[0] == pytest.approx(32767 * rig.driver._acc_scale)
        assert s.gyro_rads[2] == pytest.approx(32767 * rig.driver._gyro_scale)
        assert 15.9 * STANDARD_GRAVITY_MPS2 < s.acc_mps2[0] < 16.1 * STANDARD_GRAVITY_MPS2


def test_stuck_fifo_never_yields_new_samples_or_repeats_seq(twin: Rig) -> None:
    twin.driver.setup()
    before = collect(twin, 0.02)
    twin.model.stuck_fifo = True
    after = collect(twin, 0.05)
    seqs = [s.seq for s in before + after]
    assert seqs == sorted(set(seqs))
    if after:  # MPU-6050: no counter, so the same frame comes back with identical values
        assert len({(s.acc_mps2, s.gyro_rads) for s in after}) == 1


def test_bad_ranges_are_refused() -> None:
    clock = __import__("hardware.clock").clock.SimClock()
    for _, driver_cls, address, _ in CHIPS.values():
        with pytest.raises(ValueError):
            driver_cls(None, address, clock, accel_range_g=3)  # type: ignore[arg-type]
