"""The simulated treadmill as a separate process on a pseudo-terminal (or a real serial port).

``SimTreadmill`` (controller side) starts ``python -m hardware.sim.treadmill`` and talks to it
over a *control channel* (a socketpair carrying JSON lines) beside the pty. The pty carries only
the bytes a real treadmill would see; the control channel carries what a real treadmill learns
from the physical world — the passing of (simulated) time and the state of its safety-key loop —
and the test hooks (fault injection, state, the recorded wire traffic).

Lockstep: at each control-loop tick the controller calls :meth:`SimTreadmill.sync` with the new
simulated time and the number of bytes it has written so far. The treadmill process reads
exactly those bytes from the pty (they were written at the previous sync's time), runs its
:class:`~hardware.sim.treadmill_model.TreadmillModel` up to the new time, writes the reply bytes
due by then and answers with its own byte count; the controller side waits until those bytes are
readable on its port. So a simulated session is deterministic at any speed, the treadmill's
0.5 s watchdog runs in simulated time, and every byte still crosses a real tty. A tick in
which nothing can happen — no new host byte, the relay unchanged, and the unit quiet until
after the next tick (:meth:`~hardware.sim.treadmill_model.TreadmillModel.quiet_until_s`: no
reply due, the belt steady, no timer running out) — skips its exchange; the next exchange
carries the skipped time, with the host's bytes dated when they were written, so the session
is the same byte for byte, at a fraction of the round trips.

If the controller process dies, the control channel closes: the treadmill treats that as its
safety-key loop opening (the controller's relay dropping out) and the belt coasts to a stop.

Standalone: ``treadguard sim-treadmill --port URL`` runs the same model on a real serial port in
real time, so a Pi can be tested against a PC playing the treadmill; ``--pty`` creates a
pseudo-terminal instead and prints its path. ``--fault NAME --fault-after-s S`` injects one of
the model's faults S seconds after the start (a test engineer's way to watch the Pi react);
``unplug`` closes the port and ends the process, as a pulled cable ends the conversation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import time
import tty
from collections import deque
from collections.abc import Callable
from typing import Any

from hardware.sim.treadmill_model import TreadmillModel

REAL_TIMEOUT_S = 5.0  # bound on every real-time wait of the lockstep (a hung peer is an error)
WIRE_LOG_MAX = 500_000


class SimTreadmillError(Exception):
    """The simulated treadmill process failed or broke the lockstep."""


class SimTreadmill:
    """Controller-side handle of a simulated treadmill process.

    Args:
        units, baud, seed: passed to the :class:`TreadmillModel`.

    Attributes:
        port: path of the pty the controller opens as its serial port (``/dev/pts/N``).
    """

    def __init__(self, units: str, baud: int = 4800, seed: int = 0) -> None:
        parent, child = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hardware.sim.treadmill", "--control-fd", str(child.fileno()),
             "--units", units, "--baud", str(baud), "--seed", str(seed)],
            pass_fds=[child.fileno()],
            # Its own session: a Ctrl-C at the terminal is the controller's to handle (a
            # controlled stop); the treadmill ends when the controller closes the channel.
            start_new_session=True,
        )
        child.close()
        self._sock = parent
        self._sock.settimeout(REAL_TIMEOUT_S)
        self._file = parent.makefile("rwb")
        hello = self._receive()
        self.port: str = hello["port"]
        self.closed = False
        self.belt_kmh = 0.0  # the belt's speed at the last sync
        self.exchanges = 0  # syncs actually exchanged with the process (the others skipped)
        self.skip_quiet = True  # skip the exchanges nothing can happen in (tests turn it off)
        self._last_tick_s: float | None = None  # the previous sync_port's time
        self._synced: tuple[int, bool] = (0, True)  # host bytes and relay at the last exchange
        self._quiet_until_s = 0.0
        self._behind: tuple[float, int, bool, float | None] | None = None

    def _receive(self) -> dict[str, Any]:
        try:
            line = self._file.readline()
        except TimeoutError:
            raise SimTreadmillError("simulated treadmill did not answer") from None
        if not line:
            raise SimTreadmillError("simulated treadmill process exited")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise SimTreadmillError(f"simulated treadmill: {reply['error']}")
        return reply

    def _request(self, **message: Any) -> dict[str, Any]:
        if self.closed:
            raise SimTreadmillError("simulated treadmill is closed")
        self._file.write(json.dumps(message).encode() + b"\n")
        self._file.flush()
        return self._receive()

    def sync(self, t_s: float, host_bytes_total: int, relay_closed: bool,
             written_at_s: float | None = None) -> int:
        """Advance the treadmill to ``t_s``; return how many bytes it has written in total.
        The host's new bytes and the relay's state date from ``written_at_s`` (default: the
        previous sync's time)."""
        message: dict[str, Any] = {"op": "sync", "t": t_s, "tx": host_bytes_total,
                                   "relay": relay_closed}
        if written_at_s is not None:
            message["w"] = written_at_s
        reply = self._request(**message)
        self.exchanges += 1
        self.belt_kmh = float(reply["belt"])
        self._quiet_until_s = float(reply["quiet"])
        self._synced = (host_bytes_total, relay_closed)
        return int(reply["rx"])

    def _catch_up(self) -> None:
        """Send a skipped exchange now, so the unit's time is the last tick's (before a fault
        is injected or the state read)."""
        if self._behind is not None and not self.closed:
            t_s, sent, relay, written_at = self._behind
            self._behind = None
            self.sync(t_s, sent, relay, written_at)

    def sync_port(self, t_s: float, port: Any, host_bytes_sent: int, host_bytes_read: int,
                  relay_closed: bool) -> None:
        """:meth:`sync`, then wait (at most REAL_TIMEOUT_S of real time) until every byte the
        treadmill has written is readable on the controller's ``port``: the kernel moves pty
        bytes asynchronously, so "written" is not yet "readable".

        Raises:
            SimTreadmillError: the bytes did not arrive (a port that is gone — unplugged — is
                not an error here: the link sees it itself).
        """
        # Skipped when nothing can happen before the next tick: no new host byte, the relay
        # unchanged, and the unit quiet (no reply due, belt steady, no timer running out)
        # until after the next tick — the unit then runs through the skipped time at the next
        # exchange exactly as it would have tick by tick. It saves most of the per-tick
        # round trips to the process between polls.
        written_at = self._last_tick_s
        tick_s = t_s - written_at if written_at is not None else math.inf
        self._last_tick_s = t_s
        if (self.skip_quiet and (host_bytes_sent, relay_closed) == self._synced
                and t_s + tick_s < self._quiet_until_s):
            self._behind = (t_s, host_bytes_sent, relay_closed, written_at)
            return
        self._behind = None
        written = self.sync(t_s, host_bytes_sent, relay_closed, written_at)
        deadline = time.monotonic() + REAL_TIMEOUT_S
        try:
            while host_bytes_read + port.in_waiting < written:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SimTreadmillError("reply bytes did not arrive on the pty")
                select.select([port.fileno()], [], [], min(left, 0.01))
        except (OSError, ValueError):  # pyserial's SerialException is an OSError
            return

    def inject(self, fault: str, **params: float) -> None:
        """Inject a fault (see :meth:`TreadmillModel.inject`; ``"unplug"`` closes the pty)."""
        self._catch_up()
        self._request(op="inject", fault=fault, params=params)

    def report_to(self, path: str) -> None:
        """Should the controller's end of the channel close, let the unit run on alone and
        write what happened to ``path`` (JSON; see ``_orphan_report``)."""
        self._catch_up()
        self._request(op="report_to", path=path)

    def state(self) -> dict[str, Any]:
        """The unit's state: belt_kmh, running, status, set_tenths, powered, lockout, …"""
        self._catch_up()
        return self._request(op="state")

    def wire_log(self) -> list[tuple[float, str, int]]:
        """Every byte with its time: (t_s, "host" or "treadmill", byte)."""
        self._catch_up()
        return [(float(t), str(who), int(b)) for t, who, b in self._request(op="log")["log"]]

    def close(self) -> None:
        """End the process (its key loop opens, as if the controller died)."""
        if self.closed:
            return
        with contextlib.suppress(SimTreadmillError, OSError):
            self._catch_up()
        self.closed = True
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()
        try:
            self._proc.wait(timeout=REAL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# ---------------------------------------------------------------------- the process side


def _read_exactly(fd: int, count: int) -> bytes:
    """Read ``count`` bytes from ``fd`` within REAL_TIMEOUT_S (raises on timeout or hangup)."""
    out = bytearray()
    deadline = time.monotonic() + REAL_TIMEOUT_S
    while len(out) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise SimTreadmillError(f"expected {count} host bytes, got {len(out)}")
        chunk = os.read(fd, count - len(out))
        if not chunk:
            raise SimTreadmillError("pty closed")
        out += chunk
    return bytes(out)


def _state(model: TreadmillModel) -> dict[str, Any]:
    return {
        "t": model.t_s, "belt_kmh": model.belt_kmh, "running": model.running,
        "status": model.status.name, "set_tenths": model.set_tenths, "powered": model.powered,
        "lockout": model.lockout, "key_closed": model.key_closed, "cds": model.cds,
        "power_cycles": model.power_cycles, "units": model.units,
    }


def serve_control(control_fd: int, units: str, baud: int, seed: int) -> None:
    """Run the treadmill on a new pty, paced by the controller over ``control_fd``."""
    # The controller owns this process: it ends when the control channel closes, never on a
    # signal meant for the controller (SIGINT sent to the terminal's whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    master, slave = os.openpty()
    tty.setraw(slave)
    model = TreadmillModel(units=units, baud=baud, seed=seed)
    log: deque[tuple[float, str, int]] = deque(maxlen=WIRE_LOG_MAX)
    sock = socket.socket(fileno=control_fd)
    stream = sock.makefile("rwb")
    host_bytes = treadmill_bytes = 0
    prev_t = 0.0
    plugged = True
    report: str | None = None  # where to write what happens after the controller is gone
    max_belt_kmh = 0.0

    def answer(message: dict[str, Any]) -> None:
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()

    answer({"port": os.ttyname(slave)})
    try:
        for line in stream:
            msg = json.loads(line)
            op = msg.get("op")
            try:
                if op == "sync":
                    t, tx, relay = float(msg["t"]), int(msg["tx"]), bool(msg["relay"])
                    written_at = float(msg.get("w", prev_t))  # when the host wrote them
                    if plugged and tx > host_bytes:
                        data = _read_exactly(master, tx - host_bytes)
                        model.send(written_at, data)
                        log.extend((written_at, "host", b) for b in data)
                    host_bytes = tx  # bytes written into an unplugged cable are lost
                    model.set_key_loop(written_at, relay)
                    out = model.advance(t)
                    if plugged and out:
                        os.write(master, bytes(b for _, b in out))
                        treadmill_bytes += len(out)
                        log.extend((due, "treadmill", b) for due, b in out)
                    prev_t = t
                    max_belt_kmh = max(max_belt_kmh, model.belt_kmh)
                    answer({"rx": treadmill_bytes, "belt": model.belt_kmh,
                            "quiet": model.quiet_until_s()})
                elif op == "inject":
                    fault, params = str(msg["fault"]), dict(msg.get("params", {}))
                    if fault == "unplug":
                        plugged = False
                        os.close(master)
                        os.close(slave)
                    else:
                        model.inject(fault, **params)
                    answer({"ok": True})
                elif op == "report_to":
                    report = str(msg["path"])
                    answer({"ok": True})
                elif op == "state":
                    answer(_state(model))
                elif op == "log":
                    answer({"log": list(log)})
                else:
                    answer({"error": f"unknown op {op!r}"})
            except (SimTreadmillError, ValueError, KeyError) as exc:
                answer({"error": str(exc)})
    finally:
        # The controller is gone: its relay has dropped out, the key loop is open.
        belt_at_loss = model.belt_kmh
        model.set_key_loop(prev_t, False)
        if report is not None:
            _orphan_report(model, report, prev_t, belt_at_loss, max_belt_kmh)


ORPHAN_S = 5.0
"""After the controller dies (and :meth:`SimTreadmill.report_to` asked for it), the unit runs on
alone for this long of simulated time, so the report shows how its belt stopped."""


def _orphan_report(model: TreadmillModel, path: str, lost_s: float, belt_at_loss_kmh: float,
                   max_belt_kmh: float) -> None:
    """Run the unit on with nobody at the other end (the communication watchdog and the open
    key loop are all that stop it), then write what happened as JSON to ``path``."""
    stopped_s = lost_s if model.belt_mps == 0.0 else None
    t = lost_s
    for _ in range(round(ORPHAN_S / 0.005)):
        t += 0.005
        model.advance(t)
        if stopped_s is None and model.belt_mps == 0.0:
            stopped_s = t
    data = {"controller_lost_s": lost_s, "belt_at_loss_kmh": belt_at_loss_kmh,
            "belt_stopped_s": stopped_s, "max_belt_kmh": max_belt_kmh, "state": _state(model)}
    partial = path + ".partial"  # renamed when complete: a reader never sees half of it
    with open(partial, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(partial, path)


Fault = tuple[str, float]
"""A fault to inject in real time: (model fault name, seconds after the start)."""


def serve_realtime(read: Callable[[], bytes], write: Callable[[bytes], object],
                   model: TreadmillModel, stop_after_s: float | None = None,
                   fault: Fault | None = None,
                   unplug: Callable[[], None] | None = None) -> None:
    """Play the treadmill in real time: ``read()`` returns the host's bytes (waiting at most
    ~1 ms), ``write`` sends the reply bytes when they are due. Runs until interrupted (or for
    ``stop_after_s``). Replies are late by at most one ~1 ms turn of this loop. The ``unplug``
    fault calls ``unplug()`` (the cable pulled: the port closed) and ends the serving."""
    origin = time.monotonic()
    while stop_after_s is None or time.monotonic() - origin < stop_after_s:
        data = read()
        now = time.monotonic() - origin
        if fault is not None and now >= fault[1]:
            model.advance(now)
            print(f"fault injected at {now:.3f} s: {fault[0]}", file=sys.stderr, flush=True)
            if fault[0] == "unplug":
                if unplug is not None:
                    unplug()
                return
            model.inject(fault[0])
            fault = None
        if data:
            model.send(now, data)
        out = model.advance(now)
        if out:
            write(bytes(b for _, b in out))


def serve_port(url: str, units: str, baud: int, seed: int, fault: Fault | None = None) -> None:
    """Play the treadmill on a real serial port, in real time, until interrupted.

    Raises:
        SimTreadmillError: the port cannot be opened, or fails while serving (one line).
    """
    import serial

    try:
        port = serial.serial_for_url(url, baudrate=baud, timeout=0.001)
    except (serial.SerialException, ValueError) as exc:  # a missing device, a bad URL
        raise SimTreadmillError(f"cannot open {url}: {exc}") from None
    model = TreadmillModel(units=units, baud=baud, seed=seed)
    print(f"simulated {units} treadmill on {url} at {baud} baud; Ctrl-C to stop", file=sys.stderr)
    try:
        serve_realtime(lambda: port.read(64), port.write, model, fault=fault,
                       unplug=port.close)
    except serial.SerialException as exc:  # unplugged while serving
        raise SimTreadmillError(f"{url}: {exc}") from None
    finally:
        port.close()


def serve_pty(units: str, baud: int, seed: int, stop_after_s: float | None = None,
              fault: Fault | None = None) -> None:
    """Play the treadmill in real time on a new pseudo-terminal; its path is printed on stdout
    (one line) so another process can open it as ``--port``. Ends when the host side hangs up
    after having opened it, or after ``stop_after_s``."""
    master, slave = os.openpty()
    tty.setraw(slave)
    model = TreadmillModel(units=units, baud=baud, seed=seed)
    print(os.ttyname(slave), flush=True)

    def read() -> bytes:
        if select.select([master], [], [], 0.001)[0]:
            try:
                return os.read(master, 256)
            except OSError:  # EIO: no process has the pty open right now
                time.sleep(0.001)
        return b""

    def unplug() -> None:
        os.close(master)
        os.close(slave)

    serve_realtime(read, lambda data: os.write(master, data), model, stop_after_s, fault,
                   unplug)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="simulated Trackmaster treadmill")
    parser.add_argument("--control-fd", type=int)
    parser.add_argument("--port")
    parser.add_argument("--pty", action="store_true")
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--units", choices=("mph", "kmh"), required=True)
    parser.add_argument("--baud", type=int, default=4800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.control_fd is not None:
        serve_control(args.control_fd, args.units, args.baud, args.seed)
    elif args.port:
        try:
            serve_port(args.port, args.units, args.baud, args.seed)
        except SimTreadmillError as exc:
            print(f"hardware.sim.treadmill: {exc}", file=sys.stderr)
            return 1
    elif args.pty:
        serve_pty(args.units, args.baud, args.seed, args.duration_s)
    else:
        parser.error("give --control-fd, --port or --pty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
