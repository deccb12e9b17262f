"""The dashboard over HTTPS (``--tls-cert``/``--tls-key``): a browser checks the certificate,
the session cookie is ``Secure`` as well, plain HTTP to the port gets nothing (and holds up no
one), and a bad certificate or a lone key is a one-line error."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli import main
from controller.fleet.dashboard import Dashboard, tls_context
from tests.fleet_broker import PASSWORD, running_broker
from tests.test_fleet_dashboard import SUPERVISOR, USER_PASSWORD, users_file
from tests.test_fleet_tls import loopback_certificate, make_ca


def server_certificate(d: Path) -> tuple[Path, Path, Path]:
    """A gym CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    ca_key, ca = make_ca(d, "gym-ca")
    cert, key = loopback_certificate(d, "dashboard", ca, ca_key)
    return ca, cert, key


@pytest.fixture
def https_dashboard(tmp_path: Path) -> Iterator[tuple[Dashboard, Path]]:
    ca, cert, key = server_certificate(tmp_path)
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        dashboard = Dashboard(broker.url, ("127.0.0.1", 0), users_file(tmp_path), "dashboard",
                              PASSWORD, tls=tls_context(str(cert), str(key)))
        try:
            yield dashboard, ca
        finally:
            dashboard.close()


def test_sign_in_over_https_gives_a_secure_cookie(
        https_dashboard: tuple[Dashboard, Path]) -> None:
    dashboard, ca = https_dashboard
    assert dashboard.url.startswith("https://127.0.0.1:")
    host, port = dashboard.url.removeprefix("https://").split(":")
    trusted = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection(host, int(port), context=trusted, timeout=10)
    conn.request("POST", "/api/login", json.dumps({"user": SUPERVISOR,
                                                   "password": USER_PASSWORD}),
                 {"Content-Type": "application/json"})
    reply = conn.getresponse()
    body = json.loads(reply.read())
    conn.close()
    assert reply.status == 200 and body["role"] == "supervisor"
    cookie = reply.getheader("Set-Cookie") or ""
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie

    # A client that does not trust the gym's CA refuses the dashboard.
    untrusting = http.client.HTTPSConnection(host, int(port),
                                             context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.request("GET", "/")
    untrusting.close()


def test_plain_http_on_the_https_port_gets_nothing_and_holds_up_no_one(
        https_dashboard: tuple[Dashboard, Path]) -> None:
    dashboard, ca = https_dashboard
    host, port = dashboard.url.removeprefix("https://").split(":")
    # A client that connects and says nothing (its handshake never comes) ...
    silent = socket.create_connection((host, int(port)), timeout=10)
    # ... and one speaking plain HTTP: no page for it.
    plain = http.client.HTTPConnection(host, int(port), timeout=10)
    with pytest.raises((http.client.HTTPException, OSError)):
        plain.request("GET", "/")
        plain.getresponse().read()
    plain.close()
    # Meanwhile the page is served over HTTPS: the silent client holds up no one.
    conn = http.client.HTTPSConnection(host, int(port),
                                       context=ssl.create_default_context(cafile=str(ca)),
                                       timeout=10)
    conn.request("GET", "/")
    reply = conn.getresponse()
    assert reply.status == 200 and b"treadguard" in reply.read()
    conn.close()
    silent.close()


@pytest.mark.parametrize("args, expected", [
    (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], "--tls-cert missing.pem"),
])
def test_a_bad_certificate_is_a_one_line_error(
        args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    users = users_file(tmp_path)
    code = main(["dashboard", "--broker", "mqtt://127.0.0.1:1", "--users", str(users), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and "\n" not in err, err
