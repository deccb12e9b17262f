"""`treadguard fleet-broker-config`: the mosquitto files it writes, run by a real mosquitto,
enforce the gym's rules — each Pi writes only its own topics, only supervisors send stop (and
only in their own name), readers only read, a user without an entry does nothing."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pytest

from controller.cli import main
from tests.fleet_broker import Broker, _wait_listening, free_port, mosquitto_tool
from tests.fleet_watch import Watcher, wait_for, write_passwd

USERS = ["pi-tm1", "pi-tm2", "ann", "ro", "intruder"]


def test_the_written_acl_lets_each_user_do_only_its_part(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "etc"
    assert main(["fleet-broker-config", "--site", "gym", "--treadmills", "tm1,tm2",
                 "--supervisors", "ann", "--readers", "ro", "--out", str(out),
                 "--etc", str(out), "--plain-listener", f"127.0.0.1:{port}"]) == 0
    write_passwd(out / "treadguard.passwd", USERS)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"user {getpass.getuser()}\npersistence false\n"
                    f"log_dest file {tmp_path / 'mosquitto.log'}\n"
                    + (out / "treadguard.conf").read_text())
    proc = subprocess.Popen([mosquitto_tool("mosquitto"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker = Broker("127.0.0.1", port, tmp_path, USERS, proc)
    try:
        _wait_listening(broker, proc)
        seen = Watcher(broker, "ro", "treadguard/#")
        clients = {u: Watcher(broker, u, "nothing/#") for u in USERS}
        tries = [
            ("pi-tm1", "treadguard/gym/tm1/status", True),
            ("pi-tm1", "treadguard/gym/tm2/status", False),     # another treadmill's
            ("pi-tm1", "treadguard/gym/tm1/cmd/stop/pi-tm1", False),
            ("pi-tm2", "treadguard/gym/tm2/events", True),
            ("ann", "treadguard/gym/tm1/cmd/stop/ann", True),
            ("ann", "treadguard/gym/tm1/cmd/stop/bob", False),   # in another's name
            ("ann", "treadguard/gym/tm1/cmd/start/ann", False),
            ("ann", "treadguard/gym/tm1/status", False),
            ("ro", "treadguard/gym/tm1/cmd/stop/ro", False),
            ("intruder", "treadguard/gym/tm1/cmd/stop/intruder", False),
            ("intruder", "treadguard/gym/tm1/status", False),
        ]
        try:
            for user, topic, _ in tries:
                clients[user].publish(topic, f'{{"from": "{user}"}}')
            # Each publish was acknowledged (the broker took it) before the sentinel was sent:
            # anything the broker let through reaches the reader before the sentinel.
            clients["pi-tm2"].publish("treadguard/gym/tm2/status", '{"sentinel": true}')
            wait_for(lambda: any(m.payload == {"sentinel": True} for m in seen.received))
            got = {(m.payload.get("from"), m.topic) for m in seen.received
                   if "from" in m.payload}
            assert got == {(u, t) for u, t, allowed in tries if allowed}
        finally:
            seen.close()
            for c in clients.values():
                c.close()
    finally:
        proc.terminate()
        proc.wait(5)


def test_the_tls_configuration_by_default(tmp_path: Path) -> None:
    assert main(["fleet-broker-config", "--site", "gym", "--treadmills", "tm1",
                 "--supervisors", "ann", "--out", str(tmp_path), "--require-certificate"]) == 0
    conf = (tmp_path / "treadguard.conf").read_text()
    assert "allow_anonymous false" in conf and "listener 8883" in conf
    assert "certfile /etc/mosquitto/certs/broker.crt" in conf and "require_certificate true" in conf


@pytest.mark.parametrize(("argv", "words"), [
    (["--site", "gym", "--treadmills", "tm1,tm/2"], "--treadmills"),
    (["--site", "g#", "--treadmills", "tm1"], "--site"),
    (["--site", "gym", "--treadmills", "tm1", "--supervisors", "pi-tm1"], "named twice"),
    (["--site", "gym", "--treadmills", ""], "--treadmills"),
])
def test_bad_names_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       argv: list[str], words: str) -> None:
    assert main(["fleet-broker-config", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err
