"""Ten simulated minutes of backward walking: no stop, no loop fault, nothing restarted, and
nothing in the simulated world growing without bound (the ten-hour run and its figures are in
docs/reliability.md)."""

from __future__ import annotations

from controller.sim_session import SessionPlan, build_session, outcome
from hardware.clock import SimClock
from hardware.sim.world import PIN_HISTORY

from .conftest import SIM_TOML


def test_ten_simulated_minutes_walking_backward_end_without_a_stop() -> None:
    clock = SimClock()
    system, scenario, driver, seed = build_session(
        SessionPlan(str(SIM_TOML), "walk-backward", duration_s=600.0), clock)
    try:
        system.loop.run(scenario.duration_s, on_tick=driver.on_tick)
        driver.end()
        # The heartbeat toggled ~120,000 times: its mock pin's history stays bounded.
        heartbeat = system.settings.gpio.heartbeat_pin
        assert heartbeat is not None
        assert system.loop.ticks > PIN_HISTORY
        assert len(system.world.pin_factory.pin(heartbeat).states) <= PIN_HISTORY
    finally:
        system.shutdown()
    row = outcome(system, driver, seed)
    assert row["outcome"] == "completed", row
    assert row["stop_reason"] is None and row["final_state"] == "running"
    assert row["restarts"] == 0 and not row["relay_closed_while_latched"]
    assert row["max_speed_kmh"] is not None and 1.4 <= row["max_speed_kmh"] <= 1.5
