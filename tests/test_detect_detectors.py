"""Detectors on synthetic IMU signals: still, free fall, a tipping fall, gait, any clip mounting."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest

from controller.config import DetectSettings
from controller.detect import build, build_default, build_kfall_threshold
from controller.detect.base import Decision, Detector, Level
from controller.detect.orientation import Orientation
from hardware.imu import STANDARD_GRAVITY_MPS2 as G
from hardware.imu import ImuSample

RATE_HZ = 200.0
Matrix = tuple[tuple[float, float, float], ...]

# Sensor mountings: columns are the body (world-at-rest) axes seen in the sensor frame.
IDENTITY: Matrix = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
KFALL_LIKE: Matrix = ((1, 0, 0), (0, 0, -1), (0, 1, 0))  # body up (z) = sensor −y
UPSIDE_DOWN: Matrix = ((1, 0, 0), (0, -1, 0), (0, 0, -1))  # clip flipped
TILTED: Matrix = (
    (math.cos(0.5), 0, math.sin(0.5)), (0, 1, 0), (-math.sin(0.5), 0, math.cos(0.5)))
MOUNTS = {"identity": IDENTITY, "kfall_like": KFALL_LIKE, "upside_down": UPSIDE_DOWN,
          "tilted": TILTED}


def mul(m: Matrix, v: tuple[float, float, float]) -> tuple[float, float, float]:
    return (m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2])


Motion = Callable[[float], tuple[float, float, float]]
"""t → (pitch angle rad about the world x axis, its rate rad/s, world vertical accel m/s²)."""


def stream(motion: Motion, duration_s: float, mount: Matrix = IDENTITY,
           extra_up_mps2: Callable[[float], float] | None = None) -> Iterator[ImuSample]:
    """IMU samples of a body pitching about world x while its waist accelerates vertically."""
    n = int(duration_s * RATE_HZ)
    for i in range(n):
        t = i / RATE_HZ
        theta, rate, a_up = motion(t)
        if extra_up_mps2 is not None:
            a_up += extra_up_mps2(t)
        # Specific force in the world frame: (0, 0, a_up + g); seen from a body pitched by
        # theta about x, the world z axis is (0, sin θ, cos θ).
        f = a_up + G
        body_acc = (0.0, f * math.sin(theta), f * math.cos(theta))
        body_gyro = (rate, 0.0, 0.0)
        yield ImuSample(t, i, mul(mount, body_acc), mul(mount, body_gyro))


def still(t: float) -> tuple[float, float, float]:
    return 0.0, 0.0, 0.0


def tipping_fall(onset_s: float = 1.0, duration_s: float = 0.7) -> Motion:
    """Trunk tips 90° with growing speed while the waist drops, then lies still."""

    def motion(t: float) -> tuple[float, float, float]:
        if t < onset_s:
            return 0.0, 0.0, 0.0
        x = min(1.0, (t - onset_s) / duration_s)
        if x >= 1.0:
            return math.pi / 2, 0.0, 0.0
        theta = math.pi / 2 * x * x
        rate = math.pi / 2 * 2 * x / duration_s
        return theta, rate, -0.6 * G

    return motion


def run(det: Detector, samples: Iterator[ImuSample]) -> list[tuple[float, Decision]]:
    det.reset()
    return [(s.t_s, det.update(s)) for s in samples]


def first_stop(out: list[tuple[float, Decision]]) -> tuple[float, str] | None:
    return next(((t, d.reason) for t, d in out if d.level is Level.STOP), None)


@pytest.mark.parametrize("mount", MOUNTS.values(), ids=list(MOUNTS))
def test_standing_still_is_ok_in_any_mounting(mount: Matrix) -> None:
    out = run(build_default(), stream(still, 10.0, mount))
    assert all(d.level is Level.OK for _, d in out)


@pytest.mark.parametrize("mount", MOUNTS.values(), ids=list(MOUNTS))
def test_tipping_fall_stops_before_impact_in_any_mounting(mount: Matrix) -> None:
    out = run(build_default(), stream(tipping_fall(1.0, 0.7), 3.0, mount))
    stop = first_stop(out)
    assert stop is not None
    t, reason = stop
    assert 1.0 < t < 1.7, f"stop at {t:.3f} s ({reason}) is not between onset and impact"
    assert reason in ("pre_impact", "fall", "free_fall")


def test_free_fall_stops() -> None:
    def drop(t: float) -> tuple[float, float, float]:
        return 0.0, 0.0, (-G if 1.0 <= t < 1.6 else 0.0)

    stop = first_stop(run(build_default(), stream(drop, 2.0)))
    assert stop is not None
    assert 1.0 < stop[0] <= 1.45


def test_gait_like_bouncing_does_not_stop_and_counts_steps() -> None:
    cadence_hz = 2.0  # 120 steps/min

    def bounce(t: float) -> tuple[float, float, float]:
        phase = 2 * math.pi * cadence_hz * t
        sway = math.radians(4.0) * math.sin(phase / 2)
        sway_rate = math.radians(4.0) * math.cos(phase / 2) * math.pi * cadence_hz
        return sway, sway_rate, (3.0 * math.sin(phase) if t > 1.0 else 0.0)

    det = build_default()
    out = run(det, stream(bounce, 21.0, KFALL_LIKE))
    assert first_stop(out) is None
    assert 36 <= det.steps.steps <= 41  # 2 steps/s for 20 s, the first few priming
    assert det.steps.cadence_spm() == pytest.approx(120.0, rel=0.05)
    assert det.steps.irregularity() < 0.05


def test_slow_lean_is_not_a_fall() -> None:
    def lean(t: float) -> tuple[float, float, float]:  # bend 60° over 3 s, like tying a shoe
        x = min(1.0, max(0.0, (t - 1.0) / 3.0))
        return math.radians(60.0) * x, (math.radians(20.0) if 1.0 < t < 4.0 else 0.0), 0.0

    assert first_stop(run(build_default(), stream(lean, 6.0))) is None


def test_kfall_threshold_baseline() -> None:
    det = build_kfall_threshold()
    assert first_stop(run(det, stream(still, 5.0))) is None
    stop = first_stop(run(det, stream(tipping_fall(1.0, 0.7), 3.0, UPSIDE_DOWN)))
    assert stop is not None
    assert stop[1] == "kfall_threshold"
    assert 1.0 < stop[0] < 1.7


def test_detectors_by_name() -> None:
    assert build("treadguard").name == "treadguard"
    assert build("kfall-threshold").name == "kfall-threshold"
    with pytest.raises(KeyError):
        build("nope")


def test_reset_forgets_state() -> None:
    det = build_default()
    a = run(det, stream(tipping_fall(), 3.0))
    b = run(det, stream(tipping_fall(), 3.0))
    assert a == b


@pytest.mark.parametrize("mount", [IDENTITY, UPSIDE_DOWN])
def test_orientation_tracks_tilt_and_ignores_yaw(mount: Matrix) -> None:
    o = Orientation(DetectSettings())

    def pitch_then_hold(t: float) -> tuple[float, float, float]:  # 30° at 60°/s, then hold
        if t < 1.0:
            return 0.0, 0.0, 0.0
        if t < 1.5:
            return math.radians(60.0) * (t - 1.0), math.radians(60.0), 0.0
        return math.radians(30.0), 0.0, 0.0

    for s in stream(pitch_then_hold, 1.4, mount):
        o.update(s)
    assert o.tilt_rate_dps == pytest.approx(60.0, rel=0.01)
    assert o.tilt_deg() == pytest.approx(24.0, abs=1.5)
    for s in stream(pitch_then_hold, 4.0, mount):
        o.update(s)
    assert o.tilt_deg() == pytest.approx(30.0, abs=1.5)
    assert abs(o.v_up_mps) < 0.05

    # Turning about the vertical (yaw) is not tipping.
    yaw = Orientation(DetectSettings())
    up = mul(mount, (0.0, 0.0, G))
    w = mul(mount, (0.0, 0.0, math.radians(90.0)))
    for i in range(400):
        yaw.update(ImuSample(i / RATE_HZ, i, up, w))
    assert yaw.tilt_rate_dps == pytest.approx(0.0, abs=1e-6)
    assert yaw.tilt_deg() == pytest.approx(0.0, abs=0.5)


def _sizes(obj: object, seen: set[int] | None = None) -> list[int]:
    """Lengths of every container reachable from ``obj``'s attributes (recursively)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    out: list[int] = []
    attrs: dict[str, object] = {}
    if hasattr(obj, "__dict__"):
        attrs.update(vars(obj))
    for name in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, name):
            attrs[name] = getattr(obj, name)
    for value in attrs.values():
        if isinstance(value, list | dict | set | tuple | bytearray):
            out.append(len(value))
        if hasattr(value, "__dict__") or hasattr(type(value), "__slots__"):
            out.extend(_sizes(value, seen))
    return out


def test_state_stays_bounded_over_a_long_run() -> None:
    det = build_default()

    def busy(t: float) -> tuple[float, float, float]:
        phase = 2 * math.pi * 1.7 * t
        sway_rate = math.radians(10.0) * math.cos(phase / 3) * 2 * math.pi * 1.7 / 3
        return math.radians(10.0) * math.sin(phase / 3), sway_rate, 4.0 * math.sin(phase)

    det.reset()
    samples = stream(busy, 60.0, KFALL_LIKE)
    for _ in range(int(5 * RATE_HZ)):
        det.update(next(samples))
    before = _sizes(det)
    for s in samples:
        det.update(s)
    assert _sizes(det) == before
    assert 95 <= det.steps.steps <= 103  # 1.7 steps/s for 60 s


def test_long_jogging_with_gyro_bias_does_not_drift_the_tilt() -> None:
    """100 s of jogging-like bouncing (±1.2 g) with a 2 °/s gyro bias: up stays up."""
    bias = math.radians(2.0)

    def jog(t: float) -> tuple[float, float, float]:
        phase = 2 * math.pi * 2.7 * t
        return 0.0, 0.0, (1.2 * G * math.sin(phase) if t > 1.0 else 0.0)

    o = Orientation(DetectSettings())
    worst = 0.0
    for s in stream(jog, 100.0, KFALL_LIKE):
        gx, gy, gz = s.gyro_rads
        o.update(ImuSample(s.t_s, s.seq, s.acc_mps2, (gx + bias, gy + bias, gz)))
        if s.t_s > 5.0:
            worst = max(worst, o.tilt_deg())
    assert worst < 5.0


def test_hold_times_need_consecutive_samples_even_after_another_stop() -> None:
    """A free-fall run interrupted by a rule STOP must start again from zero."""
    from controller.detect.fall import FallDetector

    det = FallDetector(DetectSettings())
    o = Orientation(DetectSettings())
    o.armed = True
    o.dt_s = 1 / RATE_HZ

    def step(t: float, acc_g: float, v_up: float, tilt_deg: float, rate_dps: float = 0.0) -> Level:
        o.t_s = t
        o.tilt_rate_dps = rate_dps
        o.acc_norm_g = acc_g
        o.v_up_mps = v_up
        o.cos_tilt = math.cos(math.radians(tilt_deg))
        return det.check(o).level

    t = 0.0
    levels = []
    for _ in range(20):  # 0.1 s: low support while the rule sees a fall
        levels.append(step(t, 0.1, -2.0, 60.0, 50.0))
        t += 0.005
    for _ in range(100):  # 0.5 s: the fall goes on with support back to 1 g
        levels.append(step(t, 1.0, -2.0, 60.0, 50.0))
        t += 0.005
    assert Level.STOP in levels
    # One sample of low support again: a new run, not the stale one from t = 0.
    assert step(t, 0.1, 0.0, 0.0) is Level.OK
