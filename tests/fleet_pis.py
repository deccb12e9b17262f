"""Stand-ins for treadguard Pis on the fleet broker, for the dashboard's tests: plain paho
clients that log in as ``pi-<treadmill>``, publish ``online`` (with its Last Will), ``status``
and ``events`` as :mod:`controller.fleet.topics` says, and record every message that reaches
their own ``cmd/#`` (the broker's ACL lets a Pi read nothing else)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller.fleet import topics
from tests.fleet_broker import PASSWORD, SITE, Broker, pi_user

WAIT_S = 10.0


def wall() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def status(treadmill: str, state: str = "running", **changes: Any) -> dict[str, Any]:
    """A status payload with every key of :data:`topics.STATUS_KEYS`."""
    body: dict[str, Any] = dict.fromkeys(topics.STATUS_KEYS)
    body.update(schema=topics.SCHEMA, site=SITE, treadmill=treadmill, wall=wall(), t_s=12.5,
                state=state, reason="None", power_cut=False, runner="ann", profile="beginner",
                phase="bout", bout=2, commanded_kmh=1.5, actual_kmh=1.5,
                levels={"imu": "ok", "imu_reason": None, "cadence_spm": 118.0,
                        "rail_contact": False},
                session_s=125.0, cautions=1, steps=240)
    body.update(changes)
    return body


def client(broker: Broker, user: str, client_id: str | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or user)
    c.username_pw_set(user, PASSWORD)
    return c


class FakePi:
    """A treadmill's publisher, connected and listening on its ``cmd/#``."""

    def __init__(self, broker: Broker, treadmill: str) -> None:
        self.treadmill = treadmill
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self._got = threading.Condition()
        self._ready = threading.Event()
        self.client = client(broker, pi_user(treadmill))
        self.client.will_set(self.topic(topics.ONLINE),
                             json.dumps({"online": False, "wall": wall()}), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *_args: self._ready.clear()
        self.last_status: dict[str, Any] | None = None
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        if not self._ready.wait(WAIT_S):
            raise AssertionError(f"{treadmill}: the fake Pi did not connect")

    def topic(self, leaf: str) -> str:
        return topics.topic(SITE, self.treadmill, leaf)

    def wait_connected(self) -> None:
        """Return once connected (again: paho reconnects by itself)."""
        if not self._ready.wait(WAIT_S):
            raise AssertionError(f"{self.treadmill}: the fake Pi is not connected")

    def _on_connect(self, c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        c.subscribe(self.topic("cmd/#"), qos=1)
        c.publish(self.topic(topics.ONLINE), json.dumps({"online": True, "wall": wall()}),
                  qos=1, retain=True)
        self._ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._got:
            self.commands.append((message.topic, json.loads(message.payload)))
            self._got.notify_all()

    def publish(self, leaf: str, body: dict[str, Any] | bytes, retain: bool = False,
                qos: int = 1) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1)."""
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(self.topic(leaf), payload, qos=qos, retain=retain).wait_for_publish(
            WAIT_S)

    def send_status(self, **changes: Any) -> None:
        self.last_status = status(self.treadmill, **changes)
        self.publish(topics.STATUS, self.last_status, retain=True)

    def start_beating(self, interval_s: float) -> None:
        """Republish the last status (a fresh ``wall``) every ``interval_s``, as a Pi does."""
        def beat() -> None:
            while not self._beat_stop.wait(interval_s):
                if self.last_status is not None:
                    self.last_status = {**self.last_status, "wall": wall()}
                    self.client.publish(self.topic(topics.STATUS),
                                        json.dumps(self.last_status), qos=0, retain=True)
        self._beat = threading.Thread(target=beat, name=f"beat-{self.treadmill}", daemon=True)
        self._beat.start()

    def stop_beating(self) -> None:
        self._beat_stop.set()
        if self._beat is not None:
            self._beat.join()

    def send_event(self, seq: int, kind: str, message: str) -> None:
        self.publish(topics.EVENTS, {"schema": topics.SCHEMA, "seq": seq, "wall": wall(),
                                     "t_s": 1.0, "kind": kind, "message": message,
                                     "dropped_before": 0})

    def barrier(self) -> None:
        """Return once every message the broker had queued for this Pi before now has been
        received: the acknowledgement of a QoS 1 publish comes back on the same connection,
        after them."""
        self.publish(topics.ONLINE, {"online": True, "wall": wall()}, retain=True)

    def wait_command(self) -> tuple[str, dict[str, Any]]:
        with self._got:
            if not self._got.wait_for(lambda: self.commands, WAIT_S):
                raise AssertionError(f"{self.treadmill}: no command within {WAIT_S} s")
            return self.commands[0]

    def close(self) -> None:
        self.stop_beating()
        self.client.disconnect()
        self.client.loop_stop()
