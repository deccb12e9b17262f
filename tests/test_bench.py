"""`treadguard bench` prints its figures (it measures; nothing here asserts a speed target)."""

from __future__ import annotations

import json

import pytest

from controller.cli import main


def test_bench_measures_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--seconds", "1", "--trials", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    loop = result["loop"]
    assert loop["ticks"] > 50 and loop["lateness_ms"]["max"] >= loop["lateness_ms"]["p50"]
    assert loop["sample_to_decision_ms"]["n"] > 50
    assert set(loop["cpu_per_tick_us"]) >= {"drivers", "health", "detectors", "supervisor",
                                            "link", "simulation"}
    assert all(us > 0 for us in loop["cpu_per_tick_us"].values())
    stops = result["stops"]
    # One trial each; the stop goes out in the tick that decides it, or behind one command in
    # flight (docs/treadmill-link.md): never later than a tick plus one command's bytes.
    for name in ("controlled_stop_first_slowing_byte_ms", "immediate_stop_byte_ms"):
        assert stops[name]["n"] == 1 and stops[name]["max"] <= 5.0 + 12.5


def test_bench_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--seconds", "0.5", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "tick lateness p50 / p99 / max (ms)" in out and "immediate stop" in out
