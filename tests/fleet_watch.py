"""The fleet tests' helpers: a broker client (what a dashboard, an intruder or a rogue sees and
sends), the settings with ``[fleet]`` on, and a simulated Pi with its session services.

Waiting for it is waiting on a real network peer: polled, bounded (``wait_for``), never a
fixed sleep standing in for the controller's behaviour.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller import config as cfg
from controller.fleet.publisher import FleetPublisher
from controller.sessions import SessionServices, start_services
from controller.settings import FleetSettings
from controller.supervisor import State
from hardware.sim.scenarios import Scenario
from tests.conftest import Build, SimSystem
from tests.fleet_broker import PASSWORD, SITE, Broker, mosquitto_tool, pi_user

_ids = itertools.count()


@dataclasses.dataclass(frozen=True)
class Received:
    topic: str
    payload: Any  # the JSON value, or the raw bytes if it is not JSON
    qos: int
    retain: bool

    @property
    def leaf(self) -> str:
        return self.topic.split("/", 3)[3]


def wait_for(done: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    """Poll ``done`` (a network peer's answer) every 20 ms for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or done}")
        time.sleep(0.02)


class Watcher:
    """A client connected as ``user`` (password :data:`PASSWORD`), subscribed to ``topic``."""

    def __init__(self, broker: Broker, user: str = "dashboard",
                 topic: str = "treadguard/#") -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{user}-"
                                  f"{next(_ids)}")
        self.client.username_pw_set(user, PASSWORD)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        wait_for(self._subscribed.is_set, 10.0, "the subscription")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            payload: Any = json.loads(msg.payload)
        except ValueError:
            payload = bytes(msg.payload)
        with self._lock:
            self.received.append(Received(msg.topic, payload, msg.qos, bool(msg.retain)))

    def of(self, leaf: str, treadmill: str | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self.received if m.leaf == leaf
                    and (treadmill is None or m.topic.split("/")[2] == treadmill)]

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10.0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def fleet_settings(settings: cfg.Settings, broker_url: str, directory: Path,
                   treadmill: str = "tm1", **changes: Any) -> cfg.Settings:
    """``settings`` with ``[fleet]`` on, publishing ``treadmill`` as its Pi user."""
    password = directory / f"{treadmill}.password"
    password.write_text(PASSWORD + "\n")
    fleet = FleetSettings(enabled=True, broker_url=broker_url, site=SITE, treadmill=treadmill,
                          username=pi_user(treadmill), password_file=str(password),
                          status_interval_s=0.2, **changes)
    return dataclasses.replace(settings, fleet=fleet)


class Pi:
    """A simulated treadguard with its session services (the fleet's publisher among them)."""

    def __init__(self, build_sim: Build, settings: cfg.Settings,
                 scenario: str | Scenario = "walk") -> None:
        self.system: SimSystem = build_sim(scenario, settings)
        self.services: SessionServices = start_services(self.system, settings, serve=False)
        assert self.services.fleet is not None
        self.fleet: FleetPublisher = self.services.fleet

    def run_until_running(self, then_s: float = 0.0) -> None:
        """Tick until the belt runs (the scenario's operator starts it), then ``then_s``."""
        sup = self.system.supervisor
        assert self.system.loop.run_until(lambda: sup.state is State.RUNNING, 10.0)
        self.system.loop.run(then_s)

    def close(self) -> None:
        self.system.shutdown()
        self.services.close()


def start_pi(pis: list[Pi], build_sim: Build, settings: cfg.Settings,
             scenario: str | Scenario = "walk") -> Pi:
    pis.append(Pi(build_sim, settings, scenario))
    return pis[-1]


def made_pis() -> Iterator[list[Pi]]:
    """For a ``pis`` fixture: the Pis a test starts (:func:`start_pi`), closed after it."""
    made: list[Pi] = []
    yield made
    for pi in made:
        pi.close()


def write_passwd(path: Path, users: list[str]) -> None:
    """A mosquitto password file giving every user :data:`PASSWORD`."""
    path.write_text("")
    for user in users:
        subprocess.run([mosquitto_tool("mosquitto_passwd"), "-b", str(path), user, PASSWORD],
                       check=True, capture_output=True)
    path.chmod(0o600)
