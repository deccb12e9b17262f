"""A busy black-box writer for tests/test_blackbox.py's power-cut test (run as
``python -m tests.blackbox_child STATE_DIR``): the simulated machine in real time, telemetry at
50 Hz, an event every tick and a caution (an IMU burst) every second. It prints ``posted K T``
(event K posted at clock time T) and ``committed K`` (every event up to K is durable) until it
is killed."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from controller import app
from controller import config as cfg
from controller.blackbox.recorder import start_blackbox
from controller.blackbox.writer import Item
from controller.events import EventKind
from hardware.clock import MonotonicClock
from tests.conftest import SIM_TOML


def main(state_dir: str) -> None:
    settings = cfg.load(SIM_TOML)
    settings = dataclasses.replace(settings, blackbox=dataclasses.replace(
        settings.blackbox, idle_telemetry_hz=50.0, telemetry_hz=50.0, commit_every_s=0.5))
    clock = MonotonicClock()
    system = app.build(settings, clock)

    def committed(items: list[Item]) -> None:
        seqs = [int(row[2].split()[1]) for item in items if item.kind == "event"
                for row in item.rows if row[2].startswith("busy ")]
        if seqs:
            print(f"committed {max(seqs)}", flush=True)

    recorder = start_blackbox(system, Path(state_dir), lambda line: print(line, flush=True),
                              on_commit=committed)
    assert recorder is not None
    count = [0]

    def busy() -> None:
        k = count[0]
        now = clock.now_s()
        system.events.add(now, EventKind.INFO, f"busy {k}")
        if k % 200 == 0:
            system.events.add(now, EventKind.CAUTION, f"test caution {k}")
        if k % 10 == 0:
            print(f"posted {k} {now:.6f}", flush=True)
        count[0] += 1

    system.loop.after_tick.append(busy)
    system.loop.run_forever(lambda: True)


if __name__ == "__main__":
    main(sys.argv[1])
