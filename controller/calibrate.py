"""``treadguard calibrate rails``: record light touch and a firm grip on each rail.

FSRs vary ±30 % part to part and capacitive electrodes with the rail, the sleeve and the
runner's skin, so the grab detector needs numbers measured on *this* treadmill with *this*
runner. The command walks the person through five steps — hands off, light touch left, firm
grip left, light touch right, firm grip right — averages one second of readings per step, and
writes a TOML file (the runner's or the machine's calibration file: ``--out`` or ``[rails]
calibration_file``, resolved next to the configuration). Body weight is not asked here: it
comes from the runner's profile, and the grab detector relates the forces to it.

On a simulated configuration the steps are performed by simulated hands (light touch 5 N,
firm grip 150 N), so the command and its file format are testable end to end.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TextIO

from controller import config as cfg
from controller.clock import Clock, MonotonicClock, SimClock
from controller.devices import SETUP_ERRORS, attach_twins, make_rails
from hardware.handrails import Handrails
from hardware.i2c import I2CBus
from hardware.sim.grip import Hand, Hands
from hardware.sim.motion import Still

STEP_S = 1.0
SETTLE_S = 0.3  # after the prompt: the hand is still moving into place
PERIOD_S = 0.005
STEPS: tuple[tuple[str, str], ...] = (
    ("rest", "Take both hands off the rails"),
    ("left_light", "Rest one hand LIGHTLY on the LEFT rail"),
    ("left_firm", "Grip the LEFT rail FIRMLY, as if catching yourself"),
    ("right_light", "Rest one hand LIGHTLY on the RIGHT rail"),
    ("right_firm", "Grip the RIGHT rail FIRMLY, as if catching yourself"),
)
SIM_HANDS = {"rest": (Hand(), Hand()), "left_light": (Hand(True, 5.0), Hand()),
             "left_firm": (Hand(True, 150.0), Hand()), "right_light": (Hand(), Hand(True, 5.0)),
             "right_firm": (Hand(), Hand(True, 150.0))}


class CalibrationError(Exception):
    """The rails could not be calibrated (missing chip, no readings), or a calibration file is
    unreadable or inconsistent. ``str()`` is one line naming the file and the value."""


@dataclass(frozen=True)
class RailLevels:
    """One rail's calibration; any quantity whose sensor is not fitted is None.

    Attributes:
        touch_rest_counts / touch_light_counts / touch_firm_counts: MPR121 filtered counts with
            no hand, a light touch and a firm grip (they fall as the hand closes).
        touch_baseline_counts: the MPR121's baseline at rest.
        force_rest_n / force_light_n / force_firm_n: grip force, newtons, at the same three.
    """

    touch_rest_counts: float | None = None
    touch_light_counts: float | None = None
    touch_firm_counts: float | None = None
    touch_baseline_counts: float | None = None
    force_rest_n: float | None = None
    force_light_n: float | None = None
    force_firm_n: float | None = None


@dataclass(frozen=True)
class RailCalibration:
    """What ``treadguard calibrate rails`` wrote, for the grab detector."""

    left: RailLevels
    right: RailLevels


def load_rail_calibration(path: str | Path) -> RailCalibration:
    """Read and check a rail calibration file (raises :class:`CalibrationError`)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"{p}: cannot read rail calibration: {exc}") from None
    rails = []
    for side in ("left", "right"):
        table = data.get(side)
        if not isinstance(table, dict):
            raise CalibrationError(f"{p}: [{side}]: missing")
        known = {f.name for f in fields(RailLevels)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise CalibrationError(f"{p}: [{side}] {unknown[0]}: unknown option")
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise CalibrationError(f"{p}: [{side}] {key}: expected a number ≥ 0, got "
                                       f"{value!r}")
        levels = RailLevels(**{k: float(v) for k, v in table.items()})
        if (levels.force_rest_n is not None and levels.force_firm_n is not None
                and levels.force_light_n is not None
                and not levels.force_rest_n < levels.force_light_n < levels.force_firm_n):
            raise CalibrationError(f"{p}: [{side}]: forces must rise rest < light < firm "
                                   f"(was the grip done on the {side} rail?)")
        rails.append(levels)
    return RailCalibration(left=rails[0], right=rails[1])


def measure(rails: Handrails, clock: Clock, seconds: float) -> dict[str, float]:
    """Average ``seconds`` of readings: touch counts per rail and forces (newtons)."""
    s = rails.settings  # which electrodes are the rails
    sums: dict[str, float] = {}
    n = 0
    end_s = clock.now_s() + seconds
    while clock.now_s() < end_s:
        clock.sleep_until(clock.now_s() + PERIOD_S)
        sample = rails.read()
        values: dict[str, float | None] = {
            "left_force_n": sample.force_left_n, "right_force_n": sample.force_right_n}
        if rails.last_touch is not None:
            counts = rails.last_touch.filtered_counts
            values["left_touch_counts"] = counts[s.left_electrode]
            values["right_touch_counts"] = counts[s.right_electrode]
        for key, value in values.items():
            if value is not None:
                sums[key] = sums.get(key, 0.0) + value
        n += 1
    if n == 0:
        raise CalibrationError("no readings")
    return {key: total / n for key, total in sums.items()}


def calibrate_rails(rails: Handrails, clock: Clock, ask: Callable[[str, str], None],
                    source: str) -> str:
    """Run the five steps (``ask(step, prompt)`` waits for the person) and return the TOML."""
    results = {}
    for step, prompt in STEPS:
        ask(step, prompt)
        clock.sleep_until(clock.now_s() + SETTLE_S)
        results[step] = measure(rails, clock, STEP_S)
    baselines = rails.touch.baselines() if rails.touch is not None else None
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# treadguard rail calibration, written by `treadguard calibrate rails` on {stamp}",
             f"# from {source}. Averages of {STEP_S:g} s per step. Forces in newtons; touch in",
             "# MPR121 filtered counts (they fall as a hand touches).", ""]
    drops = []
    for side in ("left", "right"):
        lines.append(f"[{side}]")
        for level in ("rest", "light", "firm"):
            step = "rest" if level == "rest" else f"{side}_{level}"
            values = results[step]
            if f"{side}_touch_counts" in values:
                lines.append(f"touch_{level}_counts = {values[f'{side}_touch_counts']:.1f}")
            if f"{side}_force_n" in values:
                lines.append(f"force_{level}_n = {values[f'{side}_force_n']:.2f}")
        if baselines is not None:
            r = rails.settings
            electrode = r.left_electrode if side == "left" else r.right_electrode
            lines.append(f"touch_baseline_counts = {baselines[electrode]}")
        rest = results["rest"].get(f"{side}_touch_counts")
        light = results[f"{side}_light"].get(f"{side}_touch_counts")
        if rest is not None and light is not None:
            drops.append(rest - light)
        lines.append("")
    if drops:
        touch = max(2, min(255, int(min(drops) / 2)))
        release = max(1, touch // 2)
        lines += ["[suggested]",
                  "# Half the smaller light-touch drop: a light touch registers with margin.",
                  f"touch_threshold_counts = {touch}", f"release_threshold_counts = {release}", ""]
    return "\n".join(lines)


def output_path(settings: cfg.Settings, out: str | None) -> Path:
    if out:
        return Path(out)
    name = settings.rails.calibration_file if settings.rails else None
    if not name:
        raise CalibrationError("no output file: pass --out FILE or set [rails] "
                               "calibration_file")
    path = Path(name)
    return path if path.is_absolute() else Path(settings.path).parent / path


def run_calibrate_rails(settings: cfg.Settings, out_path: Path, stdout: TextIO,
                        ask: Callable[[str, str], None] | None = None) -> int:
    if settings.rails is None:
        raise CalibrationError(f"{settings.path}: no [rails] section: nothing to calibrate")
    bus: I2CBus
    clock: Clock
    if settings.i2c.simulated:
        from hardware.sim.bus import SimBus

        clock = SimClock()
        hands = Hands()
        sim_bus = SimBus(seed=1)
        attach_twins(sim_bus, settings, clock, Still(), hands, seed=1)
        bus = sim_bus

        def sim_ask(step: str, prompt: str) -> None:
            hands.left, hands.right = SIM_HANDS[step]
            print(f"{prompt} … (simulated hands)", file=stdout)

        ask = ask or sim_ask
    else:
        from controller.app import open_bus

        clock = MonotonicClock()
        bus = open_bus(settings, None)

        def person_ask(step: str, prompt: str) -> None:
            input(f"{prompt}, then press Enter: ")

        ask = ask or person_ask
    try:
        rails = make_rails(settings, bus, clock)
        assert rails is not None
        try:
            rails.setup()
        except SETUP_ERRORS as exc:
            raise CalibrationError(f"rails: {exc}") from None
        text = calibrate_rails(rails, clock, ask, settings.path)
    finally:
        bus.close()
    out_path.write_text(text, encoding="utf-8")
    print(f"wrote {out_path}", file=stdout)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="calibrate sensors for this treadmill and runner")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    rails = what.add_parser("rails", help="record light touch and firm grip on each rail")
    rails.add_argument("--config", required=True, help="configuration file (TOML)")
    rails.add_argument("--out", default=None,
                       help="calibration file to write (default: [rails] calibration_file)")
    rails.set_defaults(func=cmd_calibrate_rails)


def cmd_calibrate_rails(args: argparse.Namespace) -> int:
    settings = cfg.load(args.config)
    try:
        return run_calibrate_rails(settings, output_path(settings, args.out), sys.stdout)
    except CalibrationError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
