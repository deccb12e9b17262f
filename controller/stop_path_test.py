"""The stop-path test, as part of arming: is the way we cut the treadmill's power working?

After a reset, before a start is allowed (``[arming] stop_path_test``: before each session, or
once a day), with the belt stopped:

1. the link is told a power cycle is coming (:meth:`TrackmasterLink.expect_power_cycle`): for
   ``power_cycle_window_s`` a silent treadmill is expected, not a fault — any *other* power
   cycle still is;
2. the relay in the safety-key loop is opened (the supervisor's ``hold_relay_open``) and its
   feedback contact must be seen open within ``[gpio] relay_open_within_s`` (plus a tick);
3. after ``relay_open_hold_s`` the relay closes again; the treadmill must have reacted — its
   console lost power with the key loop, so the link went silent — and come back, its start
   lockout cleared with a stop (the link's ``power_cycle_result == "completed"``).

Relay-only mode (no link) checks the feedback contact only, and says so. The result is an event
(``info``: ``stop-path test passed`` / ``FAILED``) and part of the status snapshot; a start is
refused without a pass within the interval. The test never runs unless the controller is READY
(belt stopped, nothing counting down); leaving READY aborts it and lets the relay close only as
the supervisor says.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from typing import Any, Final

from controller.events import EventKind, EventLog
from controller.settings import ArmingSettings
from controller.supervisor import State, Supervisor
from hardware.safety_io import SafetyIO
from hardware.trackmaster import TrackmasterLink

DAY_S: Final = 24 * 3600.0
FEEDBACK_MARGIN_S: Final = 0.02
"""Beyond ``relay_open_within_s``: one loop tick and the input's own settling."""


class Phase(Enum):
    IDLE = "idle"
    OPENING = "opening"
    HOLDING = "holding"
    WAITING = "waiting"


class StopPathTest:
    """Runs the test from the supervisor's tick (through the session program's hook).

    Args:
        events: where the result goes.
        safety_io: the relay and its feedback contact.
        link: the treadmill link, or None in relay-only mode.
        arming: ``[arming]``.
        relay_open_within_s: ``[gpio] relay_open_within_s``.
        on_result: receives each result line (inside the tick: it must only queue; the daemon
            records it in the runner store's audit log).
    """

    def __init__(self, events: EventLog, safety_io: SafetyIO, link: TrackmasterLink | None,
                 arming: ArmingSettings, relay_open_within_s: float,
                 on_result: Callable[[str], None] | None = None) -> None:
        self._events = events
        self._io = safety_io
        self._link = link
        self._arming = arming
        self._feedback_within_s = relay_open_within_s + FEEDBACK_MARGIN_S
        self._on_result = on_result
        self.phase = Phase.IDLE
        self._from_s = 0.0
        self.passed_at_s = -math.inf
        self._used = True  # the last pass was used by a session (each_session: test again)
        self.last_result = "not run yet"
        self._tried = False  # a test has begun since the controller became ready
        self._contact = ""

    @property
    def enabled(self) -> bool:
        return self._arming.stop_path_test != "off"

    def valid(self, now_s: float) -> bool:
        """Is there a pass that allows a start now?"""
        if not self.enabled:
            return True
        if self._arming.stop_path_test == "daily":
            return now_s - self.passed_at_s <= DAY_S
        return not self._used

    def start_problems(self, now_s: float) -> list[str]:
        if self.valid(now_s):
            return []
        doing = "running" if self.phase is not Phase.IDLE else self.last_result
        return [f"stop-path test: {doing} (a pass is needed before the start)"]

    def status(self) -> dict[str, Any]:
        return {"mode": self._arming.stop_path_test, "phase": self.phase.value,
                "last_result": self.last_result}

    def tick(self, now_s: float, sup: Supervisor) -> None:
        if not self.enabled:
            return
        if sup.state is State.RUNNING:
            self._used = True  # this pass armed a session
        if sup.state is not State.READY:
            if self.phase is not Phase.IDLE:
                self._fail(now_s, sup, f"aborted: the controller left ready ({sup.state.value})")
            self._tried = False  # the next reset tries again
            return
        if self.phase is Phase.IDLE:
            if not self.valid(now_s) and not self._tried:
                self._tried = True  # once per reset: a failure waits for a person
                self._begin(now_s, sup)
            return
        in_phase_s = now_s - self._from_s
        if self.phase is Phase.OPENING:
            feedback = self._io.relay_feedback_closed
            if feedback is False or (feedback is None and in_phase_s >= self._feedback_within_s):
                self.phase, self._from_s = Phase.HOLDING, now_s
            elif in_phase_s > self._feedback_within_s:
                self._fail(now_s, sup, f"the relay's feedback contact did not open within "
                                       f"{self._feedback_within_s * 1000:.0f} ms")
        elif self.phase is Phase.HOLDING and in_phase_s >= self._arming.relay_open_hold_s:
            sup.hold_relay_open = False
            contact = "feedback contact seen open" if self._io.relay_feedback_closed is not None \
                else "no feedback contact fitted"
            if self._link is None:
                self._pass(now_s, f"relay-only: {contact}; the treadmill's reaction is not "
                                  f"checked without a link")
            else:
                self.phase, self._from_s = Phase.WAITING, now_s
                self._contact = contact
        elif self.phase is Phase.WAITING:
            assert self._link is not None
            result = self._link.power_cycle_result
            if result == "completed":
                self._pass(now_s, f"{self._contact}; the treadmill lost power and came back, "
                                  f"its start lockout cleared")
            elif result == "not_observed":
                self._fail(now_s, sup, "the treadmill did not react to the key loop opening "
                                       "(its link never went silent): check the relay's wiring")
            elif self._link.fault is not None:
                self._fail(now_s, sup, f"treadmill link: {self._link.fault}")
            elif in_phase_s > self._arming.power_cycle_window_s + 1.0:
                self._fail(now_s, sup, "the treadmill did not come back in time")

    def _begin(self, now_s: float, sup: Supervisor) -> None:
        if self._link is not None:
            try:
                self._link.expect_power_cycle(self._arming.power_cycle_window_s
                                              + self._arming.relay_open_hold_s)
            except RuntimeError as exc:
                self._fail(now_s, sup, str(exc))
                return
        sup.hold_relay_open = True
        self.phase, self._from_s = Phase.OPENING, now_s
        self.last_result = "running"
        self._events.add(now_s, EventKind.INFO, "stop-path test: opening the relay")

    def _pass(self, now_s: float, detail: str) -> None:
        self.phase = Phase.IDLE
        self.passed_at_s = now_s
        self._used = False
        self._result(now_s, f"passed: {detail}")

    def _fail(self, now_s: float, sup: Supervisor, detail: str) -> None:
        sup.hold_relay_open = False
        self.phase = Phase.IDLE
        self._result(now_s, f"FAILED: {detail}")

    def _result(self, now_s: float, result: str) -> None:
        self.last_result = result
        self._events.add(now_s, EventKind.INFO, f"stop-path test {result}")
        if self._on_result is not None:
            self._on_result(result)
