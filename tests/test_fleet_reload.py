"""SIGHUP with ``[fleet]`` on: the daemon closes the old publisher and the new system's
publisher connects again; the treadmill is online and takes a remote stop after the reload."""

from __future__ import annotations

import signal
from pathlib import Path

from controller.fleet import topics
from tests.conftest import SIM_TOML
from tests.fleet_broker import PASSWORD, SITE, running_broker
from tests.fleet_watch import Watcher, wait_for
from tests.test_reload import Lines, start_daemon


def _write(path: Path, speed: str, broker_url: str) -> None:
    text = SIM_TOML.read_text().replace("[session]\nspeed_kmh = 1.5",
                                        f"[session]\nspeed_kmh = {speed}")
    path.write_text(text + (
        f'\n[fleet]\nenabled = true\nbroker_url = "{broker_url}"\nsite = "{SITE}"\n'
        'treadmill = "tm1"\nusername = "pi-tm1"\npassword_file = "pw"\n'))


def test_sighup_with_the_fleet_on_reconnects_and_takes_a_remote_stop(tmp_path: Path) -> None:
    with running_broker(tmp_path / "broker", ["tm1"]) as broker:
        watcher = Watcher(broker)
        (tmp_path / "pw").write_text(PASSWORD + "\n")
        path = tmp_path / "treadguard.toml"
        _write(path, "1.5", broker.url)
        proc = start_daemon(path, tmp_path / "state")
        out: list[str] = []
        lines = Lines(proc)

        def online() -> list[bool]:
            return [bool(m.payload["online"]) for m in watcher.of("online", "tm1")]

        try:
            assert lines.until("LATCHED (power_on)", out), out
            wait_for(lambda: True in online(), 30.0, "the treadmill online")
            _write(path, "1.0", broker.url)
            proc.send_signal(signal.SIGHUP)
            assert lines.until("in force: it starts latched", out), out
            rebuilt = len(out)
            # The new system's publisher connects again, and the new system starts latched.
            assert lines.until("fleet: connected to", out), out
            assert any("LATCHED (power_on)" in line for line in out[rebuilt:]) \
                or lines.until("LATCHED (power_on)", out), out
            # On the broker: the old publisher said goodbye (offline), the new one is online.
            wait_for(lambda: online()[-1:] == [True] and False in online(), 30.0,
                     "offline, then online again after the reload")
            watcher.publish(topics.stop_topic(SITE, "tm1", "dashboard"), "{}")
            assert lines.until("fleet: remote stop from dashboard", out), out
            assert "ignored" not in out[-1], out[-1]  # taken by the new system's program
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            assert proc.stderr is not None
            err = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            watcher.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "".join(out).count("SIGHUP received") == 1
