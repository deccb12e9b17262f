"""The composition root builds the sensors and safety I/O the configuration names."""

from __future__ import annotations

from controller import app
from controller import config as cfg
from controller.devices import world_with_treadmill
from hardware.clock import SimClock
from hardware.mpu6050 import Mpu6050
from hardware.safety_io import SafetyIO
from hardware.sim.motion import Still
from tests.conftest import ROOT, SIM_TOML, SimSystem


def idle(settings: cfg.Settings) -> SimSystem:
    """The simulated machine the file describes, nobody at it."""
    clock = SimClock()
    return app.assemble(settings, clock, world_with_treadmill(settings, clock, Still()))


def test_sim_toml_builds_lsm6dsox_rails_and_safety_io() -> None:
    system = idle(cfg.load(SIM_TOML))
    try:
        assert system.imu.chip == "LSM6DSOX"
        assert system.rails is not None and len(system.rails.devices) == 3
        assert isinstance(system.safety_io, SafetyIO)
        assert system.stop_chain.problems() == []
        text = "\n".join(system.describe())
        assert "MPR121 at 0x5a" in text and "ADS1115 at 0x49" in text
        system.loop.run(0.2)
        sample = system.rails.read()
        assert sample.touch_left is False
        assert sample.force_right_n is not None and sample.force_right_n < 0.01  # ADC noise
        # Pull the key on the simulated machine: the stop chain now forbids a start.
        system.world.pin_factory.pin(23).drive_high()
        assert system.stop_chain.problems() == ["safety key is out"]
    finally:
        system.shutdown()


def test_sim_mpu6050_toml_builds_the_mpu6050() -> None:
    settings = cfg.load(ROOT / "examples" / "sim-mpu6050.toml")
    system = idle(settings)
    try:
        assert isinstance(system.imu, Mpu6050)
        assert system.world.imu_model.chip == "MPU-6050"
        system.loop.run(0.5)
        assert system.loop.samples >= 90  # 200 Hz through the FIFO, none lost
    finally:
        system.shutdown()
