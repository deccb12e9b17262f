"""The dashboard's MQTT client (paho-mqtt 2.x): subscribes to ``treadguard/#`` and feeds the
:class:`~controller.fleet.dashboard_state.Board`; publishes one thing only, a stop for one
treadmill on ``treadguard/<site>/<treadmill>/cmd/stop/<broker user>`` at QoS 1.

It connects once at start (an unreachable broker or refused credentials is a one-line
:class:`LinkError`); later losses are reconnected by paho's network thread (1 s, doubling to
30 s), the board showing "disconnected" meanwhile. A stop pressed while disconnected is not
queued: it fails at once and the page says so (a stop that arrives minutes later would surprise
the people at the treadmill).
"""

from __future__ import annotations

import json
import ssl
import threading
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from controller.fleet import topics
from controller.fleet.dashboard_state import Board
from controller.fleet.url import BrokerAddress, parse_broker_url

SUBSCRIPTIONS: Final = tuple(topics.topic("+", "+", leaf) for leaf in (
    topics.ONLINE, topics.STATUS, topics.EVENTS, topics.SESSION))
"""What the treadguards publish; never ``cmd/``. Only treadguards listen on ``cmd/``, so when
the broker answers a stop with "no matching subscribers", no treadguard heard it."""
NO_MATCHING_SUBSCRIBERS: Final = 0x10
"""MQTT 5 PUBACK reason: the broker took the message and nobody was subscribed to it."""
STOP_ACK_TIMEOUT_S: Final = 5.0
"""How long a stop waits for the broker's PUBACK before the page is told it may not have gone."""


class LinkError(Exception):
    """The broker cannot be used; one line naming it."""


def parse_broker(url: str) -> BrokerAddress:
    """The broker of ``--broker URL``; :class:`LinkError` if it is not one."""
    if "@" in url:  # the shared parser's hint names the Pi's [fleet] options
        raise LinkError(f"--broker {url.split('@')[-1]!r}: give the user with --broker-user "
                        f"and the password in --broker-password-file, not in the URL")
    address = parse_broker_url(url)
    if isinstance(address, str):
        raise LinkError(f"--broker: {address}")
    return address


class BrokerLink:
    """The dashboard's connection to the broker.

    Args:
        address: the broker.
        board: fed with every message and with the link's state.
        user, password: the dashboard's broker credentials (None: anonymous); ``user`` is the
            last level of every stop topic it publishes, so the broker's ACL must let it write
            ``treadguard/+/+/cmd/stop/<user>``.
        ca_file: the CA that signed the broker's certificate (TLS; None: the system's CAs).
        client_id: the MQTT client id (unique per dashboard).
    """

    def __init__(self, address: BrokerAddress, board: Board, user: str | None,
                 password: str | None, ca_file: str | None = None,
                 client_id: str = "treadguard-dashboard") -> None:
        if user is not None and topics.NAME_RE.fullmatch(user) is None:
            raise LinkError(f"--broker-user {user!r}: expected 1-32 letters, digits, '_' or '-' "
                            f"(it is a level of the stop topic)")
        self.address = address
        self.board = board
        self.user = user
        board.broker = address.url
        self._connected = threading.Event()
        self._refused: str | None = None
        self._acks: dict[int, ReasonCode] = {}
        self._acked = threading.Condition()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        if user is not None:
            client.username_pw_set(user, password)
        if address.tls:
            try:
                client.tls_set(ca_certs=ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise LinkError(f"--ca-file {ca_file}: {exc}") from None
        elif ca_file is not None:
            raise LinkError("--ca-file is for an mqtts:// broker")
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; :class:`LinkError` if the broker cannot be reached or refuses
        the credentials within ``timeout_s``."""
        where = self.address.url
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=15)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise LinkError(f"broker {where}: cannot connect: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
        self._client.loop_start()
        if not self._connected.wait(timeout_s) or self._refused is not None:
            self.close()
            raise LinkError(f"broker {where}: " + (f"refused the connection: {self._refused}"
                                                   if self._refused else
                                                   f"no answer within {timeout_s:g} s"))

    def publish_stop(self, site: str, treadmill: str, by: str) -> str:
        """Publish a stop for one treadmill (QoS 1) and wait for the broker's acknowledgement;
        the topic. :class:`LinkError` if the dashboard is disconnected or no ack came."""
        for what, name in (("site", site), ("treadmill", treadmill)):
            problem = topics.name_problem(what, name)
            if problem is not None:
                raise LinkError(problem)
        if not self._client.is_connected():
            raise LinkError("dashboard disconnected from broker: stop NOT sent")
        topic = topics.stop_topic(site, treadmill, self.user or "anonymous")
        payload = json.dumps({"schema": topics.SCHEMA, "by": by, "source": "dashboard",
                              "wall": datetime.now(UTC).isoformat(timespec="milliseconds")})
        info = self._client.publish(topic, payload, qos=1, retain=False)
        try:
            info.wait_for_publish(STOP_ACK_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            raise LinkError(f"stop on {topic} not sent: {exc}") from None
        with self._acked:
            self._acked.wait_for(lambda: info.mid in self._acks, STOP_ACK_TIMEOUT_S)
            reason = self._acks.pop(info.mid, None)
        if reason is None:
            raise LinkError(f"stop on {topic}: no acknowledgement from the broker within "
                            f"{STOP_ACK_TIMEOUT_S:g} s")
        if reason.is_failure:
            raise LinkError(f"the broker refused the stop on {topic}: {reason} (its ACL must "
                            f"let {self.user or 'this user'} write it)")
        if reason.value == NO_MATCHING_SUBSCRIBERS:
            raise LinkError(f"no treadguard is listening on {topic} (is {site}/{treadmill} "
                            f"offline?)")
        return topic

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.board.set_connected(False, "dashboard closing")

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason: ReasonCode, _properties: Properties | None) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self.board.set_connected(False, f"refused: {reason}")
        else:
            self._refused = None
            client.subscribe([(name, SubscribeOptions(qos=1)) for name in SUBSCRIPTIONS])
            self.board.set_connected(True)
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: ReasonCode, _properties: Properties | None) -> None:
        self.board.set_connected(False, str(reason))

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode,
                    _properties: Properties | None) -> None:
        with self._acked:
            self._acks[mid] = reason
            self._acked.notify_all()

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        self.board.on_message(message.topic, bytes(message.payload))
