"""Scripted simulated sessions: what the runner does and which buttons a person presses.

A :class:`Scenario` gives the IMU twin its motion and lists operator actions (button presses on
the mock GPIO pins) at simulated times. Scenarios are the outside world; the controller under
test only ever sees register reads, pin levels and serial bytes.

``demo``: power on (latched) → the operator holds reset → presses start (2.0 s) → the 3 s
countdown → the belt starts (≈ 5.2 s) and the runner walks backward slowly while the belt, after
the speed-up cue, ramps to the session speed (reached ≈ 8.3 s) → a backward slip at 11 s (trunk
pitches at ~230 °/s, the feet shoot forward) → the controller stops the belt and stays latched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from hardware.sim.motion import Motion, Vec3

G: Final = 9.80665


@dataclass(frozen=True)
class Action:
    """Press a button at ``t_s`` for ``hold_s`` (which: ``"reset"`` / ``"estop"``)."""

    t_s: float
    button: str
    hold_s: float
    note: str


class BackwardWalkWithSlip:
    """Waist IMU (clip upright: sensor z up, x forward) during slow backward walking, with a slip.

    Args:
        walk_from_s / walk_until_s: walking interval, seconds.
        slip_at_s: when the slip starts (None: no slip); it lasts ``SLIP_S``.
        cadence_hz: steps per second (backward walking at 1–2 km/h: ~1.5).
    """

    SLIP_S: Final = 0.35
    SLIP_PITCH_RATE_RADS: Final = 4.0  # ≈ 230 °/s peak; the trunk tips back ≈ 51°
    RECOVER_S: Final = 0.8  # caught by the rails, back upright

    def __init__(self, walk_from_s: float, walk_until_s: float, slip_at_s: float | None,
                 cadence_hz: float = 1.5) -> None:
        self.walk_from_s = walk_from_s
        self.walk_until_s = walk_until_s
        self.slip_at_s = slip_at_s
        self.cadence_hz = cadence_hz

    def _slip(self, tau_s: float) -> tuple[Vec3, Vec3]:
        """The slip, consistent between gyro and accelerometer: the trunk pitches back by
        θ(τ) while the body drops (less than 1 g felt), then is brought back upright."""
        omega, slip, rec = self.SLIP_PITCH_RATE_RADS, self.SLIP_S, self.RECOVER_S
        theta_max = 2.0 * omega * slip / math.pi
        if tau_s < slip:
            phase = math.sin(math.pi * tau_s / slip)
            rate = omega * phase
            theta = omega * slip / math.pi * (1.0 - math.cos(math.pi * tau_s / slip))
            drop = 0.45 * phase  # loss of support as the feet shoot out
        elif tau_s < slip + rec:
            u = (tau_s - slip) / rec
            rate = -theta_max * math.pi / (2.0 * rec) * math.sin(math.pi * u)
            theta = theta_max * 0.5 * (1.0 + math.cos(math.pi * u))
            drop = 0.0
        else:
            return (0.0, 0.0, G), (0.0, 0.0, 0.0)  # caught by the rails, standing
        felt = G * (1.0 - drop)
        return (felt * math.sin(theta), 0.0, felt * math.cos(theta)), (0.0, -rate, 0.0)

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        if self.slip_at_s is not None and t_s >= self.slip_at_s:
            return self._slip(t_s - self.slip_at_s)
        if not self.walk_from_s <= t_s < self.walk_until_s:
            return (0.0, 0.0, G), (0.0, 0.0, 0.0)
        w = 2.0 * math.pi * self.cadence_hz * (t_s - self.walk_from_s)
        acc = (1.2 * math.sin(w + 0.5), 0.6 * math.sin(0.5 * w), G + 2.0 * math.sin(w))
        gyro = (0.4 * math.sin(0.5 * w), 0.3 * math.sin(w), 0.3 * math.sin(0.5 * w + 1.0))
        return acc, gyro


@dataclass(frozen=True)
class Scenario:
    """A scripted session.

    Attributes:
        name: as in ``[sim] scenario``.
        duration_s: simulated length of the session.
        target_speed_kmh: the speed the session asks for (the governor caps and ramps it);
            None = the configuration's ``[session] speed_kmh``, so a simulated
            session rehearses the configured settings.
        motion: what the IMU feels.
        actions: operator actions, in time order.
        description: one line for the account.
        speed_profile: ``(t_s, kmh)`` changes of the session's speed, in time order (each
            capped and ramped by the governor like the first).
        onset_s: when the scenario's event happens (None: no event), for the reaction time.
    """

    name: str
    duration_s: float
    target_speed_kmh: float | None
    motion: Motion
    actions: tuple[Action, ...] = field(default_factory=tuple)
    description: str = ""
    speed_profile: tuple[tuple[float, float], ...] = ()
    onset_s: float | None = None


def demo() -> Scenario:
    return Scenario(
        name="demo",
        duration_s=15.0,
        target_speed_kmh=None,
        # The belt starts when the countdown after the start press has played (≈ 5.2 s).
        motion=BackwardWalkWithSlip(walk_from_s=5.3, walk_until_s=15.0, slip_at_s=11.0),
        actions=(
            Action(0.5, "reset", 1.2, "operator holds reset"),
            Action(2.0, "reset", 0.2, "operator presses start"),
        ),
        description="start, countdown, slow backward walking, a slip at 11 s, the stop, the "
                    "latched state",
        onset_s=11.0,
    )


def idle() -> Scenario:
    """Power on and nothing else: the controller must stay latched with the belt stopped."""
    return Scenario(name="idle", duration_s=3.0, target_speed_kmh=None,
                    motion=BackwardWalkWithSlip(0.0, 0.0, None),
                    description="power on, no operator: stays latched")


def walk() -> Scenario:
    """Start and walk backward without incident (for fault-injection tests and benchmarks)."""
    return Scenario(
        name="walk", duration_s=20.0, target_speed_kmh=None,
        motion=BackwardWalkWithSlip(walk_from_s=5.3, walk_until_s=1e9, slip_at_s=None),
        actions=(Action(0.5, "reset", 1.2, "operator holds reset"),
                 Action(2.0, "reset", 0.2, "operator presses start")),
        description="start and walk backward, no incident",
    )


SCENARIOS: Final = {"demo": demo, "idle": idle, "walk": walk}
