"""The link's parts on their own: the speed profile, the read-back monitor, the outstanding
transactions and the command picker."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.trackmaster_picker import CommandPicker
from hardware.trackmaster_profile import ControlledStop, SpeedProfile
from hardware.trackmaster_protocol import (
    GET_SPEED,
    GET_STATUS,
    SET_SPEED,
    START_CDS,
    STOP,
    BeltStatus,
    Command,
    set_speed,
)
from hardware.trackmaster_readback import Commanded, ReadbackMonitor
from hardware.trackmaster_transactions import Transactions
from hardware.units import KMH_PER_MPH

RUNNING = Commanded(running=True, stopping=False, speed_kmh=2.0, reverse=False,
                    start_acked_s=0.0, stop_acked_s=None, stop_unacked=True)


@settings(max_examples=200, deadline=None)
@given(cap=st.floats(min_value=0.1, max_value=8.0), units=st.sampled_from(["mph", "kmh"]),
       targets=st.lists(st.floats(min_value=0.0, max_value=8.0), min_size=1, max_size=5))
def test_profile_never_above_the_cap_and_rises_no_faster_than_the_ramp(
        cap: float, units: str, targets: list[float]) -> None:
    per_kmh = 1.0 / KMH_PER_MPH if units == "mph" else 1.0
    profile = SpeedProfile(per_kmh, cap, 0.25, 0.0)
    profile.start_from(0.0, 0.0)
    sent, t = 0, 0.0
    for target in targets:
        profile.target_kmh = min(target, cap)
        for _ in range(400):
            t += 0.005
            profile.advance(t, running=True)
            tenths = profile.desired_tenths(t, running=True, sent_tenths=sent)
            assert tenths <= profile.cap_tenths
            assert tenths / 10.0 / per_kmh <= cap + 1e-9
            # 0.25 m/s² = 0.9 km/h per s: at most one 0.1-unit step per tick above the ramp.
            assert tenths - sent <= 1 or tenths <= sent
            sent = tenths


def test_a_controlled_stop_steps_down_at_once_and_reaches_zero_on_time() -> None:
    profile = SpeedProfile(1.0, 3.0, 0.25, 0.0)
    profile.controlled = ControlledStop(start_s=1.0, from_kmh=2.0, decel_mps2=1.0,
                                        from_tenths=20)
    assert profile.desired_tenths(1.0, running=False, sent_tenths=20) == 19  # the same tick
    assert profile.desired_tenths(1.0 + 2.0 / 3.6, running=False, sent_tenths=1) == 0


def test_runaway_is_a_fault_only_once_it_has_lasted_the_readback_time() -> None:
    monitor = ReadbackMonitor(tolerance_kmh=0.5, time_s=0.5)
    assert monitor.check_speed(1.0, 3.0, False, RUNNING) is None  # starts the timer
    assert monitor.check_speed(1.4, 3.0, False, RUNNING) is None
    fault = monitor.check_speed(1.5, 3.0, False, RUNNING)
    assert fault is not None and "runaway" in fault
    monitor.clear()
    assert monitor.check_speed(1.6, 2.0, False, RUNNING) is None  # back within tolerance


def test_a_runaway_still_gaining_speed_is_a_fault_at_once() -> None:
    """Beyond the tolerance and faster than the read-back before: no read-back time to wait."""
    monitor = ReadbackMonitor(tolerance_kmh=0.5, time_s=0.5)
    assert monitor.check_speed(1.0, 2.3, False, RUNNING) is None  # within the tolerance
    assert monitor.check_speed(1.1, 2.4, False, RUNNING) is None  # rising, still within
    fault = monitor.check_speed(1.2, 2.6, False, RUNNING)
    assert fault is not None and "rising" in fault


def test_a_belt_lagging_a_lower_command_is_given_the_readback_time() -> None:
    """A caution lowered the command by 1 km/h: the belt, slowing, is far above it for a
    while. Slowing is not a runaway; only a deviation that lasts is a fault."""
    monitor = ReadbackMonitor(tolerance_kmh=0.5, time_s=0.5)
    lowered = RUNNING  # 2.0 km/h commanded
    for i, kmh in enumerate((3.0, 2.8, 2.6, 2.4, 2.2, 2.0)):
        assert monitor.check_speed(1.0 + 0.1 * i, kmh, False, lowered) is None


def test_a_belt_still_running_after_an_acknowledged_stop_is_caught() -> None:
    monitor = ReadbackMonitor(tolerance_kmh=0.5, time_s=0.5)
    monitor.stop_acked(belt_kmh=0.9)  # envelope: 0.9 / 0.9 s + 0.5 s grace
    stopped = Commanded(running=False, stopping=False, speed_kmh=0.0, reverse=False,
                        start_acked_s=None, stop_acked_s=10.0, stop_unacked=False)
    assert monitor.check_status(11.4, BeltStatus.RUNNING_CDS, stopped) is None
    fault = monitor.check_status(11.6, BeltStatus.RUNNING_CDS, stopped)
    assert fault is not None and "ignores stop" in fault
    assert monitor.check_status(11.6, BeltStatus.STOPPED, stopped) is None


def _collect(transactions: Transactions, data: bytes, now_s: float
             ) -> tuple[list[tuple[int, bool]], list[str]]:
    replies: list[tuple[int, bool]] = []
    problems: list[str] = []
    transactions.feed(data, now_s, lambda reply, _sent, abandoned: replies.append(
        (reply.command.opcode, abandoned)), problems.append)
    return replies, problems


def test_a_late_reply_to_an_abandoned_poll_is_not_the_stops_ack() -> None:
    """C1 in flight, abandoned by a stop: the D1 + 4 digits that come first are the poll's;
    only the byte after them is the stop's B2."""
    t = Transactions(ack_timeout_s=0.25)
    t.begin(Command(GET_SPEED), 0.0, slowing=False)
    poll_abandonable = t.may_abandon
    assert poll_abandonable
    t.abandon()
    t.begin(Command(STOP), 0.005, slowing=True)
    assert t.stop_in_flight and not t.may_abandon  # a stop is never abandoned
    replies, problems = _collect(t, bytes([0xD1]) + b"0015", 0.2)
    assert replies == [(GET_SPEED, True)] and not problems
    replies, problems = _collect(t, bytes([0xB2]), 0.21)
    assert replies == [(STOP, False)] and not problems and t.in_flight is None


def test_a_wrong_late_reply_drops_everything_and_is_a_problem() -> None:
    t = Transactions(ack_timeout_s=0.25)
    t.begin(Command(GET_SPEED), 0.0, slowing=False)
    t.abandon()
    t.begin(Command(STOP), 0.005, slowing=True)
    replies, problems = _collect(t, bytes([0xB2]), 0.05)  # the stop's ack where D1 is due
    assert replies == [] and len(problems) == 1 and "expected ack D1" in problems[0]
    assert t.in_flight is None


def test_an_abandoned_command_still_times_out_on_its_own_clock() -> None:
    t = Transactions(ack_timeout_s=0.1)
    t.begin(Command(GET_STATUS), 0.0, slowing=False)
    t.abandon()
    t.begin(Command(STOP), 0.05, slowing=True)
    assert _collect(t, b"", 0.1) == ([], [])
    _, problems = _collect(t, b"", 0.11)
    assert problems and "no acknowledgement of C0" in problems[0]


def test_the_picker_sends_the_stop_first_then_the_start_then_polls_on_their_grid() -> None:
    picker = CommandPicker(Command(STOP), poll_interval_s=0.05)

    def nothing() -> int:
        return 0

    first = picker.next(0.0, speeds_allowed=False, stopping=False, desired=nothing)
    assert first == Command(STOP)  # at power-on: say "stopped" first
    picker.start_pending = True
    assert picker.next(0.0, False, False, nothing) == Command(START_CDS)
    polls = [picker.next(t, False, False, nothing) for t in (0.0, 0.01, 0.05, 0.1)]
    assert [p.opcode if p else None for p in polls] == [GET_SPEED, None, GET_STATUS, GET_SPEED]


def test_the_picker_never_lets_a_ramp_starve_the_read_back() -> None:
    picker = CommandPicker(Command(STOP), poll_interval_s=0.05)
    picker.stop_pending = False
    wanted = iter(range(1, 100))
    opcodes = []
    for i in range(40):
        command = picker.next(i * 0.005, True, False, lambda: next(wanted))
        assert command is not None
        picker.sent(command)
        opcodes.append(command.opcode)
    assert opcodes.count(SET_SPEED) > 20 and opcodes.count(GET_SPEED) >= 2


def test_a_controlled_stop_ends_in_the_stop_command_not_an_a3_of_zero() -> None:
    picker = CommandPicker(Command(STOP), poll_interval_s=0.05)
    picker.stop_pending = False
    picker.sent(set_speed(5))
    assert picker.urgent(True, stopping=True, desired=lambda: 0) == Command(STOP)
    assert picker.urgent(True, stopping=False, desired=lambda: 0) == set_speed(0)
