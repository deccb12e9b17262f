"""Relay-only mode (``[treadmill] protocol = "none"``), end to end on simulated hardware.

No serial link: every stop opens the relay in the treadmill's safety-key loop. The treadmill is
modelled in-process by :class:`TreadmillModel` with its key loop wired to the relay and its belt
started "on the console" (as a runner would), to show the belt ends stopped.
"""

from __future__ import annotations

import pytest

from controller import app
from controller import config as cfg
from controller.supervisor import State
from hardware.clock import SimClock
from hardware.sim.treadmill_model import TreadmillModel

from .conftest import RELAY_ONLY_TOML, BuildRelayOnly


@pytest.fixture
def relay_only() -> cfg.Settings:
    return cfg.load(RELAY_ONLY_TOML)


def relay(system: app.AnySystem) -> bool:
    """Is the safety-key-loop relay closed (treadmill powered)?"""
    return system.safety_io.relay_closed


class ConsoleTreadmill:
    """A home treadmill whose safety key loop runs through our relay; the runner presses start
    on its console (A0 + set speed, as its console board would) once the relay is closed."""

    def __init__(self, system: app.AnySystem, speed_kmh: float = 1.5) -> None:
        self.system = system
        self.model = TreadmillModel(units="kmh")
        self.speed_kmh = speed_kmh
        self.started = False
        self.relay_log: list[tuple[float, bool]] = []

    def after_tick(self) -> None:
        now = self.system.clock.now_s()
        relay = self.system.safety_io.relay_closed
        if not self.relay_log or self.relay_log[-1][1] != relay:
            self.relay_log.append((now, relay))
        self.model.set_key_loop(now, relay)
        if self.system.supervisor.state is State.RUNNING and not self.started:
            self.started = True
            # The console's own start (no host watchdog: the console is not a serial host).
            self.model.send(now, b"\xa2\xa1\xa3" + f"0{round(self.speed_kmh * 10):03d}".encode())
        self.model.advance(now)


def test_relay_only_config_needs_no_port_or_units(relay_only: cfg.Settings) -> None:
    assert relay_only.treadmill.protocol == "none"
    assert relay_only.treadmill.simulated is False


def test_slip_opens_the_relay_in_the_same_tick_and_the_belt_coasts_to_a_stop(
        build_relay_only: BuildRelayOnly, relay_only: cfg.Settings) -> None:
    system = build_relay_only("demo", relay_only)
    assert system.link is None
    console = ConsoleTreadmill(system)
    assert not relay(system)  # power-on: latched, relay open
    system.loop.run(10.9, on_tick=console.after_tick)
    assert system.supervisor.state is State.RUNNING and relay(system)
    assert console.model.belt_kmh == pytest.approx(1.5, abs=0.05)
    system.loop.run(4.0, on_tick=console.after_tick)
    sup = system.supervisor
    assert sup.state is State.LATCHED and sup.stop_reason == "pre_impact" and sup.power_cut
    stop_event = system.events.of_kind("stop")[0]
    opened = [t for t, closed in console.relay_log if not closed and t > 5.0]
    assert opened == [stop_event.t_s]  # opened in the decision's tick, and only once
    # Slip onset → relay open. With a serial link the caution lowers the speed within 150 ms;
    # without one the first action is the stop itself, which on this synthetic slip comes at
    # 175 ms (the gait-fall specialist's stop): beyond the 150 ms target
    # (docs/treadmill-link.md, relay-only mode, says so).
    assert opened[0] - 11.0 <= 0.200
    # Relay: open at power-on, closed by the confirmed start, open at the stop, nothing else.
    assert [closed for _, closed in console.relay_log] == [False, True, False]
    assert console.model.belt_kmh == 0.0 and not console.model.running
    assert not relay(system)


@pytest.mark.parametrize("cause", ["imu_unplugged", "estop", "loop_stall", "shutdown",
                                   "caution_then_stop"])
def test_every_stop_opens_the_relay(build_relay_only: BuildRelayOnly, relay_only: cfg.Settings,
                                    cause: str) -> None:
    system = build_relay_only("walk", relay_only)
    console = ConsoleTreadmill(system)
    system.loop.run(6.0, on_tick=console.after_tick)  # start at 2.0 s + the 3 s countdown
    assert system.supervisor.state is State.RUNNING and relay(system)
    if cause == "imu_unplugged":
        system.world.bus.unplug(0x6A)
        system.loop.run(1.0, on_tick=console.after_tick)
    elif cause == "estop":
        system.world.estop_pressed = True
        system.loop.run(0.1, on_tick=console.after_tick)
    elif cause == "loop_stall":
        assert isinstance(system.clock, SimClock)
        system.clock.advance_s(0.2)
        system.loop.tick()
        console.after_tick()
    elif cause == "shutdown":
        system.supervisor.request_stop("shutdown", "controller shutting down")
        system.loop.tick()
        console.after_tick()
    else:
        from controller.detect.base import Decision, Level

        system.supervisor.on_decision(Decision(Level.CAUTION, "sway", "test"))
        system.loop.tick()
        assert relay(system)  # a caution only warns: nothing to slow down
        assert any("warning only" in e.message for e in system.events)
        system.supervisor.on_decision(Decision(Level.STOP, "slip", "test"))
        system.loop.tick()
        console.after_tick()
    assert system.supervisor.power_cut and not relay(system)
    assert system.supervisor.stop_latched
    system.loop.run(3.0, on_tick=console.after_tick)
    assert not relay(system)  # stays open: nothing closes it but a human reset
    assert console.model.belt_kmh == 0.0


def test_only_a_confirmed_start_closes_the_relay_and_the_treadmill_stays_still(
        build_relay_only: BuildRelayOnly, relay_only: cfg.Settings) -> None:
    system = build_relay_only("demo", relay_only)
    console = ConsoleTreadmill(system)
    system.loop.run(15.0, on_tick=console.after_tick)
    assert system.supervisor.state is State.LATCHED
    console.started = True  # the runner does not press the console's start this time
    assert system.supervisor.reset()
    system.loop.run(1.0, on_tick=console.after_tick)
    assert not relay(system)  # reset alone: READY, relay still open
    assert system.supervisor.request_start()
    system.loop.run(1.0, on_tick=console.after_tick)
    assert not relay(system)  # the countdown plays first
    system.loop.run(2.1, on_tick=console.after_tick)
    assert relay(system)
    # Power is back: the (modelled) treadmill is in its power-up start lockout, belt at rest.
    assert console.model.powered and not console.model.running and console.model.belt_kmh == 0.0
