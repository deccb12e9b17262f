"""How much the black box writes per hour, running and idle, on the simulated machine.

    .venv/bin/python scripts/blackbox_volume.py [--real-s 120] [--sim-s 600]

Two figures per state (`walk`: running at 1.5 km/h; `idle`: latched, nobody there):
`write()` bytes per hour from ``--real-s`` seconds in real time (``/proc/self/io`` ``wchar``:
the WAL's frames, synced at every commit, and checkpoints), and the bytes stored per hour from
``--sim-s`` seconds on simulated time (the files' size at the end). Figures in
docs/blackbox.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from controller import app
from controller import config as cfg
from controller.blackbox.recorder import start_blackbox
from controller.devices import world_seed, world_with_treadmill
from hardware.clock import SimClock
from hardware.sim.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
WARM_S = {"walk": 10.0, "idle": 2.0}  # the walk is at speed by 9 s


def _wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def measure(name: str, seconds: float, pace: float) -> tuple[float, float]:
    """(write() bytes per hour, stored bytes per hour) of ``seconds`` of scenario ``name``."""
    settings = cfg.load(ROOT / "examples" / "sim.toml")
    scenario = SCENARIOS[name]()
    clock = SimClock(pace=pace)
    world = world_with_treadmill(settings, clock, scenario.motion, scenario.actions,
                                 world_seed(settings))
    system = app.assemble(settings, clock, world, scenario.target_speed_kmh)
    with tempfile.TemporaryDirectory() as tmp:
        system.loop.run(WARM_S[name])
        recorder = start_blackbox(system, Path(tmp), print)
        assert recorder is not None
        w0 = _wchar()
        system.loop.run(seconds)
        time.sleep(1.0)  # the writer's last commit of the period
        written = _wchar() - w0
        system.shutdown()
        recorder.close()
        stored = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return written * 3600 / seconds, stored * 3600 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-s", type=float, default=120.0)
    parser.add_argument("--sim-s", type=float, default=600.0)
    args = parser.parse_args()
    for name in ("walk", "idle"):
        written, _ = measure(name, args.real_s, pace=1.0)
        _, stored = measure(name, args.sim_s, pace=0.0)
        print(f"{name}: write() {written / 1e6:.1f} MB/h, stored {stored / 1e6:.2f} MB/h")


if __name__ == "__main__":
    main()
