"""Audit: fault paths that must end with the belt stopped and latched (see docs/architecture.md).

Built like tests/test_end_to_end.py: the real composition root on examples/sim.toml, faults
injected in the simulated world, never by calling the controller's internals to fake them.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller import app
from controller.events import Event
from controller.supervisor import State
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.trackmaster_protocol import START_CDS

from .conftest import Build, SimSystem, host_bytes, treadmill


def freeze_rail_chips(system: SimSystem) -> None:
    """Touch and force chips keep answering, with the same values for ever."""
    twins = system.world.rail_twins
    assert twins.touch is not None
    twins.touch.freeze = True
    for force in twins.force.values():
        force.freeze = True

def test_welded_relay_refuses_the_reset_so_no_start_follows(build_sim: Build) -> None:
    """A welded stop relay: after the e-stop (which opens the relay, and the welded contact
    says so), a reset must not close the relay again and let a start through — once the relay
    is closed the feedback agrees with the coil and the welded contact is invisible."""
    scenario = Scenario("welded-then-restart", 17.0, 1.5, BackwardWalkWithSlip(5.3, 17.0, None),
                        (Action(0.5, "reset", 1.2, "reset"), Action(2.0, "reset", 0.2, "start"),
                         Action(11.0, "reset", 1.2, "reset after the e-stop"),
                         Action(13.0, "reset", 0.2, "start again")))
    system = build_sim(scenario)
    system.loop.run(5.5)  # the start's 3 s countdown has played
    assert system.supervisor.state is State.RUNNING
    g = system.settings.gpio
    system.world.pin_factory.pin(g.relay_pin).input_pin = None  # the contact no longer follows
    system.world.estop_pressed = True
    system.loop.run(1.0)
    system.world.estop_pressed = False
    system.loop.run(2.0)  # to 8.5 s: latched, e-stop released
    assert system.supervisor.stop_latched and system.supervisor.power_cut
    assert any("relay_welded" in e.message for e in system.events)
    system.loop.run(8.0)  # reset held at 11 s, start pressed at 13 s (+ a countdown)
    starts = [t for t, b in host_bytes(system) if b == START_CDS]
    assert len(starts) == 1, "a start went out with a welded stop relay"
    assert system.supervisor.stop_latched  # still latched: the reset was refused
    assert any("reset refused" in e.message and "welded" in e.message for e in system.events)
    assert treadmill(system)["running"] is False


def test_a_failing_event_listener_does_not_skip_the_stop(build_sim: Build) -> None:
    """`treadguard run` prints every event from a listener; a listener that raises (stdout a
    broken pipe after journald restarts, a buzzer pin error) must not abort the stop path."""
    system = build_sim("walk")
    system.loop.run(9.0)
    assert system.supervisor.state is State.RUNNING

    def broken(event: Event) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    system.events.subscribe(broken)
    system.world.bus.unplug(0x6A)
    system.loop.run(3.0)  # must not raise
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason in ("imu_stale", "i2c_error_budget")
    assert treadmill(system)["belt_kmh"] == 0.0


def test_a_frozen_imu_fails_the_arming_checklist(build_sim: Build) -> None:
    """A frozen IMU (samples keep coming, values identical) while READY: the start must be
    refused (sensors "fresh and plausible"), not sent as A0 and stopped one tick later."""
    system = build_sim("walk")  # reset held 0.5–1.7 s (READY at 1.5 s), start pressed at 2.0 s
    system.loop.run(1.6)
    assert system.supervisor.state is State.READY
    system.world.imu_model.freeze = True
    system.loop.run(2.0)
    assert START_CDS not in {b for _, b in host_bytes(system)}
    assert any("start refused" in e.message and "identical" in e.message for e in system.events)
    assert treadmill(system)["running"] is False


def test_frozen_rail_chips_fail_the_arming_checklist(build_sim: Build) -> None:
    """The same for the handrails: frozen touch and force chips while READY refuse the start."""
    system = build_sim("walk")
    system.loop.run(1.6)
    assert system.supervisor.state is State.READY
    freeze_rail_chips(system)
    system.loop.run(2.0)
    assert START_CDS not in {b for _, b in host_bytes(system)}
    assert any("start refused" in e.message and "identical" in e.message for e in system.events)


# ---------------------------------------------------------------- fault-table rows that had no
# test through the loop (docs/architecture.md, "Where each fault is caught")


def walking(build_sim: Build) -> SimSystem:
    system = build_sim("walk")
    system.loop.run(9.0)  # start at 2.0 s, 3 s countdown, speed-up cue, ramp
    assert system.supervisor.state is State.RUNNING
    assert treadmill(system)["running"] is True
    return system


def test_row_belt_does_not_stop_cuts_power(build_sim: Build) -> None:
    """Treadmill ignoring the stop: the power is cut (link fault or supervisor deadline)."""
    system = walking(build_sim)
    system.world.treadmill.inject("ignore_stop")
    system.world.bus.unplug(0x6A)  # a software (controlled) stop the treadmill then ignores
    system.loop.run(4.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason in ("imu_stale", "i2c_error_budget")
    assert sup.power_cut and not system.safety_io.relay_closed
    assert treadmill(system)["belt_kmh"] == 0.0  # coasted down without power


def test_row_belt_moving_while_latched_cuts_power(build_sim: Build) -> None:
    """After a controlled stop (power not cut), the belt starts moving by itself."""
    system = walking(build_sim)
    system.world.imu_model.freeze = True  # a controlled stop (imu_stuck), power stays on
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.state is State.LATCHED
    assert system.safety_io.relay_closed  # a controlled stop: the power stays on
    system.world.imu_model.freeze = False
    system.world.treadmill.inject("runaway", kmh=1.5)  # the belt creeps while stopped
    system.loop.run(3.0)
    assert sup.stop_latched and sup.power_cut
    assert not system.safety_io.relay.value  # relay opened (read afresh: mypy narrowed it)
    assert any("moving" in e.message for e in system.events)
    assert treadmill(system)["belt_kmh"] <= 1.5


def test_row_rail_chips_frozen_while_running_stop(build_sim: Build) -> None:
    system = walking(build_sim)
    freeze_rail_chips(system)
    system.loop.run(2.0)
    assert system.supervisor.stop_latched and system.supervisor.stop_reason == "rails_stuck"
    assert treadmill(system)["belt_kmh"] == 0.0


def test_row_rail_grab_stops_the_belt(build_sim: Build) -> None:
    from hardware.sim.grip import Hand, Hands

    system = walking(build_sim)
    touch = system.world.rail_twins.touch
    assert touch is not None
    hands = touch.grip
    assert isinstance(hands, Hands)
    hands.left = hands.right = Hand(True, 120.0)  # both hands clamp onto the rails
    system.loop.run(2.0)
    assert system.supervisor.stop_latched
    assert system.supervisor.stop_reason in ("rail_grab", "rail_overload")
    assert treadmill(system)["belt_kmh"] == 0.0


def test_row_relay_feedback_lost_stops_and_cuts_power(build_sim: Build) -> None:
    system = walking(build_sim)
    g = system.settings.gpio
    assert g.relay_feedback_pin is not None
    system.world.pin_factory.pin(g.relay_pin).input_pin = None  # the contact no longer follows
    system.world.pin_factory.pin(g.relay_feedback_pin).drive_low()  # …and reads open
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_reason == "relay_feedback_lost" and sup.power_cut
    assert not system.safety_io.relay_closed
    assert treadmill(system)["belt_kmh"] == 0.0


def test_belt_moving_while_ready_cuts_power(build_sim: Build) -> None:
    """The supervisor's own moving-while-latched check runs only in LATCHED; after a reset
    (READY) the link's stopped-belt read-back must catch a belt that moves by itself."""
    system = build_sim("walk")
    system.loop.run(1.8)  # reset held 0.5–1.7 s: READY, the start comes at 2.2 s
    assert system.supervisor.state is State.READY
    system.world.treadmill.inject("runaway", kmh=1.5)
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.power_cut
    assert START_CDS not in {b for _, b in host_bytes(system)}


def test_frozen_force_adcs_with_a_live_touch_chip_stop_the_belt(build_sim: Build) -> None:
    """docs/hardware.md: rails_stuck is "10 identical force readings in a row". A frozen
    ADS1115 (conversion register no longer changing) while the MPR121 still jitters must stop
    the belt: otherwise a grab or an overload on the rails is invisible (a dead force sensor
    reads "no grip"). Forces are clamped to 0 N with no hand, so the raw volts are compared."""
    system = walking(build_sim)
    for force in system.world.rail_twins.force.values():
        force.freeze = True
    system.loop.run(1.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "rails_stuck"
    assert treadmill(system)["belt_kmh"] == 0.0


def test_row_imu_wrong_identity_refuses_to_start(sim_settings: Any) -> None:
    """IMU wrong identity → the composition root raises HardwareError (nothing is started) and
    closes what it had opened (the simulated treadmill process among them)."""
    from controller.devices import world_with_treadmill
    from hardware.clock import SimClock
    from hardware.sim.motion import Still

    clock = SimClock()
    world = world_with_treadmill(sim_settings, clock, Still())
    world.imu_model.who_am_i = 0x12
    with pytest.raises(app.HardwareError, match="WHO_AM_I"):
        app.assemble(sim_settings, clock, world)
    assert world.treadmill.closed


def test_belt_moving_while_ready_is_caught_as_fast_as_while_latched(build_sim: Build) -> None:
    """The supervisor cuts the power as soon as a latched belt reads back > 0.3 km/h; READY
    (after a reset, before a start) is no safer a state for a belt that moves by itself, yet
    that check ran only in LATCHED, leaving READY to the link's slower 0.5 km/h for 0.5 s."""
    system = build_sim("walk")
    system.loop.run(1.8)
    assert system.supervisor.state is State.READY
    system.world.treadmill.inject("runaway", kmh=1.5)
    t0 = system.clock.now_s()
    system.loop.run(0.5)
    sup = system.supervisor
    assert sup.stop_latched and sup.power_cut
    cut = [e for e in system.events if e.message.startswith("relay opened")]
    assert cut and cut[0].t_s - t0 <= 0.35


@pytest.mark.parametrize(("fault", "params"), [("nak", {}), ("corrupt", {"rate": 1.0}),
                                               ("runaway", {"kmh": -1.0})],
                         ids=["nak", "wrong-ack", "belt-not-following"])
def test_row_link_faults_through_the_loop_stop_and_cut_power(
    build_sim: Build, fault: str, params: dict[str, float]
) -> None:
    system = walking(build_sim)
    system.world.treadmill.inject(fault, **params)
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "treadmill_link" and sup.power_cut
    assert not system.safety_io.relay_closed
    assert treadmill(system)["belt_kmh"] == 0.0


def test_contact_bounce_after_a_reset_is_not_a_start(build_sim: Build) -> None:
    """Reset and start must be separate deliberate actions. A reset button's contact bouncing
    as it is released after the 1 s hold (one 5 ms tick reading "pressed" again) was taken as
    a short press, i.e. a confirmed start: the belt started without anyone asking for it."""
    scenario = Scenario("reset-bounce", 4.0, 1.5, BackwardWalkWithSlip(0.0, 0.0, None),
                        (Action(0.5, "reset", 1.2, "reset"),
                         Action(1.7125, "reset", 0.005, "contact bounce on release")))
    system = build_sim(scenario)
    system.loop.run(4.0)
    assert START_CDS not in {b for _, b in host_bytes(system)}
    assert system.supervisor.state is State.READY
    assert treadmill(system)["running"] is False


def test_a_deliberate_short_press_still_starts(build_sim: Build) -> None:
    scenario = Scenario("quick-start", 4.0, 1.5, BackwardWalkWithSlip(0.0, 0.0, None),
                        (Action(0.5, "reset", 1.2, "reset"),
                         Action(2.0, "reset", 0.08, "a quick but deliberate start")))
    system = build_sim(scenario)
    system.loop.run(3.0)
    assert system.supervisor.state is State.COUNTDOWN  # accepted: the countdown plays


def test_start_button_bounce_is_not_a_start() -> None:
    """The same for a separate start button: a 5 ms blip is contact bounce, not a start."""
    from dataclasses import replace

    from hardware.safety_io import Press
    from tests.test_safety_io import GPIO, TICK, Bench

    b = Bench(replace(GPIO, start_pin=26))
    try:
        assert b.hold(26, TICK) == []
        assert b.hold(GPIO.reset_pin, TICK) == []
        assert b.hold(26, 0.1) == [Press.SHORT]
    finally:
        b.io.close()


def test_row_imu_implausible_through_the_loop(build_sim: Build) -> None:
    """Still but |a| = 0.6 g (a sensor that lost its scale or an axis): stop, never calm."""
    from hardware.sim.motion import Vec3

    class Implausible:
        def at(self, t_s: float) -> tuple[Vec3, Vec3]:
            return (0.0, 0.0, 0.6 * 9.80665), (0.0, 0.0, 0.0)

    system = walking(build_sim)
    system.world.imu_model.motion = Implausible()
    system.loop.run(1.0)
    sup = system.supervisor
    assert sup.stop_latched
    # Whoever sees it first: health (imu_implausible) or a fall detector (a sudden 0.4 g drop).
    assert sup.stop_reason in ("imu_implausible", "free_fall", "fall", "pre_impact", "impact")
    assert any("imu_implausible" in e.message for e in system.events)
    system.loop.run(2.0)
    assert treadmill(system)["belt_kmh"] == 0.0
