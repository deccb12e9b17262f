"""A recorded trial played back as the clip's motion: real human movement through the IMU twin
and the real driver path.

:class:`Replay` takes plain arrays (times in seconds, specific force in m/s², angular rate in
rad/s, already in the clip's frame: z up, x forward); reading a dataset and turning its axes is
the controller's part (:mod:`controller.sim_replay`). Between samples the values are
interpolated linearly; before ``start_s`` the recording's first sample is held (the person
stands as they stood when it began), after its end its last one.

Not modelled: the belt — the recording was made on the ground, so the runner's position and the
belt's speed do not affect it; the recording's own sensor noise and range go through the twin's
noise and range on top.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from hardware.sim.motion import Vec3


class Replay:
    """A recording as a :class:`~hardware.sim.motion.Motion`, starting at ``start_s``.

    Args:
        t_s: sample times, seconds, increasing (the first is the recording's 0).
        acc_mps2 / gyro_rads: one (x, y, z) per sample, clip frame.
        start_s: session time at which the recording's first sample plays.

    Raises:
        ValueError: fewer than two samples, lengths that differ, or times that do not increase.
    """

    def __init__(self, t_s: Sequence[float], acc_mps2: Sequence[Vec3],
                 gyro_rads: Sequence[Vec3], start_s: float) -> None:
        if len(t_s) < 2 or not len(t_s) == len(acc_mps2) == len(gyro_rads):
            raise ValueError("a replay needs at least two samples, as many of each")
        if any(b <= a for a, b in itertools.pairwise(t_s)):
            raise ValueError("a replay's times must increase")
        self._t = [start_s + t - t_s[0] for t in t_s]
        self._acc = list(acc_mps2)
        self._gyro = list(gyro_rads)
        self.start_s = start_s
        self.end_s = self._t[-1]

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        i = bisect.bisect_right(self._t, t_s)
        if i == 0:
            return self._acc[0], self._gyro[0]
        if i >= len(self._t):
            return self._acc[-1], self._gyro[-1]
        t0, t1 = self._t[i - 1], self._t[i]
        w = (t_s - t0) / (t1 - t0)
        return _lerp(self._acc[i - 1], self._acc[i], w), _lerp(self._gyro[i - 1], self._gyro[i], w)


def _lerp(a: Vec3, b: Vec3, w: float) -> Vec3:
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)
