"""Detector baselines at every start: the instability detector's baseline and the gait's rhythm
are reset when the belt starts and built again during the warm-up, while the step total goes on
counting, so the program's bouts (counted from the total at each bout's start) are unaffected —
across a rest with the belt stopped too, while the simulated runner kept stepping through it."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Final

from controller import config as cfg
from controller.devices import world_with_treadmill
from controller.profiles import PROFILES, new_limits
from controller.program import Plan
from controller.sessions import attach_program
from controller.settings import ProgramSettings
from controller.stop_reasons import StopReason
from controller.supervisor import State
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from tests.conftest import simulate

WALK_FROM_S: Final = 1.0
"""The simulated runner steps from here on, before the start and through the rests."""


def test_baselines_reset_at_each_start_and_the_step_total_keeps_counting(
        sim_settings: cfg.Settings) -> None:
    scenario = Scenario("baselines", 1e9, None, BackwardWalkWithSlip(WALK_FROM_S, 1e9, None),
                        (Action(0.5, "reset", 1.2, "reset"), Action(8.0, "reset", 0.2, "start")))
    system = simulate(sim_settings, scenario, world_with_treadmill)
    try:
        program = attach_program(system)
        p = PROFILES["backward-walking"]
        limits = dataclasses.replace(new_limits(p, ProgramSettings()), warmup_s=10.0,
                                     bouts=2, bout_steps=8, rest_mode="stop", rest_s=3.0,
                                     cooldown_s=3.0)
        program.select(Plan("ann", p, limits))
        det = system.detector
        assert det is not None
        sup, world, clock = system.supervisor, system.world, system.clock
        at_starts: list[dict[str, Any]] = []
        totals: list[int] = []
        was_running = [False]

        def watch() -> None:
            totals.append(det.steps.steps)
            running = sup.state is State.RUNNING
            if running and not was_running[0]:
                at_starts.append({"t_s": clock.now_s(), "steps": det.steps.steps,
                                  "cadence": det.steps.cadence_spm(),
                                  "baseline_s": det.instability.baseline_s,
                                  "warmup_baseline_s": None})
            if program.phase.value == "bout" and at_starts \
                    and at_starts[0]["warmup_baseline_s"] is None:
                at_starts[0]["warmup_baseline_s"] = det.instability.baseline_s
            if sup.state is State.LATCHED and sup.stop_reason == StopReason.BOUT_REST \
                    and len(at_starts) == 1 and not world.actions[-1].note.startswith("again"):
                now = clock.now_s()
                world.actions = (*world.actions, Action(now + 0.5, "reset", 1.2, "again: reset"),
                                 Action(now + 2.2, "reset", 0.2, "again: start"))
            was_running[0] = running

        system.loop.run(9.0, on_tick=watch)
        assert det.steps.cadence_spm() > 0.0  # stepping before the belt started
        system.loop.run(90.0, on_tick=watch,
                        keep_running=lambda: program.last_outcome is None)

        assert len(at_starts) == 2  # the first start and the start after the stopped rest
        tick_s = system.loop.period_s
        for start in at_starts:
            # Reset in the start's own tick, though the runner had been stepping all along.
            assert start["baseline_s"] <= tick_s + 1e-9
            assert start["cadence"] == 0.0
            assert start["steps"] > 0  # the total was not reset
        # Built during the warm-up: the first bout starts on a baseline of the warm-up's length.
        assert abs(at_starts[0]["warmup_baseline_s"] - limits.warmup_s) < 0.1
        assert all(b >= a for a, b in itertools.pairwise(totals))  # never goes back

        outcome = program.last_outcome
        assert outcome is not None
        assert outcome["program"]["ended_by"] == "program"
        assert outcome["program"]["bouts_completed"] == 2
        # Every step of the session (warm-up, both bouts, the cool-down) and no more.
        steps_total = outcome["program"]["steps_total"]
        assert steps_total >= 2 * limits.bout_steps
        assert steps_total <= det.steps.steps - at_starts[0]["steps"] + 1
    finally:
        system.shutdown()
