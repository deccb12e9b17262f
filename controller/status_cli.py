"""``treadguard status`` and ``treadguard stop``: the control socket for people.

Both find the socket from ``--config`` (``[control] socket_path``). ``status`` is a live view of
the daemon's snapshot (refreshed twice a second until Ctrl-C; once when stdout is not a
terminal), ``--json`` prints one snapshot; ``--select-runner NAME`` and ``--confirm-harness``
send those requests first. ``stop`` requests a stop — latched like every stop. Neither can
start the belt or raise a speed: the socket has no such request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Final

from controller import config as cfg
from controller.control_socket import ControlError, request

REFRESH_S: Final = 0.5


def register(sub: Any) -> None:
    status = sub.add_parser("status", help="the running controller's state (live; --json: once)")
    status.add_argument("--config", required=True, help="configuration file ([control])")
    status.add_argument("--json", action="store_true", help="print one snapshot as JSON")
    status.add_argument("--select-runner", default=None, metavar="NAME",
                        help="choose the runner for the next session (only while latched or "
                             "ready)")
    status.add_argument("--confirm-harness", action="store_true",
                        help="confirm the harness is on (for the next start)")
    status.set_defaults(func=cmd_status)
    stop = sub.add_parser("stop", help="ask the running controller to stop the belt (latched)")
    stop.add_argument("--config", required=True, help="configuration file ([control])")
    stop.set_defaults(func=cmd_stop)


def _ask(path: str, payload: dict[str, Any]) -> dict[str, Any]:
    reply = request(path, payload)
    if not reply.get("ok"):
        raise ControlError(f"{path}: {reply.get('error', 'refused')}")
    return reply


def cmd_stop(args: argparse.Namespace) -> int:
    path = cfg.load(args.config).control.socket_path
    try:
        _ask(path, {"cmd": "stop"})
    except ControlError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1
    print("stop requested: the belt stops and stays latched until a person resets")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = cfg.load(args.config).control.socket_path
    try:
        if args.select_runner:
            print(_ask(path, {"cmd": "select_runner", "runner": args.select_runner})["message"])
        if args.confirm_harness:
            print(_ask(path, {"cmd": "confirm_harness"})["message"])
        if args.json:
            json.dump(_ask(path, {"cmd": "status"})["status"], sys.stdout, indent=2,
                      sort_keys=True)
            sys.stdout.write("\n")
            return 0
        live = sys.stdout.isatty()
        while True:
            lines = render(_ask(path, {"cmd": "status"})["status"])
            if live:
                sys.stdout.write("\033[H\033[J")
            print("\n".join(lines), flush=True)
            if not live:
                return 0
            time.sleep(REFRESH_S)  # a person's terminal, not the loop
    except ControlError as exc:
        print(f"treadguard: {exc}", file=sys.stderr)
        return 1


def render(s: dict[str, Any]) -> list[str]:
    """The snapshot as a few lines for a person."""
    def kmh(v: object) -> str:
        return "  ?" if v is None else f"{v:4.1f}"

    state = s["state"].upper() + (f" ({s['reason']})" if s.get("reason") else "")
    lines = [f"treadguard  {state}" + ("  — power cut" if s.get("power_cut") else ""),
             f"belt: commanded {kmh(s.get('commanded_kmh'))} km/h, actual "
             f"{kmh(s.get('actual_kmh'))} km/h"]
    if s.get("runner"):
        lines.append(f"runner {s['runner']} ({s['profile']}, cap {s.get('cap_kmh', 0):g} km/h): "
                     f"{s['phase']}, bout {s.get('bout', 0)}/{s.get('bouts', 0)}, "
                     f"{s.get('steps', 0)} steps, {s.get('session_s', 0):.0f} s, "
                     f"{s.get('session_left_s', 0):.0f} s left")
    else:
        lines.append("no runner chosen (treadguard status --select-runner NAME)")
    det = s.get("detectors", {})
    lines.append(f"steps {det.get('steps')}, cadence {det.get('cadence_spm')} /min, cautions "
                 f"{det.get('cautions_this_session')}, rail contact {s.get('rail_contact')}, "
                 f"loop lateness p99 {s['loop']['lateness_p99_ms']:.2f} ms, "
                 f"{s['loop']['missed_deadlines']} missed, max gap "
                 f"{s['loop']['max_tick_gap_ms']:.1f} ms")
    lines += [f"  {e['t_s']:9.3f} s  {e['kind']:<7} {e['message']}" for e in s.get("events", [])]
    return lines
