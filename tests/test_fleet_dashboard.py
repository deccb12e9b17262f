"""The gym dashboard against a real mosquitto (password file and ACLs, tests/fleet_broker.py):
its HTTP API and live stream, sign-in and roles, the stop and who may send it, malformed
payloads, and losing the broker. The page itself in a browser: test_fleet_dashboard_browser.py.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.cli import main
from controller.fleet import dashboard_http, topics
from controller.fleet.dashboard import Dashboard
from controller.fleet.dashboard_http import (
    MAX_REFUSED_SIGN_INS,
    MAX_SIGN_IN_KEYS,
    SIGN_IN_WINDOW_S,
    SignInLimit,
)
from controller.fleet.dashboard_state import Board
from controller.fleet.users import add, load
from tests.conftest import ROOT
from tests.fleet_broker import (
    PASSWORD,
    SITE,
    Broker,
    free_port,
    mosquitto_tool,
    running_broker,
)
from tests.fleet_pis import WAIT_S, FakePi, client, status
from tests.test_fleet_tls import TlsBroker, tls_broker  # noqa: F401 (the fixture)

TREADMILLS = ["tm1", "tm2", "tm3"]
GONE = "tm4"
"""A treadmill whose treadguard published its status and went away (nothing listens on its
``cmd/``)."""
SUPERVISOR, VIEWER, USER_PASSWORD = "alice", "bob", "correct horse"


def wait_board(board: Board, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The board once ``ok`` holds for it (woken by each change, bounded by WAIT_S)."""
    version = -1
    for _ in range(1000):
        snap = board.snapshot()
        try:
            if ok(snap):
                return snap
        except (TypeError, KeyError):  # a tile or status not there yet
            pass
        version, _changes = board.changes_since(int(snap["version"]), WAIT_S)
        if version == snap["version"]:
            break
    raise AssertionError(f"the board never got there: {json.dumps(board.snapshot())[:2000]}")


def tile(snap: dict[str, Any], treadmill: str) -> Any:
    return next((t for t in snap["tiles"] if t["treadmill"] == treadmill), None)


class Web:
    """A browser-less client of the dashboard: a cookie and the CSRF token."""

    def __init__(self, url: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=WAIT_S)
        sent = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            sent["Content-Type"] = "application/json"
            sent["X-CSRF-Token"] = self.csrf
        sent.update(headers or {})
        conn.request(method, path, json.dumps(body) if body is not None else None, sent)
        reply = conn.getresponse()
        raw = reply.read()
        conn.close()
        data = json.loads(raw) if reply.getheader("Content-Type") == "application/json" else raw
        return reply.status, dict(reply.getheaders()), data

    def login(self, user: str, password: str = USER_PASSWORD) -> int:
        status_code, headers, data = self.request("POST", "/api/login",
                                                  {"user": user, "password": password})
        if status_code == 200:
            self.cookie = headers["Set-Cookie"].split(";")[0]
            self.csrf = data["csrf"]
        return status_code

    def stop(self, treadmill: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        code, _, data = self.request("POST", "/api/stop", {"site": SITE, "treadmill": treadmill,
                                                           "confirm": True, **extra})
        return code, data


def users_file(directory: Path) -> Path:
    path = directory / "users"
    add(path, SUPERVISOR, "supervisor", USER_PASSWORD)
    add(path, VIEWER, "viewer", USER_PASSWORD)
    return path


@pytest.fixture(scope="module")
def gym(tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[Broker, dict[str, FakePi], Dashboard]]:
    """A broker, three fake Pis publishing, and a dashboard connected as ``dashboard``."""
    directory = tmp_path_factory.mktemp("gym")
    with running_broker(directory / "broker", [*TREADMILLS, GONE],
                        readers=("watcher",)) as broker:
        gone = FakePi(broker, GONE)
        gone.send_status()
        gone.publish(topics.ONLINE, {"online": False, "wall": "2026-01-01T00:00:00Z"},
                     retain=True)
        gone.close()
        pis = {tm: FakePi(broker, tm) for tm in TREADMILLS}
        for pi in pis.values():
            pi.send_status()
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users_file(directory), "dashboard",
                              PASSWORD)
        try:
            yield broker, pis, dashboard
        finally:
            dashboard.close()
            for pi in pis.values():
                pi.close()


def signed_in(dashboard: Dashboard, user: str) -> Web:
    web = Web(dashboard.url)
    assert web.login(user) == 200
    return web


def test_tiles_hold_each_treadmills_retained_status_online_flag_and_events(gym: Any) -> None:
    _broker, pis, dashboard = gym
    pis["tm3"].send_status(state="latched", reason="slip_trip", actual_kmh=0.0)
    pis["tm3"].send_event(7, "stop", "STOP: slip_trip — backward slip")
    snap = wait_board(dashboard.board, lambda s: (
        all(tile(s, t) and tile(s, t)["online"] for t in TREADMILLS)
        and tile(s, "tm3")["status"]["state"] == "latched"
        and any(e["kind"] == "stop" for e in s["events"])))
    code, _, board = signed_in(dashboard, VIEWER).request("GET", "/api/board")
    assert code == 200 and board["connected"] is True
    assert [t["key"] for t in board["tiles"]] == [f"{SITE}/{t}" for t in [*TREADMILLS, GONE]]
    assert tile(board, GONE)["online"] is False
    tm3 = tile(board, "tm3")
    assert tm3["status"]["reason"] == "slip_trip" and tm3["status"]["runner"] == "ann"
    assert tm3["age_s"] is not None and tm3["age_s"] < WAIT_S
    event = next(e for e in snap["events"] if e["kind"] == "stop")
    assert event["key"] == f"{SITE}/tm3" and event["message"].startswith("STOP: slip_trip")


def test_nothing_but_the_page_without_signing_in(gym: Any) -> None:
    _broker, _pis, dashboard = gym
    web = Web(dashboard.url)
    code, headers, page = web.request("GET", "/")
    assert code == 200 and b"/static/app.js" in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for path in ("/static/app.js", "/static/style.css"):
        assert web.request("GET", path)[0] == 200
    assert web.request("GET", "/api/board")[0] == 401
    assert web.request("GET", "/api/live")[0] == 401
    assert web.stop("tm1")[0] == 401
    assert web.login(SUPERVISOR, "wrong password") == 401
    assert web.login("mallory", USER_PASSWORD) == 401
    assert web.request("GET", "/../users")[0] == 404


def test_a_users_file_broken_while_running_refuses_sign_in_in_one_line(tmp_path: Path) -> None:
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        users = users_file(tmp_path)
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users, "dashboard", PASSWORD)
        try:
            users.write_text("alice supervisor\n")
            web = Web(dashboard.url)
            code, _, data = web.request("POST", "/api/login",
                                        {"user": SUPERVISOR, "password": USER_PASSWORD})
            assert code == 500 and "users file" in data["error"]
        finally:
            dashboard.close()


def test_a_removed_or_changed_user_is_signed_out_at_the_next_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request's session is checked against the users file as it is now."""
    monkeypatch.setattr(dashboard_http, "LIVE_KEEPALIVE_S", 0.2)
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        users = users_file(tmp_path)
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users, "dashboard", PASSWORD)
        try:
            supervisor, viewer = signed_in(dashboard, SUPERVISOR), signed_in(dashboard, VIEWER)
            assert supervisor.request("GET", "/api/me")[0] == 200
            live = http.client.HTTPConnection(supervisor.host, supervisor.port, timeout=WAIT_S)
            live.request("GET", "/api/live", headers={"Cookie": supervisor.cookie})
            stream = live.getresponse()
            assert stream.status == 200 and stream.fp.readline().startswith(b"event: board")
            # Removed: signed out, its open live stream ends at the next keepalive, and a stop
            # is refused as from no one.
            assert main(["dashboard", "user", "remove", SUPERVISOR, "--users", str(users)]) == 0
            deadline = time.monotonic() + 5.0
            while stream.fp.readline() and time.monotonic() < deadline:
                pass  # keepalives until the stream ends (an empty line: its end)
            assert time.monotonic() < deadline, "the live stream did not end"
            live.close()
            assert supervisor.request("GET", "/api/me")[0] == 401
            assert supervisor.stop("tm1")[0] == 401
            assert supervisor.login(SUPERVISOR) == 401
            # A role edited in the file (the same password) applies at once.
            text = users.read_text()
            users.write_text(text.replace(f"{VIEWER} viewer ", f"{VIEWER} supervisor "))
            assert viewer.request("GET", "/api/me")[2]["role"] == "supervisor"
            # `user add` again (a new password): the old session ends; the new one is a viewer.
            add(users, VIEWER, "viewer", "a new long password")
            assert viewer.request("GET", "/api/me")[0] == 401
            assert viewer.login(VIEWER, "a new long password") == 200
            assert viewer.stop("tm1")[0] == 403
        finally:
            dashboard.close()


def test_refused_sign_ins_are_limited_per_address_and_name(tmp_path: Path) -> None:
    """Five refused sign-ins for a name from one address: the sixth try for it is refused
    unchecked (429), even with the right password; another name from there is not held up."""
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users_file(tmp_path), "dashboard",
                              PASSWORD)
        try:
            web = Web(dashboard.url)
            assert [web.login(SUPERVISOR, "wrong password") for _ in range(5)] == [401] * 5
            code, _, data = web.request("POST", "/api/login",
                                        {"user": SUPERVISOR, "password": USER_PASSWORD})
            assert code == 429 and "try again in" in data["error"]
            assert web.login(VIEWER) == 200
        finally:
            dashboard.close()


def test_the_sign_in_limit_forgets_after_its_window_and_stays_bounded() -> None:
    now = [0.0]
    limit = SignInLimit(lambda: now[0])
    for _ in range(MAX_REFUSED_SIGN_INS - 1):
        limit.refused("10.0.0.9", "alice")
    assert limit.wait_s("10.0.0.9", "alice") == 0.0  # four: still allowed
    limit.refused("10.0.0.9", "alice")
    assert limit.wait_s("10.0.0.9", "alice") == pytest.approx(SIGN_IN_WINDOW_S)
    assert limit.wait_s("10.0.0.10", "alice") == 0.0 and limit.wait_s("10.0.0.9", "bob") == 0.0
    now[0] = SIGN_IN_WINDOW_S + 0.1
    assert limit.wait_s("10.0.0.9", "alice") == 0.0  # the window passed
    limit.refused("10.0.0.9", "alice")
    assert limit.wait_s("10.0.0.9", "alice") == 0.0  # counting again from one
    for i in range(3 * MAX_SIGN_IN_KEYS):  # a flood of names: memory stays bounded
        limit.refused("10.0.0.66", f"guess{i}")
    assert len(limit._refused) == MAX_SIGN_IN_KEYS


def test_user_remove_of_an_unknown_user_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = users_file(tmp_path)
    assert main(["dashboard", "user", "remove", "mallory", "--users", str(users)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no user 'mallory'" in err and str(users) in err
    assert set(load(users)) == {SUPERVISOR, VIEWER}


def test_the_session_cookie_is_httponly_and_samesite_strict(gym: Any) -> None:
    _broker, _pis, dashboard = gym
    web = Web(dashboard.url)
    code, headers, data = web.request("POST", "/api/login",
                                      {"user": SUPERVISOR, "password": USER_PASSWORD})
    assert code == 200 and data["role"] == "supervisor" and len(data["csrf"]) >= 32
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_supervisors_confirmed_stop_reaches_that_treadmill_only(
        gym: Any, caplog: pytest.LogCaptureFixture) -> None:
    _broker, pis, dashboard = gym
    web = signed_in(dashboard, SUPERVISOR)
    with caplog.at_level(logging.INFO, logger="treadguard.dashboard"):
        code, data = web.stop("tm2")
    assert code == 202, data
    topic, payload = pis["tm2"].wait_command()
    assert topic == f"treadguard/{SITE}/tm2/cmd/stop/dashboard"
    assert payload["by"] == SUPERVISOR and payload["schema"] == topics.SCHEMA
    for pi in pis.values():
        pi.barrier()
    assert {tm: len(pi.commands) for tm, pi in pis.items()} == {"tm1": 0, "tm2": 1, "tm3": 0}
    assert any("STOP SENT for gym/tm2 pressed by alice" in r.getMessage() for r in caplog.records)
    snap = dashboard.board.snapshot()
    assert tile(snap, "tm2")["last_stop"]["by"] == SUPERVISOR
    assert tile(snap, "tm1")["last_stop"] is None
    assert snap["events"][0]["kind"] == "stop_sent" and snap["events"][0]["key"] == "gym/tm2"
    pis["tm2"].commands.clear()


def test_a_stop_that_no_treadguard_hears_is_reported_as_not_delivered(
        gym: Any, caplog: pytest.LogCaptureFixture) -> None:
    _broker, _pis, dashboard = gym
    web = signed_in(dashboard, SUPERVISOR)
    with caplog.at_level(logging.INFO, logger="treadguard.dashboard"):
        code, data = web.stop(GONE)
    assert code == 503 and "no treadguard is listening" in data["error"]
    assert "use the treadmill's own stop" in data["error"]
    assert any(f"STOP FAILED for gym/{GONE}" in r.getMessage() for r in caplog.records)
    assert tile(dashboard.board.snapshot(), GONE)["last_stop"] is None


def test_a_stop_the_brokers_acl_refuses_is_reported_as_not_sent(
        gym: Any, tmp_path: Path) -> None:
    """A dashboard whose broker account may only read: its supervisors' stops are refused by
    the broker, and the page says so instead of "sent"."""
    broker, pis, _dashboard = gym
    watching = Dashboard(broker.url, ("127.0.0.1", 0), users_file(tmp_path), "watcher",
                         PASSWORD)
    try:
        wait_board(watching.board, lambda s: tile(s, "tm1")["status"] is not None)
        code, data = signed_in(watching, SUPERVISOR).stop("tm1")
        assert code == 503 and "refused the stop" in data["error"], data
        pis["tm1"].barrier()
        assert pis["tm1"].commands == []
    finally:
        watching.close()


def test_a_viewers_stop_is_refused_and_logged(gym: Any,
                                              caplog: pytest.LogCaptureFixture) -> None:
    _broker, pis, dashboard = gym
    web = signed_in(dashboard, VIEWER)
    with caplog.at_level(logging.INFO, logger="treadguard.dashboard"):
        code, data = web.stop("tm1")
    assert code == 403 and "viewer" in data["error"]
    assert any("STOP REFUSED for gym/tm1: bob is a viewer" in r.getMessage()
               for r in caplog.records)
    pis["tm1"].barrier()
    assert pis["tm1"].commands == []


def test_a_stop_needs_the_csrf_token_a_confirmation_and_a_known_treadmill(gym: Any) -> None:
    _broker, pis, dashboard = gym
    web = signed_in(dashboard, SUPERVISOR)
    token, web.csrf = web.csrf, "forged"
    assert web.stop("tm1")[0] == 403
    web.csrf = token
    assert web.request("POST", "/api/stop", {"site": SITE, "treadmill": "tm1", "confirm": True},
                       {"Origin": "http://elsewhere.example"})[0] == 403
    assert web.stop("tm1", confirm=False)[0] == 400
    assert web.stop("tm9")[0] == 404
    assert web.stop("tm1/#")[0] == 404
    conn = http.client.HTTPConnection(web.host, web.port, timeout=WAIT_S)
    conn.request("POST", "/api/stop", b"tm1", {"Content-Type": "text/plain",
                                               "Cookie": web.cookie, "X-CSRF-Token": web.csrf})
    assert conn.getresponse().status == 415
    conn.close()
    pis["tm1"].barrier()
    assert pis["tm1"].commands == []


def test_a_client_without_the_acl_cannot_stop_a_treadmill(gym: Any) -> None:
    broker, pis, dashboard = gym
    for user, leaf in (("intruder", "cmd/stop/intruder"), ("intruder", "cmd/stop/dashboard"),
                       ("pi-tm2", "cmd/stop/pi-tm2"), ("pi-tm2", "cmd/stop/dashboard")):
        rogue = client(broker, user, client_id=f"rogue-{user}")
        rogue.connect(broker.host, broker.port)
        rogue.loop_start()
        rogue.publish(topics.topic(SITE, "tm1", leaf), json.dumps({"by": "mallory"}),
                      qos=1).wait_for_publish(WAIT_S)
        rogue.disconnect()
        rogue.loop_stop()
    pis["tm1"].barrier()
    assert pis["tm1"].commands == []
    assert tile(dashboard.board.snapshot(), "tm1")["last_stop"] is None


def test_the_live_stream_sends_the_board_then_each_change(gym: Any) -> None:
    _broker, pis, dashboard = gym
    web = signed_in(dashboard, VIEWER)
    conn = http.client.HTTPConnection(web.host, web.port, timeout=WAIT_S)
    conn.request("GET", "/api/live", headers={"Cookie": web.cookie})
    reply = conn.getresponse()
    assert reply.status == 200 and reply.getheader("Content-Type", "").startswith(
        "text/event-stream")

    def next_event() -> tuple[str, dict[str, Any]]:
        kind, data = "", ""
        for raw in iter(reply.fp.readline, b""):
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and kind:
                return kind, json.loads(data)
        raise AssertionError("the stream ended")

    kind, board = next_event()
    assert kind == "board" and len(board["tiles"]) == len(TREADMILLS) + 1
    pis["tm1"].send_status(state="countdown", commanded_kmh=0.0)
    for _ in range(50):
        kind, data = next_event()
        if kind == "tile" and data["treadmill"] == "tm1":
            assert data["status"]["state"] == "countdown"
            break
    else:
        raise AssertionError("no tile event for tm1")
    conn.close()


def test_two_dashboards_on_one_broker_keep_their_connections(gym: Any,
                                                             tmp_path: Path) -> None:
    broker, pis, first = gym
    connects = first.board.counters.connects
    second = Dashboard(broker.url, ("127.0.0.1", 0), users_file(tmp_path), "dashboard",
                       PASSWORD)
    try:
        pis["tm3"].send_status(runner="two screens")
        for dashboard in (first, second):
            wait_board(dashboard.board,
                       lambda s: tile(s, "tm3")["status"]["runner"] == "two screens")
        assert first.board.connected and second.board.connected
        assert first.board.counters.connects == connects  # not thrown off by the second
    finally:
        second.close()


def test_malformed_payloads_are_counted_and_change_nothing(
        gym: Any, caplog: pytest.LogCaptureFixture) -> None:
    _broker, pis, dashboard = gym
    pis["tm1"].send_status(state="running", runner="cy")
    wait_board(dashboard.board, lambda s: tile(s, "tm1")["status"]["runner"] == "cy")
    before = dashboard.board.counters.malformed
    garbage: list[bytes] = [b"\xff\xfe not utf-8", b"not json", b"[1, 2]", b"{\"schema\": 99}",
                            b"{\"schema\": 1, \"state\": NaN}", b"{" * 100_000,
                            json.dumps(status("tm1", runner="x" * 70_000)).encode()]
    with caplog.at_level(logging.WARNING, logger="treadguard.dashboard"):
        for payload in garbage:
            pis["tm1"].publish(topics.STATUS, payload)
        pis["tm1"].publish(topics.ONLINE, b"{\"online\": \"yes\"}")
        pis["tm1"].publish(topics.EVENTS, b"{\"kind\": 3}")
        # The broker keeps one publisher's messages in order: once this event is on the
        # board, every message before it has been handled.
        pis["tm1"].send_event(99, "info", "after the garbage")
        wait_board(dashboard.board, lambda s: s["events"][0]["message"] == "after the garbage")
    assert dashboard.board.counters.malformed == before + len(garbage) + 2
    assert tile(dashboard.board.snapshot(), "tm1")["status"]["runner"] == "cy"
    assert tile(dashboard.board.snapshot(), "tm1")["online"] is True
    assert sum("malformed" in r.getMessage() for r in caplog.records) <= 1  # once a minute
    assert signed_in(dashboard, VIEWER).request("GET", "/api/board")[0] == 200


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from([*topics.STATUS_KEYS, "online", "by", "kind", "message"])
    return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           _nested, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(leaf=st.sampled_from(["status", "online", "events", "session", "cmd/stop/dashboard",
                             "cmd/start", "x/y"]),
       payload=st.one_of(st.binary(max_size=200),
                         JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_no_payload_raises_and_the_board_stays_json(leaf: str, payload: bytes) -> None:
    board = Board()
    board.on_message(f"treadguard/{SITE}/tm1/{leaf}", payload)
    board.on_message("treadguard/gym/tm1/status", json.dumps(status("tm1")).encode())
    board.on_message(f"treadguard/{SITE}/tm1/{leaf}", payload)
    json.loads(json.dumps(board.snapshot(), allow_nan=False))


def test_topics_outside_the_scheme_are_ignored() -> None:
    board = Board()
    for name in ("treadguard/gym", "other/gym/tm1/status", "treadguard/g y/tm1/status",
                 "treadguard/gym/../status"):
        board.on_message(name, json.dumps(status("tm1")).encode())
    assert board.snapshot()["tiles"] == [] and board.counters.malformed == 4


def _restart(broker: Broker) -> subprocess.Popen[bytes]:
    return subprocess.Popen([mosquitto_tool("mosquitto"), "-c",
                             str(broker.directory / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_losing_the_broker_shows_disconnected_and_the_dashboard_reconnects(
        tmp_path: Path) -> None:
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        pi = FakePi(broker, "tm1")
        pi.send_status()
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users_file(tmp_path), "dashboard",
                              PASSWORD)
        again: subprocess.Popen[bytes] | None = None
        try:
            wait_board(dashboard.board, lambda s: tile(s, "tm1") is not None and s["connected"])
            assert broker.process is not None
            broker.process.terminate()
            broker.process.wait(WAIT_S)
            snap = wait_board(dashboard.board, lambda s: not s["connected"])
            assert tile(snap, "tm1")["status"]["state"] == "running"  # the last known, kept
            web = signed_in(dashboard, SUPERVISOR)
            code, data = web.stop("tm1")
            assert code == 503 and "NOT sent" in data["error"]
            again = _restart(broker)
            wait_board(dashboard.board, lambda s: s["connected"])
            pi.wait_connected()
            pi.send_status(state="latched")
            wait_board(dashboard.board, lambda s: tile(s, "tm1")["status"]["state"] == "latched")
        finally:
            dashboard.close()
            pi.close()
            if again is not None:
                again.terminate()
                again.wait(WAIT_S)


# --- the command line ------------------------------------------------------------------------

def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def test_bad_arguments_and_an_unreachable_broker_are_one_line_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = users_file(tmp_path)
    cases = [
        ([], "--broker URL is required"),
        (["--broker", "http://x"], "--broker: expected \"mqtt://HOST:PORT\""),
        (["--broker", "mqtt://u:p@x"], "not in the URL"),
        (["--broker", "mqtt://127.0.0.1:1", "--listen", "nowhere"], "expected HOST:PORT"),
        (["--broker", "mqtt://127.0.0.1:1", "--users", str(tmp_path / "none")],
         "no such users file"),
        (["--broker", f"mqtt://127.0.0.1:{free_port()}"], "cannot connect"),
        (["--broker", "mqtt://127.0.0.1:1", "--broker-password-file", str(tmp_path / "nope")],
         "--broker-password-file"),
    ]
    for args, message in cases:
        full = ["dashboard", *args] if "--users" in args or not args else [
            "dashboard", *args, "--users", str(users)]
        code, err = run_cli(full, capsys)
        assert code == 2 and message in err and err.count("\n") == 1, (args, err)


def test_refused_broker_credentials_are_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    users = users_file(tmp_path)
    wrong = tmp_path / "broker-password"
    wrong.write_text("not the password\n")
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        code, err = run_cli(["dashboard", "--broker", broker.url, "--users", str(users),
                             "--broker-user", "dashboard", "--broker-password-file", str(wrong)],
                            capsys)
    assert code == 2 and "refused the connection" in err and err.count("\n") == 1, err


def test_user_add_reads_the_password_from_stdin_and_stores_only_a_hash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["dashboard", "user", "add", "carol", "--role", "viewer", "--users",
                 str(path)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert main(["dashboard", "user", "add", "carol", "--role", "supervisor", "--users",
                 str(path)]) == 0
    text = path.read_text()
    assert "password" not in text.split("\n", 1)[1] and path.stat().st_mode & 0o777 == 0o600
    users = load(path)
    assert users["carol"].role == "supervisor"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["dashboard", "user", "add", "dan", "--role", "viewer", "--users",
                 str(path)]) == 2
    assert "8 to 256 characters" in capsys.readouterr().err
    path.write_text("carol boss scrypt$1$2$3$00$00\n")
    with pytest.raises(Exception, match=r"users:1: role 'boss'"):
        load(path)


def test_the_page_ships_in_the_package() -> None:
    """Every file under controller/fleet/static is in the wheel's package data (a wheel without
    them would serve a dashboard with no page), and it names nothing from elsewhere."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["controller.fleet"]
    static = ROOT / "controller" / "fleet" / "static"
    files = sorted(p.relative_to(static.parent).as_posix() for p in static.rglob("*")
                   if p.is_file())
    assert files and all(any(fnmatch(f, g) for g in globs) for f in files), (files, globs)
    for path in static.rglob("*"):
        if path.is_file():
            assert "http://" not in path.read_text() and "https://" not in path.read_text()


# --- TLS (mqtts://) ----------------------------------------------------------------------------

def test_the_dashboard_speaks_tls_to_the_broker_and_checks_its_certificate(
        tls_broker: TlsBroker,  # noqa: F811 (the fixture imported above)
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mosquitto with a TLS listener for the dashboard and a plain one for the Pi
    (tests/test_fleet_tls.py)."""
    url = f"mqtts://127.0.0.1:{tls_broker.tls_port}"
    pi = FakePi(tls_broker.plain, "tm1")
    users = users_file(tmp_path)
    try:
        pi.send_status(runner="over tls")
        dashboard = Dashboard(url, ("127.0.0.1", 0), users, "dashboard", PASSWORD,
                              ca_file=str(tls_broker.ca))
        try:
            wait_board(dashboard.board,
                       lambda s: tile(s, "tm1")["status"]["runner"] == "over tls")
        finally:
            dashboard.close()
    finally:
        pi.close()
    password = tmp_path / "broker-password"
    password.write_text(PASSWORD + "\n")
    code, err = run_cli(["dashboard", "--broker", url, "--users", str(users), "--broker-user",
                         "dashboard", "--broker-password-file", str(password), "--ca-file",
                         str(tls_broker.other_ca)], capsys)
    assert code == 2 and "certificate verify failed" in err and err.count("\n") == 1, err
