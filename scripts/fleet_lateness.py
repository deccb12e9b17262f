#!/usr/bin/env python3
"""The loop's tick lateness under `treadguard run` (every part simulated, the real clock), with
the fleet off, on, and on while a client floods the treadmill's command topics with garbage,
against a real mosquitto on loopback (tests/fleet_broker.py). Prints the daemon's own lateness
line for each run. From the repository's root, after `make test` made the venv:

    .venv/bin/python scripts/fleet_lateness.py [SECONDS] [REPEATS]

The figures are in docs/fleet.md ("When the network fails").
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SIM_TOML  # noqa: E402
from tests.fleet_broker import PASSWORD, running_broker  # noqa: E402


def run(directory: Path, name: str, text: str, seconds: str) -> None:
    path = directory / f"{name}.toml"
    path.write_text(text)
    out = subprocess.run([sys.executable, "-m", "controller.cli", "run", "--config", str(path),
                          "--duration-s", seconds], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if "tick lateness" in line]
    print(f"{name:9} | {lines[-1] if lines else out.stderr.strip()[-300:]}", flush=True)


def main() -> None:
    seconds = sys.argv[1] if len(sys.argv) > 1 else "20"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with tempfile.TemporaryDirectory() as temp:
        d = Path(temp)
        base = SIM_TOML.read_text().replace(
            'state_dir = "run/state"', f'state_dir = "{d}/state"').replace(
            'socket_path = "run/control.sock"', f'socket_path = "{d}/c.sock"')
        (d / "pw").write_text(PASSWORD + "\n")
        with running_broker(d / "broker", ["tm1"], rogues=("rogue",)) as broker:
            fleet = (f'\n[fleet]\nenabled = true\nbroker_url = "{broker.url}"\nsite = "gym"\n'
                     f'treadmill = "tm1"\nusername = "pi-tm1"\npassword_file = "pw"\n'
                     f"status_interval_s = 0.2\n")
            for _ in range(repeats):
                run(d, "off", base, seconds)
                run(d, "on", base + fleet, seconds)
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood")
            client.username_pw_set("rogue", PASSWORD)
            client.connect(broker.host, broker.port)
            client.loop_start()
            going, sent = [True], [0]

            def flood() -> None:
                leaves = ("start/rogue", "speed/rogue", "stop/rogue", "x")
                while going[0]:
                    client.publish(f"treadguard/gym/tm1/cmd/{leaves[sent[0] % 4]}", b"{" * 500)
                    sent[0] += 1
                    if sent[0] % 100 == 0:
                        time.sleep(0.001)

            thread = threading.Thread(target=flood, daemon=True)
            thread.start()
            for _ in range(repeats):
                run(d, "on+flood", base + fleet, seconds)
            going[0] = False
            thread.join()
            client.disconnect()
            client.loop_stop()
            print(f"flood: {sent[0]} messages published during the flooded runs")


if __name__ == "__main__":
    main()
