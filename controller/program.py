"""A runner's session program: warm-up, bouts, rests, a time limit, a cool-down, the end.

Streaming and clock-driven: :meth:`Program.tick` runs inside the supervisor's tick (before the
speed is computed) and only sets the governor's target, raises cues and, at the end, requests
the controlled stop that ends the session. The governor still ramps every change, announces
every rise and caps every speed; the supervisor still owns every stop. Nothing here starts the
belt: a session begins when a person's confirmed start goes out.

One session::

    start (reset + confirmed start + countdown, as always)
      └─ WARMUP   warmup_s at warmup_speed_kmh (the detectors' baselines are reset at every
      │           start and built during it: the runner is compared with their own walking)
      └─ BOUT n   at bout_speed_kmh until bout_steps steps (the step detector) or bout_s seconds
      └─ REST     rest_s at warmup_speed_kmh — or, rest_mode = "stop", a stop (bout_rest) and the
      │           next bout after a reset and a confirmed start
      └─ … until every bout is done ("program") or session_limit_s has passed ("time_limit")
      └─ COOLDOWN cooldown_s at warmup_speed_kmh
      └─ the controlled stop (session_complete), latched as after any stop

A stop of any kind — a detector, a button, a fault, the control socket — ends the session; the
summary records why (``ended_by``: ``program``, ``time_limit`` or the stop reason). Cues (``cue``
events, heard on the buzzer) come before every speed increase (the governor's), at each bout's
start and end, and at the session's end.

Everything slow — reading the runner from the store, writing the summary and the progressed
limits — happens outside the tick: a runner is chosen (:meth:`Program.select`) from another
thread and taken over between runs; the summary goes to ``on_session_end``, which must only
queue it (:class:`controller.session_record.SessionRecorder`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.events import Event, EventKind, EventLog
from controller.profiles import PROFILES, Profile, RunnerLimits
from controller.progression import is_clean, next_limits
from controller.stop_path_test import StopPathTest
from controller.stop_reasons import StopReason
from controller.store import Store
from controller.supervisor import State, Supervisor


class Phase(StrEnum):
    """Where a session is."""

    IDLE = "idle"
    """No session under way (before the first start, or after a session ended)."""
    WARMUP = "warmup"
    BOUT = "bout"
    REST = "rest"
    """Walking at the warm-up speed between bouts, or (rest_mode "stop") latched."""
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Plan:
    """Who runs and what they may do: read from the runner store outside the loop.

    Attributes:
        runner, profile, limits: the runner, their profile and their current limits.
        sessions_this_week: sessions started within the last 7 days (store).
    """

    runner: str
    profile: Profile
    limits: RunnerLimits
    sessions_this_week: int = 0

    @property
    def cap_kmh(self) -> float:
        """The lower of the runner's own cap and the profile's."""
        return min(self.limits.max_speed_kmh, self.profile.cap_kmh)


def load_plan(store: Store, name: str) -> Plan:
    """Runner ``name``'s plan from the store (outside the tick; StoreError for an unknown
    runner)."""
    runner = store.runner(name)
    return Plan(runner.name, PROFILES[runner.profile], runner.limits,
                store.sessions_this_week(name))


SessionEnd = Callable[[Plan, dict[str, Any], RunnerLimits | None], None]
"""Called (inside the tick: it must only queue) with the plan, the summary (see
:meth:`Program.outcome`) and the progressed limits (None: they hold)."""


class Program:
    """The session program of the chosen runner.

    Args:
        events: the session's event log (cues, phases; cautions are counted from it).
        step_count: the step detector's running total; it must never go back within a session
            (bouts and the session's steps are counted from its value at their start).
        reset_baselines: resets the detectors' baselines (at every start) — the instability
            detector's and the gait's, never ``step_count``'s total.
        on_session_end: receives each finished session (must not block).
        set_hands_on: switches the rail detector's hands-on mode for the runner's profile.
        wire_cap: the highest speed, km/h, at or below a cap that the treadmill's unit can carry
            (0.1 mph steps round to the nearest: 1.1 km/h would go out as 0.7 mph = 1.13 km/h);
            None: the cap itself.
        stop_path: the stop-path test run after each reset (arming), if any.
        harness_pressed: polled every tick: True once per press of the harness-confirm button
            (``[gpio] harness_pin``; :meth:`hardware.safety_io.SafetyIO.poll_harness`), which
            confirms the harness as the control socket does; None: no such button.
    """

    def __init__(self, events: EventLog, step_count: Callable[[], int],
                 reset_baselines: Callable[[], None], on_session_end: SessionEnd | None = None,
                 set_hands_on: Callable[[bool], None] | None = None,
                 wire_cap: Callable[[float], float] | None = None,
                 stop_path: StopPathTest | None = None,
                 harness_pressed: Callable[[], bool] | None = None) -> None:
        self._events = events
        self._step_count = step_count
        self._reset_baselines = reset_baselines
        self._on_session_end = on_session_end
        self._set_hands_on = set_hands_on
        self._wire_cap = wire_cap or (lambda cap_kmh: cap_kmh)
        self.stop_path = stop_path
        self._harness_pressed = harness_pressed
        self._now_s = 0.0
        self.plan: Plan | None = None
        self._pending: Plan | None = None
        self.harness_confirmed = False
        """The harness is confirmed for the next start (used up by it)."""
        self._harness_asked = False  # a confirmation not yet taken in by the tick
        self._stop_requested = False
        self._stop_why = ""
        self.phase = Phase.IDLE
        self._was_running = False
        self._session_from_s = 0.0
        self._phase_from_s = 0.0
        self._bout_from_steps = 0
        self._session_from_steps = 0
        self.bout = 0  # the bout under way or last done, 1-based
        self.bouts_completed = 0
        self._warmup_s = 0.0
        self._ending = ""  # "program" or "time_limit" once the cool-down has begun
        self.cautions = 0
        self._session_s = 0.0
        self._steps_total = 0
        self._ended_by = ""
        self.last_outcome: dict[str, Any] | None = None
        events.subscribe(self._on_event)

    # ------------------------------------------------------------------ outside the tick
    def select(self, plan: Plan) -> None:
        """Run ``plan`` from the next session on (taken over in the tick, between runs only:
        while no session is under way and the supervisor is latched or ready)."""
        self._pending = plan

    def request_stop(self, why: str = "asked for on the control socket") -> None:
        """Stop the belt at the next tick (the control socket's ``stop``, the fleet's remote
        stop; any thread). ``why``: the stop's detail in the log (who asked)."""
        self._stop_why = why
        self._stop_requested = True

    def confirm_harness(self) -> None:
        """A person confirmed the harness is on (needed before each start of a profile that
        asks for it; used up by that start). Any thread; taken in at the next tick, and only
        while the belt is stopped (latched, ready or counting down): a confirmation made while
        it runs is for no start, and is dropped with a line in the log."""
        self._harness_asked = True

    @property
    def in_session(self) -> bool:
        return self.phase is not Phase.IDLE

    # ------------------------------------------------------------------ the supervisor's hooks
    def start_problems(self) -> list[str]:
        """What this program forbids a start for (the supervisor's checklist)."""
        problems = [] if self.stop_path is None else self.stop_path.start_problems(self._now_s)
        plan = self._pending if self._pending is not None and not self.in_session else self.plan
        if plan is None:
            return problems
        if plan.profile.hands_on and self._set_hands_on is None:
            problems.append(f"{plan.profile.name}: needs rail sensing on both rails ([rails])")
        if plan.profile.needs_harness and not self.harness_confirmed:
            problems.append(f"{plan.profile.name}: confirm the harness first (the harness button, "
                            f"treadguard status --confirm-harness or the control socket)")
        if not self.in_session and plan.sessions_this_week >= plan.limits.sessions_per_week:
            problems.append(f"runner {plan.runner}: {plan.sessions_this_week} sessions in the "
                            f"last 7 days (sessions_per_week = {plan.limits.sessions_per_week}; "
                            f"a supervisor may raise it with the PIN)")
        return problems

    def tick(self, now_s: float, sup: Supervisor) -> None:
        """Once per supervisor tick, before the speed is computed."""
        self._now_s = now_s
        if self.stop_path is not None:
            self.stop_path.tick(now_s, sup)
        if self._stop_requested:
            self._stop_requested = False
            sup.request_stop(StopReason.STOP_REQUESTED, self._stop_why)
        if self._pending is not None and not self.in_session \
                and sup.state in (State.LATCHED, State.READY):
            self._take(self._pending, sup)
        # After a runner is taken over (which clears any earlier confirmation): a runner chosen
        # and the harness confirmed in one breath (`status --select-runner --confirm-harness`)
        # reach this tick together, and the confirmation is for that runner.
        if self._harness_pressed is not None and self._harness_pressed():
            self._harness_asked = True
            self._events.add(now_s, EventKind.INPUT, "harness button pressed")
        if self._harness_asked:
            self._harness_asked = False
            if sup.state in (State.RUNNING, State.STOPPING):
                self._events.add(now_s, EventKind.INPUT, "harness confirmation ignored: the "
                                 "belt is running (confirm it before the next start)")
            else:
                self.harness_confirmed = True
        plan = self.plan
        if plan is None:
            return
        running = sup.state is State.RUNNING
        if running and not self._was_running:
            self._on_start(now_s, plan)
        elif self._was_running and not running:
            self._on_stop(now_s, sup, plan)
        elif self.in_session and not running and sup.stop_latched \
                and sup.stop_reason not in ("", StopReason.BOUT_REST):
            # A stop while resting with the belt stopped (after the rest's reset: a start
            # aborted, an e-stop): that ends the session too.
            self._finish(now_s, plan, str(sup.stop_reason))
        self._was_running = running
        if running:
            sup.governor.set_target_kmh(self._advance(now_s, sup, plan))

    def _take(self, plan: Plan, sup: Supervisor) -> None:
        self._pending = None
        self.plan = plan
        sup.governor.set_cap_kmh(self._wire_cap(plan.cap_kmh))
        sup.governor.set_target_kmh(plan.limits.warmup_speed_kmh)
        if self._set_hands_on is not None:
            self._set_hands_on(plan.profile.hands_on)
        self.harness_confirmed = False

    def _on_start(self, now_s: float, plan: Plan) -> None:
        self._reset_baselines()
        self.harness_confirmed = False  # a harness is confirmed for each start
        if not self.in_session:
            self._session_from_s = now_s
            self._session_from_steps = self._step_count()
            self.bout = self.bouts_completed = self.cautions = 0
            self._warmup_s = 0.0
            self._ending = ""
            self._phase(now_s, Phase.WARMUP, f"runner {plan.runner}: warm-up "
                        f"{plan.limits.warmup_s:g} s at {plan.limits.warmup_speed_kmh:g} km/h")
        else:  # a fresh start after a rest with the belt stopped: the next bout
            self._start_bout(now_s, plan)

    def _on_stop(self, now_s: float, sup: Supervisor, plan: Plan) -> None:
        if sup.stop_reason == StopReason.BOUT_REST and self.in_session:
            return  # the rest; the session goes on at the next confirmed start
        reason = sup.stop_reason
        ended_by = self._ending if reason == StopReason.SESSION_COMPLETE else str(reason)
        self._finish(now_s, plan, ended_by or str(reason))

    def _advance(self, now_s: float, sup: Supervisor, plan: Plan) -> float:
        """The phase's speed after moving through any phase that is over."""
        lim = plan.limits
        in_phase_s = now_s - self._phase_from_s
        if self.phase in (Phase.WARMUP, Phase.BOUT, Phase.REST) \
                and now_s - self._session_from_s >= lim.session_limit_s:
            self._cooldown(now_s, plan, "time_limit")
        elif self.phase is Phase.WARMUP and in_phase_s >= lim.warmup_s:
            self._warmup_s = in_phase_s
            self._start_bout(now_s, plan)
        elif self.phase is Phase.BOUT and self._bout_done(now_s, lim):
            self.bouts_completed += 1
            self._cue(now_s, f"bout {self.bout}/{lim.bouts} done: slowing to "
                             f"{lim.warmup_speed_kmh:g} km/h")
            if self.bouts_completed >= lim.bouts:
                self._cooldown(now_s, plan, "program")
            elif lim.rest_mode == "stop":
                self.phase, self._phase_from_s = Phase.REST, now_s
                sup.request_stop(StopReason.BOUT_REST, f"rest {lim.rest_s:g} s, then reset and "
                                                       f"start for bout {self.bout + 1}")
            else:
                self._phase(now_s, Phase.REST, f"rest {lim.rest_s:g} s")
        elif self.phase is Phase.REST and in_phase_s >= lim.rest_s:
            self._start_bout(now_s, plan)
        elif self.phase is Phase.COOLDOWN and in_phase_s >= lim.cooldown_s:
            self._cue(now_s, f"session over ({self._ending}): the belt stops")
            sup.request_stop(StopReason.SESSION_COMPLETE,
                             f"{self.bouts_completed}/{lim.bouts} bouts, "
                             f"{self._step_count() - self._session_from_steps} steps")
        return lim.bout_speed_kmh if self.phase is Phase.BOUT else lim.warmup_speed_kmh

    def _bout_done(self, now_s: float, lim: RunnerLimits) -> bool:
        if lim.bout_s > 0:
            return now_s - self._phase_from_s >= lim.bout_s
        return self._step_count() - self._bout_from_steps >= lim.bout_steps

    def _start_bout(self, now_s: float, plan: Plan) -> None:
        lim = plan.limits
        self.bout = self.bouts_completed + 1
        self._bout_from_steps = self._step_count()
        length = f"{lim.bout_s:g} s" if lim.bout_s > 0 else f"{lim.bout_steps} steps"
        self.phase, self._phase_from_s = Phase.BOUT, now_s
        self._cue(now_s, f"bout {self.bout}/{lim.bouts}: {length} at {lim.bout_speed_kmh:g} km/h")

    def _cooldown(self, now_s: float, plan: Plan, ending: str) -> None:
        if self.phase is Phase.WARMUP:
            self._warmup_s = now_s - self._phase_from_s
        self._ending = ending
        self._phase(now_s, Phase.COOLDOWN, f"cool-down {plan.limits.cooldown_s:g} s at "
                                           f"{plan.limits.warmup_speed_kmh:g} km/h ({ending})")

    def _phase(self, now_s: float, phase: Phase, message: str) -> None:
        self.phase, self._phase_from_s = phase, now_s
        self._events.add(now_s, EventKind.INFO, message)

    def _cue(self, now_s: float, message: str) -> None:
        self._events.add(now_s, EventKind.CUE, message)

    def _finish(self, now_s: float, plan: Plan, ended_by: str) -> None:
        if self.phase is Phase.WARMUP:
            self._warmup_s = now_s - self._phase_from_s
        self._session_s = now_s - self._session_from_s
        self._steps_total = self._step_count() - self._session_from_steps
        self._ended_by = ended_by
        self.phase = Phase.IDLE
        summary = self._summary()
        self.last_outcome = summary
        progressed = next_limits(plan.limits, plan.profile, summary)
        self._events.add(now_s, EventKind.INFO,
                         f"session of {plan.runner} ended by {ended_by}: "
                         f"{self.bouts_completed}/{plan.limits.bouts} bouts, "
                         f"{self._steps_total} steps, {self._session_s:.0f} s; limits "
                         + ("progressed" if progressed and is_clean(summary)
                            else "lowered" if progressed else "held"))
        # The next session runs on the new limits at once; the store records them outside.
        self.plan = dataclasses.replace(plan, limits=progressed or plan.limits,
                                        sessions_this_week=plan.sessions_this_week + 1)
        if self._on_session_end is not None:
            self._on_session_end(plan, summary, progressed)

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.CAUTION and self.in_session:
            self.cautions += 1

    # ------------------------------------------------------------------ read-outs
    def outcome(self) -> dict[str, Any]:
        """The last finished session (else the one under way, with ``ended_by`` ""), as the
        sim's ``--json`` outcome and the store's summary: ``runner``, ``profile``, ``program``
        (``warmup_s``, ``bouts_planned``, ``bouts_completed``, ``steps_total``, ``session_s``,
        ``ended_by``: ``program``, ``time_limit`` or a stop reason) and ``cautions``."""
        if self.last_outcome is not None and not self.in_session:
            return self.last_outcome
        return self._summary()

    def _summary(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "runner": plan.runner if plan else None,
            "profile": plan.profile.name if plan else None,
            "program": {
                "warmup_s": round(self._warmup_s, 3),
                "bouts_planned": plan.limits.bouts if plan else 0,
                "bouts_completed": self.bouts_completed,
                "steps_total": self._steps_total,
                "session_s": round(self._session_s, 3),
                "ended_by": self._ended_by,
            },
            "cautions": self.cautions,
        }

    def status(self, now_s: float) -> dict[str, Any]:
        """For the status snapshot: runner, profile, phase, bout n/N, steps, time and time left."""
        plan = self.plan
        if plan is None:
            return {"runner": None, "profile": None, "phase": self.phase.value}
        session_s = now_s - self._session_from_s if self.in_session else 0.0
        return {
            "runner": plan.runner, "profile": plan.profile.name, "phase": self.phase.value,
            "bout": self.bout, "bouts": plan.limits.bouts,
            "steps": self._step_count() - self._session_from_steps if self.in_session else 0,
            "session_s": round(session_s, 1),
            "session_left_s": round(max(0.0, plan.limits.session_limit_s - session_s), 1),
            "harness_confirmed": self.harness_confirmed,
            "cap_kmh": plan.cap_kmh,
        }
