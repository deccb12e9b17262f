"""The runner store, profiles, the supervisor PIN and the `runner` / `supervisor` commands."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.cli import main
from controller.pin import hash_pin, verify_pin
from controller.profiles import PROFILES, LimitError, RunnerLimits, check, new_limits
from controller.settings import ProgramSettings
from controller.store import MIGRATIONS, Store, StoreError
from tests.conftest import SIM_TOML

Cli = Callable[..., tuple[int, str, str]]


def run(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def state(tmp_path: Path) -> str:
    return str(tmp_path / "state")


@pytest.fixture
def cli(state: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return run([*args, "--state", state], capsys, monkeypatch, stdin)
    return call


def limits_of(state: str, name: str) -> RunnerLimits:
    store = Store(state)
    try:
        return store.runner(name).limits
    finally:
        store.close()


def test_runner_show_json_gives_limits_under_the_configuration_names_and_session_count(
        cli: Cli, state: str) -> None:
    assert cli("runner", "add", "ann", "--profile", "backward-walking")[0] == 0
    code, out, _ = cli("runner", "show", "ann", "--json")
    assert code == 0
    data = json.loads(out)
    config_names = {f.name for f in dataclasses.fields(ProgramSettings)} | {"max_speed_kmh"}
    assert set(data["limits"]) == config_names
    assert data["limits"]["max_speed_kmh"] == 3.0
    assert data["limits"]["bout_steps"] == 10
    assert data["sessions"] == 0
    store = Store(state)
    store.record_session("ann", {"ended_by": "program"}, clean=True, progressed=None)
    store.close()
    assert json.loads(cli("runner", "show", "ann", "--json")[1])["sessions"] == 1


def test_a_wrong_pin_is_refused_counted_and_logged(cli: Cli, state: str) -> None:
    cli("runner", "add", "ann", "--profile", "backward-walking")
    assert cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n")[0] == 0
    before = limits_of(state, "ann")
    for attempt in (1, 2):
        code, _, err = cli("runner", "set", "ann", "bout_speed_kmh=2", "--pin-stdin",
                           stdin="1111\n")
        assert code == 1
        assert err.count("\n") == 1 and "wrong supervisor PIN" in err
        assert f"{attempt} wrong PIN" in err
    assert limits_of(state, "ann") == before
    store = Store(state)
    assert store.wrong_pins() == 2
    assert [e.what for e in store.audit()].count("wrong supervisor PIN") == 2
    store.close()
    code, out, _ = cli("runner", "set", "ann", "bout_speed_kmh=2", "--pin-stdin", stdin="2468\n")
    assert code == 0 and "1.5 → 2" in out
    assert limits_of(state, "ann").bout_speed_kmh == 2.0


def test_raising_risk_without_a_pin_set_is_refused(cli: Cli, state: str) -> None:
    cli("runner", "add", "ann", "--profile", "backward-walking")
    code, _, err = cli("runner", "set", "ann", "session_limit_s=300")
    assert code == 2 and "set-pin" in err
    assert limits_of(state, "ann").session_limit_s == 180.0


def test_lowering_risk_needs_no_pin(cli: Cli, state: str) -> None:
    cli("runner", "add", "ann", "--profile", "backward-walking")
    code, out, _ = cli("runner", "set", "ann", "bout_speed_kmh=1.2", "rest_s=40")
    assert code == 0, out
    limits = limits_of(state, "ann")
    assert (limits.bout_speed_kmh, limits.rest_s) == (1.2, 40.0)


@pytest.mark.parametrize(("change", "names"), [
    ("bout_speed_kmh=9", "bout_speed_kmh"),
    ("max_speed_kmh=2.5", None),  # fine: below the cap
    ("bout_steps=3", "bout_steps"),
    ("bout_steps=ten", "bout_steps"),
    ("rest_mode=nap", "rest_mode"),
    ("no_such=1", "no_such"),
    ("warmup_speed_kmh=2", "warmup_speed_kmh"),
])
def test_an_out_of_bounds_value_is_one_clear_error(cli: Cli, state: str, change: str,
                                                   names: str | None) -> None:
    cli("runner", "add", "ann", "--profile", "backward-walking")
    before = limits_of(state, "ann")
    code, _, err = cli("runner", "set", "ann", change)
    if names is None:
        assert code == 0
        return
    assert code == 2
    assert err.startswith("treadguard: ") and err.count("\n") == 1 and names in err
    assert "Traceback" not in err
    assert limits_of(state, "ann") == before


def test_the_profile_caps_the_limits(cli: Cli, state: str) -> None:
    cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n")
    cli("runner", "add", "bo", "--profile", "hands-on")
    code, _, err = cli("runner", "set", "bo", "max_speed_kmh=2.5", "--pin-stdin", stdin="2468\n")
    assert code == 2 and "hands-on profile's cap (2 km/h)" in err
    # Moving a runner to a profile whose cap their speeds exceed is refused as well.
    cli("runner", "add", "cy", "--profile", "backward-walking")
    code, _, err = cli("runner", "set", "cy", "profile=hands-on", "--pin-stdin", stdin="2468\n")
    assert code == 2 and "max_speed_kmh" in err


def test_backward_running_needs_the_pin_and_never_exceeds_8_kmh(cli: Cli, state: str) -> None:
    code, _, err = cli("runner", "add", "dee", "--profile", "backward-running")
    assert code == 2 and "PIN" in err
    cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n")
    assert cli("runner", "add", "dee", "--profile", "backward-running", "--pin-stdin",
               stdin="2468\n")[0] == 0
    code, _, err = cli("runner", "set", "dee", "max_speed_kmh=8.5", "--pin-stdin",
                       stdin="2468\n")
    assert code == 2 and "max_speed_kmh" in err
    assert limits_of(state, "dee").max_speed_kmh == 8.0


def test_the_audit_log_says_what_old_new_who_and_when(cli: Cli, state: str) -> None:
    cli("runner", "add", "ann", "--profile", "backward-walking")
    cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n")
    cli("runner", "set", "ann", "bouts=6", "--pin-stdin", stdin="2468\n")
    code, out, _ = cli("runner", "history", "ann", "--json")
    assert code == 0
    entries = json.loads(out)
    last = entries[-1]
    assert (last["what"], last["old"], last["new"]) == ("bouts", "4", "6")
    assert last["who"].endswith("(supervisor PIN)")
    assert last["at"].endswith("+00:00") and last["at"][:4].isdigit()
    assert entries[0]["what"] == "added"


def test_changing_the_pin_needs_the_old_one(cli: Cli, state: str) -> None:
    cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n")
    assert cli("supervisor", "set-pin", "--pin-stdin", stdin="0000\n1357\n")[0] == 1
    assert cli("supervisor", "set-pin", "--pin-stdin", stdin="2468\n1357\n")[0] == 0
    assert cli("supervisor", "set-pin", "--pin-stdin", stdin="1357\n12\n")[0] == 2  # too short
    store = Store(state)
    stored = store.pin_hash()
    store.close()
    assert stored is not None and "1357" not in stored and verify_pin("1357", stored)


def test_pins_are_salted_scrypt_hashes() -> None:
    a, b = hash_pin("2468"), hash_pin("2468")
    assert a != b and a.startswith("scrypt$")
    assert verify_pin("2468", a) and verify_pin("2468", b)
    assert not verify_pin("2469", a)
    assert not verify_pin("2468", "garbage")


def test_state_overrides_the_config_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text(SIM_TOML.read_text().replace('state_dir = "run/state"',
                                                   f'state_dir = "{tmp_path / "cfg"}"'))
    assert run(["runner", "add", "ann", "--profile", "hands-on", "--config", str(config)],
               capsys, monkeypatch)[0] == 0
    assert (tmp_path / "cfg" / "treadguard.db").exists()
    assert run(["runner", "add", "bo", "--profile", "hands-on", "--config", str(config),
                "--state", str(tmp_path / "other")], capsys, monkeypatch)[0] == 0
    assert (tmp_path / "other" / "treadguard.db").exists()
    _, out, _ = run(["runner", "list", "--json", "--config", str(config)], capsys, monkeypatch)
    assert [r["name"] for r in json.loads(out)] == ["ann"]


def test_the_store_uses_wal_and_migrates_an_old_file(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "treadguard.db")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = Store(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("SELECT name FROM sqlite_master WHERE name = "
                             "'sessions_by_runner'").fetchone() is not None
    store.close()


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "treadguard.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(tmp_path)


def test_unknown_runner_and_duplicate_names_are_one_line(cli: Cli) -> None:
    code, _, err = cli("runner", "show", "nobody")
    assert code == 2 and "no runner called 'nobody'" in err
    cli("runner", "add", "ann", "--profile", "hands-on")
    code, _, err = cli("runner", "add", "ann", "--profile", "hands-on")
    assert code == 2 and "already exists" in err


def test_every_profile_default_fits_its_own_bounds() -> None:
    for p in PROFILES.values():
        check(p, new_limits(p, ProgramSettings()))
    with pytest.raises(LimitError):
        check(PROFILES["hands-on"], new_limits(PROFILES["backward-walking"], ProgramSettings()))
