"""The hands-on profile on the simulated treadmill's bytes: a hand off a rail lowers the speed
on the wire at once (a caution), the stop goes out only once the hand has been off for
``[detect] rail_hands_off_s``, and a hand back within that time means no stop at all."""

from __future__ import annotations

from typing import Final

from controller import config as cfg
from controller.supervisor import State
from hardware.sim.grip import Hand
from hardware.sim.treadmill_model import decode_host_commands
from hardware.trackmaster_protocol import SET_SPEED, STOP
from hardware.units import KMH_PER_MPH
from tests.conftest import Build, SimSystem

HAND: Final = Hand(touch=True, force_n=10.0)  # above light touch (5 N) from the first reading
TICK_S: Final = 0.005


def walking_hands_on(build_sim: Build) -> SimSystem:
    """The "walk" scenario in hands-on mode, both hands on the rails, at its steady speed."""
    system = build_sim("walk")
    assert system.rail_detector is not None
    system.rail_detector.hands_on = True
    hands = system.world.hands
    hands.left = hands.right = HAND
    assert system.loop.run_until(lambda: system.supervisor.state is State.RUNNING, 8.0)
    system.loop.run(8.0)  # ramped to the session's speed
    assert system.supervisor.state is State.RUNNING
    return system


def commands_since(system: SimSystem, t_s: float) -> list[tuple[float, int, bytes]]:
    return [c for c in decode_host_commands(system.world.treadmill.wire_log()) if c[0] >= t_s]


def speeds_kmh(commands: list[tuple[float, int, bytes]]) -> list[tuple[float, float]]:
    return [(t, int(data[1:]) / 10.0 * KMH_PER_MPH) for t, op, data in commands
            if op == SET_SPEED and len(data) == 4 and data.isdigit()]


def steady_speed_kmh(system: SimSystem) -> float:
    return speeds_kmh(commands_since(system, 0.0))[-1][1]


def test_a_hand_off_slows_the_belt_at_once_and_stops_it_only_after_the_time(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    system = walking_hands_on(build_sim)
    before_kmh = steady_speed_kmh(system)
    assert before_kmh > 1.0
    off_at = system.clock.now_s()
    system.world.hands.right = Hand()  # the right hand leaves the rail, and stays off
    system.loop.run(1.5)
    commands = commands_since(system, off_at)
    slower = [t for t, kmh in speeds_kmh(commands) if kmh < before_kmh - 1e-6]
    assert slower and slower[0] - off_at < 0.2, "no lower speed on the wire at once"
    stops = [t for t, op, _ in commands if op == STOP]
    hands_off_s = sim_settings.detect.rail_hands_off_s
    assert stops, "the belt was not stopped"
    assert hands_off_s - 2 * TICK_S <= stops[0] - off_at < hands_off_s + 0.2
    assert slower[0] < stops[0]
    assert system.supervisor.stop_reason == "hands_off"
    assert [e.message for e in system.events if e.kind == "caution"][-1].startswith(
        "caution: hands_off")


def test_a_hand_back_within_the_time_slows_the_belt_but_never_stops_it(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    system = walking_hands_on(build_sim)
    before_kmh = steady_speed_kmh(system)
    off_at = system.clock.now_s()
    system.world.hands.left = Hand()
    system.loop.run(sim_settings.detect.rail_hands_off_s * 0.6)
    system.world.hands.left = HAND  # back on the rail in time
    system.loop.run(3.0)
    commands = commands_since(system, off_at)
    assert any(kmh < before_kmh - 1e-6 for _, kmh in speeds_kmh(commands))
    assert not any(op == STOP for _, op, _ in commands)
    assert system.supervisor.state is State.RUNNING


def test_each_hand_off_in_a_run_is_announced(build_sim: Build,
                                             sim_settings: cfg.Settings) -> None:
    """A second hand off the rail in the same run must be heard again (the buzzer follows the
    caution event), not only slow the belt."""
    system = walking_hands_on(build_sim)
    off_s = sim_settings.detect.rail_hands_off_s * 0.6
    for _ in range(2):
        system.world.hands.left = Hand()
        system.loop.run(off_s)
        system.world.hands.left = HAND
        system.loop.run(3.0)
    cautions = [e for e in system.events
                if e.kind == "caution" and e.message.startswith("caution: hands_off")]
    assert len(cautions) == 2
    assert system.supervisor.state is State.RUNNING
