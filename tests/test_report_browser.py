"""The reports rendered by a real browser: headless Chromium (Debian's ``chromium``; ``make test``
installs it) builds the page's DOM, and every plot must be in it with its data.

Never skipped: without Chromium the test fails and says how to get it."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from controller import config as cfg
from controller.cli import main
from controller.program_sim import run_program
from tests.conftest import SIM_TOML
from tests.test_sessions_program import new_runner

WINDOW = "1000,3200"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: run scripts/install-test-deps.sh (make test does), or "
                    "apt-get install -y chromium")
    return found


def browse(page: Path, profile: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` with ``args``; its standard output."""
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WINDOW}", *args,
         page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def plots_in_dom(dom: str) -> dict[str, tuple[int, int]]:
    """Each figure of the DOM Chromium built: its ``data-points`` and how many SVG paths."""
    out = {}
    for name, points, body in re.findall(
            r'<figure data-plot="(\w+)" data-points="(\d+)">(.*?)</figure>', dom, re.S):
        svg = re.search(r"<svg\b.*</svg>", body, re.S)
        out[name] = (int(points), len(re.findall(r"<path\b", svg.group(0))) if svg else 0)
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a simulated program session, and its runner's report."""
    state = tmp_path_factory.mktemp("state")
    new_runner(state)
    code, _ = run_program(cfg.load(SIM_TOML), state, "ann", out=io.StringIO())
    assert code == 0
    out = tmp_path_factory.mktemp("reports")
    assert main(["report", "--last", "--state", str(state), "--out", str(out / "session")]) == 0
    assert main(["report", "--runner", "ann", "--state", str(state), "--out",
                 str(out / "runner")]) == 0
    return out


@pytest.mark.parametrize(("which", "names"), [
    ("session", ("speed", "sway", "tipping", "cadence", "bouts", "detector", "rails")),
    ("runner", ("length", "bout_speed", "steps", "instability")),
])
def test_chromium_renders_every_plot_with_data(reports: Path, tmp_path: Path, which: str,
                                               names: tuple[str, ...]) -> None:
    page = reports / which / "index.html"
    dom = browse(page, tmp_path / "profile", "--dump-dom")
    plots = plots_in_dom(dom)
    assert tuple(plots) == names
    for name, (points, paths) in plots.items():
        assert points > 0 and paths >= 3, f"{which} plot {name}: {points} points, {paths} paths"
    shot = tmp_path / "shot.png"
    browse(page, tmp_path / "profile", f"--screenshot={shot}")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # drawn, not a blank page
