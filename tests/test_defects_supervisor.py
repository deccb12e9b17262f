"""Defects found by a safety review: power at start, odd caps, shutdown, the start countdown.

Each test here failed on the code before its fix (see docs/architecture.md, fault table).
Built through the real composition root on examples/sim.toml, faults in the simulated world.
"""

from __future__ import annotations

import dataclasses
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller import config as cfg
from controller.config import LimitsSettings
from controller.governor import Governor
from controller.supervisor import State
from hardware.sim.scenarios import SCENARIOS
from hardware.sim.treadmill_model import decode_host_commands
from hardware.trackmaster_protocol import AUTO_STOP, SET_SPEED, STOP, speed_tenths
from hardware.units import KMH_PER_MPH

from .conftest import Build, treadmill

STOPS = (STOP, AUTO_STOP)


# ---------------------------------------------------------------- 1: power at start
def test_power_on_keeps_treadmill_power_cut_until_a_human_reset(build_sim: Build) -> None:
    """A restarted daemon (crash, Restart=on-failure, reboot) must not give the treadmill its
    power back by itself: from the first tick the relay stays open until a human reset."""
    system = build_sim("demo")  # the operator holds reset from 0.5 s to 1.7 s
    relay_pin = system.world.pin_factory.pin(system.settings.gpio.relay_pin)
    closed_at: list[float] = []

    def watch() -> None:
        if relay_pin.state:
            closed_at.append(system.clock.now_s())

    system.loop.run(1.45, on_tick=watch)
    assert closed_at == [], f"relay energised at {closed_at[:1]} s before any reset"
    sup = system.supervisor
    assert sup.power_cut and sup.stop_latched
    assert treadmill(system)["key_closed"] is False
    system.loop.run(0.1, on_tick=watch)  # held 1.0 s from 0.5 s: the reset at 1.5 s
    assert closed_at, "a human reset must close the relay"
    system.loop.run(4.0)  # the start at 2.0 s still works after the power came back
    assert sup.state is State.RUNNING
    assert treadmill(system)["running"] is True


def test_power_on_stays_cut_when_nobody_resets(build_sim: Build) -> None:
    system = build_sim("idle")
    system.loop.run(3.0)
    assert system.supervisor.power_cut
    assert system.safety_io.relay_closed is False
    state = treadmill(system)
    assert state["key_closed"] is False and state["belt_kmh"] == 0.0


# ---------------------------------------------------------------- 7: caps off the 0.1 grid
@settings(max_examples=300, deadline=None)
@example(cap=2.99999999, start=0.5, target=2.99999999, units="kmh", cautions=[])
@example(cap=2.99999999, start=0.5, target=8.0, units="mph", cautions=[10.0])
@given(
    cap=st.floats(min_value=0.1, max_value=cfg.HARD_MAX_SPEED_KMH),
    start=st.floats(min_value=0.1, max_value=1.0),
    target=st.floats(min_value=0.0, max_value=10.0),
    units=st.sampled_from(["mph", "kmh"]),
    cautions=st.lists(st.floats(min_value=0.0, max_value=30.0), max_size=4),
)
def test_governor_speeds_never_exceed_the_cap_and_always_fit_the_wire(
        cap: float, start: float, target: float, units: str, cautions: list[float]) -> None:
    """Any valid [limits] (the cap need not be a multiple of 0.1): every speed the governor
    gives is ≤ the cap and is accepted by the link's own cap check (which raises in the tick)."""
    start = min(start, cap)
    limits = LimitsSettings(start_speed_kmh=start, max_speed_kmh=cap, ramp_mps2=0.25,
                            stop_decel_mps2=1.0)
    gov = Governor(limits, target)
    per_kmh = 1.0 / KMH_PER_MPH if units == "mph" else 1.0
    pending = sorted(cautions)
    speeds = [gov.begin(0.0)]
    t = 0.0
    while t < 40.0:
        t += 0.005
        while pending and pending[0] <= t:
            gov.caution(pending.pop(0))
        speeds.append(gov.speed_at(t))
    for speed in speeds:
        assert speed <= cap + 1e-9
        tenths = speed_tenths(speed * per_kmh, cap * per_kmh)  # raises if above the cap
        assert tenths / 10.0 / per_kmh <= cap + 1e-9


def test_a_cap_that_is_not_a_multiple_of_a_tenth_runs_without_an_internal_error(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    """max_speed_kmh = 2.99999999: the governor rounded up past the cap, the link raised in
    the tick, the belt stopped with internal_error and the daemon exited."""
    cap = 2.99999999
    odd = dataclasses.replace(
        sim_settings,
        limits=dataclasses.replace(sim_settings.limits, max_speed_kmh=cap),
        session=dataclasses.replace(sim_settings.session, speed_kmh=cap))
    walk = SCENARIOS["walk"]()
    system = build_sim(dataclasses.replace(walk, target_speed_kmh=cap), settings=odd)
    system.loop.run(14.0)
    sup = system.supervisor
    assert sup.state is State.RUNNING, f"stopped: {sup.stop_reason}"
    sent = [data for _, op, data in decode_host_commands(system.world.treadmill.wire_log())
            if op == SET_SPEED]
    assert sent, "the belt never got a speed"
    cap_mph_tenths = math.floor(cap / KMH_PER_MPH * 10 + 1e-9)
    assert max(int(data[1:]) for data in sent) <= cap_mph_tenths


# ---------------------------------------------------------------- 5: shutdown mid-ramp
def test_shutdown_completes_the_controlled_stop_before_opening_the_relay(
        build_sim: Build, sim_settings: cfg.Settings) -> None:
    """SIGTERM at 2.9 km/h: shutdown(grace_s=0.3) opened the relay and closed the port with the
    belt at 1.91 km/h and no stop command on the wire."""
    fast = dataclasses.replace(
        sim_settings, session=dataclasses.replace(sim_settings.session, speed_kmh=2.9))
    walk = SCENARIOS["walk"]()
    system = build_sim(dataclasses.replace(walk, target_speed_kmh=2.9), settings=fast)
    system.loop.run(13.0)  # start pressed at 2 s, the countdown, the cue, the ramp to 2.9
    assert treadmill(system)["belt_kmh"] > 2.7
    system.shutdown()
    world = system.world
    # The treadmill's own state at the moment the relay opened and the port closed.
    assert world.final_state["belt_kmh"] == 0.0 and world.final_state["status"] == "STOPPED"
    assert any(op in STOPS for _, op, _ in decode_host_commands(world.final_wire))
    sup = system.supervisor
    assert sup.state is State.LATCHED and sup.stop_reason == "shutdown"
    assert not any("belt_not_stopping" in e.message for e in system.events)
    assert not world.pin_factory.pin(system.settings.gpio.relay_pin).state  # opened last


def test_shutdown_with_a_belt_that_ignores_the_stop_cuts_power_by_the_deadline(
        build_sim: Build) -> None:
    """The fault path of a shutdown: the treadmill acknowledges the stop but keeps running. The
    shutdown must not wait for ever nor release with power on: by the supervisor's stop
    deadline the relay opens (belt_not_stopping), the key loop opens, and the belt coasts."""
    system = build_sim("walk")
    system.loop.run(10.0)
    assert treadmill(system)["belt_kmh"] > 1.0
    world = system.world
    world.treadmill.inject("ignore_stop")
    started_s = system.clock.now_s()
    system.shutdown()
    ended_s = system.clock.now_s()
    sup = system.supervisor
    assert sup.power_cut and sup.stop_latched
    assert any("relay opened" in e.message for e in system.events)
    # Bounded: 1.5 km/h at 1 m/s² + 1 s margin, then at most half a second of ticks.
    assert ended_s - started_s <= 1.5 / 3.6 / 1.0 + 1.0 + 0.5 + 1e-9
    assert world.final_state["key_closed"] is False  # the treadmill lost power
    assert not world.pin_factory.pin(system.settings.gpio.relay_pin).state
