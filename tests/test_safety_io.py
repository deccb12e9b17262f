"""Safety I/O on gpiozero's MockFactory: inputs, press timing on the injected clock, the stop
relay and its feedback (healthy and welded), heartbeat, buzzer and LED patterns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from gpiozero.pins.mock import MockFactory

from controller.config import GpioSettings
from controller.detect.base import OK, Decision, Level
from controller.devices import make_safety_io
from controller.stop_chain import StopChain
from hardware.clock import SimClock
from hardware.safety_io import Press
from hardware.sim.safety_io_wiring import wire_after, wire_before

GPIO = GpioSettings(pin_factory="mock", relay_pin=17, estop_pin=27, reset_pin=22,
                    key_pin=23, relay_feedback_pin=24, heartbeat_pin=25, buzzer_pin=5,
                    led_pin=6)
TICK = 0.005


class Bench:
    def __init__(self, gpio: GpioSettings = GPIO, welded: bool = False, wired: bool = True):
        self.gpio = gpio
        self.factory = MockFactory()
        self.clock = SimClock()
        if wired:
            wire_before(self.factory, gpio.relay_pin, gpio.relay_feedback_pin, welded=welded)
        self.io = make_safety_io(self.factory, self.clock, gpio)
        self.chain = StopChain(self.io, gpio.relay_open_within_s)
        if wired:
            wire_after(self.factory, gpio.estop_pin, gpio.key_pin)

    def pin(self, n: int):
        return self.factory.pin(n)

    def hold(self, pin: int, seconds: float) -> list[Press]:
        """Press ``pin`` for ``seconds`` then release, polling every tick; the presses seen."""
        seen = []
        self.pin(pin).drive_low()
        for _ in range(round(seconds / TICK)):
            self.clock.advance_s(TICK)
            seen.append(self.io.poll_button())
        self.pin(pin).drive_high()
        self.clock.advance_s(TICK)
        seen.append(self.io.poll_button())
        return [p for p in seen if p is not Press.NONE]


@pytest.fixture
def bench() -> Iterator[Bench]:
    b = Bench()
    yield b
    b.io.close()


def test_outputs_start_in_their_safe_state() -> None:
    b = Bench(wired=False)
    for pin in (GPIO.relay_pin, GPIO.heartbeat_pin, GPIO.buzzer_pin, GPIO.led_pin):
        assert pin is not None
        # Whole history, not assert_states (which ignores length): never high, not even briefly.
        assert [s.state for s in b.pin(pin).states] == [False]
    b.io.close()


def test_bare_mock_pins_read_as_estop_pressed_and_key_out() -> None:
    b = Bench(wired=False)  # a cut cable looks exactly like this
    assert b.io.estop_pressed and b.io.key_present is False
    assert b.chain.check(0.0).reason == "estop"
    assert b.chain.arming_problems() == ["e-stop pressed (or its wire broken)", "safety key is out"]
    b.io.close()


def test_healthy_panel(bench: Bench) -> None:
    assert not bench.io.estop_pressed and bench.io.key_present is True
    assert bench.chain.check(0.0) is OK
    assert bench.chain.arming_problems() == []


def test_estop_pressed_or_wire_broken_stops(bench: Bench) -> None:
    bench.pin(GPIO.estop_pin).drive_high()
    d = bench.chain.check(bench.clock.now_s())
    assert (d.level, d.reason) == (Level.STOP, "estop")


def test_key_removed_stops(bench: Bench) -> None:
    assert GPIO.key_pin is not None
    bench.pin(GPIO.key_pin).drive_high()
    assert bench.chain.check(bench.clock.now_s()).reason == "safety_key_removed"


def test_reset_needs_a_full_hold_and_fires_once(bench: Bench) -> None:
    # Polling sees a press from the first tick after it, so "held 1 s" takes 1 s + one tick.
    assert bench.hold(GPIO.reset_pin, 1.0) == [Press.SHORT]  # 5 ms short: a start, no reset
    assert bench.hold(GPIO.reset_pin, 1.0 + TICK) == [Press.LONG]
    assert bench.hold(GPIO.reset_pin, 3.0) == [Press.LONG]  # once, never also a start
    assert bench.hold(GPIO.reset_pin, 0.2) == [Press.SHORT]


def test_reset_hold_time_comes_from_config() -> None:
    b = Bench(replace(GPIO, reset_hold_s=2.0))
    assert b.hold(GPIO.reset_pin, 1.5) == [Press.SHORT]
    assert b.hold(GPIO.reset_pin, 2.0 + TICK) == [Press.LONG]
    b.io.close()


def test_separate_start_button() -> None:
    b = Bench(replace(GPIO, start_pin=26))
    assert b.hold(26, 0.2) == [Press.SHORT]
    assert b.hold(GPIO.reset_pin, 0.2) == []  # the reset button no longer starts
    assert b.hold(GPIO.reset_pin, 1.0 + TICK) == [Press.LONG]
    assert b.hold(26, 1.5) == []  # a start button held for ages is not a start
    b.io.close()


def feedback(b: Bench) -> bool | None:
    return b.io.relay_feedback_closed  # a fresh read each call (no type narrowing across calls)


def test_relay_feedback_follows(bench: Bench) -> None:
    bench.io.set_relay(True)
    assert feedback(bench) is True
    bench.clock.advance_s(0.2)
    assert bench.chain.check(bench.clock.now_s()) is OK
    bench.io.set_relay(False)
    bench.clock.advance_s(0.2)
    assert feedback(bench) is False
    assert bench.chain.check(bench.clock.now_s()) is OK


def test_welded_relay_is_a_fault_within_the_configured_time() -> None:
    b = Bench(welded=True)
    assert GPIO.relay_feedback_pin is not None
    feedback = b.pin(GPIO.relay_feedback_pin)
    b.io.set_relay(True)
    feedback.drive_high()  # contact closes with the coil...
    b.clock.advance_s(0.1)
    assert b.chain.check(b.clock.now_s()) is OK
    b.io.set_relay(False)  # ...but stays closed when told to open
    t0 = b.clock.now_s()
    first = None
    while first is None and b.clock.now_s() < t0 + 1.0:
        b.clock.advance_s(TICK)
        d = b.chain.check(b.clock.now_s())
        if d is not OK:
            first = (b.clock.now_s() - t0, d)
    assert first is not None
    late, d = first
    assert (d.level, d.reason) == (Level.STOP, "relay_welded")
    assert GPIO.relay_open_within_s < late <= GPIO.relay_open_within_s + TICK + 1e-9
    assert "welded" in b.chain.arming_problems()[0]
    b.io.close()


def test_relay_that_does_not_close_is_a_fault() -> None:
    b = Bench(welded=True)  # feedback not connected: it stays open
    b.io.set_relay(True)
    b.clock.advance_s(0.06)
    assert b.chain.check(b.clock.now_s()).reason == "relay_feedback_lost"
    b.io.close()


def test_close_opens_the_relay(bench: Bench) -> None:
    bench.io.set_relay(True)
    bench.io.close()
    assert [s.state for s in bench.pin(GPIO.relay_pin).states][-1] is False


def test_heartbeat_toggles_only_when_called(bench: Bench) -> None:
    assert GPIO.heartbeat_pin is not None
    pin = bench.pin(GPIO.heartbeat_pin)
    for _ in range(4):
        bench.io.heartbeat()
    assert [s.state for s in pin.states] == [False, True, False, True, False]


def buzzer_timeline(b: Bench, name: str, seconds: float) -> list[bool]:
    assert GPIO.buzzer_pin is not None
    b.io.annunciator.play(name)
    states = []
    for _ in range(round(seconds / TICK)):
        states.append(bool(b.pin(GPIO.buzzer_pin).state))
        b.clock.advance_s(TICK)
        b.io.update()
    return states


def on_runs(states: list[bool]) -> list[int]:
    """Lengths (in ticks) of the on-runs."""
    runs, n = [], 0
    for s in [*states, False]:
        if s:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_buzzer_patterns_are_distinct(bench: Bench) -> None:
    countdown = on_runs(buzzer_timeline(bench, "countdown", 5.0))
    caution = on_runs(buzzer_timeline(bench, "caution", 2.0))
    stop = on_runs(buzzer_timeline(bench, "stop", 3.0))
    def near(runs: list[int], expected: list[int]) -> bool:  # ± one tick of float rounding
        return len(runs) == len(expected) and all(abs(a - b) <= 1 for a, b in zip(
            runs, expected, strict=True))

    assert near(countdown, [20, 20, 20, 120])  # 3 × 0.1 s, then 0.6 s
    assert near(caution[:4], [16, 16, 16, 16]) and len(caution) >= 4  # repeats while cautioned
    assert near(stop, [300])
    with pytest.raises(KeyError):
        bench.io.annunciator.play("stpo")


def test_led_modes(bench: Bench) -> None:
    assert GPIO.led_pin is not None
    led = bench.pin(GPIO.led_pin)
    bench.io.annunciator.set_led("steady")
    assert led.state
    bench.io.annunciator.set_led("latched")
    seen = []
    for _ in range(400):  # 2 s at 1 Hz
        bench.clock.advance_s(TICK)
        bench.io.update()
        seen.append(bool(led.state))
    runs = on_runs(seen)
    assert len(runs) == 2 and all(abs(r - 100) <= 1 for r in runs)


def test_optional_parts_absent() -> None:
    minimal = GpioSettings(pin_factory="mock", relay_pin=17, estop_pin=27, reset_pin=22)
    b = Bench(minimal)
    assert b.io.key_present is None and b.io.relay_feedback_closed is None
    b.io.heartbeat()
    b.io.annunciator.play("stop")
    b.io.update()
    assert b.chain.check(0.0) is OK
    assert len(b.io.describe()) == 3
    b.io.close()


def service(b: Bench, healthy: bool) -> Decision:
    """What the loop does with the safety I/O each tick: the outputs, then the verdict."""
    b.io.service(healthy=healthy)
    return b.chain.check(b.clock.now_s())


def test_service_beats_only_while_healthy_and_reports_faults(bench: Bench) -> None:
    assert GPIO.heartbeat_pin is not None
    pin = bench.pin(GPIO.heartbeat_pin)
    for _ in range(3):
        bench.clock.advance_s(TICK)
        assert service(bench, healthy=True) is OK
    for _ in range(3):
        bench.clock.advance_s(TICK)
        service(bench, healthy=False)
    assert [s.state for s in pin.states] == [False, True, False, True]  # stopped toggling
    bench.pin(GPIO.estop_pin).drive_high()
    assert service(bench, healthy=True).reason == "estop"
