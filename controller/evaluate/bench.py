"""Cost per sample of the loop's IMU detector (``build_default``): prints figures, asserts nothing.

    .venv/bin/python -m controller.evaluate.bench [--seconds 60] [--repeats 5]

Streams synthetic gait (fore-aft and vertical accelerations of a stride, trunk sway, a gyro
bias) through the detector and prints the median and best time per ``update`` call over the
repeats, as wall time and as this process's CPU time (on a loaded machine the CPU time is the
fairer figure: the wall time includes waiting for a core). Gait is the expensive case: the
learned score is evaluated only while something moves. Run it on the target (a Raspberry Pi)
for the figure that matters; on a shared machine the wall median moves with the load.
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
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(args.repeats):
        det.reset()
        update = det.update
        start, start_cpu = time.perf_counter(), time.process_time()
        for s in stream:
            update(s)
        wall.append(1e6 * (time.perf_counter() - start) / len(stream))
        cpu.append(1e6 * (time.process_time() - start_cpu) / len(stream))
    print(f"treadguard detector, {len(stream)} samples of gait x {args.repeats}: "
          f"wall median {statistics.median(wall):.1f} us/sample (best {min(wall):.1f}); "
          f"CPU median {statistics.median(cpu):.1f} us/sample (best {min(cpu):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
