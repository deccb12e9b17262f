"""``treadguard runner …`` and ``treadguard supervisor set-pin``: the runner store for people.

Every command takes ``--state DIR`` (else ``[paths] state_dir`` of ``--config FILE``, else
``/var/lib/treadguard``) and, where it prints data, ``--json``. A change that raises risk — a
higher cap, bout speed, bout length, session length or sessions per week, a shorter warm-up,
rest or cool-down, any profile change, a new ``backward-running`` runner — needs the supervisor
PIN, read from the terminal or, with ``--pin-stdin``, as a line on standard input (scripts). A
wrong PIN is refused, counted and logged. Errors are one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from typing import Any, Final, TextIO

from controller import config as cfg
from controller.pin import hash_pin, pin_problem, verify_pin
from controller.profiles import (
    PROFILES,
    LimitError,
    RunnerLimits,
    check,
    new_limits,
    parse_value,
    profile,
    raises_risk,
)
from controller.settings import PathsSettings, ProgramSettings
from controller.store import Store, StoreError

DEFAULT_STATE_DIR: Final = PathsSettings().state_dir
LAST_SESSIONS: Final = 5


class PinRefused(StoreError):
    """A wrong supervisor PIN (counted and logged before this is raised)."""


def add_common(parser: argparse.ArgumentParser, *, json_out: bool = False,
               pin: bool = False) -> None:
    """``--config``, ``--state`` (and ``--json``, ``--pin-stdin``) for a store command."""
    parser.add_argument("--config", default=None,
                        help="configuration file whose [paths] state_dir holds the store")
    parser.add_argument("--state", default=None, metavar="DIR",
                        help=f"the store's directory (overrides [paths] state_dir; default "
                             f"{DEFAULT_STATE_DIR})")
    if json_out:
        parser.add_argument("--json", action="store_true", help="print JSON")
    if pin:
        parser.add_argument("--pin-stdin", action="store_true",
                            help="read the supervisor PIN from standard input (one line)")


def register(sub: Any) -> None:
    runner = sub.add_parser("runner", help="runners, their profile and limits (the runner store)")
    rsub = runner.add_subparsers(dest="runner_command", required=True, metavar="ACTION")
    add = rsub.add_parser("add", help="add a runner")
    add.add_argument("name")
    add.add_argument("--profile", required=True, choices=sorted(PROFILES))
    add.add_argument("--body-mass-kg", type=float, default=None)
    add_common(add, pin=True)
    add.set_defaults(func=cmd_add)
    lst = rsub.add_parser("list", help="list the runners")
    add_common(lst, json_out=True)
    lst.set_defaults(func=cmd_list)
    show = rsub.add_parser("show", help="a runner's limits, progression and last sessions")
    show.add_argument("name")
    add_common(show, json_out=True)
    show.set_defaults(func=cmd_show)
    set_ = rsub.add_parser("set", help="change a runner's limits or profile (OPTION=VALUE …)")
    set_.add_argument("name")
    set_.add_argument("changes", nargs="+", metavar="OPTION=VALUE")
    add_common(set_, pin=True)
    set_.set_defaults(func=cmd_set)
    history = rsub.add_parser("history", help="every change to a runner: what, old → new, who, "
                                              "when")
    history.add_argument("name")
    add_common(history, json_out=True)
    history.set_defaults(func=cmd_history)

    supervisor = sub.add_parser("supervisor", help="the supervisor PIN")
    ssub = supervisor.add_subparsers(dest="supervisor_command", required=True, metavar="ACTION")
    set_pin = ssub.add_parser("set-pin", help="set or change the supervisor PIN")
    add_common(set_pin, pin=True)
    set_pin.set_defaults(func=cmd_set_pin)


# ---------------------------------------------------------------------- helpers


def state_dir(args: argparse.Namespace) -> str:
    """``--state``, else ``[paths] state_dir`` of ``--config``, else the default."""
    if getattr(args, "state", None):
        return str(args.state)
    if getattr(args, "config", None):
        return cfg.load(args.config).paths.state_dir
    return DEFAULT_STATE_DIR


def program_defaults(args: argparse.Namespace) -> ProgramSettings:
    """``[program]`` of ``--config`` (the built-in defaults without one)."""
    return cfg.load(args.config).program if getattr(args, "config", None) else ProgramSettings()


def who() -> str:
    """The person at the terminal, for the audit log."""
    try:
        return getpass.getuser()
    except Exception:  # no user name (a container without passwd entry)
        return "unknown"


def _read_line(args: argparse.Namespace, prompt: str) -> str:
    if args.pin_stdin:
        line = sys.stdin.readline()
        if not line:
            raise StoreError("--pin-stdin: expected a PIN line on standard input, got nothing")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise StoreError("no terminal to read the supervisor PIN from: use --pin-stdin")
    return getpass.getpass(prompt)


def require_pin(store: Store, args: argparse.Namespace, wanted: str) -> str:
    """Ask for and check the supervisor PIN; returns the audit log's "who".

    Raises:
        StoreError: no PIN is set yet.
        PinRefused: a wrong PIN (counted and logged first).
    """
    stored = store.pin_hash()
    if stored is None:
        raise StoreError(f"{wanted} needs the supervisor PIN, and none is set: run "
                         f"`treadguard supervisor set-pin` first")
    pin = _read_line(args, f"supervisor PIN ({wanted}): ")
    if not verify_pin(pin, stored):
        count = store.wrong_pin(who(), wanted)
        raise PinRefused(f"wrong supervisor PIN: {wanted} refused ({count} wrong PIN"
                         f"{'s' if count != 1 else ''} since the PIN was set; logged)")
    return f"{who()} (supervisor PIN)"


def _run(args: argparse.Namespace, action: Any) -> int:
    """Open the store, run ``action(store)``, turn known errors into one line."""
    try:
        store = Store(state_dir(args))
    except StoreError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = action(store)
        return code
    except PinRefused as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
    except (StoreError, LimitError) as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def runner_json(store: Store, name: str) -> dict[str, Any]:
    """What ``runner show --json`` prints: the limits under the configuration's names, the
    profile, the progression steps and the session count."""
    r = store.runner(name)
    p = PROFILES[r.profile]
    limits = dataclasses.asdict(r.limits)
    return {
        "name": r.name,
        "profile": r.profile,
        "profile_cap_kmh": p.cap_kmh,
        "hands_on": p.hands_on,
        "needs_harness": p.needs_harness,
        "body_mass_kg": r.body_mass_kg,
        "limits": limits,
        "progression": {k: limits[k] for k in
                        ("bout_speed_step_kmh", "bout_steps_step", "session_limit_step_s")},
        "sessions": store.session_count(name),
        "sessions_this_week": store.sessions_this_week(name),
        "last_sessions": store.sessions(name, LAST_SESSIONS),
    }


def _print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    json.dump(data, out, indent=2, sort_keys=True)
    out.write("\n")


# ---------------------------------------------------------------------- commands


def cmd_add(args: argparse.Namespace) -> int:
    p = profile(args.profile)
    if args.body_mass_kg is not None and not 20.0 <= args.body_mass_kg <= 300.0:
        raise cfg.ConfigError(f"--body-mass-kg: expected a number from 20 to 300, got "
                              f"{args.body_mass_kg:g}")
    limits = new_limits(p, program_defaults(args))

    def action(store: Store) -> int:
        check(p, limits)
        author = require_pin(store, args, f"a {p.name} runner") if p.needs_harness else who()
        store.add_runner(args.name, p.name, limits, args.body_mass_kg, author)
        print(f"runner {args.name} added: profile {p.name} (cap {p.cap_kmh:g} km/h), bout "
              f"{limits.bout_speed_kmh:g} km/h × {limits.bout_steps} steps, session "
              f"{limits.session_limit_s:g} s")
        return 0

    return _run(args, action)


def cmd_list(args: argparse.Namespace) -> int:
    def action(store: Store) -> int:
        rows = [{"name": r.name, "profile": r.profile, "sessions": store.session_count(r.name),
                 "max_speed_kmh": r.limits.max_speed_kmh,
                 "bout_speed_kmh": r.limits.bout_speed_kmh} for r in store.runners()]
        if args.json:
            _print_json(rows)
        elif not rows:
            print("no runners yet (treadguard runner add NAME --profile P)")
        else:
            for row in rows:
                print(f"{row['name']:<20} {row['profile']:<17} cap {row['max_speed_kmh']:g} "
                      f"km/h, bout {row['bout_speed_kmh']:g} km/h, {row['sessions']} sessions")
        return 0

    return _run(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    def action(store: Store) -> int:
        data = runner_json(store, args.name)
        if args.json:
            _print_json(data)
            return 0
        print(f"{data['name']}: profile {data['profile']} (cap {data['profile_cap_kmh']:g} km/h"
              f"{', hands on the rails' if data['hands_on'] else ''}"
              f"{', harness confirmed at each start' if data['needs_harness'] else ''})")
        for option, value in data["limits"].items():
            print(f"  {option:<22} {value}")
        print(f"  sessions: {data['sessions']} ({data['sessions_this_week']} in the last 7 days)")
        for s in data["last_sessions"]:
            program = s.get("program", {})
            print(f"    {s['at']}  ended by {s['ended_by']}, {program.get('bouts_completed', 0)}"
                  f"/{program.get('bouts_planned', 0)} bouts, {program.get('steps_total', 0)} "
                  f"steps, {program.get('session_s', 0):.0f} s"
                  f"{'' if s['clean'] else ' (not clean: limits held)'}")
        return 0

    return _run(args, action)


def cmd_set(args: argparse.Namespace) -> int:
    def action(store: Store) -> int:
        current = store.runner(args.name)
        values = dataclasses.asdict(current.limits)
        new_profile = current.profile
        for change in args.changes:
            option, sep, text = change.partition("=")
            if not sep:
                raise LimitError(f"{change}: expected OPTION=VALUE")
            if option == "profile":
                new_profile = profile(text).name
            else:
                values[option] = parse_value(option, text)
        limits = RunnerLimits(**values)
        p = profile(new_profile)
        check(p, limits)
        old = dataclasses.asdict(current.limits)
        risky = [k for k, v in values.items() if raises_risk(k, old[k], v)]
        if new_profile != current.profile:
            risky.insert(0, "profile")
        if not risky and limits == current.limits and new_profile == current.profile:
            print(f"runner {args.name}: nothing changed")
            return 0
        author = require_pin(store, args, "raising " + ", ".join(risky)) if risky else who()
        entries = store.update_runner(args.name, author, profile=new_profile, limits=limits)
        for e in entries:
            print(f"runner {args.name}: {e.what} {e.old} → {e.new}")
        return 0

    return _run(args, action)


def cmd_history(args: argparse.Namespace) -> int:
    def action(store: Store) -> int:
        store.runner(args.name)  # a clear error for an unknown runner
        entries = store.audit(args.name)
        if args.json:
            _print_json([dataclasses.asdict(e) for e in entries])
            return 0
        for e in entries:
            print(f"{e.at}  {e.who:<28} {e.what}: {e.old if e.old is not None else '—'} → "
                  f"{e.new}")
        return 0

    return _run(args, action)


def cmd_set_pin(args: argparse.Namespace) -> int:
    def action(store: Store) -> int:
        author = who()
        if store.pin_hash() is not None:
            author = require_pin(store, args, "changing the supervisor PIN")
        pin = _read_line(args, "new supervisor PIN: ")
        problem = pin_problem(pin)
        if problem is not None:
            raise StoreError(f"new PIN refused: {problem}")
        if not args.pin_stdin and _read_line(args, "repeat the new PIN: ") != pin:
            raise StoreError("new PIN refused: the two entries differ")
        store.set_pin_hash(hash_pin(pin), author)
        print("supervisor PIN set (stored as a salted scrypt hash)")
        return 0

    return _run(args, action)
