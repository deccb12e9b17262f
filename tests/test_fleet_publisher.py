"""The fleet's publisher against a real mosquitto (tests/fleet_broker.py) on the simulated
machine: retained status, events in order at QoS 1, the Last Will, the buffer while the broker
is down, and the one-line errors of a bad ``[fleet]`` section."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main
from controller.events import EventKind
from controller.fleet import topics
from controller.fleet.publisher import COMMANDS_PER_S, LOG_BURST, FleetError, Pacer
from controller.sessions import start_services
from controller.settings import PathsSettings
from controller.supervisor import State
from hardware.sim.scenarios import Action, BackwardWalkWithSlip, Scenario
from hardware.trackmaster_protocol import START_CDS, STOP
from tests.conftest import SIM_TOML, Build, SimSystem, host_bytes, treadmill
from tests.fleet_broker import SITE, Broker, free_port, running_broker
from tests.fleet_watch import Pi, Watcher, fleet_settings, made_pis, start_pi, wait_for


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker", ["tm1", "tm2"], rogues=("rogue",)) as b:
        yield b


@pytest.fixture
def on(broker: Broker, base_settings: cfg.Settings, tmp_path: Path) -> cfg.Settings:
    """The simulated machine's settings with [fleet] on, publishing tm1 to ``broker``."""
    return fleet_settings(base_settings, broker.url, tmp_path)


@pytest.fixture
def watcher(broker: Broker) -> Iterator[Watcher]:
    """A dashboard user's client, subscribed to everything before the test starts."""
    w = Watcher(broker)
    yield w
    w.close()


@pytest.fixture
def base_settings(sim_settings: cfg.Settings, tmp_path: Path) -> cfg.Settings:
    return dataclasses.replace(sim_settings, paths=PathsSettings(state_dir=str(tmp_path / "st")))


pis = pytest.fixture(made_pis)


def test_status_is_retained_with_every_status_key(
        broker: Broker, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    pi.system.loop.run(0.5)
    wait_for(lambda: pi.fleet.counters.statuses >= 2, what="two statuses")
    late = Watcher(broker)  # connects after they were sent: sees the retained ones
    try:
        wait_for(lambda: bool(late.of("status")) and bool(late.of("online")))
        status = late.of("status")[0]
        assert status.retain and status.topic == topics.topic(SITE, "tm1", topics.STATUS)
        assert tuple(status.payload) == topics.STATUS_KEYS
        p = status.payload
        assert (p["site"], p["treadmill"], p["schema"]) == (SITE, "tm1", topics.SCHEMA)
        assert p["state"] == "latched" and p["reason"] == "power_on" and p["power_cut"] is True
        assert p["commanded_kmh"] == 0.0 and p["levels"]["imu"] in ("ok", "caution", "stop")
        assert p["wall"].endswith("Z")
        online = late.of("online")[0]
        assert online.retain and online.payload["online"] is True
    finally:
        late.close()


def test_the_status_follows_the_belt(
        watcher: Watcher, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    sup = pi.system.supervisor
    assert pi.system.loop.run_until(lambda: sup.state is State.RUNNING, 10.0)
    pi.system.loop.run(3.0)
    pi.fleet.publish_status()  # now, rather than at the next interval
    wait_for(lambda: any(m.payload["state"] == "running"
                         and (m.payload["commanded_kmh"] or 0) > 0
                         for m in watcher.of("status")), what="a running status")


def test_events_arrive_in_order_at_qos_1(
        watcher: Watcher, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    wait_for(lambda: pi.fleet.counters.connects == 1, what="the connection")
    sup = pi.system.supervisor
    pi.system.loop.run_until(lambda: sup.state is State.RUNNING, 10.0)
    pi.system.loop.run(1.0)
    sent = pi.fleet.counters
    wait_for(lambda: len(watcher.of("events")) == sent.events_sent
             and not pi.fleet._buffer, what="every event")
    got = [m.payload for m in watcher.of("events")]
    assert all(m.qos == 1 and not m.retain for m in watcher.of("events"))
    assert [e["seq"] for e in got] == list(range(got[0]["seq"], got[0]["seq"] + len(got)))
    assert all(tuple(e) == topics.EVENT_KEYS and e["dropped_before"] == 0 for e in got)
    # The controller's own events, in its order: the reset, the start, the state changes.
    expected = [e.message for e in pi.system.events
                if e.kind not in (EventKind.SPEED, EventKind.LEVEL)]
    assert [e["message"] for e in got] == expected[-len(got):]
    kinds = {e["kind"] for e in got}
    assert {"state", "input", "cue"} <= kinds and "speed" not in kinds
    assert any(e["message"].startswith("state ") and "running" in e["message"] for e in got)


def test_the_last_will_marks_the_treadmill_offline_when_its_connection_dies(
        watcher: Watcher, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    wait_for(lambda: any(m.payload["online"] for m in watcher.of("online")))
    # The Pi vanishes: its network thread gone, its socket closed, no DISCONNECT sent.
    client = pi.fleet._client
    client.loop_stop()
    sock = client.socket()
    assert sock is not None
    sock.close()
    wait_for(lambda: any(m.payload["online"] is False for m in watcher.of("online")),
             what="the Last Will")
    will = next(m for m in watcher.of("online") if m.payload["online"] is False)
    assert will.payload == {"online": False, "wall": None}


def test_a_clean_shutdown_says_offline_after_the_last_events(
        watcher: Watcher, build_sim: Build, on: cfg.Settings) -> None:
    pi = Pi(build_sim, on)
    wait_for(lambda: pi.fleet.counters.connects == 1)
    pi.close()
    wait_for(lambda: any(m.payload["online"] is False for m in watcher.of("online")))
    offline = next(m for m in watcher.of("online") if m.payload["online"] is False)
    assert offline.payload["wall"] is not None  # said by the Pi, not the broker's will
    # The shutdown's stop went out before the treadmill went offline.
    assert any("shutdown" in m.payload["message"] for m in watcher.of("events"))


def test_events_wait_while_the_broker_is_down_and_the_oldest_are_dropped_and_counted(
        build_sim: Build, base_settings: cfg.Settings, tmp_path: Path, pis: list[Pi]) -> None:
    port = free_port()
    settings = fleet_settings(base_settings, f"mqtt://127.0.0.1:{port}", tmp_path,
                              event_buffer=10)
    pi = start_pi(pis, build_sim, settings)  # the broker is not there: this returns at once
    events = pi.system.events
    wait_for(lambda: any("unreachable" in e.message for e in events), what="a failed connect")
    pi.system.loop.run(0.5)  # the loop runs on without the broker
    assert pi.system.loop.ticks >= 100
    for i in range(25):
        events.add(pi.system.clock.now_s(), EventKind.INFO, f"test event {i}")
    assert pi.fleet.counters.events_sent == 0
    with running_broker(tmp_path / "late-broker", ["tm1"], port=port) as broker:
        watcher = Watcher(broker)
        try:
            wait_for(lambda: any(m.payload["message"] == "test event 24"
                                 for m in watcher.of("events")), 30.0, "the buffered events")
            got = [m.payload for m in watcher.of("events")]
        finally:
            watcher.close()
    messages = [e["message"] for e in got]
    # The newest were kept, in order (the ten the buffer holds, less any pushed out by the
    # fleet's own "connected" line); the older ones were dropped, oldest first, and the first
    # event sent says how many.
    kept = [m for m in messages if m.startswith("test event")]
    assert len(kept) >= 9 and kept == [f"test event {i}" for i in range(25 - len(kept), 25)]
    assert messages[:len(kept)] == kept
    first = got[0]
    assert first["dropped_before"] == first["seq"] - 1 >= 15
    assert pi.fleet.counters.events_dropped == first["dropped_before"]
    assert [e["dropped_before"] for e in got[1:]] == [0] * (len(got) - 1)


def test_a_missing_password_file_refuses_to_start_with_one_line(
        base_settings: cfg.Settings, build_sim: Build, tmp_path: Path) -> None:
    settings = fleet_settings(base_settings, "mqtt://127.0.0.1:1", tmp_path)
    settings = dataclasses.replace(settings, fleet=dataclasses.replace(
        settings.fleet, password_file=str(tmp_path / "nowhere")))
    system = build_sim("walk", settings)
    with pytest.raises(FleetError) as info:
        start_services(system, settings, serve=False)
    assert "[fleet] password_file" in str(info.value) and "nowhere" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("lines", "words"), [
    ('enabled = true\nsite = "gym"\ntreadmill = "tm1"', "broker_url: missing"),
    ('enabled = true\nbroker_url = "http://x:1"\nsite = "gym"\ntreadmill = "tm1"',
     "broker_url: expected"),
    ('enabled = true\nbroker_url = "mqtt://x:99999"\nsite = "gym"\ntreadmill = "tm1"',
     "broker_url: expected"),
    ('enabled = true\nbroker_url = "mqtt://x"\nsite = "gym/#"\ntreadmill = "tm1"',
     "site: expected"),
    ('enabled = true\nbroker_url = "mqtt://x"\nsite = "gym"\ntreadmill = "a+b"',
     "treadmill: expected"),
    ('enabled = true\nbroker_url = "mqtt://u:p@x"\nsite = "gym"\ntreadmill = "t"',
     "password_file"),
    ('enabled = true\nbroker_url = "mqtt://x"\nsite = "gym"\ntreadmill = "t"\n'
     'password_file = "pw"', "password_file: needs username"),
    ('enabled = true\nbroker_url = "mqtt://x"\nsite = "gym"\ntreadmill = "t"\n'
     'ca_file = "ca.pem"', "ca_file: needs TLS"),
    ('enabled = true\nbroker_url = "mqtts://x"\nsite = "gym"\ntreadmill = "t"\n'
     'cert_file = "c.pem"', "key_file"),
    ("status_interval_s = 0", "status_interval_s"),
    ("event_buffer = 5", "event_buffer"),
])
def test_a_bad_fleet_section_is_a_one_line_error_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, words: str) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(SIM_TOML.read_text(encoding="utf-8") + f"\n[fleet]\n{lines}\n")
    assert main(["run", "--config", str(path), "--duration-s", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "[fleet]" in err and words in err


def test_the_daemon_starts_and_runs_with_the_broker_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Safety never depends on the network: no broker, and `treadguard run` runs and stops as
    always, saying the broker is unreachable."""
    password = tmp_path / "pw"
    password.write_text("x\n")
    path = tmp_path / "fleet.toml"
    path.write_text(SIM_TOML.read_text(encoding="utf-8") + (
        f'\n[fleet]\nenabled = true\nbroker_url = "mqtt://127.0.0.1:{free_port()}"\n'
        f'site = "gym"\ntreadmill = "tm1"\nusername = "pi-tm1"\npassword_file = "pw"\n'))
    assert main(["run", "--config", str(path), "--duration-s", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "unreachable" in out and "treadguard stopped after" in out


def test_the_payloads_are_json_the_dashboard_can_read(
        watcher: Watcher, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    pi.system.loop.run(0.3)
    wait_for(lambda: bool(watcher.of("status")) and bool(watcher.of("events")))
    for m in watcher.received:
        assert isinstance(m.payload, dict), m
        json.dumps(m.payload)


# ---------------------------------------------------------------- remote commands


def stop_bytes_after(system: SimSystem, t_s: float) -> list[int]:
    return [b for t, b in host_bytes(system) if t >= t_s and b == STOP]


def test_a_stop_from_a_supervisor_latches_that_treadmill_only_and_names_the_user(
        broker: Broker, watcher: Watcher, build_sim: Build, base_settings: cfg.Settings,
        tmp_path: Path, pis: list[Pi]) -> None:
    tm1 = start_pi(pis, build_sim, fleet_settings(base_settings, broker.url, tmp_path, "tm1"))
    tm2 = start_pi(pis, build_sim, fleet_settings(base_settings, broker.url, tmp_path, "tm2"))
    wait_for(lambda: tm1.fleet.counters.connects == 1 and tm2.fleet.counters.connects == 1)
    tm1.run_until_running(2.0)
    tm2.run_until_running(2.0)
    asked_s = tm1.system.clock.now_s()
    watcher.publish(topics.stop_topic(SITE, "tm1", "dashboard"),
                    json.dumps({"by": "Ann at the front desk"}))
    wait_for(lambda: tm1.fleet.counters.remote_stops == 1, what="the stop to arrive")
    sup1 = tm1.system.supervisor
    assert tm1.system.loop.run_until(lambda: sup1.state is State.LATCHED, 6.0)
    assert sup1.stop_reason == "stop_requested"
    stop = next(e for e in tm1.system.events if e.kind is EventKind.STOP)
    assert "remote stop from dashboard" in stop.message
    assert "claimed by 'Ann at the front desk'" in stop.message
    assert any(e.kind is EventKind.INPUT and e.message.startswith("fleet: remote stop from "
                                                                  "dashboard")
               for e in tm1.system.events)
    # The stop is on the wire and the simulated belt is stopped; nothing restarts it.
    assert stop_bytes_after(tm1.system, asked_s)
    tm1.system.loop.run(2.0)
    assert treadmill(tm1.system)["belt_kmh"] == 0.0 and sup1.state is State.LATCHED
    # The other treadmill runs on.
    tm2.system.loop.run(1.0)
    assert tm2.system.supervisor.state is State.RUNNING and tm2.fleet.counters.remote_stops == 0
    # The dashboard sees who stopped it, as an event.
    wait_for(lambda: any("remote stop from dashboard" in m.payload["message"]
                         for m in watcher.of("events", "tm1")), what="the stop's event")


def test_a_stop_from_a_user_without_the_acl_changes_nothing(
        broker: Broker, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on)
    wait_for(lambda: pi.fleet.counters.connects == 1)
    sup = pi.system.supervisor
    assert pi.system.loop.run_until(lambda: sup.state is State.RUNNING, 10.0)
    intruder, other_pi = Watcher(broker, "intruder"), Watcher(broker, "pi-tm2")
    dashboard = Watcher(broker)
    try:
        for sender in (intruder, other_pi):  # neither may write a stop, not even in another's name
            for user in ("intruder", "pi-tm2", "dashboard"):
                sender.publish(topics.stop_topic(SITE, "tm1", user), "{}")
        # A sentinel after them: the dashboard's garbage is ignored and counted. The broker
        # forwards to the Pi in the order it took the messages: once the sentinel is seen, any
        # of the intruders' stops the broker let through would have been seen before it.
        dashboard.publish(topics.stop_topic(SITE, "tm1", "dashboard"), "not json")
        wait_for(lambda: pi.fleet.counters.ignored_commands == 1, what="the sentinel")
    finally:
        for w in (intruder, other_pi, dashboard):
            w.close()
    pi.system.loop.run(2.0)
    assert pi.fleet.counters.remote_stops == 0
    assert sup.state is State.RUNNING and not any(e.kind is EventKind.STOP
                                                  for e in pi.system.events)


def ready_only() -> Scenario:
    """Reset held, no start pressed: the controller is READY, the belt still."""
    return Scenario(name="ready", duration_s=10.0, target_speed_kmh=None,
                    motion=BackwardWalkWithSlip(0.0, 0.0, None),
                    actions=(Action(0.5, "reset", 1.2, "operator holds reset"),))


ROGUE_COMMANDS: list[tuple[str, bytes]] = [
    ("cmd/start/rogue", b"{}"),
    ("cmd/speed/rogue", b'{"kmh": 8}'),
    ("cmd/set_speed", b'{"kmh": 8}'),
    ("cmd/stop", b"{}"),                      # no user: not a stop topic
    ("cmd/stop/rogue/extra", b"{}"),
    ("cmd/stop/rogue", b"not json"),
    ("cmd/stop/rogue", b"[1, 2]"),
    ("cmd/stop/rogue", b"\xff\xfe"),
    ("cmd/stop/rogue", b'{"by": "' + b"x" * 2000 + b'"}'),   # oversized
]


def test_start_speed_and_garbage_change_nothing_and_are_logged(
        broker: Broker, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    """Even a broker whose ACL lets a rogue write every topic cannot start or speed up a belt:
    the Pi takes nothing but a well-formed, live stop."""
    pi = Pi(build_sim, on, ready_only())
    pis.append(pi)
    sup = pi.system.supervisor
    assert pi.system.loop.run_until(lambda: sup.state is State.READY, 5.0)
    wait_for(lambda: pi.fleet.counters.connects == 1)
    rogue = Watcher(broker, "rogue", "nothing/#")
    try:
        for leaf, payload in ROGUE_COMMANDS:
            rogue.publish(topics.topic(SITE, "tm1", leaf), payload)
        wait_for(lambda: pi.fleet.counters.ignored_commands == len(ROGUE_COMMANDS),
                 what="every command ignored")
    finally:
        rogue.close()
    pi.system.loop.run(3.0)
    assert sup.state is State.READY and pi.fleet.counters.remote_stops == 0
    assert START_CDS not in [b for _, b in host_bytes(pi.system)]  # no A0: the belt never ran
    assert treadmill(pi.system)["belt_kmh"] == 0.0
    lines = [e.message for e in pi.system.events if "remote command ignored" in e.message]
    assert any("cmd/start/rogue" in line for line in lines)
    # Rate-limited: the first LOG_BURST lines, then the count of those left out.
    assert len(lines) == LOG_BURST


def test_a_retained_stop_is_from_the_past_and_is_not_taken(
        broker: Broker, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    """A stop someone left retained would stop the belt again at every reconnect: a stop is
    for now (the dashboard never retains one)."""
    dashboard = Watcher(broker, "dashboard", "nothing/#")
    try:
        dashboard.publish(topics.stop_topic(SITE, "tm1", "dashboard"), b"{}", retain=True)
    finally:
        dashboard.close()
    pi = start_pi(pis, build_sim, on)
    wait_for(lambda: pi.fleet.counters.ignored_commands == 1, what="the retained stop")
    pi.run_until_running(1.0)
    assert pi.fleet.counters.remote_stops == 0
    assert any("a retained message" in e.message for e in pi.system.events)


def test_a_flood_of_garbage_does_not_fill_the_event_log(
        broker: Broker, build_sim: Build, on: cfg.Settings, pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, on, "idle")
    wait_for(lambda: pi.fleet.counters.connects == 1)
    before = len(pi.system.events)
    rogue = Watcher(broker, "rogue", "nothing/#")
    try:
        for i in range(150):
            rogue.client.publish(topics.topic(SITE, "tm1", f"cmd/x{i % 7}"), b"\x00" * 100)
        rogue.publish(topics.topic(SITE, "tm1", "cmd/last"), b"{}")
        # Handled at COMMANDS_PER_S at most (the rest wait at the socket): a few seconds.
        wait_for(lambda: pi.fleet.counters.ignored_commands == 151, 30.0, "the flood")
    finally:
        rogue.close()
    assert len(pi.system.events) - before <= LOG_BURST + 2
    assert pi.system.supervisor.state is State.LATCHED


def slip_session(build_sim: Build, settings: cfg.Settings,
                 during: Callable[[], None] = lambda: None
                 ) -> tuple[list[tuple[float, int]], list[tuple[float, str]], int]:
    """The demo (a start, backward walking, a slip at 11 s, the stop) with the session
    services: the bytes the treadmill received, the stop events, the fleet's ignored count."""
    system = build_sim("demo", settings)
    services = start_services(system, settings, serve=False)
    try:
        if services.fleet is not None:
            fleet = services.fleet
            wait_for(lambda: fleet.counters.connects == 1)
        during()
        system.loop.run(14.0)
        ignored = services.fleet.counters.ignored_commands if services.fleet else 0
        stops = [(e.t_s, e.message) for e in system.events if e.kind is EventKind.STOP]
        return host_bytes(system), stops, ignored
    finally:
        system.shutdown()
        services.close()


def test_a_flood_on_the_broker_changes_nothing_on_the_belt(
        broker: Broker, build_sim: Build, base_settings: cfg.Settings, on: cfg.Settings) -> None:
    """The same simulated session with the fleet off, and with the fleet on while a client
    floods the treadmill's command topics with garbage: the treadmill receives the same bytes
    at the same (simulated) times and the slip's stop latches at the same time."""
    quiet_bytes, quiet_stops, _ = slip_session(build_sim, base_settings)
    assert quiet_stops and "pre_impact" in quiet_stops[0][1]

    rogue = Watcher(broker, "rogue", "nothing/#")
    flooding = threading.Event()
    sent = [0]

    def flood() -> None:
        payloads = [b"\x00" * 900, b'{"kmh": 8}', b"{", b"[]" * 400]
        while flooding.is_set():
            leaf = ("cmd/start/rogue", "cmd/speed/rogue", "cmd/stop/rogue", "cmd/x")[sent[0] % 4]
            rogue.client.publish(topics.topic(SITE, "tm1", leaf), payloads[sent[0] % 4])
            sent[0] += 1
            if sent[0] % 200 == 0:
                time.sleep(0.001)  # let paho's thread write them out

    thread = threading.Thread(target=flood, daemon=True)

    def start_flood() -> None:
        flooding.set()
        thread.start()
        wait_for(lambda: sent[0] > 500, what="the flood under way")

    try:
        loud_bytes, loud_stops, ignored = slip_session(build_sim, on, start_flood)
    finally:
        flooding.clear()
        thread.join(5.0)
        rogue.close()
    assert ignored > 20  # the flood reached the Pi while the session ran
    assert loud_stops == quiet_stops
    assert loud_bytes == quiet_bytes


def test_commands_are_handled_at_a_bounded_rate_after_a_burst() -> None:
    """paho's network thread sleeps rather than parse a flood as fast as it comes (which would
    hold the GIL against the loop's thread)."""
    t = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        t[0] += s

    pacer = Pacer(COMMANDS_PER_S, 20, now=lambda: t[0], sleep=sleep)
    for _ in range(20):
        pacer.wait()
    assert slept == []  # the burst
    for _ in range(100):
        pacer.wait()
    assert t[0] == pytest.approx(100 / COMMANDS_PER_S)  # then no faster than the rate
    t[0] += 10.0  # quiet for a while: the burst is back, no more
    slept.clear()
    for _ in range(21):
        pacer.wait()
    assert len(slept) == 1


class FakeBroker:
    """A TCP server on loopback that is not a broker: it answers every connection with
    ``reply`` (garbage bytes) or with nothing at all (``reply`` empty: a hung broker)."""

    def __init__(self, reply: bytes) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self._reply = reply
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                self.accepted += 1
                self._conns.append(conn)
                with contextlib.suppress(OSError):
                    if self._reply:
                        conn.sendall(self._reply)

    def close(self) -> None:
        self.server.close()
        for conn in self._conns:
            conn.close()


@pytest.mark.parametrize("reply", [b"", bytes(range(256)) * 8, b"\x20\x02\x00\x05"],
                         ids=["silent", "garbage", "connack-refused"])
def test_a_broker_that_is_silent_or_sends_garbage_changes_nothing(
        build_sim: Build, base_settings: cfg.Settings, tmp_path: Path, pis: list[Pi],
        reply: bytes) -> None:
    """The demo's slip is stopped at the same moment whatever the thing at the broker's
    address does; the publisher keeps its events and keeps trying."""
    fake = FakeBroker(reply)
    try:
        settings = fleet_settings(base_settings, f"mqtt://127.0.0.1:{fake.port}", tmp_path,
                                  keepalive_s=2)
        pi = start_pi(pis, build_sim, settings, "demo")
        wait_for(lambda: fake.accepted >= 1, what="a connection attempt")
        pi.system.loop.run(14.0)
        stops = [(e.t_s, e.message) for e in pi.system.events if e.kind is EventKind.STOP]
        assert stops and "pre_impact" in stops[0][1]
        assert pi.fleet.counters.connects == 0 and pi.fleet.counters.events_sent == 0
        assert pi.fleet.counters.errors == 0
    finally:
        fake.close()
    quiet = build_sim("demo", base_settings)
    quiet.loop.run(14.0)
    assert stops == [(e.t_s, e.message) for e in quiet.events if e.kind is EventKind.STOP]
    assert host_bytes(quiet) == host_bytes(pi.system)


def test_after_the_broker_restarts_the_pi_is_online_again_sends_what_waited_and_takes_stops(
        build_sim: Build, base_settings: cfg.Settings, tmp_path: Path, pis: list[Pi]) -> None:
    port = free_port()
    settings = fleet_settings(base_settings, f"mqtt://127.0.0.1:{port}", tmp_path,
                              reconnect_max_s=2)
    with running_broker(tmp_path / "b1", ["tm1"], port=port):
        pi = start_pi(pis, build_sim, settings)
        wait_for(lambda: pi.fleet.counters.connects == 1)
        pi.run_until_running(1.0)
    # The broker is gone (its process ended); the belt runs on, events wait.
    wait_for(lambda: any("connection to" in e.message and "lost" in e.message
                         for e in pi.system.events), what="the loss noticed")
    pi.system.loop.run(1.0)
    for i in range(5):
        pi.system.events.add(pi.system.clock.now_s(), EventKind.INFO, f"while away {i}")
    assert pi.system.supervisor.state is State.RUNNING
    with running_broker(tmp_path / "b2", ["tm1"], port=port) as broker:
        watcher = Watcher(broker)
        try:
            wait_for(lambda: any(m.payload["online"] for m in watcher.of("online")), 30.0,
                     "online again")
            wait_for(lambda: any(m.payload["message"] == "while away 4"
                                 for m in watcher.of("events")), what="the waiting events")
            away = [m.payload["message"] for m in watcher.of("events")
                    if m.payload["message"].startswith("while away")]
            assert away == [f"while away {i}" for i in range(5)]
            # Subscribed again: a stop goes through.
            watcher.publish(topics.stop_topic(SITE, "tm1", "dashboard"), "{}")
            wait_for(lambda: pi.fleet.counters.remote_stops == 1, what="the stop")
        finally:
            watcher.close()
    sup = pi.system.supervisor
    assert pi.system.loop.run_until(lambda: sup.state is State.LATCHED, 6.0)
    assert pi.fleet.counters.connects == 2
