"""Signal sources that feed the simulated sensors with physical values.

A :class:`Motion` answers "what does the clip feel at time t": specific force in m/s² and
angular rate in rad/s, in the *sensor* frame. Scripted scenarios, replayed recordings and (later)
the runner-on-belt model all implement it, and every IMU twin accepts any of them.
"""

from __future__ import annotations

from typing import Protocol

Vec3 = tuple[float, float, float]


class Motion(Protocol):
    """A source of physical IMU values over time."""

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        """Return ``(acc_mps2, gyro_rads)`` felt by the sensor at time ``t_s`` (seconds)."""
        ...


class Still:
    """A sensor lying still: gravity along ``up`` (a unit vector in the sensor frame)."""

    def __init__(self, up: Vec3 = (0.0, 0.0, 1.0), g_mps2: float = 9.80665) -> None:
        self._acc: Vec3 = (up[0] * g_mps2, up[1] * g_mps2, up[2] * g_mps2)

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        return self._acc, (0.0, 0.0, 0.0)
