"""``treadguard calibrate rails``: prints the ``[rails]`` lines to paste (and ``--out`` writes
the same), checks ``--out`` before the session, and turns missing hardware into one line."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from controller import cli
from controller import config as cfg
from controller.calibrate import CalibrationError, run_calibrate_rails

from .conftest import PI_TOML, SIM_TOML

FIRST_PROMPT = "Take both hands off the rails"


def _calibrate(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = cli.main(["calibrate", "rails", "--config", str(SIM_TOML), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_rails_lines_that_paste_into_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "rails-lines.toml"
    code, out, err = _calibrate(capsys, "--out", str(out_file))
    assert code == 0, err
    snippet = out_file.read_text(encoding="utf-8")
    assert snippet in out  # --out holds exactly what was printed
    # Simulated hands: 5 N light touch, 150 N firm grip, on each rail in turn.
    assert re.search(r"# left rail: .*force 0\.0\d / [45]\.\d\d / 1[45]\d\.\d\d N", snippet)
    settings: dict[str, int] = {}
    for line in snippet.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(" = ")
            settings[key] = int(value)
    assert set(settings) == {"touch_threshold_counts", "release_threshold_counts"}
    assert 2 <= settings["release_threshold_counts"] < settings["touch_threshold_counts"]
    # Pasted over the lines of [rails], the configuration loads with the new thresholds.
    text = SIM_TOML.read_text(encoding="utf-8")
    text = re.sub(r"touch_threshold_counts = \d+\nrelease_threshold_counts = \d+\n", snippet, text)
    rails = cfg.parse("pasted.toml", text).rails
    assert rails is not None
    assert rails.touch_threshold_counts == settings["touch_threshold_counts"]
    assert rails.release_threshold_counts == settings["release_threshold_counts"]


def test_prints_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _calibrate(capsys)
    assert code == 0, err
    assert "touch_threshold_counts = " in out


@pytest.mark.parametrize("where", ["directory", "missing-directory"])
def test_bad_out_is_refused_before_the_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    out = tmp_path if where == "directory" else tmp_path / "nowhere" / "rails.toml"
    code, stdout, err = _calibrate(capsys, "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"treadguard: --out {out}: "), err
    assert FIRST_PROMPT not in stdout  # no one was asked to grip anything
    assert not (tmp_path / "nowhere").exists()


def test_out_check_leaves_no_file_behind(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "norails.toml"
    config.write_text(_without_rails(), encoding="utf-8")
    out = tmp_path / "rails.toml"
    assert cli.main(["calibrate", "rails", "--config", str(config), "--out", str(out)]) == 1
    assert "no [rails] section" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(os.path.exists("/dev/i2c-1"), reason="this machine has a real I²C bus 1")
def test_no_i2c_bus_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["calibrate", "rails", "--config", str(PI_TOML)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "[i2c] bus = 1: /dev/i2c-1 not found" in err


def test_calibration_file_option_says_what_replaced_it() -> None:
    text = SIM_TOML.read_text(encoding="utf-8").replace(
        'touch_chip = "mpr121"', 'touch_chip = "mpr121"\ncalibration_file = "rails.toml"', 1)
    with pytest.raises(cfg.ConfigError, match=r"\[rails\] calibration_file: no longer read: "
                                              r".*touch_threshold_counts"):
        cfg.parse("old.toml", text)


def _without_rails() -> str:
    text = SIM_TOML.read_text(encoding="utf-8")
    start = text.index("[rails]")
    end = text.index("\n[", start + 1)
    return text[:start] + text[end + 1:]


def test_refuses_without_rails(tmp_path: Path) -> None:
    config = tmp_path / "norails.toml"
    config.write_text(_without_rails(), encoding="utf-8")
    with pytest.raises(CalibrationError, match="no \\[rails\\]"):
        run_calibrate_rails(cfg.load(config), None, io.StringIO())


def test_stdin_closed_mid_session_is_one_line() -> None:
    def closed(step: str, prompt: str) -> None:
        raise EOFError

    with pytest.raises(CalibrationError, match="standard input closed"):
        run_calibrate_rails(cfg.load(SIM_TOML), None, io.StringIO(), ask=closed)
