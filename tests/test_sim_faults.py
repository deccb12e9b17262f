"""Every `treadguard sim --fault` during a backward walk: the belt stops and stays stopped
(latched), nothing restarts it, the power never comes back while latched, and the reaction is
within the fault's deadline. The faults break the simulated parts, not flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main
from controller.fault_matrix import DEADLINE_MS, check_fault, fault_row, scenario_row
from controller.sim_faults import FAULTS, STALL_S
from controller.sim_session import SessionPlan, run_quiet

from .conftest import SIM_TOML

FAULT_AT_S = 9.5  # walking at 1.5 km/h since ≈ 8.3 s
AFTER_S = 3.0
SAFETY_FAULTS = [name for name, f in FAULTS.items() if f.kind != "config"]


@pytest.mark.parametrize("fault", SAFETY_FAULTS)
def test_the_fault_stops_the_belt_and_latches(fault: str) -> None:
    row = fault_row(str(SIM_TOML), fault, None, FAULT_AT_S, AFTER_S)
    assert row["outcome"] == "stopped", row
    assert row["belt_stopped"] and row["latched"], row
    assert row["restarts"] == 0 and not row["relay_closed_while_latched"], row
    assert row["reaction_ms"] is not None
    assert row["reaction_ms"] <= DEADLINE_MS[FAULTS[fault].kind], row
    assert row["problems"] == [] and row["ok"]


def test_loop_stall_really_blocks_the_loop() -> None:
    """The stall is a tick that takes 0.6 s of clock time: the treadmill, in lockstep, sees
    0.6 s without a byte too, and the loop notices the gap on its next tick."""
    row = run_quiet(SessionPlan(str(SIM_TOML), "walk-backward", "loop-stall", FAULT_AT_S,
                                duration_s=FAULT_AT_S + AFTER_S))
    assert row["stop_reason"] == "loop_stall"
    assert row["reaction_ms"] is not None and row["reaction_ms"] >= STALL_S * 1000.0


def test_an_edited_configuration_does_not_change_the_running_session(tmp_path: Path) -> None:
    row = fault_row(str(SIM_TOML), "config-changed-while-running", None, FAULT_AT_S, 8.0)
    assert row["ok"], row["problems"]
    assert row["outcome"] == "completed" and row["max_speed_kmh"] <= 1.5
    # The user's file is never the one edited; the edit is what the next arming would read.
    assert "speed_kmh = 1.5" in SIM_TOML.read_text()
    copy = tmp_path / "sim.toml"
    copy.write_text(SIM_TOML.read_text().replace("speed_kmh = 1.5", "speed_kmh = 2.9"))
    assert cfg.load(copy).session.speed_kmh == 2.9


def test_a_fault_the_session_cannot_have_is_one_line(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    relay_only = SIM_TOML.parent / "sim-relay-only.toml"
    assert main(["sim", "--fast", "--config", str(relay_only), "--scenario", "walk-backward",
                 "--fault", "treadmill-silent", "--fault-at-s", "1", "--duration-s", "2"]) == 1
    err = capsys.readouterr().err
    assert "treadmill-silent needs the simulated treadmill" in err
    assert len(err.strip().splitlines()) == 1


def test_the_checks_catch_what_they_are_for() -> None:
    """The matrix's checks fail a row that is unsafe (so a passing matrix means something)."""
    good = {"outcome": "stopped", "belt_stopped": True, "latched": True, "restarts": 0,
            "relay_closed_while_latched": False, "reaction_ms": 40.0, "max_speed_kmh": 1.45,
            "stop_reason": "estop"}
    assert check_fault(good, "sensor") == []
    for key, value, says in (("belt_stopped", False, "belt not stopped"),
                             ("latched", False, "not latched"),
                             ("restarts", 1, "restart"),
                             ("relay_closed_while_latched", True, "power closed"),
                             ("reaction_ms", 150.0, "reaction 150.0 ms > 100 ms"),
                             ("reaction_ms", None, "no reaction")):
        problems = check_fault({**good, key: value}, "sensor")
        assert any(says in p for p in problems), (key, problems)
    assert check_fault({**good, "outcome": "completed", "max_speed_kmh": 2.9}, "config")


@pytest.mark.parametrize("name", ["slip", "rail-grab"])
def test_scenario_rows_of_the_matrix(name: str) -> None:
    row = scenario_row(str(SIM_TOML), name, None)
    assert row["ok"] and row["outcome"] == "stopped"


@pytest.mark.parametrize("fault", ["daemon-killed", "daemon-restarted-after-runaway"])
def test_a_killed_controller_leaves_a_stopped_belt_and_restarts_latched(fault: str) -> None:
    """The controller's process really dies (SIGKILL: run_killed raises unless the child exited
    by that signal); the treadmill process, alone, stops its belt on the open key loop; a
    controller started again comes up latched with the power cut."""
    row = run_quiet(SessionPlan(str(SIM_TOML), "walk-backward", fault, FAULT_AT_S,
                                duration_s=FAULT_AT_S + AFTER_S))
    assert row["belt_stopped"] and row["belt_stopped_s"] is not None
    assert row["belt_stopped_s"] - row["onset_s"] <= 0.5  # coasting from ≤ 2 km/h
    assert row["latched"] and row["final_state"] == "latched"
    assert not row["relay_closed_while_latched"] and row["restarts"] == 0
    if fault == "daemon-restarted-after-runaway":
        assert row["max_speed_kmh"] > 1.6  # the belt did run away before the kill
