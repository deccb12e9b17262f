"""The session program on the simulated machine, and progression across sessions."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest

from controller import config as cfg
from controller.events import EventLog
from controller.profiles import PROFILES, RunnerLimits, new_limits
from controller.program import Plan, Program
from controller.program_sim import run_program
from controller.progression import next_limits
from controller.sessions import start_services
from controller.settings import PathsSettings, ProgramSettings, SessionSettings
from controller.store import Store, StoreError
from tests.conftest import SIM_TOML, Build

SHORT = {"warmup_s": 10.0, "bouts": 2, "rest_s": 5.0, "cooldown_s": 10.0,
         "session_limit_s": 60.0}
"""A short program (the bounds' low end) so a simulated session takes ~45 s of clock time."""


def new_runner(state: Path, name: str = "ann", **changes: Any) -> RunnerLimits:
    p = PROFILES["backward-walking"]
    limits = dataclasses.replace(new_limits(p, ProgramSettings()), **{**SHORT, **changes})
    store = Store(state)
    store.add_runner(name, p.name, limits, None, "test")
    store.close()
    return limits


def stored(state: Path, name: str = "ann") -> tuple[RunnerLimits, list[dict[str, Any]]]:
    store = Store(state)
    try:
        return store.runner(name).limits, store.sessions(name)
    finally:
        store.close()


def speeds_sent(out: str) -> list[float]:
    """The commanded speeds in the account (``speed`` events)."""
    return [float(m) for m in re.findall(r"  speed +speed (\d+\.\d) km/h", out)]


def test_a_new_runners_program_completes_and_the_next_session_has_progressed(
        tmp_path: Path) -> None:
    before = new_runner(tmp_path)
    settings = cfg.load(SIM_TOML)
    out = io.StringIO()
    code, outcome = run_program(settings, tmp_path, "ann", out=out)
    assert code == 0, out.getvalue()
    program = outcome["program"]
    assert (outcome["runner"], outcome["profile"]) == ("ann", "backward-walking")
    assert program["ended_by"] == "program"
    assert program["bouts_completed"] == program["bouts_planned"] == 2
    assert program["warmup_s"] == pytest.approx(before.warmup_s, abs=0.01)
    assert program["steps_total"] >= 2 * before.bout_steps
    # Warm-up, both bouts, the rest and the cool-down all within the session's time limit.
    assert program["session_s"] <= before.session_limit_s
    assert (outcome["final_state"], outcome["outcome"], outcome["stop_reason"]) == (
        "latched", "completed", None)
    assert outcome["belt_stopped"] and outcome["latched"] and outcome["restarts"] == 0
    assert not outcome["relay_closed_while_latched"]
    text = out.getvalue()
    assert text.index("bout 1/2 done") < text.index("rest 5 s") < text.index("bout 2/2:")
    assert "cool-down 10 s" in text and "session over (program)" in text
    # The program asked for the bout speed and never more.
    assert max(speeds_sent(text)) == before.bout_speed_kmh
    after, sessions = stored(tmp_path)
    assert after.bout_speed_kmh == pytest.approx(before.bout_speed_kmh + 0.1)
    assert after.bout_steps == before.bout_steps + 2
    assert after.session_limit_s == before.session_limit_s + 30
    assert sessions[0]["ended_by"] == "program" and sessions[0]["clean"]


def test_after_a_session_ended_by_a_slip_the_limits_have_not_progressed(tmp_path: Path) -> None:
    before = new_runner(tmp_path)
    settings = cfg.load(SIM_TOML)
    out = io.StringIO()
    # Walking from 5.3 s; the warm-up ends at ≈ 15.2 s: a slip in the first bout.
    code, outcome = run_program(settings, tmp_path, "ann", slip_at_s=18.0, out=out)
    assert code == 0, out.getvalue()
    # The slip is caught by the slip/trip rule or, a few ms earlier, by the fall model.
    ended_by = outcome["program"]["ended_by"]
    assert ended_by in {"slip_trip", "pre_impact"}
    assert outcome["program"]["bouts_completed"] == 0
    # The scenario's outcome keys too: a safety stop, its reaction on the wire, latched.
    assert (outcome["outcome"], outcome["stop_reason"]) == ("stopped", ended_by)
    assert outcome["onset_s"] == 18.0 and 0 < outcome["reaction_ms"] < 500
    assert outcome["belt_stopped"] and outcome["latched"] and outcome["restarts"] == 0
    after, sessions = stored(tmp_path)
    assert after.bout_speed_kmh < before.bout_speed_kmh  # lowered, not raised
    assert after.bout_steps <= before.bout_steps
    assert after.session_limit_s == before.session_limit_s
    assert sessions[0]["ended_by"] == ended_by and not sessions[0]["clean"]
    store = Store(tmp_path)
    assert [e.who for e in store.audit("ann")][-1] == "progression"
    store.close()


def summary(ended_by: str, cautions: int = 0) -> dict[str, Any]:
    return {"program": {"ended_by": ended_by}, "cautions": cautions}


LIMITS = new_limits(PROFILES["backward-walking"], ProgramSettings())


def test_progression_rises_only_after_a_clean_completed_session() -> None:
    up = next_limits(LIMITS, PROFILES["backward-walking"], summary("program"))
    assert up is not None
    assert (up.bout_speed_kmh, up.bout_steps, up.session_limit_s) == (1.6, 12, 210.0)
    for held in (summary("program", cautions=1), summary("time_limit"),
                 summary("stop_requested"), summary("estop"), summary("imu_stale")):
        assert next_limits(LIMITS, PROFILES["backward-walking"], held) is None


def test_progression_never_passes_the_runners_cap() -> None:
    at_cap = dataclasses.replace(LIMITS, bout_speed_kmh=3.0, max_speed_kmh=3.0)
    up = next_limits(at_cap, PROFILES["backward-walking"], summary("program"))
    assert up is not None and up.bout_speed_kmh == 3.0


def test_an_instability_stop_lowers_bout_speed_and_length_not_below_warmup() -> None:
    down = next_limits(LIMITS, PROFILES["backward-walking"], summary("fall"))
    assert down is not None and down.bout_speed_kmh == 1.4 and down.bout_steps == 8
    floor = dataclasses.replace(LIMITS, bout_speed_kmh=1.0, bout_steps=5)
    assert next_limits(floor, PROFILES["backward-walking"], summary("slip_trip")) is None


def test_rest_mode_stop_latches_between_bouts_and_the_person_starts_each_bout(
        tmp_path: Path) -> None:
    new_runner(tmp_path, rest_mode="stop")
    out = io.StringIO()
    code, outcome = run_program(cfg.load(SIM_TOML), tmp_path, "ann", out=out)
    assert code == 0, out.getvalue()
    assert outcome["program"]["ended_by"] == "program"
    assert outcome["program"]["bouts_completed"] == 2
    text = out.getvalue()
    # The rest was a latched stop, and the next bout began only after a reset and a start.
    rest = text.index("STOP: bout_rest")
    assert text.index("reset by operator", rest) < text.index("countdown:", rest) \
        < text.index("bout 2/2:", rest)


def test_a_runner_over_their_sessions_per_week_is_refused_a_start() -> None:
    program = Program(EventLog(), lambda: 0, lambda: None)
    limits = new_limits(PROFILES["backward-walking"], ProgramSettings())
    program.select(Plan("ann", PROFILES["backward-walking"], limits, sessions_this_week=2))
    assert program.start_problems() == []
    program.select(Plan("ann", PROFILES["backward-walking"], limits, sessions_this_week=3))
    (problem,) = program.start_problems()
    assert "3 sessions in the last 7 days" in problem and "sessions_per_week = 3" in problem


def test_a_home_users_configured_runner_is_the_runner_of_every_session(
        build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path) -> None:
    new_runner(tmp_path, "solo")
    settings = dataclasses.replace(sim_settings, paths=PathsSettings(state_dir=str(tmp_path)),
                                   session=SessionSettings(speed_kmh=1.0, runner="solo"))
    system = build_sim("walk", settings)
    services = start_services(system, settings, serve=False)
    try:
        system.loop.run(0.1)
        assert services.program.plan is not None and services.program.plan.runner == "solo"
    finally:
        system.shutdown()
        services.close()


def test_an_unknown_configured_runner_is_one_clear_error(
        build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(sim_settings, paths=PathsSettings(state_dir=str(tmp_path)),
                                   session=SessionSettings(speed_kmh=1.0, runner="nobody"))
    system = build_sim("idle", settings)
    with pytest.raises(StoreError, match="no runner called 'nobody'"):
        start_services(system, settings, serve=False)
