"""``treadguard report``: a therapist's page from the black box of simulated sessions, and a
runner's trend from the runner store."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from controller import config as cfg
from controller.blackbox import store as blackbox
from controller.cli import main
from controller.program_sim import run_program
from controller.report import PLAIN_REASONS, plain_reason
from controller.stop_reasons import StopReason
from tests.conftest import SIM_TOML
from tests.test_sessions_program import new_runner

RELAY_ONLY_TOML = Path(__file__).resolve().parent.parent / "examples" / "sim-relay-only.toml"
SESSION_PLOTS = ("speed", "sway", "tipping", "cadence", "bouts", "detector", "rails")


def figures(page: str) -> dict[str, tuple[int, str]]:
    """Each plot's ``data-points`` and its inner HTML."""
    found = re.findall(r'<figure data-plot="(\w+)" data-points="(\d+)">(.*?)</figure>', page,
                       re.S)
    return {name: (int(points), body) for name, points, body in found}


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short program sessions of ``ann`` (one completed, one ended by a slip), black box
    and runner store in one directory."""
    state = tmp_path_factory.mktemp("state")
    new_runner(state)
    settings = cfg.load(SIM_TOML)
    for slip in (None, 18.0):
        code, _ = run_program(settings, state, "ann", slip_at_s=slip, out=io.StringIO())
        assert code == 0
    return state


def test_every_stop_reason_has_words_a_therapist_understands() -> None:
    assert set(PLAIN_REASONS) == set(StopReason)
    for reason in StopReason:
        words = plain_reason(reason)
        assert words.endswith(".") and len(words.split()) >= 4, reason
        assert "_" not in words  # words, not the code


def test_a_simulated_program_records_the_runners_black_box(programs: Path) -> None:
    ann = [s for s in blackbox.sessions(programs) if s.runner == "ann"]
    assert len(ann) == 2 and all(s.telemetry_rows > 100 and s.ended_utc for s in ann)
    stops = [[m for _, k, m in blackbox.rows(programs, s, "events") if k == "stop"]
             for s in ann]
    assert stops[0] == ["STOP: session_complete — 2/2 bouts, " + stops[0][0].split(", ")[1]]
    assert re.match(r"STOP: (slip_trip|pre_impact)", stops[1][0])


def test_the_report_of_a_completed_session_has_every_plot_with_data(
        programs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = next(s for s in blackbox.sessions(programs) if s.runner == "ann")
    assert main(["report", first.id, "--state", str(programs), "--out", str(tmp_path)]) == 0
    assert "index.html" in capsys.readouterr().out
    page = (tmp_path / "index.html").read_text()
    plots = figures(page)
    assert tuple(plots) == SESSION_PLOTS
    for name, (points, body) in plots.items():
        assert points > 0 and "<svg" in body and "<path" in body, name
    assert plots["bouts"][0] == 2  # two bouts, a bar each
    assert "backward-walking" in page and ">ann<" in page
    assert plain_reason(StopReason.SESSION_COMPLETE) in page
    # Self-contained: nothing is fetched (the only URLs are SVG's namespaces).
    assert not re.search(r"(src|href)=\"(?!#)", page)
    assert set(re.findall(r"https?://[^\"' )<]+", page)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_the_last_sessions_stop_is_said_in_plain_words(
        programs: Path, tmp_path: Path) -> None:
    assert main(["report", "--last", "--state", str(programs), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    words = [plain_reason(r) for r in (StopReason.SLIP_TRIP, StopReason.PRE_IMPACT)]
    assert any(w in page for w in words)
    assert "No bouts in this recording" in page  # the slip came during the first bout


def test_missing_data_is_said_not_plotted(tmp_path: Path) -> None:
    assert main(["sim", "--config", str(RELAY_ONLY_TOML), "--state", str(tmp_path / "s"),
                 "--fast"]) == 0  # the demo: a slip, the stop, latched
    assert main(["report", "--last", "--state", str(tmp_path / "s"), "--out",
                 str(tmp_path / "r")]) == 0
    plots = figures((tmp_path / "r" / "index.html").read_text())
    for name in ("speed", "rails", "bouts"):  # relay-only: no speed read back, no rails
        points, body = plots[name]
        assert points == 0 and "<svg" not in body and 'class="missing"' in body, name
    assert "relay-only" in plots["speed"][1] and "handrail" in plots["rails"][1]
    assert plots["sway"][0] > 0 and "<svg" in plots["sway"][1]


def test_a_runners_trend_and_csv(programs: Path, tmp_path: Path) -> None:
    assert main(["report", "--runner", "ann", "--state", str(programs), "--out",
                 str(tmp_path)]) == 0
    with (tmp_path / "ann-sessions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[0]["ended_by"] == "program"
    assert rows[1]["ended_by"] in {"slip_trip", "pre_impact"}
    # The first session's program progressed the bout speed for the second.
    assert float(rows[1]["bout_speed_kmh"]) == pytest.approx(
        float(rows[0]["bout_speed_kmh"]) + 0.1)
    assert rows[0]["instability_events"] == "0" and int(rows[1]["instability_events"]) >= 1
    page = (tmp_path / "index.html").read_text()
    plots = figures(page)
    assert tuple(plots) == ("length", "bout_speed", "steps", "instability")
    assert all(points == 2 and "<svg" in body for points, body in plots.values())
    assert "Progression changes" in page and "bout_speed_kmh" in page


def test_unknown_session_or_runner_is_one_line_and_exit_1(
        programs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "nope", "--state", str(programs), "--out", str(tmp_path)]) == 1
    assert main(["report", "--runner", "bob", "--state", str(programs)]) == 1
    assert main(["report", "--last", "--state", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("treadguard report: ") for line in err)
    assert "no session 'nope'" in err[0] and "bob" in err[1] and "no sessions" in err[2]
