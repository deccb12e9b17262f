"""Load benchmark of the fleet link: N treadmills publishing to one mosquitto on loopback, the
dashboard (``treadguard dashboard``, its own process) subscribed, and one live page (a
Server-Sent Events client, as a browser holds) reading it.

Measures, over ``--duration-s`` after a warm-up:
- message rates: published by the treadmills, received by the dashboard;
- latency, from the timestamp in each status payload (``wall``, stamped just before publish)
  to the dashboard's receipt (the tile's ``received_wall``) and to the live page's receipt
  (p50 / p95 / p99 / max, ms; all on this machine's one clock);
- CPU of the broker, the dashboard and the publishers' process (from ``/proc/<pid>/stat``,
  % of one core) and their resident memory.

The treadmills are lightweight paho clients (one process, one MQTT connection each as its
own broker user ``pi-tmN`` under the ACLs of ``tests/fleet_broker.py``), publishing a status
payload of the real one's keys and size every ``--status-interval-s`` (the Pi's ``[fleet]``
default: 1 s; staggered) and an event on average every ``--event-every-s``.

Run from the repository with the test extras installed (``make test`` made ``.venv``):

    .venv/bin/python scripts/bench_fleet.py --treadmills 50 --duration-s 60

Figures and what they mean for a chain of gyms: ``docs/dashboard.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller.fleet import topics
from controller.fleet.users import add
from tests.fleet_broker import PASSWORD, SITE, free_port, pi_user, running_broker

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wall_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def status_payload(treadmill: str, n: int, rng: random.Random) -> dict[str, Any]:
    speed = round(1.0 + rng.random() * 2, 2)
    return {"schema": topics.SCHEMA, "site": SITE, "treadmill": treadmill, "wall": wall_iso(),
            "t_s": float(n), "state": "running", "reason": None, "power_cut": False,
            "runner": f"runner-{treadmill}", "profile": "intermediate", "phase": "bout",
            "bout": "3/6", "commanded_kmh": speed, "actual_kmh": round(speed - 0.02, 2),
            "levels": {"imu": "ok", "imu_reason": None, "cadence_spm": 112.5,
                       "rail_contact": False},
            "session_s": 300.0 + n, "cautions": 1, "steps": 500 + n}


class Treadmills:
    """N publishers, each its own MQTT connection and broker user."""

    def __init__(self, host: str, port: int, names: list[str], interval_s: float,
                 event_every_s: float, seed: int) -> None:
        self.names = names
        self.interval_s = interval_s
        self.event_every_s = event_every_s
        self.rng = random.Random(seed)
        self.statuses = 0
        self.events = 0
        self.clients: list[mqtt.Client] = []
        for name in names:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{name}")
            c.username_pw_set(pi_user(name), PASSWORD)
            c.will_set(topics.topic(SITE, name, topics.ONLINE),
                       json.dumps({"online": False, "wall": wall_iso()}), qos=1, retain=True)
            c.connect(host, port, keepalive=30)
            c.loop_start()
            c.publish(topics.topic(SITE, name, topics.ONLINE),
                      json.dumps({"online": True, "wall": wall_iso()}), qos=1, retain=True)
            self.clients.append(c)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publishers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        n = 0
        start = time.monotonic()
        count = len(self.clients)
        event_p = self.interval_s / self.event_every_s
        while not self._stop.is_set():
            for i, (name, c) in enumerate(zip(self.names, self.clients, strict=True)):
                due = start + n * self.interval_s + i * self.interval_s / count
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                c.publish(topics.topic(SITE, name, topics.STATUS),
                          json.dumps(status_payload(name, n, self.rng)), qos=0, retain=True)
                self.statuses += 1
                if self.rng.random() < event_p:
                    self.events += 1
                    c.publish(topics.topic(SITE, name, topics.EVENTS), json.dumps(
                        {"schema": topics.SCHEMA, "seq": self.events, "wall": wall_iso(),
                         "t_s": float(n), "kind": "caution",
                         "message": "stumble: slowing to 1.0 km/h", "dropped_before": 0}),
                        qos=1)
            n += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


@dataclass
class LivePage:
    """A Server-Sent Events client of the dashboard: latencies of each status it is sent."""

    host: str
    port: int
    cookie: str
    measuring: threading.Event = field(default_factory=threading.Event)
    to_dashboard_ms: list[float] = field(default_factory=list)
    to_page_ms: list[float] = field(default_factory=list)
    tiles_seen: int = 0
    boards_seen: int = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request("GET", "/api/live", headers={"Cookie": self.cookie})
        reply = conn.getresponse()
        kind = ""
        seen: set[tuple[str, str]] = set()
        for raw in iter(reply.fp.readline, b""):
            line = raw.decode()
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: ") and kind == "tile":
                now = time.time()
                self.tiles_seen += 1
                tile = json.loads(line[6:])
                status = tile.get("status")
                if not status or not self.measuring.is_set():
                    continue
                key = (tile["key"], status["wall"])
                if key in seen:  # an online flag's tile repeats the last status
                    continue
                seen.add(key)
                sent = datetime.fromisoformat(status["wall"]).timestamp()
                self.to_dashboard_ms.append((tile["received_wall"] - sent) * 1000)
                self.to_page_ms.append((now - sent) * 1000)
            elif line.startswith("data: ") and kind == "board":
                self.boards_seen += 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def request(host: str, port: int, method: str, path: str, body: Any = None,
            cookie: str = "") -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    reply = conn.getresponse()
    data = json.loads(reply.read())
    conn.close()
    return reply.status, dict(reply.getheaders()), data


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the dashboard exited ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the dashboard did not listen")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += tree(int(child))
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants (those alive now)."""
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            total += cpu_s(p)
    return total


def bench(count: int, duration_s: float, warmup_s: float, interval_s: float,
          event_every_s: float, seed: int, fleet_sim: bool = False) -> dict[str, Any]:
    names = [f"tm{i + 1}" for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp_name:
        tmp = Path(tmp_name)
        with running_broker(tmp / "broker", names) as broker:
            assert broker.process is not None
            users = tmp / "users"
            add(users, "bench", "viewer", "bench-password")
            (tmp / "broker-password").write_text(PASSWORD + "\n")
            port = free_port()
            log = (tmp / "dashboard.log").open("wb")
            dash = subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "dashboard", "--broker", broker.url,
                 "--listen", f"127.0.0.1:{port}", "--users", str(users), "--broker-user",
                 "dashboard", "--broker-password-file", str(tmp / "broker-password")],
                stdout=log, stderr=log)
            treadmills: Treadmills | None = None
            sim: subprocess.Popen[bytes] | None = None
            try:
                wait_port(port, dash)
                code, headers, _ = request("127.0.0.1", port, "POST", "/api/login",
                                           {"user": "bench", "password": "bench-password"})
                assert code == 200, code
                cookie = headers["Set-Cookie"].split(";")[0]
                page = LivePage("127.0.0.1", port, cookie)
                threading.Thread(target=page.run, name="live-page", daemon=True).start()
                pids = {"broker": broker.process.pid, "dashboard": dash.pid,
                        "publishers + page": os.getpid()}
                if fleet_sim:
                    sim = subprocess.Popen(
                        [sys.executable, "-m", "controller.cli", "fleet-sim", "--broker",
                         broker.url, "--count", str(count), "--seed", str(seed),
                         "--password-file", str(tmp / "broker-password"),
                         "--status-interval-s", str(interval_s), "--duration-s",
                         str(warmup_s + duration_s + 60)], stdout=log, stderr=log)
                    pids = {"broker": broker.process.pid, "dashboard": dash.pid,
                            "page": os.getpid(), "fleet-sim (all processes)": sim.pid}
                else:
                    treadmills = Treadmills(broker.host, broker.port, names, interval_s,
                                            event_every_s, seed)
                    treadmills.start()
                time.sleep(warmup_s)  # a benchmark's warm-up, not a test waiting
                # Only fleet-sim is measured with its children (this process's children are
                # the broker, the dashboard and fleet-sim themselves).
                def used_s(name: str, pid: int) -> float:
                    return tree_cpu_s(pid) if name.startswith("fleet-sim") else cpu_s(pid)

                cpu0 = {k: used_s(k, p) for k, p in pids.items()}
                _, _, board0 = request("127.0.0.1", port, "GET", "/api/board", cookie=cookie)
                sent0 = treadmills.statuses + treadmills.events if treadmills else 0
                t0 = time.monotonic()
                page.measuring.set()
                time.sleep(duration_s)
                page.measuring.clear()
                elapsed = time.monotonic() - t0
                cpu1 = {k: used_s(k, p) for k, p in pids.items()}
                sent1 = treadmills.statuses + treadmills.events if treadmills else 0
                _, _, board1 = request("127.0.0.1", port, "GET", "/api/board", cookie=cookie)
                rss = {k: sum(rss_mib(p) for p in tree(pid)) if k.startswith("fleet-sim")
                       else rss_mib(pid) for k, pid in pids.items()}
            finally:
                if treadmills is not None:
                    treadmills.close()
                if sim is not None:
                    sim.send_signal(signal.SIGINT)
                    sim.wait(120)
                dash.terminate()
                dash.wait(10)
                log.close()
    return {
        "treadmills": count, "duration_s": round(elapsed, 1), "status_interval_s": interval_s,
        "event_every_s": event_every_s,
        "publishers": "treadguard fleet-sim (the real daemon and publisher, simulated hardware)"
                      if fleet_sim else "lightweight paho publishers",
        "published_per_s": None if fleet_sim else round((sent1 - sent0) / elapsed, 1),
        "dashboard_received_per_s": round((board1["messages"] - board0["messages"]) / elapsed,
                                          1),
        "malformed": board1["malformed"],
        "statuses_measured": len(page.to_page_ms),
        "latency_ms": {
            where: {f"p{p}": round(percentile(values, p), 2) for p in (50, 95, 99)}
            | {"max": round(max(values), 2) if values else None}
            for where, values in (("publish_to_dashboard", page.to_dashboard_ms),
                                  ("publish_to_live_page", page.to_page_ms))},
        "cpu_percent_of_one_core": {k: round(100 * (cpu1[k] - cpu0[k]) / elapsed, 1)
                                    for k in pids},
        "rss_mib": {k: round(v, 1) for k, v in rss.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.python_implementation()} {platform.python_version()}, "
                   f"1-min load average at the end {os.getloadavg()[0]:.2f}",
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['treadmills']} treadmills ({result['publishers']}), status every "
             f"{result['status_interval_s']} s, "
             + ("" if result["published_per_s"] is None else
                f"an event every {result['event_every_s']} s on average, ")
             + "measured over "
             f"{result['duration_s']} s ({result['machine']})",
             f"messages published: {result['published_per_s'] or '(not counted)'}/s; "
             f"received by the dashboard: "
             f"{result['dashboard_received_per_s']}/s; malformed {result['malformed']}",
             f"statuses timed: {result['statuses_measured']}",
             "latency, ms        p50      p95      p99      max"]
    for where, figures in result["latency_ms"].items():
        lines.append(f"  {where:<22}" + "".join(f"{figures[k]:>9}" for k in
                                                  ("p50", "p95", "p99", "max")))
    lines.append("CPU, % of one core / resident memory, MiB:")
    for name, cpu in result["cpu_percent_of_one_core"].items():
        lines.append(f"  {name:<20}{cpu:>7} %   {result['rss_mib'][name]:>7} MiB")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--treadmills", type=int, default=50)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--status-interval-s", type=float, default=1.0)
    parser.add_argument("--event-every-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    parser.add_argument("--fleet-sim", action="store_true",
                        help="the treadmills are `treadguard fleet-sim` (each the real daemon "
                             "on simulated hardware, a process each: heavy) instead of "
                             "lightweight publishers; --event-every-s does not apply")
    args = parser.parse_args()
    result = bench(args.treadmills, args.duration_s, args.warmup_s, args.status_interval_s,
                   args.event_every_s, args.seed, args.fleet_sim)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
