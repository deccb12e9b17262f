"""`treadguard sim` with scenarios, scenario files, replays, seeds and the --json outcome."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main
from hardware.sim.runner import EventKind, Runner, RunnerEvent

from .conftest import ROOT, SIM_TOML

OUTCOME_KEYS = ["scenario", "fault", "seed", "outcome", "stop_reason", "onset_s", "reaction_ms",
                "belt_stopped", "belt_stopped_s", "max_speed_kmh", "latched",
                "relay_closed_while_latched", "restarts", "final_state"]


def sim_json(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "outcome.json"
    main(["sim", "--fast", "--config", str(SIM_TOML), *args, "--json", str(out)])
    result: dict[str, object] = json.loads(out.read_text())
    return result


def test_the_demo_keeps_its_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--fast", "--config", str(SIM_TOML), "--scenario", "demo"]) == 0
    out = capsys.readouterr().out
    assert "slip onset 11.000 s → first slowing byte 11.070 s: 70 ms" in out


def test_a_slip_is_stopped_and_latched_and_the_outcome_says_so(tmp_path: Path) -> None:
    result = sim_json(tmp_path, "--scenario", "slip", "--duration-s", "24")
    assert list(result) == OUTCOME_KEYS
    assert result["outcome"] == "stopped" and result["fault"] is None
    assert result["onset_s"] == 20.0
    assert isinstance(result["reaction_ms"], float) and result["reaction_ms"] <= 150.0
    assert result["belt_stopped"] is True and result["latched"] is True
    assert isinstance(result["belt_stopped_s"], float) and result["belt_stopped_s"] < 21.0
    assert result["restarts"] == 0 and result["relay_closed_while_latched"] is False
    assert result["final_state"] == "latched"


def test_a_walk_completes_at_the_requested_speed(tmp_path: Path) -> None:
    result = sim_json(tmp_path, "--scenario", "walk-backward", "--duration-s", "20",
                      "--speed-kmh", "2.0")
    assert result["outcome"] == "completed" and result["stop_reason"] is None
    assert result["final_state"] == "running" and result["latched"] is False
    assert result["max_speed_kmh"] == pytest.approx(2.0, abs=0.1)
    assert result["onset_s"] is None and result["reaction_ms"] is None


def test_a_scenario_file_with_speed_changes_and_an_event(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('duration_s = 22\nspeed_kmh = 1.0\nhands = "touch"\n'
                    "[[speed]]\nt_s = 12\nkmh = 2.0\n"
                    '[[event]]\nt_s = 19\nkind = "trip"\n')
    result = sim_json(tmp_path, "--scenario", str(path))
    assert result["scenario"] == "mine"
    assert result["max_speed_kmh"] > 1.5  # type: ignore[operator]
    assert result["stop_reason"] is not None and result["onset_s"] == 19.0


@pytest.mark.parametrize(("text", "says"), [
    ("duration_s = -1\n", "duration_s: expected a number > 0"),
    ("duration_s = 10\n[[event]]\nt_s = 3\nkind = \"explode\"\n", "event[0].kind"),
    ("duration_s = 10\nspeed = 3\n", "speed: expected [[speed]] tables"),
    ("duration_s = 10\ncolour = 3\n", "unknown key 'colour'"),
    ("duration_s = [\n", "not valid TOML"),
])
def test_a_bad_scenario_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         text: str, says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sim", "--fast", "--config", str(SIM_TOML), "--scenario", str(path)]) == 1
    err = capsys.readouterr().err
    assert says in err and str(path) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--duration-s", "0"], ["--speed-kmh", "nan"],
                                  ["--fault-at-s", "-1"], ["--fault-matrix"]])
def test_bad_options_are_refused_before_anything_starts(
        capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["sim", "--fast", "--config", str(SIM_TOML), *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_an_unknown_scenario_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--fast", "--config", str(SIM_TOML), "--scenario", "moonwalk"]) == 1
    assert "unknown scenario 'moonwalk'" in capsys.readouterr().err


def write_recording(path: Path) -> None:
    """A csv-format recording (100 Hz, g and °/s) of a runner who slips at 4 s and goes down."""
    runner = Runner((RunnerEvent(4.0, EventKind.SLIP),), seed=3)
    lines = ["time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps"]
    for i in range(800):
        t = i * 0.01
        runner.advance(t, 1.5)
        acc, gyro = runner.at(t)
        lines.append(",".join(f"{v:.5f}" for v in (t, *(a / 9.80665 for a in acc),
                                                   *(math.degrees(w) for w in gyro))))
    path.write_text("\n".join(lines) + "\n")


def test_a_replayed_recording_goes_through_the_imu_twin_and_is_stopped(tmp_path: Path) -> None:
    recording = tmp_path / "slip.csv"
    write_recording(recording)
    result = sim_json(tmp_path, "--scenario", f"replay:{recording}")
    assert result["scenario"] == "replay:slip.csv"
    assert result["outcome"] == "stopped"
    assert result["stop_reason"] in ("slip_trip", "pre_impact", "fall", "impact")


def test_a_missing_recording_is_one_line(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["sim", "--fast", "--config", str(SIM_TOML), "--scenario",
                 f"replay:{missing}"]) == 1
    assert "no such recording" in capsys.readouterr().err


def run_outcome(tmp_path: Path, name: str, seed: str, hog: bool) -> bytes:
    out = tmp_path / f"{name}.json"
    hog_proc = None
    if hog:  # a CPU hog beside the session: the outcome must not care
        hog_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        subprocess.run([sys.executable, "-m", "controller.cli", "sim", "--fast", "--config",
                        str(SIM_TOML), "--scenario", "dizzy", "--duration-s", "26", "--seed",
                        seed, "--fault", "treadmill-slow-replies", "--fault-at-s", "24",
                        "--json", str(out)],
                       cwd=ROOT, capture_output=True, timeout=300, check=True)
    finally:
        if hog_proc is not None:
            hog_proc.kill()
            hog_proc.wait()
    return out.read_bytes()


def test_the_same_seed_gives_the_same_outcome_byte_for_byte_even_under_load(
        tmp_path: Path) -> None:
    quiet = run_outcome(tmp_path, "quiet", "5", hog=False)
    loaded = run_outcome(tmp_path, "loaded", "5", hog=True)
    assert quiet == loaded
    assert json.loads(quiet)["seed"] == 5


def test_jogging_backward_at_speed_is_not_a_false_alarm(tmp_path: Path) -> None:
    out = tmp_path / "jog.json"
    main(["sim", "--fast", "--config", str(ROOT / "examples" / "sim-running.toml"),
          "--scenario", "jog-backward", "--duration-s", "30", "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["outcome"] == "completed" and result["stop_reason"] is None
    assert result["max_speed_kmh"] > 6.0  # running: flight phases and ~3 g stance peaks
