"""The safety supervisor: the state machine and the one latched stop path.

States::

    LATCHED ──reset (human, belt confirmed stopped)──► READY ──confirmed start──► COUNTDOWN
       ▲                                                  │                          │
       │                                                  │      countdown elapsed, checklist
       │                                                  │      passes again: start (A0)
       │                                                  │                          ▼
       └──────── belt confirmed stopped ◄── STOPPING ◄────┴──── any stop request ◄── RUNNING
                                                                  (or from COUNTDOWN)

- At power-on the supervisor is LATCHED (reason ``power_on``): nothing runs until a human resets
  and then confirms a start. Nothing restarts the belt on its own — not a restart, a reboot, a
  reconnect or a reset.
- No belt movement without a warning first. A confirmed start (arming checklist passed) enters
  COUNTDOWN: a ``cue`` event starts the buzzer's countdown (``[limits] start_countdown_s``) and
  the belt stays still. When it has elapsed the checklist and the link are checked again; only
  then is the start sent (relay-only: the relay closed). Any stop request during the countdown
  — a button, a detector, sensor health, a link fault, e-stop — cancels it: no start byte ever
  goes out for it. A checklist that fails at the end latches (``start_aborted``). For COUNTDOWN
  every check of READY holds (the belt must not move; the relay stays as READY had it).
  Speed rises are announced by the governor (:mod:`controller.governor`), as ``cue`` events.
- :meth:`Supervisor.request_stop` is the only way to stop, called by detectors, sensor health,
  buttons, link faults and the loop's stall check alike. The first reason wins and is kept until
  reset; later reasons are logged. It is idempotent and never raises.
- A stop is a controlled stop through the treadmill link. The power path (the relay in the
  safety-key loop) is also opened when the link cannot be trusted: a link fault, a belt that
  does not stop by its deadline, a belt that moves while latched, or a stop request that asks
  for it (e-stop, loop stall, relay-only mode). Power stays cut until reset.
- How the belt is started, speeded and stopped is the drive's (:mod:`controller.drive`, chosen
  by the composition root): a serial link with the relay behind it, or relay-only, where every
  stop opens the relay. The supervisor asks the drive what it can do; it never tests for a link.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from typing import Final, Protocol

from controller.config import LimitsSettings
from controller.detect.base import Decision, Level
from controller.drive import Drive
from controller.events import EventKind, EventLog
from controller.governor import SPEED_UP_LEAD_S, Governor
from controller.stop_reasons import StopReason
from hardware.clock import Clock
from hardware.units import KMH_PER_MPS

STOP_MARGIN_S: Final = 1.0
"""Extra time beyond v / stop_decel that a belt gets to read back zero before power is cut."""
STOPPED_KMH: Final = 0.05
MOVING_WHILE_LATCHED_KMH: Final = 0.3
CAUTION_EPISODE_GAP_S: Final = 1.0
"""A caution of the same reason after this long without one is a new episode, announced again
(event and buzzer), s."""


class SessionProgram(Protocol):
    """A runner's session program (:class:`controller.program.Program`), seen from here: it
    sets the governor's target while RUNNING, may request a stop, and may forbid a start."""

    def tick(self, now_s: float, supervisor: Supervisor) -> None: ...

    def start_problems(self) -> list[str]: ...


class State(Enum):
    LATCHED = "latched"
    READY = "ready"
    COUNTDOWN = "countdown"
    RUNNING = "running"
    STOPPING = "stopping"


class Supervisor:
    """Owns the session state and the latched stop.

    Args:
        clock: the injected clock.
        drive: how the belt is started, speeded and stopped (:mod:`controller.drive`: a serial
            link with the relay behind it, or relay-only, where every stop cuts power).
        limits: ``[limits]`` (start speed, cap, ramps, stop deceleration, start countdown).
        target_kmh: the session's requested speed.
        events: where state changes, stops and speeds are recorded.
        arming_problems: returns what prevents a start (empty = ready to arm).
    """

    def __init__(
        self,
        clock: Clock,
        drive: Drive,
        limits: LimitsSettings,
        target_kmh: float,
        events: EventLog,
        arming_problems: Callable[[], list[str]],
    ) -> None:
        self._clock = clock
        self._drive = drive
        self._limits = limits
        self._events = events
        self._arming_problems = arming_problems
        self.governor = Governor(limits, target_kmh)
        self.state = State.LATCHED
        self.stop_reason: str = StopReason.POWER_ON
        # Power-on is power-cut in every mode: a restarted daemon (crash, Restart=on-failure,
        # reboot) must not give back the power an earlier instance cut. Only a human reset
        # (or, when the relay is the drive's only stop, a confirmed start) closes the relay.
        self.power_cut = True
        self.power_cut_reason: str = StopReason.POWER_ON
        self._stop_deadline_s = math.inf
        self._later_reasons: set[str] = set()
        self._commanded_kmh = 0.0
        self._caution_reason = ""
        self._caution_last_s = -math.inf
        self._countdown_from_s = math.inf
        self.hold_relay_open = False
        """The stop-path test holds the relay open (only while READY: never while the belt may
        run)."""
        self.program: SessionProgram | None = None
        """The session program, if a runner's program runs (set by the composition's user)."""

    @property
    def start_countdown_s(self) -> float:
        """How long the countdown before a start lasts, seconds (``[limits]``)."""
        return self._limits.start_countdown_s

    # ------------------------------------------------------------------ outputs
    @property
    def relay_closed(self) -> bool:
        """Energise the safety-key-loop relay? False whenever power must be cut (or the stop-path
        test holds it open)."""
        return not self.power_cut and not self.hold_relay_open

    @property
    def stop_deadline_s(self) -> float:
        """Clock time by which a stopping belt must read back zero, else power is cut (inf
        when no stop is under way)."""
        return self._stop_deadline_s if self.state is State.STOPPING else math.inf

    @property
    def stop_latched(self) -> bool:
        """Is a stop latched — from the stop request until a human reset? True while STOPPING
        (the belt still slowing) as well as LATCHED: nothing but a reset starts it again."""
        return self.state in (State.LATCHED, State.STOPPING)

    # ------------------------------------------------------------------ the one stop path
    def request_stop(self, reason: str, detail: str = "", cut_power: bool = False) -> None:
        """Stop the belt and latch. First reason wins; safe to call from anywhere, any time.

        Args:
            reason: a :class:`~controller.stop_reasons.StopReason` member (a ``str``; kept as
                :attr:`stop_reason` until reset).
            detail: a sentence with the numbers, for the log.
            cut_power: open the relay now and stop at once rather than at ``[limits]
                stop_decel_mps2`` (the stop chain, the loop, link faults). The drive may cut
                power on every stop anyway (relay-only).
        """
        now = self._clock.now_s()
        drive = self._drive
        if cut_power or drive.stop_cuts_power:
            self._cut_power(now, reason)
        if self.state in (State.RUNNING, State.READY, State.COUNTDOWN):
            # From COUNTDOWN this is what cancels the start: the state leaves COUNTDOWN, so
            # tick() never reaches the start.
            self.stop_reason = reason
            speed_kmh = max(drive.speed_read_back_kmh, self._commanded_kmh)
            self._stop_deadline_s = (
                now + speed_kmh / KMH_PER_MPS / self._limits.stop_decel_mps2 + STOP_MARGIN_S
            )
            # A drive that reads the belt back waits in STOPPING for it to read 0; without one
            # the open relay is the whole stop.
            self._set_state(now, State.STOPPING if drive.controls_speed else State.LATCHED)
            self._events.add(now, EventKind.STOP, f"STOP: {reason}" + _dash(detail))
            self._later_reasons.clear()
        elif reason != self.stop_reason and reason not in self._later_reasons:
            self._later_reasons.add(reason)
            self._events.add(now, EventKind.INFO, f"also: {reason}" + _dash(detail))
        # Software stops are controlled stops at [limits] stop_decel_mps2; a stop that cuts
        # power (link fault, e-stop, stall, belt not stopping) goes out at once.
        drive.stop(None if cut_power else self._limits.stop_decel_mps2)
        self._commanded_kmh = 0.0

    def _cut_power(self, now: float, reason: str) -> None:
        if not self.power_cut:
            self.power_cut = True
            self.power_cut_reason = reason
            self._events.add(now, EventKind.STOP, f"relay opened: treadmill power cut ({reason})")

    def on_decision(self, decision: Decision) -> None:
        """Act on a detector's or health check's decision."""
        if decision.level is Level.STOP:
            self.request_stop(decision.reason, decision.detail)
        elif decision.level is Level.CAUTION and self.state is State.RUNNING:
            now = self._clock.now_s()
            self.governor.caution(now)
            # Announced (event, buzzer) once per episode: a new reason, or the same one back
            # after a calm gap (a second hand off the rail must be heard again).
            if (decision.reason != self._caution_reason
                    or now - self._caution_last_s > CAUTION_EPISODE_GAP_S):
                self._caution_reason = decision.reason
                self._events.add(now, EventKind.CAUTION,
                                 f"caution: {decision.reason} — {self._drive.caution_action}")
            self._caution_last_s = now

    # ------------------------------------------------------------------ human actions
    def reset(self) -> bool:
        """A human held reset: clear the latch if the belt is confirmed stopped."""
        now = self._clock.now_s()
        if self.state is not State.LATCHED:
            if self.state is State.STOPPING:
                self._events.add(now, EventKind.INPUT,
                                 "reset refused: belt not yet confirmed stopped")
            return False
        if not self.power_cut and not self._drive.belt_stopped:
            self._events.add(now, EventKind.INPUT, "reset refused: belt not confirmed stopped")
            return False
        if not self._drive.stop_cuts_power:
            # Power returns; the drive clears the treadmill's start lockout. When the relay is
            # the drive's only stop, power returns only at the end of a confirmed start.
            self.power_cut = False
            self.power_cut_reason = ""
        self._drive.reset()
        self._events.add(now, EventKind.INPUT, f"reset by operator (was: {self.stop_reason})")
        self.stop_reason = ""
        self._caution_reason = ""
        self._set_state(now, State.READY)
        return True

    def request_start(self) -> bool:
        """A human confirmed a start. Only from READY, and only if the arming checklist passes:
        then the countdown begins (COUNTDOWN); the belt starts when it has elapsed (tick)."""
        now = self._clock.now_s()
        if self.state is not State.READY:
            self._events.add(now, EventKind.INPUT,
                             f"start refused: controller is {self.state.value}")
            return False
        problems = self._start_problems()
        if problems:
            self._events.add(now, EventKind.INPUT, "start refused: " + "; ".join(problems))
            return False
        self._countdown_from_s = now
        self._set_state(now, State.COUNTDOWN)  # before the cue: the buzzer reads the state
        self._events.add(now, EventKind.CUE, f"countdown: {self._drive.countdown_action} in "
                                             f"{self.start_countdown_s:g} s")
        return True

    def _start_problems(self) -> list[str]:
        """The arming checklist plus the drive: what forbids a start now (empty: none)."""
        program = self.program.start_problems() if self.program is not None else []
        return self._arming_problems() + self._drive.start_problems() + program

    def _end_countdown(self, now: float) -> None:
        """The countdown has played: check everything again, then start (or latch)."""
        problems = self._start_problems()
        if problems:
            # Something failed during the countdown that no stop request reported (e.g. a
            # frozen sensor only the strict checklist sees): the runner heard a countdown, so
            # the answer is a latched stop with its own tone, not a silent refusal.
            self.request_stop(StopReason.START_ABORTED, "; ".join(problems))
            return
        self._countdown_from_s = math.inf
        self._set_state(now, State.RUNNING)
        if self._drive.stop_cuts_power:
            # Relay-only: power returns only on a confirmed, checked start; the runner then
            # starts the belt on the console (the treadmill must not restart by itself on
            # power return — see docs/treadmill-link.md).
            self.power_cut = False
            self.power_cut_reason = ""
        self._commanded_kmh = self.governor.begin(now)
        kind, message = self._drive.start(self._commanded_kmh)
        self._events.add(now, kind, message)

    # ------------------------------------------------------------------ every tick
    def tick(self) -> None:
        """Called once per loop iteration after detectors and inputs have been handled."""
        now = self._clock.now_s()
        drive = self._drive
        fault = drive.fault
        if fault is not None and not self.power_cut:
            self.request_stop(StopReason.TREADMILL_LINK, fault, cut_power=True)
        if (self.state is State.COUNTDOWN
                and now - self._countdown_from_s >= self.start_countdown_s):
            self._end_countdown(now)
        if self.program is not None:
            # Before the speed: the program's phase decides this tick's target (or stops).
            self.program.tick(now, self)
        if self.state is State.RUNNING and drive.controls_speed:
            speed = self.governor.speed_at(now)
            cue_kmh = self.governor.take_cue()
            if cue_kmh is not None:
                self._events.add(now, EventKind.CUE, f"speed up to {cue_kmh:.1f} km/h in "
                                             f"{SPEED_UP_LEAD_S:g} s")
            if abs(speed - self._commanded_kmh) > 1e-9:
                self._events.add(now, EventKind.SPEED, f"speed {speed:.1f} km/h")
            self._commanded_kmh = speed
            drive.set_speed_kmh(speed)
        elif self.state is State.STOPPING:
            if drive.belt_stopped:
                self._set_state(now, State.LATCHED)
            elif now > self._stop_deadline_s:
                self._cut_power(now, StopReason.BELT_NOT_STOPPING)
                self._set_state(now, State.LATCHED)
        elif self.state in (State.LATCHED, State.READY, State.COUNTDOWN) and not self.power_cut:
            # READY and COUNTDOWN too: after a reset nothing may move the belt until the
            # countdown of a confirmed start has played (a reset after a power cut restores
            # power without a confirmed-stopped belt).
            moving = drive.speed_read_back_kmh
            if moving > MOVING_WHILE_LATCHED_KMH:
                self.request_stop(StopReason.BELT_MOVING_WHILE_LATCHED,
                                  f"{moving:.1f} km/h read back", cut_power=True)

    def _set_state(self, now: float, state: State) -> None:
        if state is not self.state:
            self.state = state
            suffix = f" ({self.stop_reason})" if state in (State.LATCHED, State.STOPPING) else ""
            self._events.add(now, EventKind.STATE, f"state → {state.value}{suffix}")


def _dash(detail: str) -> str:
    """`` — detail`` after a reason in the log, or nothing when there is no detail."""
    return f" — {detail}" if detail else ""
