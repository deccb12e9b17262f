"""No belt change without a warning first: the start countdown and the speed-up cue.

A runner facing away from the console must hear a countdown (``[limits] start_countdown_s``,
3 s by default) before the belt starts, and a short cue ``SPEED_UP_LEAD_S`` before every
upward speed segment. Built through the real composition root on examples/sim.toml; the
assertions are on the buzzer pin's level over time (gpiozero MockFactory) and on the bytes the
simulated treadmill received.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from controller import app
from controller import config as cfg
from controller.detect.base import Decision, Level
from controller.governor import SPEED_UP_LEAD_S, Governor
from controller.supervisor import State
from hardware.annunciator import PATTERNS, countdown_pattern
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.sim.treadmill_model import decode_host_commands
from hardware.trackmaster_protocol import AUTO_STOP, SET_SPEED, START_CDS, STOP

from .conftest import (
    RELAY_ONLY_TOML,
    ROOT,
    Build,
    BuildRelayOnly,
    SimSystem,
    WorldSystem,
    treadmill,
)

TICK_S = 0.005


class Buzzer:
    """Records the buzzer pin's level after every tick: [(t_s, on)]."""

    def __init__(self, system: WorldSystem) -> None:
        assert system.settings.gpio.buzzer_pin is not None
        self.system = system
        self.pin = system.world.pin_factory.pin(system.settings.gpio.buzzer_pin)
        self.levels: list[tuple[float, bool]] = []

    def __call__(self) -> None:
        self.levels.append((self.system.clock.now_s(), bool(self.pin.state)))

    def run(self, duration_s: float) -> None:
        self.system.loop.run(duration_s, on_tick=self)

    def onsets(self) -> list[float]:
        out, previous = [], False
        for t, on in self.levels:
            if on and not previous:
                out.append(t)
            previous = on
        return out

    def quiet(self, from_s: float, to_s: float) -> bool:
        return not any(on for t, on in self.levels if from_s <= t <= to_s)


def state_of(system: app.AnySystem) -> State:
    """The supervisor's state (a call, so a type checker does not narrow it across ticks)."""
    return system.supervisor.state


def commands(system: SimSystem) -> list[tuple[float, int, bytes]]:
    return decode_host_commands(system.world.treadmill.wire_log())


def starts(system: SimSystem) -> list[float]:
    return [t for t, op, _ in commands(system) if op == START_CDS]


def set_speeds(system: SimSystem) -> list[tuple[float, int]]:
    """Every A3 sent, as (time, tenths of the treadmill's unit)."""
    return [(t, int(data[1:])) for t, op, data in commands(system)
            if op == SET_SPEED and len(data) == 4 and data.isdigit()]


def assert_countdown_before_start(buzzer: Buzzer, start_s: float, countdown_s: float) -> None:
    """The countdown began at least ``countdown_s`` before the start byte (short beeps, the
    final long one marking "now" at the start)."""
    before = [t for t in buzzer.onsets() if t <= start_s + 1e-9]
    assert before, f"A0 at {start_s:.3f} s with the buzzer silent before it"
    earliest = [t for t in before if t >= start_s - countdown_s - 0.2]
    assert earliest, f"no countdown beep within {countdown_s + 0.2:g} s before A0 at {start_s:.3f}"
    assert start_s - earliest[0] >= countdown_s - TICK_S, (
        f"A0 {start_s - earliest[0]:.3f} s after the countdown began (< {countdown_s:g} s)")
    # The long beep ("now") sounds at the start byte.
    assert any(abs(t - start_s) <= 0.1 for t in before[1:]), "no final beep at the start"


def assert_every_rise_was_cued(system: SimSystem, buzzer: Buzzer) -> int:
    """Every upward segment of the set speed on the wire (a rise after a steady speed or a
    decrease) was announced by the speed-up cue: a beep about SPEED_UP_LEAD_S before the
    segment's first rise, then quiet until the segment starts. Returns the number of segments
    checked (the first — the link bringing the belt from 0 to the start speed right after A0 —
    is the start, announced by the countdown, and checked by assert_countdown_before_start).

    One tolerance: while ramping, the link's rounding can dip the set speed by one step for a
    tick and restore it (the same digits back within 0.1 s); that is not a new segment."""
    start_s = starts(system)[0]
    changes: list[tuple[float, int]] = []
    for t, tenths in set_speeds(system):
        if not changes or tenths != changes[-1][1]:
            changes.append((t, tenths))
    assert changes and changes[0][0] >= start_s  # no speed before the start
    rising, peak, dropped_s = True, changes[0][1], -1.0  # the start segment
    segments = 0
    for (tp, vp), (t, v) in itertools.pairwise(changes):
        if v < vp:
            rising, dropped_s = False, t
            continue
        if rising and t - tp <= 0.6:
            peak = max(peak, v)
            continue
        if not rising and t - dropped_s <= 0.1 and v <= peak:
            rising = True  # the one-tick rounding dip, restored
            continue
        segments += 1
        cues = [c for c in buzzer.onsets()
                if t - SPEED_UP_LEAD_S - 0.6 <= c <= t - SPEED_UP_LEAD_S + 1e-9
                and buzzer.quiet(c + 0.15, c + SPEED_UP_LEAD_S - 0.05)]
        assert cues, f"set speed raised to {v} at {t:.3f} s without a cue"
        rising, peak = True, v
    return segments


# ---------------------------------------------------------------- the start countdown
def test_start_byte_goes_out_only_after_the_countdown_has_played(build_sim: Build) -> None:
    system = build_sim("walk")
    buzzer = Buzzer(system)
    buzzer.run(9.0)
    assert system.supervisor.state is State.RUNNING
    sent = starts(system)
    assert len(sent) == 1
    countdown_s = system.settings.limits.start_countdown_s
    assert countdown_s == 3.0
    assert_countdown_before_start(buzzer, sent[0], countdown_s)
    # 3 short beeps a second apart, then the long one at the start.
    onsets = [t for t in buzzer.onsets() if t <= sent[0] + 1e-9]
    assert len(onsets) == 4
    assert [round(b - a, 2) for a, b in itertools.pairwise(onsets)] == [1.0] * 3
    cue = system.events.of_kind("cue")[0]
    assert cue.message == "countdown: belt starts in 3 s"


@pytest.mark.parametrize("fault", ["estop", "imu_unplugged", "stop_request", "link_silent"])
def test_a_stop_or_fault_during_the_countdown_cancels_the_start(build_sim: Build,
                                                                fault: str) -> None:
    system = build_sim("walk")  # start pressed 2.0–2.2 s: the countdown runs to ~5.2 s
    buzzer = Buzzer(system)
    buzzer.run(3.0)
    sup = system.supervisor
    assert sup.state is State.COUNTDOWN
    if fault == "estop":
        system.world.estop_pressed = True
    elif fault == "imu_unplugged":
        system.world.bus.unplug(0x6A)
    elif fault == "link_silent":
        system.world.treadmill.inject("silent")
    else:
        sup.request_stop("operator_stop", "stop pressed during the countdown")
    buzzer.run(6.0)
    assert starts(system) == [], "the start byte went out after the countdown was cancelled"
    assert sup.stop_latched and state_of(system) is State.LATCHED
    assert sup.stop_reason in ("estop", "imu_stale", "i2c_error_budget", "operator_stop",
                               "treadmill_link")
    state = treadmill(system)
    assert state["belt_kmh"] == 0.0 and state["running"] is False


def test_a_problem_found_when_the_countdown_ends_latches_without_a_start(
        build_sim: Build) -> None:
    """The arming checklist is checked again at the end of the countdown: what fails it then
    (here a check only the checklist makes) latches, with no start byte."""
    system = build_sim("walk")
    buzzer = Buzzer(system)
    buzzer.run(3.0)
    sup = system.supervisor
    assert sup.state is State.COUNTDOWN
    problems = ["rails: left chip not answering (test)"]
    original = sup._arming_problems
    sup._arming_problems = lambda: [*original(), *problems]
    buzzer.run(6.0)
    assert starts(system) == []
    assert sup.stop_latched and sup.stop_reason == "start_aborted"
    assert any("rails: left chip" in e.message for e in system.events.of_kind("stop"))


def test_belt_moving_during_the_countdown_cuts_power_and_never_starts(build_sim: Build) -> None:
    """The READY check holds in COUNTDOWN too: a belt that moves by itself before the start
    byte is caught as fast as while READY or LATCHED, and the start never goes out."""
    system = build_sim("walk")
    system.loop.run(3.0)
    assert state_of(system) is State.COUNTDOWN
    system.world.treadmill.inject("runaway", kmh=1.5)
    t0 = system.clock.now_s()
    system.loop.run(4.0)
    sup = system.supervisor
    assert sup.stop_latched and sup.power_cut and sup.stop_reason == "belt_moving_while_latched"
    cut = [e for e in system.events if e.message.startswith("relay opened")]
    assert cut and cut[0].t_s - t0 <= 0.35
    assert starts(system) == []


def test_start_refused_during_the_countdown_does_not_restart_it(build_sim: Build) -> None:
    system = build_sim("walk")
    buzzer = Buzzer(system)
    buzzer.run(3.0)
    assert not system.supervisor.request_start()
    buzzer.run(6.0)
    assert len(starts(system)) == 1


# ---------------------------------------------------------------- the speed-up cue
def test_every_speed_rise_is_cued_the_ramp_and_the_return_after_a_caution(
        build_sim: Build) -> None:
    system = build_sim("walk")
    buzzer = Buzzer(system)
    buzzer.run(10.0)
    sup = system.supervisor
    assert sup.state is State.RUNNING
    # A caution at speed (the detectors' own path; injected here so the timing is known).
    sup.on_decision(Decision(Level.CAUTION, "trunk_sway", "test"))
    buzzer.run(10.0)
    assert sup.state is State.RUNNING, sup.stop_reason
    assert float(treadmill(system)["belt_kmh"]) > 1.3  # back at the session's speed
    assert assert_every_rise_was_cued(system, buzzer) == 2  # the first ramp, the return
    cues = [e.message for e in system.events.of_kind("cue")]
    assert cues[1:] == ["speed up to 1.5 km/h in 1 s"] * 2


def test_a_caution_lowers_the_speed_in_the_same_tick_without_waiting(build_sim: Build) -> None:
    system = build_sim("walk")
    system.loop.run(10.0)
    before = set_speeds(system)[-1][1]
    t0 = system.clock.now_s()
    system.supervisor.on_decision(Decision(Level.CAUTION, "trunk_sway", "test"))
    system.loop.run(0.1)
    lowered = [(t, v) for t, v in set_speeds(system) if t >= t0 and v < before]
    assert lowered and lowered[0][0] - t0 <= 0.05


# ---------------------------------------------------------------- properties
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(press_s=2.0, countdown_s=2.0, caution_after_s=None)
@given(press_s=st.floats(min_value=1.8, max_value=3.0),
       countdown_s=st.floats(min_value=2.0, max_value=10.0),
       caution_after_s=st.none() | st.floats(min_value=0.0, max_value=6.0))
def test_property_no_belt_change_without_its_warning(
        build_sim: Build, sim_settings: cfg.Settings, press_s: float, countdown_s: float,
        caution_after_s: float | None) -> None:
    """Any start moment and countdown length, with or without a caution at any moment after
    the start: A0 only after the whole countdown, every upward segment cued, the speed capped."""
    limits = dataclasses.replace(sim_settings.limits, start_countdown_s=countdown_s)
    scenario = Scenario("start-at", 0.0, 1.5, BackwardWalkWithSlip(0.0, 0.0, None),
                        (Action(0.5, "reset", 1.2, "reset"),
                         Action(press_s, "reset", 0.1, "start")))
    system = build_sim(scenario, settings=dataclasses.replace(sim_settings, limits=limits))
    buzzer = Buzzer(system)
    buzzer.run(press_s + countdown_s + 0.5)
    sent = starts(system)
    assert len(sent) == 1
    assert_countdown_before_start(buzzer, sent[0], countdown_s)
    if caution_after_s is not None:
        buzzer.run(caution_after_s)
        system.supervisor.on_decision(Decision(Level.CAUTION, "trunk_sway", "test"))
    buzzer.run(9.0)
    assert system.supervisor.state is State.RUNNING, system.supervisor.stop_reason
    assert len(starts(system)) == 1
    assert assert_every_rise_was_cued(system, buzzer) >= 1
    assert not [t for t, op, _ in commands(system) if op in (STOP, AUTO_STOP)
                and t > sent[0]]


@settings(max_examples=200, deadline=None)
@given(target=st.floats(min_value=0.1, max_value=8.0),
       start=st.floats(min_value=0.1, max_value=1.0),
       cautions=st.lists(st.floats(min_value=0.0, max_value=30.0), max_size=4))
def test_property_governor_rises_only_after_its_cue_and_lowers_at_once(
        target: float, start: float, cautions: list[float]) -> None:
    limits = cfg.LimitsSettings(start_speed_kmh=start, max_speed_kmh=8.0, ramp_mps2=0.25,
                                stop_decel_mps2=1.0)
    gov = Governor(limits, target)
    pending = sorted(cautions)
    t = 0.0
    speed = gov.begin(t)
    cue_s: float | None = None
    announced = 0.0
    while t < 40.0:
        t = round(t + TICK_S, 6)
        caution = False
        while pending and pending[0] <= t:
            pending.pop(0)
            gov.caution(t)
            caution = True
        new = gov.speed_at(t)
        cue = gov.take_cue()
        if cue is not None:
            cue_s, announced = t, cue
        if new > speed + 1e-9:
            assert cue_s is not None, f"rose to {new} at {t} with no cue"
            assert t - cue_s >= SPEED_UP_LEAD_S - 1e-9, f"rose {t - cue_s:.3f} s after the cue"
            assert new <= announced + 1e-9
        if new < speed - 1e-9:
            cue_s = None  # a decrease ends the segment: the next rise needs a new cue
        if caution:
            # A caution lowers at once (or is already at the floor): it never waits, and it
            # cancels any rise announced before it.
            assert new <= speed + 1e-9
            cue_s = None
        speed = new


def test_countdown_pattern_ends_in_the_long_beep_at_its_length() -> None:
    assert PATTERNS["countdown"] == countdown_pattern(3.0)
    assert countdown_pattern(3.0) == ((0.1, 0.9), (0.1, 0.9), (0.1, 0.9), (0.6, 0.0))
    for length_s in (2.0, 2.05, 2.5, 7.3, 10.0):
        pattern = countdown_pattern(length_s)
        assert sum(on + off for on, off in pattern[:-1]) == pytest.approx(length_s)
        assert all(on == 0.1 and off >= 0.2 - 1e-9 for on, off in pattern[:-1])
        assert pattern[-1][0] > 0.1  # the final beep is the long one
    assert PATTERNS["speed_up"][-1][0] > 0.1
    assert sum(on + off for on, off in PATTERNS["speed_up"][:-1]) == pytest.approx(
        SPEED_UP_LEAD_S)


# ---------------------------------------------------------------- configuration
def test_start_countdown_option_is_bounded_and_defaults_to_3_s() -> None:
    text = (ROOT / "examples" / "sim.toml").read_text(encoding="utf-8")
    assert cfg.parse("x.toml", text).limits.start_countdown_s == 3.0
    with_option = text.replace("[limits]\n", "[limits]\nstart_countdown_s = 5.5\n")
    assert cfg.parse("x.toml", with_option).limits.start_countdown_s == 5.5
    for bad in ("0", "1.9", "10.5", "true"):
        bad_text = text.replace("[limits]\n", f"[limits]\nstart_countdown_s = {bad}\n")
        with pytest.raises(cfg.ConfigError, match=r"\[limits\] start_countdown_s: expected a "
                                                  r"number from 2 to 10"):
            cfg.parse("x.toml", bad_text)


# ---------------------------------------------------------------- relay-only mode
def test_relay_only_the_relay_closes_only_after_the_countdown(
        build_relay_only: BuildRelayOnly) -> None:
    relay_only = cfg.load(RELAY_ONLY_TOML)
    relay_only = dataclasses.replace(relay_only, gpio=dataclasses.replace(
        relay_only.gpio, buzzer_pin=5))
    system = build_relay_only("walk", relay_only)
    buzzer = Buzzer(system)
    closed: list[float] = []

    def watch() -> None:
        buzzer()
        if system.safety_io.relay_closed and not closed:
            closed.append(system.clock.now_s())

    system.loop.run(3.0, on_tick=watch)
    assert system.supervisor.state is State.COUNTDOWN and not closed
    system.loop.run(4.0, on_tick=watch)
    assert state_of(system) is State.RUNNING and closed
    assert_countdown_before_start(buzzer, closed[0], 3.0)
    assert [e.message for e in system.events.of_kind("cue")] == [
        "countdown: relay closes in 3 s"]

