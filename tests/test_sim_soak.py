"""Ten simulated minutes of backward walking: no stop, no loop fault, nothing restarted (the
ten-hour run and its figures are in docs/reliability.md)."""

from __future__ import annotations

from controller.sim_session import SessionPlan, run_quiet

from .conftest import SIM_TOML


def test_ten_simulated_minutes_walking_backward_end_without_a_stop() -> None:
    row = run_quiet(SessionPlan(str(SIM_TOML), "walk-backward", duration_s=600.0))
    assert row["outcome"] == "completed", row
    assert row["stop_reason"] is None and row["final_state"] == "running"
    assert row["restarts"] == 0 and not row["relay_closed_while_latched"]
    assert row["max_speed_kmh"] is not None and 1.4 <= row["max_speed_kmh"] <= 1.5
