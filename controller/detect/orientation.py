"""Orientation normalisation: which way is up on this runner's clip, and trunk features.

The clip may be worn either way up and recordings come from devices with different axes, so no
axis is assumed. At start (arming) the mean specific force over the first ``arm_s`` seconds
defines "up" in the sensor frame (the runner stands upright and still while arming). From then
on a complementary filter tracks the current up direction in the sensor frame: the gyro rotates
it every sample, and it is pulled gently (time constant ``orientation_tau_s``) toward the
*low-passed* specific force (time constant :data:`LOWPASS_S`, itself turned by the gyro so
rotation does not lag it) whenever that is close to 1 g. Over a stride the accelerations of
walking and jogging average out, so the low-passed vector is gravity even during long jogging
(the instantaneous one rarely is), and gyro drift cannot accumulate; during a fall the
low-passed norm drops below 1 g and the gyro alone carries the estimate.

Per sample it provides, in plain attributes (no allocation in the per-sample path):

* ``acc_norm_g`` — specific-force norm, g (≈ 1 standing, ≈ 0 in free fall);
* ``cos_tilt`` / :meth:`tilt_deg` — trunk tilt from the upright pose at arming;
* ``tilt_rate_dps`` — angular rate about horizontal axes (tipping; yaw turns excluded);
* ``a_up_mps2`` — vertical acceleration with gravity removed (up positive);
* ``v_up_mps`` — vertical velocity from integrating ``a_up_mps2`` with a leak of time constant
  ``velocity_leak_s`` (so bias cannot drift it away; up positive, a fall is negative).
"""

from __future__ import annotations

import math

from controller.config import DetectSettings
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuSample

RAD_TO_DEG = 180.0 / math.pi

GATE_G = 0.15
"""The accelerometer corrects the up direction only while the low-passed specific-force norm
is within this of 1 g, g."""

LOWPASS_S = 0.5
"""Time constant of the low-passed specific force, s: longer than a stride."""


class Orientation:
    """Streaming gravity tracker and trunk features (bounded state, pure Python).

    Args:
        settings: ``[detect]``: ``arm_s`` (decisions are OK until it has passed: the
            supervisor arms only a runner standing still), ``orientation_tau_s`` (longer =
            trusts the gyro longer during fast motion) and ``velocity_leak_s``.
    """

    __slots__ = ("_ax", "_ay", "_az", "_gate_mps2", "_k_per_s", "_leak_per_s", "_lp_per_s",
                 "_lx", "_ly", "_lz", "_n", "_t0",
                 "_t_prev", "a_up_mps2", "acc_norm_g", "arm_s", "armed", "cos_tilt", "dt_s",
                 "g_ref_mps2", "gx", "gy", "gz", "leak_s", "t_s", "tau_s", "tilt_rate_dps",
                 "ux", "uy", "uz", "v_up_mps")

    def __init__(self, settings: DetectSettings) -> None:
        self.arm_s = settings.arm_s
        self.tau_s = settings.orientation_tau_s
        self.leak_s = settings.velocity_leak_s
        self._k_per_s = 1.0 / self.tau_s
        self._leak_per_s = 1.0 / self.leak_s
        self._lp_per_s = 1.0 / LOWPASS_S
        self._gate_mps2 = GATE_G * STANDARD_GRAVITY_MPS2
        self.reset()

    def reset(self) -> None:
        """Forget the reference: the next ``arm_s`` seconds define "up" again."""
        self.armed = False
        self._ax = self._ay = self._az = 0.0
        self._n = 0
        self._t0 = self._t_prev = self.t_s = 0.0
        self.ux, self.uy, self.uz = 0.0, 1.0, 0.0
        self.gx, self.gy, self.gz = 0.0, 1.0, 0.0
        self._lx, self._ly, self._lz = 0.0, 0.0, 0.0
        self.g_ref_mps2 = STANDARD_GRAVITY_MPS2
        self.acc_norm_g = 1.0
        self.cos_tilt = 1.0
        self.tilt_rate_dps = 0.0
        self.a_up_mps2 = 0.0
        self.v_up_mps = 0.0
        self.dt_s = 0.0

    def tilt_deg(self) -> float:
        """Trunk tilt from the upright pose at arming, degrees (0–180)."""
        return math.acos(max(-1.0, min(1.0, self.cos_tilt))) * RAD_TO_DEG

    def update(self, sample: ImuSample) -> bool:
        """Consume one sample; True once armed (features valid)."""
        ax, ay, az = sample.acc_mps2
        wx, wy, wz = sample.gyro_rads
        t = sample.t_s
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        self.t_s = t
        self.acc_norm_g = norm / STANDARD_GRAVITY_MPS2
        if not self.armed:
            if self._n == 0:
                self._t0 = t
            self._ax += ax
            self._ay += ay
            self._az += az
            self._n += 1
            self._t_prev = t
            if t - self._t0 >= self.arm_s - 1e-9:
                m = math.sqrt(self._ax ** 2 + self._ay ** 2 + self._az ** 2)
                if m > 0.3 * STANDARD_GRAVITY_MPS2:
                    self.ux, self.uy, self.uz = self._ax / m, self._ay / m, self._az / m
                    self.gx, self.gy, self.gz = self.ux, self.uy, self.uz
                    self._lx, self._ly, self._lz = self._ax / self._n, self._ay / self._n, \
                        self._az / self._n
                    self.g_ref_mps2 = m / self._n
                    self.armed = True
                else:  # not a plausible standing pose: try again
                    self._ax = self._ay = self._az = 0.0
                    self._n = 0
            return self.armed
        dt = t - self._t_prev
        self._t_prev = t
        if dt < 0.0 or dt > 0.05:
            dt = 0.0 if dt < 0.0 else 0.05
        self.dt_s = dt
        gx, gy, gz = self.gx, self.gy, self.gz
        # A world-fixed vector seen from the body turns as dv/dt = v × ω.
        nx = gx + dt * (gy * wz - gz * wy)
        ny = gy + dt * (gz * wx - gx * wz)
        nz = gz + dt * (gx * wy - gy * wx)
        g_ref = self.g_ref_mps2
        # The low-passed specific force turns with the body too (so rotation does not lag it).
        lx, ly, lz = self._lx, self._ly, self._lz
        lx, ly, lz = (lx + dt * (ly * wz - lz * wy), ly + dt * (lz * wx - lx * wz),
                      lz + dt * (lx * wy - ly * wx))
        kl = dt * self._lp_per_s
        lx += kl * (ax - lx)
        ly += kl * (ay - ly)
        lz += kl * (az - lz)
        self._lx, self._ly, self._lz = lx, ly, lz
        lnorm = math.sqrt(lx * lx + ly * ly + lz * lz)
        if lnorm > 0.0 and abs(lnorm - g_ref) < self._gate_mps2:
            k = dt * self._k_per_s / lnorm
            nx += k * lx - dt * self._k_per_s * nx
            ny += k * ly - dt * self._k_per_s * ny
            nz += k * lz - dt * self._k_per_s * nz
        inv = 1.0 / math.sqrt(nx * nx + ny * ny + nz * nz)
        gx, gy, gz = nx * inv, ny * inv, nz * inv
        self.gx, self.gy, self.gz = gx, gy, gz
        a_up = ax * gx + ay * gy + az * gz - g_ref
        self.a_up_mps2 = a_up
        self.v_up_mps += (a_up - self.v_up_mps * self._leak_per_s) * dt
        w_up = wx * gx + wy * gy + wz * gz
        w_h2 = wx * wx + wy * wy + wz * wz - w_up * w_up
        self.tilt_rate_dps = math.sqrt(w_h2) * RAD_TO_DEG if w_h2 > 0.0 else 0.0
        self.cos_tilt = gx * self.ux + gy * self.uy + gz * self.uz
        return True

    def pitch_roll_deg(self) -> tuple[float, float]:
        """Tilt split into two perpendicular horizontal axes of the arming frame, degrees.

        The axes are fixed but arbitrary (the clip's heading is unknown), so "pitch" and "roll"
        are two orthogonal components, not anatomical directions; ``max(|pitch|, |roll|)``
        beyond a limit is what the KFall baseline uses.
        """
        ux, uy, uz = self.ux, self.uy, self.uz
        # e1: the sensor axis least aligned with up, made horizontal; e2 = up × e1.
        if abs(ux) <= abs(uy) and abs(ux) <= abs(uz):
            bx, by, bz = 1.0, 0.0, 0.0
        elif abs(uy) <= abs(uz):
            bx, by, bz = 0.0, 1.0, 0.0
        else:
            bx, by, bz = 0.0, 0.0, 1.0
        d = bx * ux + by * uy + bz * uz
        e1x, e1y, e1z = bx - d * ux, by - d * uy, bz - d * uz
        n1 = math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
        e1x, e1y, e1z = e1x / n1, e1y / n1, e1z / n1
        e2x, e2y, e2z = uy * e1z - uz * e1y, uz * e1x - ux * e1z, ux * e1y - uy * e1x
        gx, gy, gz = self.gx, self.gy, self.gz
        c = gx * ux + gy * uy + gz * uz
        p = gx * e1x + gy * e1y + gz * e1z
        r = gx * e2x + gy * e2y + gz * e2z
        return math.atan2(p, c) * RAD_TO_DEG, math.atan2(r, c) * RAD_TO_DEG
