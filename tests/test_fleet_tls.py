"""The fleet's TLS (``mqtts://``): the Pi verifies the broker's certificate against
``[fleet] ca_file`` and publishes through a real mosquitto's TLS listener; with a CA that did
not sign the broker's certificate it does not connect, and the daemon runs on regardless."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import config as cfg
from controller.settings import PathsSettings
from controller.supervisor import State
from tests.conftest import Build
from tests.fleet_broker import (
    SITE,
    Broker,
    acl_text,
    free_port,
    mosquitto,
    pi_user,
)
from tests.fleet_watch import (
    Pi,
    Watcher,
    fleet_settings,
    made_pis,
    start_pi,
    wait_for,
    write_passwd,
)


def openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        pytest.fail("openssl is missing: run scripts/install-test-deps.sh (make test does)")
    subprocess.run([tool, *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
            str(cert), "-days", "2", "-subj", f"/CN={name}")
    return key, cert


def loopback_certificate(d: Path, name: str, ca: Path, ca_key: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by ``ca``: (certificate, key)."""
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(d / "san.ext"))
    return cert, key


@dataclasses.dataclass
class TlsBroker:
    plain: Broker  # the same mosquitto's loopback listener without TLS, for the watcher
    tls_port: int
    ca: Path
    other_ca: Path
    cert_port: int  # TLS, and a client certificate required: its CN is the broker user
    ca_key: Path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    d = tmp_path / "tls"
    d.mkdir()
    ca_key, ca = make_ca(d, "gym-ca")
    _, other_ca = make_ca(d, "other-ca")
    cert, key = loopback_certificate(d, "broker", ca, ca_key)
    passwd = d / "passwd"
    users = [pi_user("tm1"), "dashboard"]
    write_passwd(passwd, users)
    (d / "acl").write_text(acl_text(SITE, ["tm1"], ["dashboard"]))
    plain_port, tls_port, cert_port = free_port(), free_port(), free_port()
    with mosquitto(d, users,
                   f"listener {plain_port} 127.0.0.1\n"
                   f"listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"
                   f"cafile {ca}\n"
                   f"listener {cert_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"
                   f"cafile {ca}\nrequire_certificate true\nuse_identity_as_username true\n",
                   plain_port) as plain:
        yield TlsBroker(plain, tls_port, ca, other_ca, cert_port, ca_key)


pis = pytest.fixture(made_pis)


def settings_for(sim_settings: cfg.Settings, tmp_path: Path, port: int,
                 ca: Path) -> cfg.Settings:
    base = dataclasses.replace(sim_settings, paths=PathsSettings(state_dir=str(tmp_path / "s")))
    return fleet_settings(base, f"mqtts://127.0.0.1:{port}", tmp_path, ca_file=str(ca))


def test_the_pi_publishes_over_tls_checking_the_brokers_certificate(
        tls_broker: TlsBroker, build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path,
        pis: list[Pi]) -> None:
    watcher = Watcher(tls_broker.plain)
    try:
        pi = start_pi(pis, build_sim, settings_for(sim_settings, tmp_path, tls_broker.tls_port,
                                                   tls_broker.ca))
        wait_for(lambda: pi.fleet.counters.connects == 1, 30.0, "the TLS connection")
        pi.system.loop.run(0.3)
        wait_for(lambda: bool(watcher.of("status", "tm1")), what="a status over TLS")
        assert watcher.of("status", "tm1")[-1].payload["state"] == "latched"
    finally:
        watcher.close()


def test_a_broker_certificate_from_another_ca_is_refused_and_the_belt_runs_on(
        tls_broker: TlsBroker, build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path,
        pis: list[Pi]) -> None:
    pi = start_pi(pis, build_sim, settings_for(sim_settings, tmp_path, tls_broker.tls_port,
                                               tls_broker.other_ca))
    wait_for(lambda: any("unreachable" in e.message for e in pi.system.events), 30.0,
             "the failed handshake")
    pi.run_until_running(1.0)
    assert pi.system.supervisor.state is State.RUNNING
    assert pi.fleet.counters.connects == 0


def test_the_pi_signs_in_with_a_client_certificate(
        tls_broker: TlsBroker, build_sim: Build, sim_settings: cfg.Settings, tmp_path: Path,
        pis: list[Pi]) -> None:
    """``[fleet] cert_file``/``key_file`` and no password: the broker takes the certificate's
    name (CN ``pi-tm1``) as the user, and its ACL as that user's."""
    d = tmp_path / "client"
    d.mkdir()
    key, csr, cert = d / "pi.key", d / "pi.csr", d / "pi.pem"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={pi_user('tm1')}")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(tls_broker.ca), "-CAkey",
            str(tls_broker.ca_key), "-CAcreateserial", "-out", str(cert), "-days", "2")
    base = settings_for(sim_settings, tmp_path, tls_broker.cert_port, tls_broker.ca)
    assert base.fleet is not None
    fleet = dataclasses.replace(base.fleet, username="", password_file="",
                                cert_file=str(cert), key_file=str(key))
    watcher = Watcher(tls_broker.plain)
    try:
        pi = start_pi(pis, build_sim, dataclasses.replace(base, fleet=fleet))
        wait_for(lambda: pi.fleet.counters.connects == 1, 30.0, "the certificate's sign-in")
        pi.system.loop.run(0.3)
        wait_for(lambda: bool(watcher.of("status", "tm1")), what="a status from the Pi")
    finally:
        watcher.close()
