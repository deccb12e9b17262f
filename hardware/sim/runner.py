"""A backward walker or runner on the belt: where they are on the deck, what the belt clip feels,
what their hands do on the rails, and whether they end on the deck.

The model is advanced once per control-loop tick by the simulated world
(:meth:`Runner.advance`, with the belt's speed as the treadmill reads it) and answers the IMU
twin between ticks (:meth:`Runner.at`, a :class:`~hardware.sim.motion.Motion`) and the rail
twins (:meth:`Runner.hands`). Everything random comes from one ``random.Random(seed)`` drawn
once per step, so the same seed gives the same person whatever the query pattern or load.

**Position on the deck.** ``position_m`` is measured from the deck's middle in the runner's
walking direction (backward, the way they cannot see); the belt carries them the other way, to
"the deck's end". Their own pace follows the belt's speed as they felt it
``REACTION_S`` ago through a first-order lag (``PACE_LAG_S``), plus a pull back to the middle
(``CENTRING_PER_S``): ``d position / dt = own pace − belt speed``. Losing pace (the
``drift_back`` event) scales the pace they aim for by ``DRIFT_PACE``.

**Gait at the clip** (sensor frame: z up, x the way the runner faces, y to their left; the
backward walker travels along −x). Step rate from speed: forward walking cadence
``1.0 + 0.65 v`` steps/s (v in m/s), and backward steps ``BACKWARD_STEP_SHORTER`` shorter at the
same speed, so backward cadence is higher; above ``WALK_RUN_MPS`` (the backward walk–run
transition, 1.63 m/s) the runner runs: cadence ``(2.6 + 0.15 v) × 1.1`` (backward running's step
rate is above forward running's) with a flight phase (no specific force) and a stance half-sine
whose mean is 1 g. Vertical oscillation, fore–aft braking and the heel- or toe-strike transient
all grow with speed; side sway and yaw/roll at half the step rate; step-to-step jitter is 2 %
of the step time (``dizzy`` grows it).

**Events** (:class:`RunnerEvent`): ``slip`` (the feet shoot away, the trunk pitches back at
~230 °/s), ``trip`` (a heel catches: a sharp fore–aft jolt and a backward pitch), ``stumble``
(one irregular, jolted step; recovered without help), ``drift_back`` (losing pace: carried
toward the deck's end), ``dizzy`` (side sway and step irregularity growing over
``DIZZY_BUILD_S``, then a collapse), ``rail_grab`` (both hands clamp the rails for
``GRAB_S``), ``leave_belt`` (steps off onto the side platforms: no more steps, hands off),
``fall`` (the knees give way).

**The fall criterion.** A loss of balance — slip, trip, fall, dizzy's collapse, or stepping off
the deck's end — is *caught* (a hand on the rail and a recovery step on a still deck) when the
belt, as the treadmill reads it, is at or below ``CAUGHT_BELT_KMH`` by ``CATCH_S[kind]`` after
the loss of balance; otherwise the runner goes down: ``DESCENT_S`` of descent (trunk pitching,
less than 1 g felt), an impact (``IMPACT_G`` peak over ``IMPACT_S``), then lying on the back
(gravity along +x). ``fell_at_s`` is the impact's time. A caught runner stands holding the rails.
Without a treadmill model (relay-only worlds) the belt's speed is unknown and taken as the
runner's own pace: nothing carries them anywhere, and a loss of balance is never caught.

Not modelled: the legs and feet themselves, arm swing, individual differences, turning, the
clip's exact position on the belt, belt friction and speed dips under load, a harness.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from hardware.sim.grip import NO_HAND, Hand
from hardware.sim.motion import Vec3
from hardware.units import KMH_PER_MPS

G: Final = 9.80665
REACTION_S: Final = 0.4
"""How late the runner feels a change of belt speed (a human reaction), seconds."""
PACE_LAG_S: Final = 0.4
"""Time constant with which their pace follows what they felt, seconds."""
CENTRING_PER_S: Final = 1.0
"""Pull back toward the deck's middle: m/s of pace per metre off the middle."""
DECK_HALF_M: Final = 0.7
"""Half the usable deck length (a 1.4 m deck): beyond −0.7 m the feet leave the belt's end."""
DRIFT_PACE: Final = 0.8
"""Losing pace: the pace aimed for, as a fraction of the belt's speed."""
WALK_RUN_MPS: Final = 1.63
BACKWARD_STEP_SHORTER: Final = 0.85
"""Backward step length as a fraction of a forward step at the same speed."""
JITTER: Final = 0.02
"""Step-time coefficient of variation of a steady walker."""
DIZZY_BUILD_S: Final = 12.0
"""Dizziness grows for this long (sway ×6, step-time jitter to 40 %), then the runner collapses."""
GRAB_S: Final = 2.0
GRAB_N: Final = 90.0
"""Each hand's force in a rail grab (two hands: 180 N within 0.15 s)."""
REST_N: Final = 15.0
"""Each hand's force resting on a rail (standing before the start, and once caught)."""
CAUGHT_BELT_KMH: Final = 0.3
CATCH_S: Final = {"slip": 1.0, "trip": 0.8, "fall": 0.6, "dizzy": 0.6, "deck_end": 0.4}
"""How long after the loss of balance the belt must be (nearly) still for the runner to catch
themselves, seconds, by how balance was lost."""
DESCENT_S: Final = 0.45
IMPACT_S: Final = 0.06
IMPACT_G: Final = 6.0
SLIP_S: Final = 0.35
SLIP_PITCH_RATE_RADS: Final = 4.0
TRIP_S: Final = 0.3
STUMBLE_S: Final = 0.3


class EventKind(StrEnum):
    """What can happen to the runner (the names scenario files use)."""

    SLIP = "slip"
    TRIP = "trip"
    STUMBLE = "stumble"
    DRIFT_BACK = "drift_back"
    DIZZY = "dizzy"
    RAIL_GRAB = "rail_grab"
    LEAVE_BELT = "leave_belt"
    FALL = "fall"


@dataclass(frozen=True)
class RunnerEvent:
    """``kind`` happens at ``t_s`` (seconds of session time)."""

    t_s: float
    kind: EventKind


@dataclass(frozen=True)
class HandsOn:
    """How the runner uses the rails while walking: ``"free"`` (hands off), ``"touch"`` (a
    light touch, 2 N), ``"rest"`` (resting, ``REST_N``)."""

    mode: str = "free"

    def force_n(self) -> float:
        return {"free": 0.0, "touch": 2.0, "rest": REST_N}[self.mode]


def _add(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def cadence_hz(speed_mps: float) -> float:
    """Backward steps per second at ``speed_mps`` (walking below ``WALK_RUN_MPS``, else running)."""
    if speed_mps >= WALK_RUN_MPS:
        return (2.6 + 0.15 * speed_mps) * 1.1
    return (1.0 + 0.65 * speed_mps) / BACKWARD_STEP_SHORTER


class Runner:
    """The person on the belt (a :class:`~hardware.sim.motion.Motion` for the IMU twin).

    Args:
        events: what happens, in any order.
        seed: the person's randomness (step jitter, sway phase).
        hands: how they use the rails while walking (default hands free).

    Attributes:
        position_m: on the deck, from its middle, + in the walking direction (m).
        pace_mps: their own backward pace over the belt (m/s).
        belt_mps: the belt's speed at the last :meth:`advance` (m/s).
        lost_balance_s / fell_at_s / caught_s: when balance was lost, when they hit the deck,
            when they caught themselves (None if not).
        off_belt: they have stepped off onto the side platforms.
        steps: steps taken.
    """

    def __init__(self, events: tuple[RunnerEvent, ...] = (), seed: int = 1,
                 hands: HandsOn = HandsOn()) -> None:
        self.events = tuple(sorted(events, key=lambda e: e.t_s))
        self._rng = random.Random(seed)
        self._hands_mode = hands
        self.position_m = 0.0
        self.pace_mps = 0.0
        self.belt_mps = 0.0
        self._felt: deque[tuple[float, float]] = deque()
        self._t_s = 0.0
        self._phase = 0.0  # steps since the start, fractional
        self._step_len_s = 1.0  # this step's duration (jittered)
        self._step_amp = 1.0  # this step's amplitude factor
        self._step_index = 0  # the step under way
        self._prev_amp_v = (1.0, 0.0)  # the previous step's amplitude and speed
        self.steps = 0
        self.lost_balance_s: float | None = None
        self._lost_how = ""
        self.fell_at_s: float | None = None
        self.caught_s: float | None = None
        self.off_belt = False
        self._standing_phase = self._rng.uniform(0.0, 2.0 * math.pi)

    # ------------------------------------------------------------------ events
    def _active(self, kind: EventKind, t_s: float) -> float | None:
        """Seconds since the latest event of ``kind`` at or before ``t_s`` (None: none)."""
        since = None
        for event in self.events:
            if event.kind is kind and event.t_s <= t_s:
                since = t_s - event.t_s
        return since

    def _pace_goal(self, t_s: float, felt_mps: float) -> float:
        goal = felt_mps - CENTRING_PER_S * self.position_m
        if self._active(EventKind.DRIFT_BACK, t_s) is not None:
            goal = DRIFT_PACE * felt_mps
        return max(0.0, goal)

    # ------------------------------------------------------------------ per tick
    def advance(self, t_s: float, belt_kmh: float | None) -> tuple[Hand, Hand]:
        """Move the runner to ``t_s`` with the belt at ``belt_kmh`` (None: unknown, taken as
        the runner's own pace); return the hands on the (left, right) rails."""
        dt = max(0.0, t_s - self._t_s)
        belt = self.pace_mps if belt_kmh is None else belt_kmh / KMH_PER_MPS
        self.belt_mps = belt
        self._felt.append((t_s, belt))
        while len(self._felt) > 1 and self._felt[1][0] <= t_s - REACTION_S:
            self._felt.popleft()
        felt = self._felt[0][1]
        walking = self.lost_balance_s is None and not self.off_belt
        if walking:
            goal = self._pace_goal(t_s, felt)
            self.pace_mps += (goal - self.pace_mps) * min(1.0, dt / PACE_LAG_S)
            self.position_m += (self.pace_mps - belt) * dt
            self._step(t_s, dt)
        elif self.lost_balance_s is not None and self.caught_s is None and self.fell_at_s is None:
            self.position_m -= belt * dt  # down or going down: carried by the belt
        self._check_events(t_s, belt_kmh)
        self._t_s = t_s
        return self._hands(t_s)

    def _step(self, t_s: float, dt: float) -> None:
        """Advance the gait phase; draw each new step's duration and amplitude."""
        if self.pace_mps < 0.05:
            return
        before = self._phase
        self._phase += dt / self._step_len_s
        if math.floor(self._phase) > math.floor(before):
            self.steps += 1
            jitter = JITTER
            dizzy = self._active(EventKind.DIZZY, t_s)
            if dizzy is not None:
                jitter += 0.38 * min(1.0, dizzy / DIZZY_BUILD_S)
            base = 1.0 / cadence_hz(self.pace_mps)
            self._step_index = math.floor(self._phase)
            self._prev_amp_v = (self._step_amp, self.pace_mps)
            self._step_len_s = max(0.2, base * (1.0 + self._rng.gauss(0.0, jitter)))
            self._step_amp = max(0.5, 1.0 + self._rng.gauss(0.0, 0.05 + jitter))

    def _check_events(self, t_s: float, belt_kmh: float | None) -> None:
        if self.fell_at_s is not None or self.caught_s is not None or self.off_belt:
            return
        if self.lost_balance_s is None:
            how = ""
            for kind in (EventKind.SLIP, EventKind.TRIP, EventKind.FALL):
                if self._active(kind, t_s) is not None:
                    how = kind.value
            dizzy = self._active(EventKind.DIZZY, t_s)
            if dizzy is not None and dizzy >= DIZZY_BUILD_S:
                how = "dizzy"
            if self.position_m < -DECK_HALF_M:
                how = "deck_end"
            if self._active(EventKind.LEAVE_BELT, t_s) is not None:
                self.off_belt = True
                return
            if how:
                onset = t_s
                if how in ("slip", "trip", "fall"):
                    since = self._active(EventKind(how), t_s)
                    onset = t_s - (since or 0.0)
                self.lost_balance_s, self._lost_how = onset, how
            return
        if t_s >= self.lost_balance_s + CATCH_S[self._lost_how]:
            still = belt_kmh is not None and belt_kmh <= CAUGHT_BELT_KMH
            if still:
                self.caught_s = t_s
            else:
                self.fell_at_s = t_s + DESCENT_S

    def _hands(self, t_s: float) -> tuple[Hand, Hand]:
        grab = self._active(EventKind.RAIL_GRAB, t_s)
        if grab is not None and grab < GRAB_S:
            hand = Hand(True, GRAB_N * min(1.0, grab / 0.15))
            return hand, hand
        if self.caught_s is not None:
            return Hand(True, REST_N * 3), Hand(True, REST_N * 3)
        if self.off_belt or self.fell_at_s is not None or self.lost_balance_s is not None:
            return NO_HAND, NO_HAND
        if self.pace_mps < 0.05 and self.steps == 0:
            return Hand(True, REST_N), Hand(True, REST_N)  # waiting for the belt, holding on
        force = self._hands_mode.force_n()
        return (Hand(True, force), Hand(True, force)) if force > 0 else (NO_HAND, NO_HAND)

    # ------------------------------------------------------------------ the clip
    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        """What the clip feels at ``t_s`` (within the last tick; see the module docstring)."""
        if self.fell_at_s is not None and t_s >= self.fell_at_s - DESCENT_S:
            return self._going_down(t_s - (self.fell_at_s - DESCENT_S))
        if self.lost_balance_s is not None and t_s >= self.lost_balance_s:
            return self._losing_balance(t_s - self.lost_balance_s)
        if self.off_belt or self.pace_mps < 0.05:
            return self._standing(t_s)
        acc, gyro = self._gait(t_s)
        stumble = self._active(EventKind.STUMBLE, t_s)
        if stumble is not None and stumble < STUMBLE_S:
            # A jolt and a quick pitch back and forth: ~160 °/s, but only ~15° of tilt.
            bump = math.sin(math.pi * stumble / STUMBLE_S)
            swing = math.sin(2.0 * math.pi * stumble / STUMBLE_S)
            acc = _add(acc, (-1.2 * G * bump, 0.3 * G * bump, 0.6 * G * bump))
            gyro = _add(gyro, (0.4 * swing, -2.8 * swing, 0.6 * bump))
        dizzy = self._active(EventKind.DIZZY, t_s)
        if dizzy is not None:
            grow = 1.0 + 5.0 * min(1.0, dizzy / DIZZY_BUILD_S)
            w = 2.0 * math.pi * 0.3 * t_s + self._standing_phase
            acc = _add(acc, (0.0, 0.08 * G * grow * math.sin(w), 0.0))
            gyro = _add(gyro, (0.12 * grow * math.cos(w), 0.0, 0.05 * grow * math.cos(w)))
        return acc, gyro

    def _standing(self, t_s: float) -> tuple[Vec3, Vec3]:
        w = 2.0 * math.pi * 0.25 * t_s + self._standing_phase
        return ((0.05 * math.sin(w), 0.04 * math.cos(w), G), (0.01 * math.cos(w), 0.0, 0.0))

    def _gait(self, t_s: float) -> tuple[Vec3, Vec3]:
        """One step's signal, by the phase within it (the walk–run form by speed)."""
        phase = self._phase + (t_s - self._t_s) / self._step_len_s
        step = math.floor(phase)
        u = phase - step  # 0 = foot contact
        amp, v = self._step_amp, self.pace_mps
        if step < self._step_index:  # inside the previous step (a query for before the tick)
            amp, v = self._prev_amp_v
        side = 1.0 if step % 2 else -1.0  # left or right foot
        w = 2.0 * math.pi * u
        strike = (0.1 + 0.35 * v) * G * amp * math.exp(-((u * self._step_len_s) / 0.025) ** 2)
        if v < WALK_RUN_MPS:
            vert = (0.12 + 0.18 * v) * G * amp * math.cos(w) + strike
            ap = (0.08 + 0.12 * v) * G * amp * math.sin(w + 0.6)
        else:
            stance = max(0.3, 0.55 - 0.05 * (v - WALK_RUN_MPS))
            if u < stance:
                vert = G * math.pi / (2.0 * stance) * math.sin(math.pi * u / stance) - G
                ap = -(0.4 + 0.1 * v) * G * math.sin(2.0 * math.pi * u / stance)
            else:
                vert, ap = -G, 0.0
            vert = vert * amp + 1.5 * strike
        ml = (0.05 + 0.05 * v) * G * side * math.sin(math.pi * u)
        acc = (ap, ml, G + vert)
        gyro = ((0.1 + 0.1 * v) * side * math.sin(math.pi * u),
                (0.15 + 0.15 * v) * amp * math.sin(w + 1.0),
                (0.2 + 0.1 * v) * side * math.sin(math.pi * u + 1.0))
        return acc, gyro

    def _losing_balance(self, tau_s: float) -> tuple[Vec3, Vec3]:
        """From the loss of balance until caught or down: the event's own shape, then a
        half-tipped trunk held there (the rails or a recovery step decide which way it ends)."""
        how = self._lost_how
        lost = self.lost_balance_s if self.lost_balance_s is not None else 0.0
        if self.caught_s is not None and tau_s >= self.caught_s - lost:
            return self._standing(tau_s)
        if how in ("slip", "deck_end"):
            omega, span = SLIP_PITCH_RATE_RADS, SLIP_S
        elif how == "trip":
            omega, span = 3.5, TRIP_S
        else:  # fall, dizzy: the knees give way, slower
            omega, span = 2.0, 0.5
        if tau_s < span:
            phase = math.sin(math.pi * tau_s / span)
            theta = omega * span / math.pi * (1.0 - math.cos(math.pi * tau_s / span))
            felt = G * (1.0 - 0.45 * phase)
            jolt = -1.5 * G * phase if how == "trip" else 0.0
            return ((felt * math.sin(theta) + jolt, 0.0, felt * math.cos(theta)),
                    (0.0, -omega * phase, 0.0))
        theta = 2.0 * omega * span / math.pi
        return ((G * math.sin(theta), 0.0, G * math.cos(theta)), (0.0, 0.0, 0.0))

    def _going_down(self, tau_s: float) -> tuple[Vec3, Vec3]:
        """Descent (0.3 g felt, pitching back to horizontal), the impact, lying on the back."""
        if tau_s < DESCENT_S:
            theta = 0.5 * math.pi * tau_s / DESCENT_S
            felt = 0.3 * G
            return ((felt * math.sin(theta), 0.0, felt * math.cos(theta)),
                    (0.0, -0.5 * math.pi / DESCENT_S, 0.0))
        tau_s -= DESCENT_S
        if tau_s < IMPACT_S:
            peak = IMPACT_G * G * math.sin(math.pi * tau_s / IMPACT_S)
            return ((G + peak, 0.0, 0.3 * peak), (0.0, 0.0, 0.0))
        return ((G, 0.0, 0.0), (0.0, 0.0, 0.0))
