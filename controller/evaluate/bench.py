"""Cost per sample of the loop's IMU detector (``build_default``): prints figures, asserts nothing.

    .venv/bin/python -m controller.evaluate.bench [--seconds 60] [--repeats 5]

Streams synthetic gait (fore-aft and vertical accelerations of a stride, trunk sway, a gyro
bias) through the detector and prints the median and best time per ``update`` call over the
repeats. Gait is the expensive case: the learned score is evaluated only while something moves.
Run it on the target (a Raspberry Pi) for the figure that matters; on a shared machine the
median moves with the load.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

from controller.detect import build_default
from hardware.imu import STANDARD_GRAVITY_MPS2 as G
from hardware.imu import ImuSample


def gait(seconds: float, rate_hz: float = 200.0) -> list[ImuSample]:
    """Standing 1 s, then walking at 1.8 steps/s (sensor y down, z forward)."""
    out: list[ImuSample] = []
    w = 2 * math.pi * 1.8
    bias = math.radians(1.0)
    for i in range(int(seconds * rate_hz)):
        t = i / rate_hz
        moving = t >= 1.0
        ph = w * (t - 1.0)
        a_fwd = 4.0 * math.cos(ph) if moving else 0.0
        a_up = 4.0 * math.cos(ph) if moving else 0.0
        amp = math.radians(6.0) if moving else 0.0
        theta = amp * math.sin(ph / 2)
        rate = amp * math.cos(ph / 2) * w / 2
        f = G + a_up
        by = a_fwd * math.cos(theta) + f * math.sin(theta)
        bz = -a_fwd * math.sin(theta) + f * math.cos(theta)
        out.append(ImuSample(t, i, (0.0, -bz, by), (rate + bias, bias, 0.3 * rate)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stream = gait(args.seconds)
    det = build_default()
    per_sample = []
    for _ in range(args.repeats):
        det.reset()
        update = det.update
        start = time.perf_counter()
        for s in stream:
            update(s)
        per_sample.append(1e6 * (time.perf_counter() - start) / len(stream))
    print(f"treadguard detector, {len(stream)} samples of gait x {args.repeats}: "
          f"median {statistics.median(per_sample):.1f} us/sample, "
          f"best {min(per_sample):.1f} us/sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
