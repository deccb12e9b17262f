"""End to end on simulated hardware: register reads → detector → supervisor → bytes on a pty.

Every test here builds the system with the real composition root from examples/sim.toml; the
treadmill is a separate process on a pseudo-terminal and the IMU a register twin on the
simulated bus. Faults are injected in the twins, never by calling the controller directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.sim.treadmill_model import first_slowing_command_s
from hardware.trackmaster_protocol import AUTO_STOP, SET_SPEED, START_CDS, START_NO_CDS, STOP
from hardware.units import KMH_PER_MPS

from .conftest import Build, SimSystem, host_bytes, treadmill

STOPS = (STOP, AUTO_STOP)


def run_until_walking(system: SimSystem) -> None:
    # Start pressed at 2.0 s, 3 s countdown, the speed-up cue, the ramp: at speed by ≈ 8.3 s.
    system.loop.run(9.0)
    assert system.supervisor.state is State.RUNNING
    state = treadmill(system)
    assert state["running"] is True
    assert 1.0 < float(state["belt_kmh"]) <= 1.6  # ramped towards the session's 1.5 km/h


def test_demo_slip_stops_the_belt_and_latches(build_sim: Build) -> None:
    system = build_sim("demo")
    system.loop.run(15.0)
    sup = system.supervisor
    assert sup.state is State.LATCHED
    assert sup.stop_reason in ("slip_trip", "pre_impact", "fall")
    state = treadmill(system)
    assert state["belt_kmh"] == 0.0 and state["status"] == "STOPPED"

    wire = host_bytes(system)
    full_wire = system.world.treadmill.wire_log()
    starts = [t for t, b in wire if b == START_CDS]
    stops_after_slip = [t for t, b in wire if b in STOPS and t >= 11.0]
    # Start pressed 2.0–2.2 s, then the 3 s countdown before the start byte.
    assert len(starts) == 1 and 5.0 <= starts[0] < 5.5
    assert stops_after_slip, "no stop byte on the wire after the slip"
    # Slip onset at 11.0 s → the first byte that slows the belt (a lowered A3 of the controlled
    # stop) within the 150 ms budget; the controlled stop from 1.5 km/h at 1 m/s² then ends in
    # the stop command about 0.4 s later.
    slowing_s = first_slowing_command_s(full_wire, 11.0)
    assert slowing_s is not None and slowing_s - 11.0 <= 0.150
    assert stops_after_slip[0] - slowing_s <= 1.5 / KMH_PER_MPS / 1.0 + 0.05
    # Nothing after the stop tries to move the belt again.
    assert not [t for t, b in wire if b in (START_CDS, SET_SPEED) and t > stops_after_slip[0]]
    assert START_NO_CDS not in {b for _, b in wire}  # never start with the watchdog off


def test_power_on_is_latched_and_never_starts_by_itself(build_sim: Build) -> None:
    system = build_sim("idle")
    system.loop.run(3.0)
    assert system.supervisor.state is State.LATCHED
    assert system.supervisor.stop_reason == "power_on"
    wire = host_bytes(system)
    assert wire, "the controller must talk to the treadmill even when idle"
    assert START_CDS not in {b for _, b in wire} and SET_SPEED not in {b for _, b in wire}
    assert treadmill(system)["belt_kmh"] == 0.0


def test_start_refused_without_reset(build_sim: Build) -> None:
    scenario = Scenario("start-only", 4.0, 1.0, BackwardWalkWithSlip(0, 0, None),
                        (Action(1.0, "reset", 0.2, "start without reset"),))
    system = build_sim(scenario)
    system.loop.run(4.0)
    assert system.supervisor.state is State.LATCHED
    assert START_CDS not in {b for _, b in host_bytes(system)}
    assert any("start refused" in e.message for e in system.events)


def test_imu_unplugged_stops_the_belt(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.bus.unplug(0x6A)
    t0 = system.clock.now_s()
    system.loop.run(3.0)
    assert system.supervisor.stop_latched
    assert system.supervisor.stop_reason in ("imu_stale", "i2c_error_budget")
    stop_event = system.events.of_kind("stop")[0]
    assert stop_event.t_s - t0 <= 0.055  # stale_after_s = 0.05 plus one tick
    assert treadmill(system)["belt_kmh"] == 0.0


def test_imu_that_stops_producing_samples_is_stale_not_calm(build_sim: Build) -> None:
    """A sensor that stops producing data is "runner unknown" — a stop, never a calm runner."""
    system = build_sim("walk")
    run_until_walking(system)
    system.world.imu_model._regs[0x10] = 0  # accelerometer powered down behind our back
    system.world.imu_model._regs[0x11] = 0
    system.loop.run(2.0)
    assert system.supervisor.stop_latched and system.supervisor.stop_reason == "imu_stale"
    assert treadmill(system)["belt_kmh"] == 0.0


def test_treadmill_cable_pulled_cuts_power_and_latches(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.treadmill.inject("unplug")
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "treadmill_link"
    assert sup.power_cut and not system.safety_io.relay_closed
    state = treadmill(system)
    # The treadmill lost both the link (its watchdog fires) and key-loop power.
    assert state["belt_kmh"] == 0.0 and state["running"] is False


@pytest.mark.parametrize("fault", ["silent", "garbage"])
def test_treadmill_link_faults_stop_and_cut_power(build_sim: Build, fault: str) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.treadmill.inject(fault)
    t0 = system.clock.now_s()
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "treadmill_link" and sup.power_cut
    assert system.events.of_kind("stop")[0].t_s - t0 <= 0.25  # poll + ack timeout
    assert treadmill(system)["belt_kmh"] == 0.0


def test_runaway_belt_is_a_fault(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.treadmill.inject("runaway", kmh=2.0)
    system.loop.run(3.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.power_cut
    assert system.link is not None and system.link.fault is not None
    assert "runaway" in system.link.fault
    assert treadmill(system)["belt_kmh"] <= 2.0  # motor power cut: the belt coasts down


def test_treadmill_power_cycle_is_latched_never_restarted(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.treadmill.inject("power_cycle", off_s=0.3)
    system.loop.run(4.0)
    sup = system.supervisor
    assert sup.stop_latched
    wire = host_bytes(system)
    starts = [t for t, b in wire if b == START_CDS]
    assert len(starts) == 1  # only the operator's start, nothing after the power cycle
    assert treadmill(system)["running"] is False


def test_estop_stops_and_cuts_power(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    system.world.estop_pressed = True
    system.loop.run(1.0)
    assert system.supervisor.stop_reason == "estop" and system.supervisor.power_cut
    assert not system.safety_io.relay_closed
    system.world.estop_pressed = False
    system.loop.run(1.0)
    assert system.supervisor.stop_latched  # releasing the e-stop does not restart anything
    assert not system.safety_io.relay_closed


def test_controller_silence_lets_the_treadmill_watchdog_stop_the_belt(build_sim: Build) -> None:
    """If the controller stops polling (hung process, relay still closed), the treadmill's own
    0.5 s watchdog (CDS, armed by A0) stops the belt: running until 0.5 simulated seconds after
    the last byte reached it, stopped from then on."""
    system = build_sim("walk")
    run_until_walking(system)
    tm = system.world.treadmill
    link = system.link
    assert link is not None
    sent = link.bytes_sent
    t = round(system.clock.now_s() + 0.005, 6)
    tm.sync(t, sent, True)  # delivers what the last tick wrote; from now on, silence
    last_host_s = max(t_s for t_s, who, _ in tm.wire_log() if who == "host")
    cds_s = last_host_s + 10 / 4800 + 0.5  # its last byte arrives one byte time after writing
    running_at: list[tuple[float, bool]] = []
    while t < cds_s + 1.0:  # no bytes sent, relay held closed
        t = round(t + 0.005, 6)
        tm.sync(t, sent, True)
        running_at.append((t, bool(tm.state()["running"])))
    assert all(running for at, running in running_at if at < cds_s - 0.005)
    assert not any(running for at, running in running_at if at > cds_s + 0.005)
    assert tm.state()["belt_kmh"] == 0.0
    system.clock.sleep_until(t)


def test_stalled_loop_is_a_stop(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    assert isinstance(system.clock, SimClock)
    system.clock.advance_s(0.2)  # the loop did not run for 200 ms
    system.loop.tick()
    assert system.supervisor.stop_reason == "loop_stall" and system.supervisor.power_cut


def test_a_crashing_detector_stops_the_belt_before_the_exception_escapes(
    build_sim: Build,
) -> None:
    system = build_sim("walk")
    run_until_walking(system)

    class Broken:
        name = "broken"

        def update(self, sample: object) -> object:
            raise ZeroDivisionError("bug in a detector")

        def reset(self) -> None:
            pass

    system.loop._detector = Broken()  # type: ignore[assignment]
    with pytest.raises(ZeroDivisionError):
        system.loop.run(0.1)
    sup = system.supervisor
    assert sup.stop_reason == "internal_error" and sup.power_cut
    assert not system.safety_io.relay_closed


# ---------------------------------------------------------------- sensors and the stop chain,
# through the loop (the health modules, the rails and safety I/O as the daemon wires them)


def test_rails_unplugged_mid_run_stops_the_belt(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    assert system.settings.rails is not None
    system.world.bus.unplug(system.settings.rails.mpr121_address)
    t0 = system.clock.now_s()
    system.loop.run(2.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason in ("rails_stale", "i2c_error_budget")
    assert system.events.of_kind("stop")[0].t_s - t0 <= 0.055
    assert treadmill(system)["belt_kmh"] == 0.0


def test_safety_key_pulled_mid_run_stops_and_cuts_power(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    key_pin = system.settings.gpio.key_pin
    assert key_pin is not None
    system.world.pin_factory.pin(key_pin).drive_high()  # key out
    system.loop.run(1.0)
    sup = system.supervisor
    assert sup.stop_reason == "safety_key_removed" and sup.power_cut
    assert not system.safety_io.relay_closed
    assert treadmill(system)["belt_kmh"] == 0.0


def test_welded_relay_is_reported_and_start_is_refused(build_sim: Build) -> None:
    system = build_sim("walk")
    run_until_walking(system)
    g = system.settings.gpio
    system.world.pin_factory.pin(g.relay_pin).input_pin = None  # the contact no longer follows
    system.world.treadmill.inject("unplug")  # a link fault: a stop that opens the relay
    system.loop.run(1.0)
    assert system.supervisor.stop_reason == "treadmill_link"
    assert not system.safety_io.relay_closed
    assert any("relay_welded" in e.message for e in system.events)
    assert system.stop_chain.problems()  # a welded relay forbids the next start


def test_runner_gone_while_the_belt_runs_counts_down_then_stops(
    build_sim: Build, sim_settings: Any
) -> None:
    import dataclasses

    detect = dataclasses.replace(sim_settings.detect, no_runner_s=5.0, no_runner_countdown_s=2.0)
    settings = dataclasses.replace(sim_settings, detect=detect)
    # Walks from 5.3 s (the belt starts after the countdown) until 9 s, then stands still on
    # the running belt (or stepped off).
    scenario = Scenario("leaves", 23.0, 1.0, BackwardWalkWithSlip(5.3, 9.0, None),
                        (Action(0.5, "reset", 1.2, "reset"), Action(2.0, "reset", 0.2, "start")))
    system = build_sim(scenario, settings)
    system.loop.run(23.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.stop_reason == "no_runner"
    caution = [e for e in system.events.of_kind("caution") if "no_runner_countdown" in e.message]
    stop = system.events.of_kind("stop")[0]
    assert caution and caution[0].t_s < stop.t_s
    # The last step lands within one stride (~0.7 s) before 9 s; then 5 s + 2 s countdown.
    assert 9.0 - 0.7 + 7.0 <= stop.t_s <= 9.0 + 7.0 + 0.1
    assert treadmill(system)["belt_kmh"] == 0.0


def test_walking_keeps_the_runner_present(build_sim: Build, sim_settings: Any) -> None:
    import dataclasses

    detect = dataclasses.replace(sim_settings.detect, no_runner_s=5.0, no_runner_countdown_s=2.0)
    system = build_sim("walk", dataclasses.replace(sim_settings, detect=detect))
    system.loop.run(20.0)
    assert system.supervisor.state is State.RUNNING  # steps counted: no countdown, no stop
    assert not [e for e in system.events if "no_runner" in e.message]


def test_the_runner_hears_cautions_and_stops(build_sim: Build) -> None:
    system = build_sim("demo")
    annunciator = system.safety_io.annunciator
    assert annunciator.led_mode == "latched"  # power-on: latched
    system.loop.run(11.0)
    assert annunciator.led_mode == "steady"
    played: list[str | None] = []
    for _ in range(100):  # 11.0 → 11.5 s: the caution, then the stop
        system.loop.run(0.005)
        if annunciator.playing != (played[-1] if played else None):
            played.append(annunciator.playing)
    assert "caution" in played and played.index("caution") < played.index("stop")
    assert annunciator.led_mode == "latched"


def test_heartbeat_runs_through_a_controlled_stop_and_stops_when_power_is_cut(
    build_sim: Build,
) -> None:
    system = build_sim("demo")
    hb_pin = system.settings.gpio.heartbeat_pin
    assert hb_pin is not None
    pin = system.world.pin_factory.pin(hb_pin)

    def toggles(duration_s: float) -> int:
        before = len(pin.states)
        system.loop.run(duration_s)
        return len(pin.states) - before

    assert toggles(11.0) > 1000  # power on → running: toggled every tick while the relay may close
    assert toggles(4.0) > 700  # the slip's controlled stop and the latch: power stays, so does it
    assert system.supervisor.stop_latched and not system.supervisor.power_cut
    system.world.estop_pressed = True  # power cut: the charge pump must drop out
    system.loop.run(0.05)
    assert toggles(1.0) == 0
