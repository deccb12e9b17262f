"""The gym dashboard end to end in a real browser: a real mosquitto with its password file and
ACLs (tests/fleet_broker.py), treadmills publishing to it, ``treadguard dashboard`` as its own
process, and headless Chromium (Debian's ``chromium``; ``make test`` installs it) driven over
the DevTools protocol (tests/cdp.py).

Never skipped: without Chromium or mosquitto the test fails and says how to get them.

Screenshots go to ``$TREADGUARD_SCREENSHOTS`` (a directory) when set, else the test's
temporary directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import config as cfg
from controller.fleet import topics
from controller.settings import PathsSettings
from controller.supervisor import State
from hardware.trackmaster_protocol import STOP
from tests.cdp import Browser
from tests.conftest import SIM_TOML, Build, host_bytes, treadmill
from tests.fleet_broker import PASSWORD, SITE, Broker, free_port, running_broker
from tests.fleet_pis import WAIT_S, FakePi, client, status
from tests.fleet_watch import Pi, fleet_settings, start_pi, wait_for
from tests.test_fleet_dashboard import SUPERVISOR, USER_PASSWORD, VIEWER, users_file

TREADMILLS = ["tm1", "tm2", "tm3", "tm4"]
STALE_AFTER_S = 3.0


class LatchingPi(FakePi):
    """A fake Pi that, like the real one, latches on a stop from the broker (its status goes
    to ``latched``, reason ``remote_stop``, belt at 0)."""

    def _on_message(self, c: Any, u: Any, message: Any) -> None:
        super()._on_message(c, u, message)
        if topics.stop_sender(message.topic.split("/", 3)[3]) is not None:
            self.last_status = {**(self.last_status or status(self.treadmill)),
                                "state": "latched", "reason": "remote_stop",
                                "commanded_kmh": 0.0, "actual_kmh": 0.0}
            c.publish(self.topic(topics.STATUS), json.dumps(self.last_status), qos=1,
                      retain=True)


def shots_dir(tmp_path: Path) -> Path:
    where = Path(os.environ.get("TREADGUARD_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    # Polling a port the dashboard is opening (bounded at 15 s), as for the broker.
    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited ({proc.returncode}): {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the dashboard did not listen on {port}: {log.read_text()}")


@contextlib.contextmanager
def dashboard_process(tmp_path: Path, broker: Broker) -> Iterator[tuple[str, Path]]:
    """``treadguard dashboard`` serving on a free loopback port: ``(url, its log)``; a clean
    exit on SIGTERM is checked at the end."""
    password_file = tmp_path / "broker-password"
    password_file.write_text(PASSWORD + "\n")
    port = free_port()
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "dashboard", "--broker", broker.url,
             "--listen", f"127.0.0.1:{port}", "--users", str(users_file(tmp_path)),
             "--broker-user", "dashboard", "--broker-password-file", str(password_file),
             "--stale-after-s", str(STALE_AFTER_S)],
            stdout=out, stderr=out)
    try:
        wait_listening(port, proc, log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        assert proc.wait(WAIT_S) == 0, log.read_text()  # SIGTERM: a clean exit


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[tuple[Broker, dict[str, FakePi], str, Path]]:
    """A broker, four stand-in treadmills publishing, and ``treadguard dashboard``:
    ``(broker, pis, url, dashboard's log)``."""
    with running_broker(tmp_path / "broker", TREADMILLS) as broker:
        pis: dict[str, FakePi] = {tm: LatchingPi(broker, tm) for tm in TREADMILLS}
        try:
            for index, pi in enumerate(pis.values()):
                pi.send_status(runner=f"runner{index + 1}", commanded_kmh=1.0 + index / 2,
                               actual_kmh=1.0 + index / 2, session_s=60.0 * (index + 1))
            pis["tm4"].send_status(state="ready", runner=None, commanded_kmh=0.0,
                                   actual_kmh=0.0, session_s=None)
            for pi in pis.values():
                pi.start_beating(0.5)
            with dashboard_process(tmp_path, broker) as (url, log):
                yield broker, pis, url, log
        finally:
            for pi in pis.values():
                pi.close()


def tile_text(browser: Browser, treadmill: str, part: str) -> str:
    value: str = browser.evaluate(
        f"document.querySelector('.tile[data-key=\"{SITE}/{treadmill}\"] .{part}')"
        f"?.textContent ?? ''")
    return value


def sign_in(browser: Browser, user: str) -> None:
    browser.wait("!document.getElementById('signin').hidden")
    browser.type_into("#user", user)
    browser.type_into("#password", USER_PASSWORD)
    browser.click("#signin button[type=submit]")
    browser.wait(f"document.getElementById('who-name').textContent === {json.dumps(user)}")


def test_the_floor_in_chromium(floor: Any, tmp_path: Path) -> None:
    broker, pis, url, log = floor
    shots = shots_dir(tmp_path)
    with Browser(tmp_path / "profile") as browser:
        browser.navigate(url)
        # Nothing but the sign-in form before signing in.
        assert browser.evaluate("document.getElementById('board').hidden") is True

        # A viewer sees every tile, and the tiles follow the treadmills.
        sign_in(browser, VIEWER)
        browser.wait(f"document.querySelectorAll('.tile').length === {len(TREADMILLS)}")
        browser.wait("[...document.querySelectorAll('.tile')].every(t => t.dataset.online "
                     "=== 'yes' && t.dataset.stale === 'no')")
        assert tile_text(browser, "tm1", "state") == "RUNNING"
        assert tile_text(browser, "tm4", "state") == "READY"
        pis["tm4"].send_status(state="running", runner="dee", commanded_kmh=1.2, actual_kmh=1.1,
                               session_s=5.0)
        browser.wait(f"document.querySelector('.tile[data-key=\"{SITE}/tm4\"]')"
                     f".dataset.state === 'running'")
        assert "dee" in tile_text(browser, "tm4", "runner")
        assert tile_text(browser, "tm4", "speed") == "1.2 set · 1.1 belt km/h"
        pis["tm3"].send_event(4, "caution", "stumble: slowing to 1.0 km/h")
        pis["tm3"].send_status(runner="runner3", commanded_kmh=1.0, actual_kmh=1.2, levels={
            "imu": "caution", "imu_reason": "stumble", "cadence_spm": 96.0,
            "rail_contact": True})
        browser.wait(f"document.querySelector('.tile[data-key=\"{SITE}/tm3\"] .alarm')"
                     f".textContent === 'caution: stumble'")
        browser.wait("[...document.querySelectorAll('#events td')].some(td => "
                     "td.textContent.includes('stumble: slowing'))")

        # A viewer has no stop button, and a stop sent anyway is refused and logged.
        assert browser.evaluate("document.querySelector('.stop-button').offsetParent") is None
        refused = browser.evaluate(
            "api('/api/stop', {site: 'gym', treadmill: 'tm1', confirm: true})"
            ".then(r => r.status)")
        assert refused == 403
        assert "STOP REFUSED for gym/tm1: bob is a viewer" in log.read_text()
        browser.click("#signout")

        # A supervisor stops tm2 after confirming; only tm2 latches.
        sign_in(browser, SUPERVISOR)
        browser.wait(f"document.querySelectorAll('.tile').length === {len(TREADMILLS)}")
        tm2 = f".tile[data-key=\"{SITE}/tm2\"]"
        browser.click(f"{tm2} .stop-button")
        browser.wait("document.getElementById('confirm').open")
        assert "tm2" in browser.evaluate("document.getElementById('confirm-name').textContent")
        browser.screenshot(shots / "dashboard-confirm.png")
        browser.click("#confirm-cancel")  # cancel first: nothing is sent
        browser.wait("!document.getElementById('confirm').open")
        pis["tm2"].barrier()
        assert pis["tm2"].commands == []
        browser.click(f"{tm2} .stop-button")
        browser.wait("document.getElementById('confirm').open")
        browser.click("#confirm-stop")
        browser.wait(f"document.querySelector('{tm2} .result').dataset.outcome === 'sent'")
        topic, payload = pis["tm2"].wait_command()
        assert topic == f"treadguard/{SITE}/tm2/cmd/stop/dashboard" and payload["by"] == SUPERVISOR
        browser.wait(f"document.querySelector('{tm2}').dataset.state === 'latched'")
        for pi in pis.values():
            pi.barrier()
        assert log.read_text().count("STOP SENT") == 1, log.read_text()
        assert {tm: len(pi.commands) for tm, pi in pis.items()} == {
            "tm1": 0, "tm2": 1, "tm3": 0, "tm4": 0}
        states = browser.evaluate("Object.fromEntries([...document.querySelectorAll('.tile')]"
                                  ".map(t => [t.dataset.key, t.dataset.state]))")
        assert states == {f"{SITE}/tm1": "running", f"{SITE}/tm2": "latched",
                          f"{SITE}/tm3": "running", f"{SITE}/tm4": "running"}
        assert "STOP SENT for gym/tm2 pressed by alice" in log.read_text()

        # A client without the ACL publishing a stop changes nothing.
        rogue = client(broker, "intruder", client_id="rogue")
        rogue.connect(broker.host, broker.port)
        rogue.loop_start()
        for leaf in ("cmd/stop/intruder", "cmd/stop/dashboard"):
            rogue.publish(topics.topic(SITE, "tm3", leaf), json.dumps({"by": "mallory"}),
                          qos=1).wait_for_publish(WAIT_S)
        rogue.disconnect()
        rogue.loop_stop()
        pis["tm3"].barrier()
        assert pis["tm3"].commands == []
        assert tile_text(browser, "tm3", "state") == "RUNNING"

        png = browser.screenshot(shots / "dashboard.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000

        # A treadmill whose status stops coming goes stale; the others do not.
        pis["tm4"].stop_beating()
        browser.wait(f"document.querySelector('.tile[data-key=\"{SITE}/tm4\"]')"
                     f".dataset.stale === 'yes'", timeout_s=STALE_AFTER_S + 10)
        assert tile_text(browser, "tm4", "age").startswith("STALE: no status for")
        assert browser.evaluate("[...document.querySelectorAll('.tile')].filter(t => "
                                "t.dataset.stale === 'yes').length") == 1

        # The broker lost: the page says so.
        assert broker.process is not None
        broker.process.terminate()
        broker.process.wait(WAIT_S)
        browser.wait("!document.getElementById('link').hidden && document.getElementById("
                     "'link').textContent.includes('Dashboard disconnected from broker')")
        assert tile_text(browser, "tm3", "age") == "dashboard disconnected from broker"
        assert tile_text(browser, "tm3", "online") == "online ?"
        assert browser.evaluate("[...document.querySelectorAll('.stop-button')]"
                                ".every(b => b.disabled)") is True
        browser.screenshot(shots / "dashboard-disconnected.png")


# --- with the real controller ---------------------------------------------------------------

def test_a_stop_pressed_in_chromium_latches_that_real_controller_only(
        tmp_path: Path, build_sim: Build, sim_settings: cfg.Settings) -> None:
    """Three simulated treadguards — the real daemon code on simulated hardware, each with the
    real fleet publisher — running their belts; a supervisor stops one from the page."""
    names = ["tm1", "tm2", "tm3"]
    base = dataclasses.replace(sim_settings, paths=PathsSettings(state_dir=str(tmp_path / "st")))
    pis: list[Pi] = []
    with running_broker(tmp_path / "broker", names) as broker:
        try:
            for name in names:
                pi = start_pi(pis, build_sim, fleet_settings(base, broker.url, tmp_path, name))
                wait_for(lambda pi=pi: pi.fleet.counters.connects == 1)  # type: ignore[misc]
                pi.run_until_running(1.0)
            with dashboard_process(tmp_path, broker) as (url, log), \
                    Browser(tmp_path / "profile") as browser:
                browser.navigate(url)
                sign_in(browser, SUPERVISOR)
                browser.wait("[...document.querySelectorAll('.tile')].filter(t => "
                             "t.dataset.state === 'running').length === 3")
                tm2 = f".tile[data-key=\"{SITE}/tm2\"]"
                pressed_s = pis[1].system.clock.now_s()
                browser.click(f"{tm2} .stop-button")
                browser.wait("document.getElementById('confirm').open")
                browser.click("#confirm-stop")
                browser.wait(f"document.querySelector('{tm2} .result').dataset.outcome "
                             f"=== 'sent'")
                wait_for(lambda: pis[1].fleet.counters.remote_stops == 1, what="the stop")
                sup = pis[1].system.supervisor
                assert pis[1].system.loop.run_until(lambda: sup.state is State.LATCHED, 6.0)
                for pi in pis:
                    pi.system.loop.run(1.0)
                browser.wait(f"document.querySelector('{tm2}').dataset.state === 'latched'")
                browser.wait("[...document.querySelectorAll('#events td')].some(td => "
                             "td.textContent.includes('remote stop from dashboard'))")
                states = browser.evaluate(
                    "Object.fromEntries([...document.querySelectorAll('.tile')]"
                    ".map(t => [t.dataset.key, t.dataset.state]))")
                assert states == {f"{SITE}/tm1": "running", f"{SITE}/tm2": "latched",
                                  f"{SITE}/tm3": "running"}
                assert "stop_requested" in tile_text(browser, "tm2", "alarm")
                assert tile_text(browser, "tm1", "runner") == "—"  # no runner on the belt
                browser.screenshot(shots_dir(tmp_path) / "dashboard-real-controllers.png")
            # On the wire and on the belt: tm2 stopped and stays stopped; the others run on.
            assert [b for t, b in host_bytes(pis[1].system) if t >= pressed_s and b == STOP]
            assert treadmill(pis[1].system)["belt_kmh"] == 0.0 and sup.state is State.LATCHED
            assert [pi.fleet.counters.remote_stops for pi in pis] == [0, 1, 0]
            assert pis[0].system.supervisor.state is State.RUNNING
            assert pis[2].system.supervisor.state is State.RUNNING
            assert "STOP SENT for gym/tm2 pressed by alice" in log.read_text()
        finally:
            for pi in pis:
                pi.close()


def test_the_floor_of_fleet_sim_in_chromium(tmp_path: Path) -> None:
    """``treadguard fleet-sim``: three simulated treadguards, each the daemon's code on
    simulated hardware in its own process with runners on their belts, publishing to the
    broker; a supervisor stops one from the page."""
    names = ["tm1", "tm2", "tm3"]
    password = tmp_path / "pi-password"
    password.write_text(PASSWORD + "\n")
    with running_broker(tmp_path / "broker", names) as broker:
        sim_log = tmp_path / "fleet-sim.log"
        with sim_log.open("wb") as out:
            sim = subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "fleet-sim", "--broker", broker.url,
                 "--count", "3", "--duration-s", "120", "--pace", "2", "--seed", "1",
                 "--password-file", str(password), "--status-interval-s", "0.5",
                 "--config", str(SIM_TOML)], stdout=out, stderr=out)
        try:
            with dashboard_process(tmp_path, broker) as (url, log), \
                    Browser(tmp_path / "profile") as browser:
                browser.navigate(url)
                sign_in(browser, SUPERVISOR)
                browser.wait("[...document.querySelectorAll('.tile')].filter(t => "
                             "t.dataset.state === 'running' && t.dataset.online === 'yes')"
                             ".length === 3", timeout_s=90)
                assert tile_text(browser, "tm1", "runner").startswith("tm1-r1")
                tm2 = f".tile[data-key=\"{SITE}/tm2\"]"
                browser.click(f"{tm2} .stop-button")
                browser.wait("document.getElementById('confirm').open")
                browser.click("#confirm-stop")
                browser.wait(f"document.querySelector('{tm2} .result').dataset.outcome "
                             f"=== 'sent'")
                browser.wait(f"document.querySelector('{tm2}').dataset.state === 'latched'")
                assert "stop_requested" in tile_text(browser, "tm2", "alarm")
                browser.wait("[...document.querySelectorAll('#events td')].some(td => "
                             "td.textContent.includes('remote stop from dashboard'))")
                # The two others run on (their next statuses still say running).
                for other in ("tm1", "tm3"):
                    assert tile_text(browser, other, "state") == "RUNNING"
                browser.screenshot(shots_dir(tmp_path) / "dashboard-fleet-sim.png")
                assert "STOP SENT for gym/tm2 pressed by alice" in log.read_text()
        finally:
            sim.send_signal(signal.SIGINT)
            sim.wait(60)
        # fleet-sim's own account at the end: one remote stop, tm2's.
        summary = {line.split(":", 1)[0]: line for line in sim_log.read_text().splitlines()
                   if line.startswith(("tm1:", "tm2:", "tm3:"))}
        assert "1 remote stop(s)" in summary["tm2"], sim_log.read_text()
        assert all("0 remote stop(s)" in summary[n] for n in ("tm1", "tm3"))
