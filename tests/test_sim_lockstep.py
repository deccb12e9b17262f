"""The lockstep skips the exchanges with the treadmill process in which nothing can happen —
and the session is the same, byte for byte on the wire, as with an exchange every tick."""

from __future__ import annotations

import pytest

from controller.sim_faults import inject
from hardware.sim.scenario_file import NAMED, build

from .conftest import Build, SimSystem


def session(build_sim: Build, skip: bool, fault: str | None) -> tuple[SimSystem, list[object]]:
    system = build_sim(build(NAMED["slip"], seed=3, duration_s=14.0))
    system.world.treadmill.skip_quiet = skip
    system.loop.run(10.0)
    if fault is not None:
        inject(fault, system, None)
    system.loop.run(4.0)
    return system, [system.world.treadmill.wire_log(), system.world.treadmill.state(),
                    [str(e) for e in system.events]]


@pytest.mark.parametrize("fault", [None, "treadmill-power-cycle", "treadmill-silent",
                                   "belt-runaway"])
def test_skipping_quiet_exchanges_changes_nothing(build_sim: Build, fault: str | None) -> None:
    every_tick, a = session(build_sim, False, fault)
    skipping, b = session(build_sim, True, fault)
    assert a == b
    # …and it does skip: most ticks between polls need no exchange.
    assert skipping.world.treadmill.exchanges < 0.7 * every_tick.world.treadmill.exchanges
