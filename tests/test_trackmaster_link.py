"""The Trackmaster link against the simulated treadmill, through a real pseudo-terminal.

Each test drives a :class:`TrackmasterLink` and the real :class:`Supervisor` (its one stop path
and its relay decision) in lockstep with a :class:`SimTreadmill` process on a :class:`SimClock`:
no sleeps, deterministic. Faults are injected in the treadmill process; assertions are on the
bytes it recorded and on its belt.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.config import LimitsSettings
from controller.drive import SerialDrive
from controller.events import EventLog
from controller.link_bench import stop_latencies
from controller.supervisor import State, Supervisor
from controller.treadmill_bench import SimRig
from hardware.sim.treadmill_model import decode_host_commands, first_slowing_command_s
from hardware.trackmaster_protocol import (
    AUTO_STOP,
    GET_SET_SPEED,
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    START_CDS,
    START_NO_CDS,
    STOP,
)
from hardware.trackmaster_timing import stop_latency_budget_s
from hardware.units import KMH_PER_MPS

LIMITS = LimitsSettings(start_speed_kmh=0.5, max_speed_kmh=3.0, ramp_mps2=0.25,
                        stop_decel_mps2=1.0)
POLLS = (GET_STATUS, GET_SPEED, GET_SET_SPEED)


class Bench(SimRig):
    """SimRig with the real supervisor on top: its tick decides the stop and the relay."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.events = EventLog()
        self.sup = Supervisor(self.clock, SerialDrive(self.link), LIMITS, 1.5, self.events,
                              lambda: [])

    def tick(self) -> None:
        self.clock.advance_s(self.tick_s)
        self.relay_closed = self.sup.relay_closed
        self.sync()
        self.sup.tick()
        self.link.step()

    def commands(self) -> list[tuple[float, int, bytes]]:
        return decode_host_commands(self.treadmill.wire_log())

    def state(self) -> dict[str, Any]:
        return self.treadmill.state()

    def power_up(self) -> None:
        """Power on (the relay stays open: power-on is power-cut) → a human reset → the
        treadmill, powered, confirms its belt stopped."""
        self.run(0.2)
        assert self.sup.power_cut and not self.relay_closed
        assert self.sup.reset()
        assert self.run_until(lambda: self.link.belt_stopped, 1.0)  # the reset's stop, polled

    def start(self) -> None:
        """A confirmed start, then its countdown (no start byte before it has played)."""
        assert self.sup.request_start()
        assert self.sup.state is State.COUNTDOWN
        self.run(LIMITS.start_countdown_s + 0.05)
        state: State = self.sup.state  # (mypy narrowed it to COUNTDOWN above)
        assert state is State.RUNNING

    def walk(self) -> None:
        """Power on → reset → start → countdown → ramp to the session's 1.5 km/h."""
        self.power_up()
        self.start()
        self.run(6.0)
        assert self.sup.state is State.RUNNING and self.link.fault is None
        assert 1.3 < float(self.state()["belt_kmh"]) <= 1.6

    def assert_stopped_for_good(self, after_s: float) -> None:
        """The belt is stopped, the supervisor latched, and nothing after ``after_s`` tried to
        start the belt or raise its speed."""
        state = self.state()
        assert state["belt_kmh"] == 0.0 and state["running"] is False
        assert self.sup.stop_latched
        previous: int | None = None
        for t, op, data in self.commands():
            assert op != START_NO_CDS
            if t >= after_s:
                assert op != START_CDS, f"start sent at {t:.3f} s after the fault"
            if op == SET_SPEED:
                tenths = int(data[1:])
                if t >= after_s and previous is not None:
                    assert tenths <= previous, f"speed raised at {t:.3f} s after the fault"
                previous = tenths


@pytest.fixture
def bench() -> Iterator[Bench]:
    rig = Bench(units="kmh", link_kwargs={"max_speed_kmh": 3.0})
    try:
        yield rig
    finally:
        rig.close()


def stop_bytes_after(bench: Bench, t_s: float) -> list[float]:
    return [t for t, op, _ in bench.commands() if op in (STOP, AUTO_STOP) and t >= t_s]


# ---------------------------------------------------------------------- the normal sequence


def test_normal_sequence_on_the_wire(bench: Bench) -> None:
    bench.walk()
    t_stop = bench.clock.now_s()
    bench.sup.request_stop("test", "software stop")
    assert bench.run_until(lambda: bench.sup.state is State.LATCHED, 4.0)
    assert bench.sup.relay_closed  # a controlled software stop does not cut power
    commands = bench.commands()
    ops = [op for _, op, _ in commands]
    # Stop first at power-on, never A1, exactly one A0, after the reset's stop.
    assert ops[0] == STOP
    assert START_NO_CDS not in ops and ops.count(START_CDS) == 1
    start_s = next(t for t, op, _ in commands if op == START_CDS)
    # Ramped up: each A3 at most the ramp's worth above the previous (0.25 m/s² = 0.9 km/h/s),
    # in 0.1 km/h steps, never above the cap.
    ups = [(t, int(d[1:])) for t, op, d in commands if op == SET_SPEED and t < t_stop]
    assert ups[-1][1] == 15
    for (t0, v0), (t1, v1) in itertools.pairwise(ups):
        assert 0 < v1 - v0 <= 1 + 0.9 * 10 * (t1 - t0) + 1e-6
    # While the belt may move the treadmill hears from us at least every 100 ms, and the
    # actual speed is read at ≥ 10 Hz.
    times = [t for t, _, _ in commands if t >= start_s]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 0.1
    c1 = [t for t, op, _ in commands if op == GET_SPEED and start_s <= t < t_stop]
    assert len(c1) / (t_stop - start_s) >= 9.5
    # The controlled stop: lowered A3s at ~1 m/s² (3.6 km/h/s), then the stop command.
    downs = [(t, int(d[1:])) for t, op, d in commands if op == SET_SPEED and t >= t_stop]
    assert downs[0][0] - t_stop <= 0.02 and downs[0][1] == 14
    assert [v for _, v in downs] == sorted((v for _, v in downs), reverse=True)
    stop_s = stop_bytes_after(bench, t_stop)[0]
    assert stop_s - t_stop == pytest.approx(1.5 / KMH_PER_MPS, abs=0.06)
    assert bench.state()["belt_kmh"] == 0.0 and bench.link.belt_stopped


def test_mph_treadmill_gets_tenths_of_mph_never_above_the_cap() -> None:
    with Bench(units="mph", link_kwargs={"max_speed_kmh": 3.0}) as bench:
        bench.walk()
        speeds = [int(d[1:]) for _, op, d in bench.commands() if op == SET_SPEED]
        assert max(speeds) == 9  # 1.5 km/h = 0.93 mph → 0.9 mph; the 3 km/h cap is 1.86 mph
        with pytest.raises(ValueError):
            bench.link.set_speed_kmh(3.01)
        with pytest.raises(ValueError):
            bench.link.set_speed_kmh(float("nan"))


def test_stop_goes_out_behind_at_most_one_transaction(bench: Bench) -> None:
    bench.walk()
    bench.tick_s = 0.001
    asked = bench.clock.now_s()
    bench.link.stop()  # immediate (no deceleration): a fault-style stop
    bench.run(0.05)
    assert stop_bytes_after(bench, asked)[0] - asked <= 0.0135  # one C1 round trip, 12.5 ms


SLOW_LINK: dict[str, Any] = {"max_speed_kmh": 3.0, "ack_timeout_s": 0.25}
"""The longest ack timeout the configuration allows: a treadmill replying 220 ms late works."""


@pytest.mark.parametrize("delay_s", [0.08, 0.22])
def test_stop_preempts_the_transaction_of_a_slow_treadmill(delay_s: float) -> None:
    """Replies late by ``delay_s``: the stop byte still reaches the wire within one loop period
    (+ one byte + one command's transmission) of the request, at every phase of a transaction;
    the abandoned poll's late reply is not taken for the stop's ack, and is no fault."""
    with SimRig(units="kmh", link_kwargs=SLOW_LINK) as rig:
        rig.treadmill.inject("delay_s", seconds=delay_s)
        assert rig.run_until(lambda: rig.link.belt_stopped, 2.0)
        latencies = stop_latencies(rig, cycles=12, settle_s=0.6, phase_step_s=0.02)
        assert max(latencies) <= stop_latency_budget_s(rig.tick_s, rig.baud), latencies
        assert rig.link.fault is None
        stops = [tr for tr in rig.link.transaction_log if tr.opcode == STOP]
        assert len(stops) >= 12
        # An ack seen earlier than the treadmill's delay would be someone else's reply.
        assert min(tr.round_trip_s for tr in stops) >= delay_s


@pytest.mark.parametrize("delay_s", [0.08, 0.22])
def test_controlled_stop_first_lower_speed_preempts_a_slow_reply(delay_s: float) -> None:
    with Bench(units="kmh", link_kwargs=SLOW_LINK) as bench:
        bench.walk()
        bench.treadmill.inject("delay_s", seconds=delay_s)
        bench.run(0.5)
        sent = bench.link.transactions
        assert bench.run_until(lambda: bench.link.transactions > sent, 1.0)
        bench.tick()  # a command went out one tick ago: its late reply is still to come
        asked = bench.clock.now_s()
        bench.sup.request_stop("test", "software stop")
        bench.run(0.1)
        first = first_slowing_command_s(bench.treadmill.wire_log(), asked)
        assert first is not None
        assert first - asked <= stop_latency_budget_s(bench.tick_s, bench.baud)
        assert bench.run_until(lambda: bench.sup.state is State.LATCHED, 4.0)
        assert bench.link.fault is None
        assert bench.state()["belt_kmh"] == 0.0


def test_stop_latency_is_bounded_whatever_the_reply_delay_and_the_moment() -> None:
    """Property: for any reply delay the ack timeout can hold and any moment of the request,
    stop request → stop byte ≤ one period + one byte + one command's transmission."""
    with SimRig(units="kmh", link_kwargs=SLOW_LINK) as rig:
        link = rig.link
        assert rig.run_until(lambda: link.belt_stopped, 2.0)
        budget = stop_latency_budget_s(rig.tick_s, rig.baud)

        @settings(max_examples=20, deadline=None)
        @given(delay_ms=st.integers(0, 220), settle_ticks=st.integers(0, 120))
        def check(delay_ms: int, settle_ticks: int) -> None:
            rig.treadmill.inject("delay_s", seconds=delay_ms / 1000)
            [latency] = stop_latencies(rig, cycles=1, settle_s=settle_ticks * rig.tick_s,
                                       phase_step_s=0.0)
            assert latency <= budget
            assert link.fault is None

        check()


def test_auto_stop_mode_sends_aa() -> None:
    with Bench(units="kmh", link_kwargs={"stop_mode": "AA"}) as bench:
        bench.walk()
        bench.sup.request_stop("test")
        assert bench.run_until(lambda: bench.sup.state is State.LATCHED, 4.0)
        assert AUTO_STOP in {op for _, op, _ in bench.commands()}
        assert STOP not in {op for _, op, _ in bench.commands()}


def test_controller_silence_stops_the_belt_after_half_a_simulated_second(bench: Bench) -> None:
    """A hung controller: no more bytes, relay held closed. The treadmill's own watchdog (CDS,
    armed by A0) stops the belt 0.5 s after the last byte it received."""
    bench.walk()
    bench.run(0.2)
    t = round(bench.clock.now_s() + 0.005, 6)
    bench.treadmill.sync(t, bench.link.bytes_sent, True)  # delivers the last step's bytes
    last_host_s = max(t for t, who, _ in bench.treadmill.wire_log() if who == "host")
    running_at: dict[float, bool] = {}
    while t < last_host_s + 1.5:
        t = round(t + 0.005, 6)
        bench.treadmill.sync(t, bench.link.bytes_sent, True)  # time passes, we say nothing
        running_at[t] = bool(bench.treadmill.state()["running"])
    # The last byte arrives one byte time after it was written (4800 baud: 2.08 ms).
    cds_s = last_host_s + 10 / 4800 + 0.5
    assert all(running for at, running in running_at.items() if at < cds_s - 0.005)
    assert not any(running for at, running in running_at.items() if at > cds_s + 0.005)
    assert bench.state()["belt_kmh"] == 0.0  # and it has decelerated to a standstill
    bench.clock.sleep_until(t)


# ---------------------------------------------------------------------- injected faults


@pytest.mark.parametrize(
    ("fault", "params", "expected"),
    [
        ("silent", {}, "no acknowledgement"),
        ("garbage", {}, "bad reply|unsolicited"),
        ("drop", {"rate": 1.0}, "no acknowledgement"),
        ("drop", {"rate": 0.3}, "no acknowledgement|bad reply"),
        ("corrupt", {"rate": 1.0}, "bad reply"),
        ("corrupt", {"rate": 0.2}, "bad reply|unsolicited|no acknowledgement|belt"),
        ("delay_s", {"seconds": 0.2}, "no acknowledgement"),
        ("runaway", {"kmh": 2.0}, "runaway"),
        ("nak", {"code": 0xBE}, "BE"),
        ("nak", {"code": 0xBF}, "BF"),
        ("nak", {"code": 0xBD}, "BD"),
        ("power_cycle", {"off_s": 0.3}, "no acknowledgement|stopped while it should run"),
        ("unplug", {}, "serial port error"),
    ],
)
def test_every_fault_stops_the_belt_and_latches(bench: Bench, fault: str,
                                                params: dict[str, float], expected: str) -> None:
    bench.walk()
    t_fault = bench.clock.now_s()
    bench.treadmill.inject(fault, **params)
    bench.run(4.0)
    link, sup = bench.link, bench.sup
    assert link.fault is not None
    assert re.search(expected, link.fault), link.fault
    assert sup.stop_reason == "treadmill_link" and sup.power_cut  # link fault ⇒ relay opened
    assert not bench.relay_closed
    if fault != "unplug":
        # The driver sent a stop after the fault (the pty was gone after an unplug), and at
        # once: a link fault is never a controlled stop (no lowered A3s before the A2).
        assert stop_bytes_after(bench, t_fault)
        first = next(op for t, op, _ in bench.commands()
                     if t >= t_fault and op in (STOP, AUTO_STOP, SET_SPEED))
        assert first == STOP
    bench.assert_stopped_for_good(t_fault)
    with pytest.raises(RuntimeError):
        link.start()  # latched: no start until a human reset


def test_echo_mode_switched_on_is_a_fault_at_the_next_speed_change(bench: Bench) -> None:
    """With the AC echo flag on, an A3's ack carries its digits: the reply is not what the
    command expects. (Polls are not echoed, so it shows at the next speed change.)"""
    from controller.detect.base import Decision, Level

    bench.walk()
    bench.treadmill.inject("echo")
    t_fault = bench.clock.now_s()
    bench.sup.on_decision(Decision(Level.CAUTION, "test", "slow down"))  # → lower A3
    bench.run(3.0)
    assert bench.link.fault is not None
    assert re.search("unexpected bytes|unsolicited", bench.link.fault)
    assert bench.sup.power_cut
    bench.assert_stopped_for_good(t_fault)


def test_short_reply_delay_is_not_a_fault(bench: Bench) -> None:
    bench.walk()
    bench.treadmill.inject("delay_s", seconds=0.05)  # within the 0.1 s ack timeout
    bench.run(2.0)
    assert bench.link.fault is None and bench.sup.state is State.RUNNING


@pytest.mark.parametrize("controlled", [True, False])
def test_treadmill_ignoring_stop_is_caught_and_power_cut(bench: Bench, controlled: bool) -> None:
    """A2 acknowledged and ignored. After an immediate stop the belt does not slow; after a
    controlled stop the lowered A3s work but the belt never reports stopped. Either way: a
    link fault, and the relay opens."""
    bench.walk()
    bench.treadmill.inject("ignore_stop")
    t_stop = bench.clock.now_s()
    if controlled:
        bench.sup.request_stop("test", "software stop")
    else:
        bench.link.stop()
    bench.run(5.0)
    fault = bench.link.fault
    assert fault is not None
    assert ("still reports the belt running" if controlled else "not slowing") in fault
    assert bench.sup.power_cut and not bench.relay_closed
    bench.assert_stopped_for_good(t_stop)


def test_belt_moving_while_stopped_is_a_fault() -> None:
    with Bench(units="kmh") as bench:
        bench.power_up()
        bench.treadmill.inject("runaway", kmh=2.0)  # the belt starts without being told to
        bench.run(3.0)
        # The supervisor's latched-belt check (0.3 km/h) or the link's read-back, whichever
        # first; both cut power.
        assert bench.sup.power_cut
        assert any("relay opened" in e.message for e in bench.events)
        assert bench.state()["belt_kmh"] < 2.0


def test_belt_not_following_is_a_fault(bench: Bench) -> None:
    bench.walk()
    bench.treadmill.inject("runaway", kmh=-1.2)  # a belt that lags the command (overload)
    bench.run(3.0)
    assert bench.link.fault is not None and "does not follow" in bench.link.fault
    assert bench.sup.power_cut
    bench.assert_stopped_for_good(0.0 + bench.clock.now_s() - 3.0)


def test_power_cycle_is_never_restarted_and_reset_clears_the_lockout(bench: Bench) -> None:
    bench.walk()
    t_fault = bench.clock.now_s()
    bench.treadmill.inject("power_cycle", off_s=0.3)
    bench.run(3.0)
    bench.assert_stopped_for_good(t_fault)
    # The human resets: the relay closes, the link's stop clears the power-up lockout, and only
    # a new confirmed start moves the belt again.
    assert bench.run_until(lambda: bench.sup.reset(), 2.0)
    assert bench.run_until(lambda: bench.link.belt_stopped, 1.0)
    assert bench.state()["lockout"] is False
    bench.run(1.0)
    assert bench.state()["running"] is False
    bench.start()
    bench.run(2.0)
    assert bench.state()["running"] is True


def test_expected_power_cycle_of_the_stop_path_test(bench: Bench) -> None:
    """The stop-path test: with the belt stopped, the controller opens its relay on purpose;
    the treadmill loses power and comes back in its start lockout. Expected, waited out, and
    the lockout cleared with a stop — no fault."""
    bench.power_up()
    cycles_before = int(bench.state()["power_cycles"])  # power-on is power-cut: one already
    bench.link.expect_power_cycle(3.0)
    assert bench.link.power_cycle_expected
    bench.sup.power_cut = True  # the supervisor's relay opens (stop-path test)
    bench.run(0.4)
    assert bench.state()["powered"] is False
    bench.sup.power_cut = False
    assert bench.run_until(lambda: bench.link.power_cycle_result is not None, 3.0)
    assert bench.link.fault is None and bench.link.power_cycle_result == "completed"
    assert bench.run_until(lambda: bench.link.belt_stopped, 0.5)
    state = bench.state()
    assert state["power_cycles"] == cycles_before + 1 and state["lockout"] is False
    assert START_CDS not in {op for _, op, _ in bench.commands()}


def test_expected_power_cycle_that_never_happens_or_never_ends(bench: Bench) -> None:
    bench.power_up()
    bench.link.expect_power_cycle(0.5)
    bench.run(0.6)
    assert bench.link.fault is None and bench.link.power_cycle_result == "not_observed"
    bench.link.expect_power_cycle(0.5)
    bench.relay_closed = False
    bench.sup.power_cut = True  # power cut and never restored within the window
    bench.run(0.7)
    fault: str | None = bench.link.fault  # (mypy narrowed it to None above)
    assert fault is not None and "not back" in fault
    with pytest.raises(RuntimeError):
        bench.link.expect_power_cycle(1.0)


def test_expect_power_cycle_refused_while_running(bench: Bench) -> None:
    bench.walk()
    with pytest.raises(RuntimeError):
        bench.link.expect_power_cycle(1.0)


def test_reverse_only_when_enabled_and_only_at_standstill() -> None:
    with Bench(units="kmh") as bench:
        bench.power_up()
        with pytest.raises(ValueError):
            bench.link.set_reverse(True)
    with Bench(units="kmh", link_kwargs={"allow_reverse": True}) as bench:
        bench.power_up()
        bench.run(0.2)
        assert bench.link.set_reverse(True)
        bench.start()
        bench.run(3.0)
        assert bench.link.fault is None
        assert bench.link.actual_speed_kmh is not None and bench.link.actual_speed_kmh < -0.5
        assert not bench.link.set_reverse(False)  # moving: refused
        sent = [d for _, op, d in bench.commands() if op == SET_SPEED]
        assert sent and all(d.startswith(b"3") for d in sent)


# ---------------------------------------------------------------------- the model alone


def test_model_naks_bad_elevation_and_unknown_opcodes() -> None:
    from hardware.sim.treadmill_model import TreadmillModel

    model = TreadmillModel(units="kmh")
    model.send(0.0, b"\xa4" + b"0013")  # 1.3 %: not a multiple of 0.5 % → BE
    model.send(0.02, b"\xa4" + b"0015")  # 1.5 % → B4
    model.send(0.04, b"\xa4" + b"0300")  # 30 %: out of range → BE
    model.send(0.06, b"\xb5")  # not a command → BF
    model.send(0.08, b"\xa3" + b"0x10")  # not digits → BE
    replies = bytes(b for _, b in model.advance(1.0))
    assert replies == b"\xbe\xb4\xbe\xbf\xbe"


def test_model_start_lockout_after_power_return() -> None:
    from hardware.sim.treadmill_model import TreadmillModel

    model = TreadmillModel(units="kmh")
    model.set_key_loop(0.0, False)
    model.set_key_loop(0.5, True)
    model.send(0.6, b"\xa0")  # start during the lockout: acknowledged, ignored
    model.advance(0.7)
    assert model.lockout and not model.running
    model.send(0.7, b"\xa2\xa0")  # a stop clears it
    model.advance(0.8)
    assert (model.lockout, model.running) == (False, True)


@pytest.mark.parametrize("decel_mps2", [0.5, 1.5])
def test_supervisor_software_stop_uses_the_configured_deceleration(decel_mps2: float) -> None:
    import dataclasses

    with Bench(units="kmh") as bench:
        limits = dataclasses.replace(LIMITS, stop_decel_mps2=decel_mps2)
        bench.sup = Supervisor(bench.clock, SerialDrive(bench.link), limits, 1.5, bench.events,
                               lambda: [])
        bench.walk()
        t_stop = bench.clock.now_s()
        bench.sup.request_stop("test", "software stop")
        assert bench.run_until(lambda: bench.sup.state is State.LATCHED, 4.0)
        assert not bench.sup.power_cut
        stop_s = stop_bytes_after(bench, t_stop)[0]
        # The ramp runs one 0.1 km/h step below the 1.5 km/h → 0 profile, so the stop command
        # is due when the profile reaches 0.1 km/h: (1.5 - 0.1) / 3.6 / decel, plus at most one
        # transaction on the line.
        assert stop_s - t_stop == pytest.approx(1.4 / KMH_PER_MPS / decel_mps2, abs=0.02)
        assert bench.state()["belt_kmh"] == 0.0


def test_wire_log_records_every_byte_with_its_line_time(bench: Bench) -> None:
    """Host bytes carry the time they were written; treadmill bytes the time each finished
    arriving, 10 bits per byte at 4800 baud: a C1 answer ends 6 byte times after the C1."""
    bench.walk()
    wire = bench.treadmill.wire_log()
    byte_s = 10 / 4800
    c1_s = next(t for t, who, b in wire if who == "host" and b == GET_SPEED and t > 1.0)
    reply = [(t, b) for t, who, b in wire if who == "treadmill" and c1_s < t <= c1_s + 0.02]
    assert reply[0][1] == 0xD1 and len(reply) == 5
    for k, (t, _) in enumerate(reply, start=2):
        assert t == pytest.approx(c1_s + k * byte_s, abs=1e-9)


def test_fault_during_a_controlled_stop_stops_at_once(bench: Bench) -> None:
    bench.walk()
    bench.sup.request_stop("test", "software stop")
    bench.run(0.1)
    stopping_at_first = bench.link.stopping
    assert stopping_at_first  # lowering the speed under control
    t_fault = bench.clock.now_s()
    bench.treadmill.inject("nak", code=0xBE)
    bench.run(0.3)
    assert bench.link.fault is not None and "BE" in bench.link.fault
    assert not bench.link.stopping
    after = [op for t, op, _ in bench.commands() if t >= t_fault and op != GET_SPEED
             and op not in POLLS]
    # At most the A3 that got the BE, then A2 (repeated while the treadmill NAKs it).
    assert after[0] == STOP or after[:2] == [SET_SPEED, STOP]
    assert bench.sup.power_cut
    bench.run(2.0)
    bench.assert_stopped_for_good(t_fault)


def test_model_powers_up_in_its_start_lockout() -> None:
    from hardware.sim.treadmill_model import TreadmillModel

    model = TreadmillModel(units="kmh")
    model.send(0.0, b"\xa0")
    model.advance(0.1)
    assert not model.running  # a fresh unit ignores a start until it has seen a stop
    model.send(0.1, b"\xa2\xa0")
    model.advance(0.2)
    assert model.running
