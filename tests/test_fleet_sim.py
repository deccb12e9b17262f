"""`treadguard fleet-sim`: simulated treadguards (the daemon's code on simulated hardware, one
process each) publishing to a real mosquitto; a dashboard user's stop latches the right one."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main
from controller.fleet import topics
from controller.fleet.sim import SLIP_SHARE, specs
from tests.conftest import SIM_TOML
from tests.fleet_broker import PASSWORD, SITE, running_broker
from tests.fleet_watch import Watcher, wait_for


def latest(watcher: Watcher, treadmill: str) -> dict[str, object]:
    statuses = watcher.of("status", treadmill)
    return statuses[-1].payload if statuses else {}


def test_three_simulated_treadmills_publish_and_a_remote_stop_latches_only_its_own(
        tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    names = ["tm1", "tm2", "tm3"]
    with running_broker(tmp_path / "broker", names) as broker:
        watcher = Watcher(broker)
        codes: list[int] = []
        # 40 simulated seconds at 4 × real time: about 10 s.
        run = threading.Thread(target=lambda: codes.append(main([
            "fleet-sim", "--broker", broker.url, "--count", "3", "--duration-s", "40",
            "--pace", "4", "--password-file", str(password), "--seed", "1",
            "--status-interval-s", "0.25", "--config", str(SIM_TOML)])))
        run.start()
        try:
            wait_for(lambda: all(latest(watcher, n).get("state") == "running" for n in names),
                     60.0, "every belt running")
            assert all(any(m.payload["online"] for m in watcher.of("online", n)) for n in names)
            assert all(latest(watcher, n)["runner"] == f"{n}-r1" for n in names)
            watcher.publish(topics.stop_topic(SITE, "tm2", "dashboard"),
                            json.dumps({"by": "test"}))
            wait_for(lambda: latest(watcher, "tm2").get("state") == "latched", 30.0,
                     "tm2 latched")
            assert latest(watcher, "tm2")["reason"] == "stop_requested"
            assert any("remote stop from dashboard" in m.payload["message"]
                       for m in watcher.of("events", "tm2"))
            seen = len(watcher.of("status"))
            # Statuses sent after tm2 latched: the other two still run.
            wait_for(lambda: all(any(m.payload["state"] == "running"
                                     for m in watcher.of("status", n)[seen // 3:])
                                 for n in ("tm1", "tm3")), 30.0, "tm1 and tm3 running on")
            assert not any("remote stop" in m.payload["message"]
                           for n in ("tm1", "tm3") for m in watcher.of("events", n))
        finally:
            run.join(120.0)
            watcher.close()
        assert codes == [0]
        # Each ended as the daemon does: its session's summary, then offline.
        assert all(watcher.of("session", n) for n in names)
        assert all(watcher.of("online", n)[-1].payload["online"] is False for n in names)
        # tm2's session was ended by the remote stop; the others by the shutdown.
        ended = {n: watcher.of("session", n)[0].payload["program"]["ended_by"] for n in names}
        assert ended == {"tm1": "shutdown", "tm2": "stop_requested", "tm3": "shutdown"}


def _args(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = dict(broker="mqtt://127.0.0.1:1883", count=20, seed=1,
                                     site="gym", username_prefix="pi-", password_file=None,
                                     ca_file=None, pace=1.0, duration_s=None,
                                     status_interval_s=1.0)
    values.update(changes)
    return argparse.Namespace(**values)


def test_the_treadmills_are_named_and_seeded_and_some_slip() -> None:
    settings = cfg.load(SIM_TOML)
    first = specs(_args(), settings)
    assert [s.name for s in first] == [f"tm{k}" for k in range(1, 21)]
    assert [s.fleet.username for s in first] == [f"pi-tm{k}" for k in range(1, 21)]
    assert specs(_args(), settings) == first  # the same seed, the same slips
    slipping = [s for s in first if s.slip_at_s is not None]
    assert 1 <= len(slipping) <= 20 * SLIP_SHARE * 2
    assert [s.slip_at_s for s in specs(_args(seed=2), settings)] != [s.slip_at_s for s in first]


@pytest.mark.parametrize(("argv", "words"), [
    (["--broker", "http://x", "--count", "2"], "--broker"),
    (["--broker", "mqtt://x:1", "--count", "0"], "--count"),
    (["--broker", "mqtt://x:1", "--count", "2", "--site", "a/b"], "--site"),
    (["--broker", "mqtt://x:1", "--count", "2", "--password-file", "/nonexistent"],
     "--password-file"),
])
def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str],
                                           argv: list[str], words: str) -> None:
    assert main(["fleet-sim", "--config", str(SIM_TOML), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and words in err
