"""Measure the sensor drivers: bus traffic per 200 Hz cycle and Python cost per read.

    .venv/bin/python scripts/bench_sensors.py [--config examples/sim.toml]

Traffic is counted on the simulated bus (every message, every byte, plus the address byte and
start/stop of each message) and converted to wire time at 100 and 400 kHz (9 clocks per byte,
~2 clocks for start/stop). Driver cost is timed with a canned-reply bus, so the twins' own
cost is excluded; "with twin" includes it (what a simulated session pays).
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Sequence
from typing import Any

from controller import config as cfg
from controller.devices import attach_twins, make_imu, make_rails
from hardware.clock import SimClock
from hardware.sim.bus import I2C_M_RD, SimBus
from hardware.sim.grip import Hands
from hardware.sim.motion import Still


class MeteredBus(SimBus):
    """A SimBus that counts wire bytes (address + register + data) per message."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.wire_bytes = 0
        self.messages = 0

    def _count(self, data_bytes: int, messages: int = 1) -> None:
        self.wire_bytes += data_bytes + messages  # one address byte per message
        self.messages += messages

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        self._count(2, 2)  # write register, then read 1
        return super().read_byte_data(i2c_addr, register, force)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int,
                            force: bool | None = None) -> list[int]:
        self._count(1 + length, 2)
        return super().read_i2c_block_data(i2c_addr, register, length, force)

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int],
                             force: bool | None = None) -> None:
        self._count(1 + len(data))
        super().write_i2c_block_data(i2c_addr, register, data, force)

    def write_byte_data(self, i2c_addr: int, register: int, value: int,
                        force: bool | None = None) -> None:
        self._count(2)
        super().write_byte_data(i2c_addr, register, value, force)

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        self._count(sum(m.len for m in i2c_msgs), len(i2c_msgs))
        super().i2c_rdwr(*i2c_msgs)


def wire_us(wire_bytes: int, messages: int, hz: float) -> float:
    return (wire_bytes * 9 + messages * 2) / hz * 1e6


class CannedBus:
    """Replies instantly with fixed bytes: times the driver's own Python."""

    def __init__(self, replies: dict[int, list[int]], block: bytes) -> None:
        self._replies = replies
        self._block = block

    def read_byte_data(self, addr: int, reg: int, force: bool | None = None) -> int:
        return self._replies.get(reg, [0])[0]

    def read_i2c_block_data(self, addr: int, reg: int, n: int,
                            force: bool | None = None) -> list[int]:
        return self._replies.get(reg, [0] * n)[:n]

    def write_byte_data(self, *a: Any, **k: Any) -> None:
        pass

    def write_i2c_block_data(self, *a: Any, **k: Any) -> None:
        pass

    def i2c_rdwr(self, *msgs: Any) -> None:
        for m in msgs:
            if m.flags & I2C_M_RD:
                ctypes.memmove(m.buf, self._block, m.len)

    def close(self) -> None:
        pass


def per_call_us(fn: Any, n: int = 20000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="examples/sim.toml")
    args = ap.parse_args()
    settings = cfg.load(args.config)
    clock = SimClock()
    bus = MeteredBus(seed=1)
    attach_twins(bus, settings, clock, Still(), Hands(), seed=1)
    imu = make_imu(settings, bus, clock)
    imu.setup()
    rails = make_rails(settings, bus, clock)
    if rails:
        rails.setup()
    cycles = 2000
    parts: dict[str, list[int]] = {"imu": [0, 0], "rails": [0, 0]}
    samples = 0
    t_with_twin = {"imu": 0.0, "rails": 0.0}
    for _ in range(cycles):
        clock.advance_s(0.005)
        b0, m0, t0 = bus.wire_bytes, bus.messages, time.perf_counter()
        samples += len(imu.read())
        t1 = time.perf_counter()
        parts["imu"][0] += bus.wire_bytes - b0
        parts["imu"][1] += bus.messages - m0
        t_with_twin["imu"] += t1 - t0
        if rails:
            b0, m0 = bus.wire_bytes, bus.messages
            rails.read()
            t_with_twin["rails"] += time.perf_counter() - t1
            parts["rails"][0] += bus.wire_bytes - b0
            parts["rails"][1] += bus.messages - m0
    print(f"config {args.config}: {imu.chip}, {samples} samples in {cycles} cycles of 5 ms")
    total_b = total_m = 0
    for name, (b, m) in parts.items():
        if not m:
            continue
        total_b += b
        total_m += m
        print(f"  {name:5}: {m / cycles:.1f} messages, {b / cycles:.1f} wire bytes per cycle; "
              f"{wire_us(b // cycles, m // cycles, 400e3):.0f} µs at 400 kHz, "
              f"{wire_us(b // cycles, m // cycles, 100e3):.0f} µs at 100 kHz; "
              f"{t_with_twin[name] / cycles * 1e6:.0f} µs Python per read with twin")
    at400 = wire_us(total_b // cycles, total_m // cycles, 400e3)
    print(f"  total: {total_m / cycles:.1f} messages, {total_b / cycles:.1f} bytes per cycle = "
          f"{at400:.0f} µs at 400 kHz ({at400 / 50:.0f} % of 5 ms), "
          f"{wire_us(total_b // cycles, total_m // cycles, 100e3):.0f} µs at 100 kHz")

    # Driver-only cost: canned replies for one 208 Hz cycle's worth of FIFO data.
    if settings.imu.chip == "lsm6dsox":
        words = bytes([0x0A, 1, 0, 2, 0, 3, 0, 0x12, 4, 0, 5, 0, 0x30, 8])  # gyro, accel slot 1
        canned = CannedBus({0x3A: [2, 0]}, words)
    else:
        canned = CannedBus({0x72: [0, 12]}, bytes(12))
    driver = make_imu(settings, canned, SimClock())  # type: ignore[arg-type]
    print(f"  IMU driver alone: {per_call_us(driver.read):.1f} µs Python per read "
          f"(one sample, canned bus)")
    if rails:
        from controller.devices import build_handrails

        assert settings.rails is not None
        canned_rails = CannedBus({0x00: [0] * 8, 0x01: [0x85, 0x83]}, b"")
        r = build_handrails(settings.rails, canned_rails, SimClock())  # type: ignore[arg-type]
        print(f"  rails driver alone: {per_call_us(r.read):.1f} µs Python per read")


if __name__ == "__main__":
    main()
