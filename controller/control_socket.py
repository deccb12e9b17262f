"""The status and control socket: a Unix socket served outside the loop's thread.

One JSON object per line in, one per line out. Requests (``"cmd"``):

- ``status``: a snapshot — state and reason, runner, profile, program phase, bout n/N, steps,
  commanded and actual speed, detector read-outs, rail contact, session time and time left,
  loop lateness, the last events;
- ``select_runner`` (``"runner": NAME``): the runner for the next session — only while the
  controller is latched or ready; taken over between runs;
- ``confirm_harness``: the harness is on (a profile that needs one; used up by the next start;
  refused while the belt runs);
- ``stop``: request a stop (``stop_requested``), latched like every stop.

Nothing here can start the belt or raise a speed: there is no such request, a runner is only
taken over between runs (the governor's ramp and cue still apply when that runner starts), and a
start still needs a person's reset and confirmed start. Every request is handed to the loop's
thread through the program's inbox (:class:`controller.program.Program`) — the supervisor is
only ever driven from the tick. A malformed or unknown request gets ``{"ok": false, "error":
…}`` and a line in the event log. Each client has its own thread with a socket timeout: a slow
or vanished client never blocks the loop (which never waits on this module).

The status is read between ticks from another thread: plain attribute reads, no locks in the
tick; a snapshot may mix values of two consecutive ticks (5 ms apart).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import socketserver
import stat
import threading
from pathlib import Path
from typing import Any, Final

from controller.app import System
from controller.events import EventKind
from controller.lateness import LatenessSummary
from controller.program import Program, load_plan
from controller.store import Store, StoreError
from controller.supervisor import State

REQUEST_MAX_BYTES: Final = 4096
CLIENT_TIMEOUT_S: Final = 2.0
LAST_EVENTS: Final = 10
SELECT_STATES: Final = (State.LATCHED, State.READY)


class ControlError(Exception):
    """The socket cannot be served (one line: path and why)."""


def _loop_status(ticks: int, period_s: float, max_gap_s: float,
                 late: LatenessSummary) -> dict[str, Any]:
    """The loop's timing in the status: ticks, period, tick lateness (p50, p99, max), missed
    deadlines and the longest gap between ticks, ms."""
    return {"ticks": ticks, "period_ms": round(period_s * 1000, 3),
            "lateness_p50_ms": round(late.p50_s * 1000, 3),
            "lateness_p99_ms": round(late.p99_s * 1000, 3),
            "lateness_max_ms": round(late.max_s * 1000, 3), "missed_deadlines": late.missed,
            "max_tick_gap_ms": round(max_gap_s * 1000, 3)}


def snapshot(system: System[Any], program: Program) -> dict[str, Any]:
    """The status snapshot (JSON-ready)."""
    now = system.clock.now_s()
    sup = system.supervisor
    link = system.link
    det = system.detector
    loop = system.loop
    rails = system.rail_detector
    program_status = program.status(now)
    return {
        "t_s": round(now, 3),
        "state": sup.state.value,
        "reason": str(sup.stop_reason),
        "power_cut": sup.power_cut,
        **program_status,
        "commanded_kmh": link.commanded_kmh if link is not None else None,
        "actual_kmh": link.actual_speed_kmh if link is not None else None,
        "detectors": {
            "steps": det.steps.steps if det is not None else None,
            "cadence_spm": round(det.steps.cadence_spm(), 1) if det is not None else None,
            "cautions_this_session": program.cautions if program.in_session else 0,
        },
        "rail_contact": rails.rail_contact if rails is not None else None,
        "stop_path_test": program.stop_path.status() if program.stop_path is not None else None,
        "loop": _loop_status(loop.ticks, loop.period_s, loop.max_tick_gap_s,
                             loop.lateness.summary()),
        "events": [{"t_s": round(e.t_s, 3), "kind": str(e.kind), "message": e.message}
                   for e in list(system.events)[-LAST_EVENTS:]],
    }


class ControlServer:
    """Serves the control socket for ``system`` and its ``program``.

    Args:
        path: the socket's path (``[control] socket_path``); its directory is created.
        group: the group given the socket (``"-"``: leave it).
        state_dir: the runner store (for ``select_runner``).

    Raises:
        ControlError: the socket cannot be made, or another controller serves it.
    """

    def __init__(self, system: System[Any], program: Program, path: str, group: str,
                 state_dir: str) -> None:
        self.system = system
        self.program = program
        self.path = Path(path)
        self.state_dir = state_dir
        self.malformed = 0
        _clear_stale(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            server = _Server(str(self.path), _Handler)
        except OSError as exc:
            raise ControlError(f"{self.path}: cannot serve the control socket: {exc}") from None
        server.control = self
        self._server = server
        try:
            os.chmod(self.path, 0o660)
            if group != "-":
                shutil.chown(self.path, group=group)
        except (OSError, LookupError) as exc:
            server.server_close()
            self.path.unlink(missing_ok=True)
            raise ControlError(f"{self.path}: [control] socket_group = \"{group}\": {exc}") \
                from None
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="control-socket", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._server.shutdown()
            self._server.server_close()
        self._thread.join(2.0)
        with contextlib.suppress(OSError):
            self.path.unlink()

    # ------------------------------------------------------------------ requests
    def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line (never raises)."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise ValueError('expected a JSON object with a "cmd"')
        except (ValueError, UnicodeDecodeError) as exc:
            return self._refuse(f"malformed request: {exc}", line)
        cmd = request["cmd"]
        if cmd == "status":
            return {"ok": True, "status": snapshot(self.system, self.program)}
        if cmd == "stop":
            self.program.request_stop()
            return {"ok": True, "message": "stop requested"}
        if cmd == "confirm_harness":
            state = self.system.supervisor.state
            if state in (State.RUNNING, State.STOPPING):
                return self._refuse(f"confirm_harness: only while the belt is stopped, before "
                                    f"a start (controller is {state.value})", b"")
            self.program.confirm_harness()
            self._log("control socket: harness confirmed")
            return {"ok": True, "message": "harness confirmed for the next start"}
        if cmd == "select_runner":
            return self._select(request.get("runner"))
        return self._refuse(f"unknown request {cmd!r} (known: status, select_runner, "
                            f"confirm_harness, stop)", line)

    def _select(self, name: object) -> dict[str, Any]:
        if not isinstance(name, str) or not name:
            return self._refuse('select_runner: expected "runner": NAME', b"")
        state = self.system.supervisor.state
        if state not in SELECT_STATES or self.program.in_session:
            return self._refuse(f"select_runner: only while latched or ready between sessions "
                                f"(controller is {state.value})", b"")
        try:
            store = Store(self.state_dir)
            try:
                plan = load_plan(store, name)
            finally:
                store.close()
        except StoreError as exc:
            return self._refuse(f"select_runner: {exc}", b"")
        self.program.select(plan)
        self._log(f"control socket: runner {name} ({plan.profile.name}) for the next session")
        return {"ok": True, "message": f"runner {name} for the next session"}

    def _refuse(self, error: str, line: bytes) -> dict[str, Any]:
        self.malformed += 1
        shown = line[:80].decode("utf-8", "replace").strip()
        self._log(f"control socket: refused: {error}" + (f" ({shown!r})" if shown else ""))
        return {"ok": False, "error": error}

    def _log(self, message: str) -> None:
        self.system.events.add(self.system.clock.now_s(), EventKind.INFO, message)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    control: ControlServer


class _Handler(socketserver.StreamRequestHandler):
    timeout = CLIENT_TIMEOUT_S

    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        with contextlib.suppress(OSError, TimeoutError):
            line = self.rfile.readline(REQUEST_MAX_BYTES + 1)
            if not line:
                return
            if len(line) > REQUEST_MAX_BYTES:
                reply = server.control._refuse("request too long", line)
            else:
                reply = server.control.answer(line)
            self.wfile.write(json.dumps(reply).encode() + b"\n")


def _clear_stale(path: Path) -> None:
    """Remove a socket file left by a dead controller; refuse if one still answers."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)  # nobody there: a stale file
        return
    finally:
        probe.close()
    raise ControlError(f"{path}: another treadguard serves this socket")


def request(path: str, payload: dict[str, Any], timeout_s: float = 2.0) -> dict[str, Any]:
    """Send one request to the socket at ``path`` and return the reply (for the commands).

    Raises:
        ControlError: no controller answers there, or the reply is not JSON.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path)
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"{path}: no treadguard answers there ({exc})") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: the reply is not JSON") from None
    if not isinstance(reply, dict):
        raise ControlError(f"{path}: the reply is not a JSON object")
    return reply
