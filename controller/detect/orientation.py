"""Orientation normalisation: which way is up on this runner's clip, and trunk features.

The clip may be worn either way up and recordings come from devices with different axes, so no
axis is assumed.

Arming. "Up" in the sensor frame is the mean specific force over ``arm_s`` seconds during
which the body is *still* (every sample's angular rate below ``arm_still_dps`` and its
specific-force norm within ``arm_still_g`` of 1 g); any movement restarts the window. A body
that never keeps still (a recording that starts mid-walk, a runner who shuffles while arming)
is armed after ``arm_fallback_s`` on the mean specific force over that whole time, each sample
turned by the gyro into the current body frame: over a stride the accelerations of gait
average out and what is left is gravity. Features that start from rest then need
:data:`SETTLE_S` to settle (``settled_s``): a body armed in motion gets no decision before.
(The first version armed on the first 0.1 s whatever the body did: arming on a step put "up"
tens of degrees off, the accelerometer correction below never opened again, and tilt drifted
to 40–160° in walking and jogging.)

Tracking. A complementary filter tracks the current up direction in the sensor frame: the gyro
rotates it every sample, and it is pulled gently (time constant ``orientation_tau_s``) toward
the *low-passed* specific force (time constant :data:`LOWPASS_S`, itself turned by the gyro so
rotation does not lag it) whenever that is close to the arming norm. Over a stride the
accelerations of walking and jogging average out, so the low-passed vector is gravity even
during long jogging, and gyro drift cannot accumulate; during a fall the low-passed norm drops
below 1 g and the gyro alone carries the estimate.

Posture reference. Tilt is measured from a reference posture: the arming pose, then, while the
runner steps (:meth:`Orientation.follow_gait_posture`, called by the combined detector), the
runner's own recent gait posture: the reference is pulled toward the current up direction
with time constant ``posture_tau_s`` as long as the trunk is within ``posture_max_tilt_deg``
of it. A runner who leans into a faster belt, or a clip that shifts, does not show as tilt;
a fall (hundreds of milliseconds, soon beyond the limit) barely moves the reference.

Per sample it provides, in plain attributes (no allocation in the per-sample path):

* ``acc_norm_g`` — specific-force norm, g (≈ 1 standing, ≈ 0 in free fall);
* ``cos_tilt`` / :meth:`tilt_deg` — trunk tilt from the reference posture;
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

SETTLE_S = 1.0
"""After arming on a moving body, the features that start from rest (vertical velocity, gait
activity, averages) need this long to settle, s: decisions stay OK until ``settled_s``."""


class Orientation:
    """Streaming gravity tracker and trunk features (bounded state, pure Python).

    Args:
        settings: ``[detect]``: ``arm_s``, ``arm_still_dps``, ``arm_still_g`` and
            ``arm_fallback_s`` (arming; decisions are OK until armed), ``orientation_tau_s``
            (longer = trusts the gyro longer during fast motion), ``velocity_leak_s``,
            ``posture_tau_s`` and ``posture_max_tilt_deg`` (the gait posture reference).
    """

    __slots__ = ("_cos_posture", "_gate_mps2", "_k_per_s", "_leak_per_s", "_lp_per_s",
                 "_lx", "_ly", "_lz", "_n", "_posture_per_s", "_still_dps2", "_still_mps2",
                 "_sx", "_sy", "_sz", "_t0", "_t_prev", "_w_t0", "_wn", "_wx", "_wy", "_wz",
                 "a_up_mps2", "acc_norm_g", "arm_fallback_s", "arm_s", "armed", "armed_still",
                 "cos_tilt", "dt_s", "g_ref_mps2", "gx", "gy", "gz", "leak_s", "settled_s",
                 "t_s", "tau_s", "tilt_rate_dps", "ux", "uy", "uz", "v_up_mps")

    def __init__(self, settings: DetectSettings) -> None:
        self.arm_s = settings.arm_s
        self.arm_fallback_s = settings.arm_fallback_s
        self.tau_s = settings.orientation_tau_s
        self.leak_s = settings.velocity_leak_s
        self._k_per_s = 1.0 / self.tau_s
        self._leak_per_s = 1.0 / self.leak_s
        self._lp_per_s = 1.0 / LOWPASS_S
        self._posture_per_s = 1.0 / settings.posture_tau_s
        self._cos_posture = math.cos(math.radians(settings.posture_max_tilt_deg))
        self._gate_mps2 = GATE_G * STANDARD_GRAVITY_MPS2
        self._still_dps2 = math.radians(settings.arm_still_dps) ** 2
        self._still_mps2 = settings.arm_still_g * STANDARD_GRAVITY_MPS2
        self.reset()

    def reset(self) -> None:
        """Forget the reference: the body must keep still for ``arm_s`` (or move for
        ``arm_fallback_s``) to define "up" again."""
        self.armed = False
        self.armed_still = False
        self.settled_s = math.inf
        self._sx = self._sy = self._sz = 0.0
        self._wx = self._wy = self._wz = 0.0
        self._n = self._wn = 0
        self._t0 = self._w_t0 = self._t_prev = self.t_s = 0.0
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
        """Trunk tilt from the reference posture, degrees (0–180)."""
        return math.acos(max(-1.0, min(1.0, self.cos_tilt))) * RAD_TO_DEG

    def _arm(self, ax: float, ay: float, az: float, wx: float, wy: float, wz: float,
             norm: float, t: float) -> bool:
        """One sample before arming: a still window, or the gyro-turned mean since reset."""
        if self._n == 0:
            self._t0 = self._w_t0 = t
        dt = min(max(t - self._t_prev, 0.0), 0.05) if self._n else 0.0
        self._t_prev = t
        # The sum of every sample since reset, kept in the current body frame.
        sx, sy, sz = self._sx, self._sy, self._sz
        sx, sy, sz = (sx + dt * (sy * wz - sz * wy) + ax, sy + dt * (sz * wx - sx * wz) + ay,
                      sz + dt * (sx * wy - sy * wx) + az)
        self._sx, self._sy, self._sz = sx, sy, sz
        self._n += 1
        still = wx * wx + wy * wy + wz * wz < self._still_dps2 \
            and abs(norm - STANDARD_GRAVITY_MPS2) < self._still_mps2
        if still:
            if self._wn == 0:
                self._w_t0 = t
            self._wx += ax
            self._wy += ay
            self._wz += az
            self._wn += 1
            if t - self._w_t0 >= self.arm_s - 1e-9:
                self._set_up(self._wx, self._wy, self._wz, self._wn)
                self.armed_still = True
                self.settled_s = t
                return True
        else:
            self._wx = self._wy = self._wz = 0.0
            self._wn = 0
        if t - self._t0 >= self.arm_fallback_s - 1e-9:
            m = math.sqrt(sx * sx + sy * sy + sz * sz) / self._n
            if abs(m - STANDARD_GRAVITY_MPS2) < 2.0 * self._gate_mps2:
                self._set_up(sx, sy, sz, self._n)
                self.settled_s = t + SETTLE_S
                return True
            # Not gravity (a device in free fall, a broken axis): start over.
            self._sx = self._sy = self._sz = 0.0
            self._n = 0
        return False

    def _set_up(self, sx: float, sy: float, sz: float, n: int) -> None:
        m = math.sqrt(sx * sx + sy * sy + sz * sz)
        self.ux, self.uy, self.uz = sx / m, sy / m, sz / m
        self.gx, self.gy, self.gz = self.ux, self.uy, self.uz
        self._lx, self._ly, self._lz = sx / n, sy / n, sz / n
        self.g_ref_mps2 = m / n
        self.armed = True

    def update(self, sample: ImuSample) -> bool:
        """Consume one sample; True once armed (features valid)."""
        ax, ay, az = sample.acc_mps2
        wx, wy, wz = sample.gyro_rads
        t = sample.t_s
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        self.t_s = t
        self.acc_norm_g = norm / STANDARD_GRAVITY_MPS2
        if not self.armed:
            return self._arm(ax, ay, az, wx, wy, wz, norm, t)
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

    def follow_gait_posture(self) -> None:
        """Pull the posture reference toward the current up direction (call while stepping).

        Time constant ``posture_tau_s``; only while the trunk is within
        ``posture_max_tilt_deg`` of the reference, so a fall does not drag it along.
        """
        if self.cos_tilt < self._cos_posture:
            return
        k = self.dt_s * self._posture_per_s
        ux = self.ux + k * (self.gx - self.ux)
        uy = self.uy + k * (self.gy - self.uy)
        uz = self.uz + k * (self.gz - self.uz)
        inv = 1.0 / math.sqrt(ux * ux + uy * uy + uz * uz)
        self.ux, self.uy, self.uz = ux * inv, uy * inv, uz * inv

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
