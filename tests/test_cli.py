from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main

from .conftest import ROOT, SIM_TOML


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "sim"):
        assert command in out


def test_sim_prints_a_readable_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--fast", "--config", str(SIM_TOML)]) == 0
    out = capsys.readouterr().out
    assert "speed 0.5 km/h (start speed)" in out
    assert "speed 1.5 km/h" in out
    assert "STOP: pre_impact" in out
    assert "state → latched (pre_impact)" in out
    assert "controller at the end: latched (reason: pre_impact) — needs a human reset" in out
    assert "treadmill at the end: belt 0.0 km/h, status STOPPED" in out


def test_with_the_specialist_left_out_slip_trip_stops_the_demos_slip(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The gait-fall specialist stops the demo's slip first (above); a site that leaves it out
    (``gait_logit = 100``) still has ``slip_trip`` for a slip the rails catch at 50°."""
    text = SIM_TOML.read_text()
    assert "[detect]\n" in text
    config = tmp_path / "no-specialist.toml"
    config.write_text(text.replace("[detect]\n", "[detect]\ngait_logit = 100\n"))
    assert main(["sim", "--fast", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "STOP: slip_trip" in out
    assert "controller at the end: latched (reason: slip_trip) — needs a human reset" in out


def test_console_script_runs_in_a_fresh_process() -> None:
    """`python -m controller.cli` (what the console script calls) with stdout not a terminal."""
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "sim", "--config", str(SIM_TOML)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"slip onset 11\.000 s → first slowing byte [0-9.]+ s: (\d+) ms",
                      result.stdout)
    assert match is not None, result.stdout
    assert int(match.group(1)) <= 150  # the onset → first slowing byte budget


def test_daemon_event_printer_never_blocks_the_caller() -> None:
    """`treadguard run` prints from its own thread: a stdout that blocks must not hold up the
    loop, and lines beyond the queue are dropped and counted."""
    import threading

    from controller.daemon import EventPrinter

    release = threading.Event()

    class BlockedStream:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def write(self, text: str) -> int:
            release.wait(5.0)  # a pipe nobody reads
            self.lines.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    stream = BlockedStream()
    printer = EventPrinter(stream, maxlen=10)
    for i in range(100):  # returns at once although the stream is blocked
        printer.post_line(f"line {i}")
    assert printer.dropped >= 89
    release.set()
    printer.close()
    assert "line 0" in "".join(stream.lines)


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"treadguard {version('treadguard')}\n"


def test_missing_lgpio_names_the_pi_extra(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """On a Pi without the backend, ``check`` says how to install it, on one line."""
    from controller import transports

    def no_lgpio(name: str) -> object:
        raise ModuleNotFoundError("No module named 'lgpio'", name="lgpio")

    monkeypatch.setattr("controller.transports.importlib.import_module", no_lgpio)
    config = SIM_TOML.read_text(encoding="utf-8").replace('pin_factory = "mock"',
                                                          'pin_factory = "lgpio"', 1)
    with pytest.raises(transports.HardwareError) as info:
        transports.open_pin_factory(cfg.parse("pi5.toml", config), None)
    message = str(info.value)
    assert "\n" not in message
    assert "No module named 'lgpio'" in message
    assert "pip install 'treadguard[pi]'" in message
    assert "apt install python3-lgpio" in message
