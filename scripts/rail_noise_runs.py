"""Measure how often healthy rail twins repeat a reading: the longest run of identical
consecutive readings per chip, as rails health sees them (``RailSample.chips``).

    .venv/bin/python scripts/rail_noise_runs.py [--minutes 20] [--seeds 1 2 3]

Hands go on and off the rails every 2 s (none, light touch at 0 or 3 N, a 20 N grip), the
rails are read every 5 ms (200 Hz). The frozen criteria in controller/health_rails.py
(FORCE_CHIP_FROZEN_READINGS, TOUCH_CHIP_FROZEN_READINGS) must lie far above what this prints.
"""

from __future__ import annotations

import argparse
import random

from controller.config import RailsSettings
from controller.devices import build_handrails, twin_rails
from hardware.clock import SimClock
from hardware.sim.bus import SimBus
from hardware.sim.grip import Hand, Hands

RAILS = RailsSettings(
    touch_chip="mpr121", mpr121_address=0x5A, left_electrode=0, right_electrode=1,
    touch_threshold_counts=12, release_threshold_counts=6, force_chip="ads1115",
    ads1115_layout="chip_per_rail", ads1115_left_address=0x48, ads1115_right_address=0x49,
    ads1115_left_channel=0, ads1115_right_channel=0, ads1115_range_v=4.096, fsr_supply_v=3.3,
    fsr_divider_ohm=1000.0, fsr_microsiemens_per_n=100.0,
)


def longest_runs(settings: RailsSettings, minutes: float, seed: int) -> dict[str, int]:
    clock = SimClock()
    bus = SimBus(seed=seed)
    hands = Hands()
    twin_rails(bus, settings, clock, hands, seed=seed)
    rails = build_handrails(settings, bus, clock)
    rails.setup()
    rng = random.Random(seed)
    choices = [Hand(), Hand(True, 0.0), Hand(True, 3.0), Hand(True, 20.0)]
    best: dict[str, int] = {}
    run: dict[str, int] = {}
    last: dict[str, tuple[int, ...]] = {}
    for i in range(round(minutes * 60 * 200)):
        if i % 400 == 0:
            hands.left, hands.right = rng.choice(choices), rng.choice(choices)
        clock.advance_s(0.005)
        for chip in rails.read().chips:
            run[chip.chip] = run.get(chip.chip, 0) + 1 if last.get(chip.chip) == chip.raw else 1
            last[chip.chip] = chip.raw
            best[chip.chip] = max(best.get(chip.chip, 0), run[chip.chip])
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    alternate = RailsSettings(**{**RAILS.__dict__, "ads1115_layout": "alternate",
                                 "ads1115_right_channel": 1})
    for name, settings in (("chip_per_rail", RAILS), ("alternate", alternate)):
        for seed in args.seeds:
            runs = longest_runs(settings, args.minutes, seed)
            print(f"{name} seed {seed}, {args.minutes:g} min: longest identical runs "
                  + ", ".join(f"{chip} {n}" for chip, n in sorted(runs.items())))


if __name__ == "__main__":
    main()
