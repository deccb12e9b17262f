"""``treadguard calibrate rails``: measure light touch and a firm grip on each rail, and print
the ``[rails]`` lines to paste into the configuration.

FSRs vary ±30 % part to part and capacitive electrodes with the rail, the sleeve and the
runner's skin, so the touch thresholds need numbers measured on *this* treadmill with *this*
runner. The command walks the person through five steps — hands off, light touch left, firm
grip left, light touch right, firm grip right — averages one second of readings per step, and
prints a snippet: the measurements as comments, then ``touch_threshold_counts`` and
``release_threshold_counts`` to paste over the same lines of the configuration's ``[rails]``
section. The thresholds live only there: the daemon reads no calibration file. ``--out FILE``
also writes the same snippet to a file; it is checked for writability before the first step,
so a bad path never costs a session.

Forces are printed for comparison with ``[detect] rail_light_touch_n`` (a light touch below it
does not count as rail contact); no force setting is derived from them, because the force of a
"firm grip" is the person's, not a known reference.

On a simulated configuration the steps are performed by simulated hands (light touch 5 N,
firm grip 150 N), so the command and its output are testable end to end.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from controller import config as cfg
from controller.devices import SETUP_ERRORS, make_rails, world_without_treadmill
from controller.transports import HardwareError, open_bus
from hardware.clock import Clock, MonotonicClock, SimClock
from hardware.handrails import Handrails
from hardware.sim.grip import Hand
from hardware.sim.motion import Still
from hardware.sim.world import SimWorld

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
    """The rails could not be calibrated (no bus, a missing chip, no readings, nobody at the
    keyboard) or ``--out`` cannot be written. ``str()`` is one line naming what and where."""


def measure(rails: Handrails, clock: Clock, seconds: float) -> dict[str, float]:
    """Average ``seconds`` of readings: touch counts per rail and forces (newtons)."""
    sums: dict[str, float] = {}
    n = 0
    end_s = clock.now_s() + seconds
    while clock.now_s() < end_s:
        clock.sleep_until(clock.now_s() + PERIOD_S)
        sample = rails.read()
        values: dict[str, float | None] = {
            "left_force_n": sample.force_left_n, "right_force_n": sample.force_right_n}
        if rails.last_touch is not None and rails.electrodes is not None:
            counts = rails.last_touch.filtered_counts
            left, right = rails.electrodes  # which electrodes are the rails
            values["left_touch_counts"] = counts[left]
            values["right_touch_counts"] = counts[right]
        for key, value in values.items():
            if value is not None:
                sums[key] = sums.get(key, 0.0) + value
        n += 1
    if n == 0:
        raise CalibrationError("no readings")
    return {key: total / n for key, total in sums.items()}


def calibrate_rails(rails: Handrails, clock: Clock, ask: Callable[[str, str], None],
                    source: str, detect: cfg.DetectSettings) -> str:
    """Run the five steps (``ask(step, prompt)`` waits for the person) and return the snippet
    (comment lines, then the ``[rails]`` lines to paste)."""
    results = {}
    for step, prompt in STEPS:
        ask(step, prompt)
        clock.sleep_until(clock.now_s() + SETTLE_S)
        results[step] = measure(rails, clock, STEP_S)
    baselines = rails.touch.baselines() if rails.touch is not None else None
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# treadguard calibrate rails, {stamp}, {source}: averages of {STEP_S:g} s per "
             "step (rest / light / firm)."]
    drops = []
    for side in ("left", "right"):
        steps = ("rest", f"{side}_light", f"{side}_firm")
        parts = []
        counts = [results[step].get(f"{side}_touch_counts") for step in steps]
        if (counts[0] is not None and counts[1] is not None and counts[2] is not None
                and rails.electrodes is not None):
            electrode = rails.electrodes[0 if side == "left" else 1]
            base = f", baseline {baselines[electrode]}" if baselines is not None else ""
            parts.append("touch " + " / ".join(f"{c:.1f}" for c in counts) + f" counts{base}")
            drops.append(counts[0] - counts[1])
        forces = [results[step].get(f"{side}_force_n") for step in steps]
        if forces[0] is not None and forces[1] is not None and forces[2] is not None:
            parts.append("force " + " / ".join(f"{f:.2f}" for f in forces) + " N")
        lines.append(f"# {side} rail: " + "; ".join(parts))
        if forces[1] is not None and not forces[1] > detect.rail_light_touch_n:
            # The rail detector counts force as contact only above this threshold.
            lines.append(f"# note: the {side} light touch ({forces[1]:.2f} N) is not above "
                         f"[detect] rail_light_touch_n ({detect.rail_light_touch_n:g} N): by "
                         "force alone it would not count as rail contact.")
    if not drops:
        lines.append("# No touch chip ([rails] touch_chip = \"none\"): nothing to paste.")
        return "\n".join(lines) + "\n"
    # Half the smaller light-touch drop: a light touch registers with margin on both rails;
    # release at half of that gives hysteresis against flicker.
    touch = max(2, min(255, int(min(drops) / 2)))
    release = max(1, touch // 2)
    lines += [f"# Paste into [rails] of {source}, replacing the lines there:",
              f"touch_threshold_counts = {touch}", f"release_threshold_counts = {release}"]
    return "\n".join(lines) + "\n"


def check_out(path: Path) -> None:
    """Refuse an ``--out`` that cannot be written — before the session, not after it.

    Raises:
        CalibrationError: one line naming ``--out`` and the path.
    """
    if path.is_dir():
        raise CalibrationError(f"--out {path}: is a directory")
    if not path.parent.is_dir():
        raise CalibrationError(f"--out {path}: directory {path.parent} does not exist")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise CalibrationError(f"--out {path}: cannot write: {exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)  # a failed session must not leave an empty file


def run_calibrate_rails(settings: cfg.Settings, out_path: Path | None, stdout: TextIO,
                        ask: Callable[[str, str], None] | None = None) -> int:
    """Run the session, print the snippet to ``stdout`` and, if ``out_path``, write it there.

    Raises:
        CalibrationError: one line: no ``[rails]``, the bus or a rail chip missing, a read
            failing, standard input closed, or ``out_path`` unwritable (checked first).
    """
    if settings.rails is None:
        raise CalibrationError(f"{settings.path}: no [rails] section: nothing to calibrate")
    if out_path is not None:
        check_out(out_path)
    clock: Clock
    world: SimWorld | None = None
    if settings.i2c.simulated:
        clock = SimClock()
        world = world_without_treadmill(settings, clock, Still())
        hands = world.hands

        def sim_ask(step: str, prompt: str) -> None:
            hands.left, hands.right = SIM_HANDS[step]
            print(f"{prompt} … (simulated hands)", file=stdout)

        ask = ask or sim_ask
    else:
        clock = MonotonicClock()

        def person_ask(step: str, prompt: str) -> None:
            input(f"{prompt}, then press Enter: ")

        ask = ask or person_ask
    try:
        bus = open_bus(settings, world)
    except HardwareError as exc:
        raise CalibrationError(str(exc)) from None
    try:
        rails = make_rails(settings, bus, clock)
        assert rails is not None
        try:
            rails.setup()
        except SETUP_ERRORS as exc:
            raise CalibrationError(f"{settings.path}: [rails]: {exc}") from None
        try:
            text = calibrate_rails(rails, clock, ask, settings.path, settings.detect)
        except EOFError:
            raise CalibrationError("standard input closed: the steps need a person at the "
                                   "keyboard") from None
        except OSError as exc:
            raise CalibrationError(f"{settings.path}: [rails]: read failed: {exc}") from None
    finally:
        bus.close()
    print(text, end="", file=stdout)
    if out_path is not None:
        out_path.write_text(text, encoding="utf-8")
        print(f"wrote {out_path}", file=stdout)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="calibrate sensors for this treadmill and runner")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    rails = what.add_parser("rails", help="measure light touch and firm grip on each rail and "
                                          "print the [rails] lines to paste")
    rails.add_argument("--config", required=True, help="configuration file (TOML)")
    rails.add_argument("--out", default=None, type=Path,
                       help="also write the printed lines to this file (checked before the "
                            "session starts)")
    rails.set_defaults(func=cmd_calibrate_rails)


def cmd_calibrate_rails(args: argparse.Namespace) -> int:
    """Exit 0 after printing the snippet, 2 for an unwritable ``--out``, 1 otherwise."""
    settings = cfg.load(args.config)
    if args.out is not None:
        try:
            check_out(args.out)
        except CalibrationError as exc:
            print(f"treadguard: {exc}", file=sys.stderr)
            return 2
    try:
        return run_calibrate_rails(settings, args.out, sys.stdout)
    except CalibrationError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
