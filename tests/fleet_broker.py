"""A real mosquitto on loopback for the fleet tests: its own port, password file and ACLs, in a
temporary directory (``make test`` installs Debian's ``mosquitto``:
``scripts/install-test-deps.sh``). Never skipped: without mosquitto the tests fail and say how
to get it.

The ACLs are the ones ``docs/fleet.md`` gives a gym: each Pi writes only its own treadmill's
topics and reads only its own ``cmd/``; the dashboard reads everything and writes only its own
``cmd/stop/<user>``; ``intruder`` is a valid user with no ACL entry at all.
"""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SITE = "gym"
PASSWORD = "s3cret-for-tests"


def mosquitto_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{name} is missing: run scripts/install-test-deps.sh (make test does), or "
                    f"apt-get install -y mosquitto")
    return found


def pi_user(treadmill: str) -> str:
    return f"pi-{treadmill}"


@dataclass
class Broker:
    """A running broker: connect to ``host``:``port`` as one of ``users`` (all with
    :data:`PASSWORD`)."""

    host: str
    port: int
    directory: Path
    users: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text() if path.exists() else ""


def acl_text(site: str, treadmills: list[str], dashboards: list[str],
             rogues: tuple[str, ...] = (), readers: tuple[str, ...] = ()) -> str:
    lines: list[str] = []
    for user in readers:  # a watching-only dashboard: reads everything, writes nothing
        lines += [f"user {user}", "topic read treadguard/#", ""]
    for user in rogues:  # a gym's ACL gone wrong: the Pi must still take nothing but a stop
        lines += [f"user {user}", "topic readwrite treadguard/#", ""]
    for tm in treadmills:
        base = f"treadguard/{site}/{tm}"
        lines += [f"user {pi_user(tm)}"]
        lines += [f"topic write {base}/{leaf}" for leaf in ("online", "status", "events",
                                                             "session")]
        lines += [f"topic read {base}/cmd/#", ""]
    for user in dashboards:
        lines += [f"user {user}", "topic read treadguard/#",
                  f"topic write treadguard/+/+/cmd/stop/{user}", ""]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_broker(directory: Path, treadmills: list[str],
                   dashboards: tuple[str, ...] = ("dashboard",),
                   port: int | None = None, rogues: tuple[str, ...] = (),
                   readers: tuple[str, ...] = ()) -> Iterator[Broker]:
    """Start mosquitto with ``treadmills``' Pi users, ``dashboards`` and ``intruder`` (on
    ``port``, or a free one); ``rogues`` may write every topic (a wrong ACL); ``readers`` may
    only read."""
    directory.mkdir(parents=True, exist_ok=True)
    users = [pi_user(t) for t in treadmills] + list(dashboards) + ["intruder", *rogues,
                                                                   *readers]
    passwd = directory / "passwd"
    passwd.write_text("")
    for user in users:
        subprocess.run([mosquitto_tool("mosquitto_passwd"), "-b", str(passwd), user, PASSWORD],
                       check=True, capture_output=True)
    passwd.chmod(0o600)
    (directory / "acl").write_text(acl_text(SITE, treadmills, list(dashboards), rogues,
                                            readers))
    port = port or free_port()
    with mosquitto(directory, users, f"listener {port} 127.0.0.1\n", port) as broker:
        yield broker


@contextlib.contextmanager
def mosquitto(directory: Path, users: list[str], listeners: str, port: int
              ) -> Iterator[Broker]:
    """Run mosquitto with ``directory``'s ``passwd`` and ``acl`` and the ``listeners`` lines;
    the returned broker is reached on ``port`` (a plain loopback listener among them)."""
    conf = directory / "mosquitto.conf"
    conf.write_text(
        # `user`: run as root (as CI may), mosquitto would switch to its own user, which cannot
        # read this temporary directory.
        f"user {getpass.getuser()}\nallow_anonymous false\n"
        f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\n"
        f"persistence false\nlog_dest file {directory / 'mosquitto.log'}\n"
        f"log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        + listeners)
    proc = subprocess.Popen([mosquitto_tool("mosquitto"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker = Broker("127.0.0.1", port, directory, users, proc)
    try:
        _wait_listening(broker, proc)
        yield broker
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(broker: Broker, proc: subprocess.Popen[bytes]) -> None:
    # Polling a port the broker is opening, not sleeping to wait for a result: bounded at 10 s.
    for _ in range(200):
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"mosquitto exited ({proc.returncode}): {err}{broker.log()}")
        with contextlib.suppress(OSError), socket.create_connection(
                (broker.host, broker.port), timeout=0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"mosquitto did not listen on {broker.host}:{broker.port}: {broker.log()}")
