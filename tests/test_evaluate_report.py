"""``treadguard evaluate`` for people: the table agrees with the JSON, ``--compare``, the
progress bar stays on stderr, and ``--plots`` draws data — on a small synthetic csv dataset."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from controller.evaluate import plots
from controller.evaluate.cli import main as evaluate_main
from controller.evaluate.harness import run_trial
from controller.evaluate.readers import CSV_HEADER, read_csv
from controller.evaluate.summary import percent
from controller.report_table import flatten, fmt, table

RATE_HZ = 100.0


def write_recording(path: Path, duration_s: float, drop: tuple[float, float] | None) -> None:
    """Standing still (1 g on z); during ``drop`` (start, end s) free fall (0 g)."""
    rows = [",".join(CSV_HEADER)]
    for t in np.arange(int(duration_s * RATE_HZ)) / RATE_HZ:
        z = 0.0 if drop is not None and drop[0] <= t < drop[1] else 1.0
        rows.append(f"{t:.3f},0,0,{z},0,0,0")
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Falls of two types (free falls of 0.6 s and 0.8 s, labelled), activities of two types:
    standing still, and one with a drop (a false alarm)."""
    root = tmp_path / "rec"
    root.mkdir()
    labels = ["file,kind,task_code,onset_s,impact_s"]
    for i, (code, length) in enumerate([("F01", 0.6), ("F01", 0.8), ("F02", 0.8)]):
        write_recording(root / f"fall{i}.csv", 3.0, (1.0, 1.0 + length))
        labels.append(f"fall{i}.csv,fall,{code},1.0,{1.0 + length}")
    write_recording(root / "still.csv", 20.0, None)
    labels.append("still.csv,adl,D01,,")
    write_recording(root / "hop.csv", 10.0, (5.0, 5.8))
    labels.append("hop.csv,adl,D02,,")
    (root / "labels.csv").write_text("\n".join(labels) + "\n")
    return root


def row(text: str, label: str) -> list[str]:
    """The cells after ``label`` in the first table line that starts with it (two spaces or
    more separate cells)."""
    for line in text.splitlines():
        if line.strip().startswith(label):
            cells = [c.strip() for c in line.strip()[len(label):].split("  ") if c.strip()]
            return cells
    raise AssertionError(f"no row {label!r} in\n{text}")


def test_the_table_shows_the_figures_of_the_json(dataset: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert evaluate_main(["--dataset", "csv", str(dataset), "--json", str(out),
                          "--by-task"]) == 0
    text = capsys.readouterr().out
    rep = json.loads(out.read_text())
    falls, adl = rep["falls"], rep["adl"]
    assert falls["trials"] == 3 and adl["trials"] == 2 and adl["trials_with_alarm"] == 1
    assert row(text, "trials") == [str(falls["trials"])]
    assert row(text, "detected") == [str(falls["detected"])]
    assert row(text, "sensitivity") == [percent(falls["sensitivity"])]
    lead = falls["lead_time_ms"]
    assert row(text, "lead time, ms: median / p10 / mean") == [
        f"{fmt(lead['median'])} / {fmt(lead['p10'])} / {fmt(lead['mean'])}"]
    assert row(text, "specificity") == [percent(adl["specificity"])] == ["50.00 %"]
    assert row(text, "false alarms per hour") == [fmt(adl["false_alarms_per_hour"])]
    assert row(text, "cost per sample, µs") == [fmt(rep["cost_us_per_sample"])]
    d02 = rep["by_task"]["D02"]["adl"]
    assert row(text, "D02") == [f"1/1 stopped, {fmt(d02['false_alarms_per_hour'])} /h"]


def test_json_dash_prints_only_json_even_with_a_progress_bar(
        dataset: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    assert evaluate_main(["--dataset", "csv", str(dataset), "--json", "-"]) == 0
    rep = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert rep["falls"]["trials"] == 3
    assert "0/5 [" in err.getvalue() and "trial" in err.getvalue()  # the bar: on stderr

    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert evaluate_main(["--dataset", "csv", str(dataset), "--json", "-", "--quiet"]) == 0
    assert quiet.getvalue() == ""


def test_compare_runs_both_detectors_in_one_pass(dataset: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main(["--dataset", "csv", str(dataset), "--compare", "kfall-threshold",
                          "--json", "-", "--quiet"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert [r["detector"] for r in both] == ["treadguard", "kfall-threshold"]
    assert evaluate_main(["--dataset", "csv", str(dataset), "--detector", "kfall-threshold",
                          "--json", "-", "--quiet"]) == 0
    alone = json.loads(capsys.readouterr().out)
    del alone["cost_us_per_sample"], both[1]["cost_us_per_sample"]
    assert both[1] == alone

    assert evaluate_main(["--dataset", "csv", str(dataset), "--compare", "kfall-threshold",
                          "--quiet"]) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[2].split()
    assert header == ["treadguard", "kfall-threshold"]
    assert row(text, "sensitivity") == [percent(both[0]["falls"]["sensitivity"]),
                                        percent(both[1]["falls"]["sensitivity"])]


def test_each_plot_draws_data(dataset: Path) -> None:
    from controller.detect import build

    results = {name: [run_trial(build(name), t) for t in read_csv(dataset)]
               for name in ("treadguard", "kfall-threshold")}
    figures = [plots.lead_time_figure(results), plots.latency_figure(results),
               plots.false_alarms_figure(results)]
    for fig in figures:
        assert fig is not None
        assert all(ax.has_data() for ax in fig.axes if ax.get_ylabel() or ax.get_xlabel())
    lead_ax = figures[0].axes[0]  # type: ignore[union-attr]
    assert [t.get_text() for t in lead_ax.get_xticklabels()] == ["F01", "F02"]


def test_plots_option_writes_the_pngs_with_a_sweep(dataset: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "img"
    assert evaluate_main(["--dataset", "csv", str(dataset), "--plots", str(out),
                          "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["false_alarms.png", "latency.png", "lead_time.png",
                     "threshold_sweep.png", "threshold_sweep_gait.png"] or names == [
        "false_alarms.png", "latency.png", "lead_time.png", "threshold_sweep.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "threshold_sweep.png" in capsys.readouterr().err


def test_sweep_figure_plots_one_point_per_threshold() -> None:
    def rep(fah: float, sens: float, lead: float) -> dict[str, object]:
        part = {"falls": {"sensitivity": sens, "lead_time_ms": {"median": lead}},
                "adl": {"false_alarms_per_hour": fah}}
        return {**part, "gait": part}

    fig = plots.sweep_figure("treadguard", "model_logit", 8.5,
                             [(7.5, rep(9.0, 0.99, 330.0)), (8.5, rep(3.0, 0.98, 300.0)),
                              (9.5, rep(1.0, 0.95, 280.0))])
    assert fig is not None
    sens_line = fig.axes[0].get_lines()[0]
    assert np.asarray(sens_line.get_xdata()).tolist() == [9.0, 3.0, 1.0]
    assert np.asarray(sens_line.get_ydata()).tolist() == pytest.approx([99.0, 98.0, 95.0])
    assert np.asarray(fig.axes[1].get_lines()[0].get_ydata()).tolist() == [330.0, 300.0, 280.0]


def test_table_aligns_figures_and_flattens_nested_json() -> None:
    rows = flatten({"a": {"b": 1.5, "c": None}, "runs": [{"x": 2}], "name": "pty"})
    assert rows == [("a.b", 1.5), ("a.c", None), ("runs[0].x", 2), ("name", "pty")]
    text = table([(k, fmt(v)) for k, v in rows], header=("figure", "value"))
    lines = text.splitlines()
    assert lines[2] == "a.b" + " " * 10 + "1.5"  # figures right-aligned under "value"
    assert lines[3] == "a.c" + " " * 12 + "—"
    assert lines[5] == "name       pty"


def test_config_gives_the_detectors_options(dataset: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``--config``: the file's ``[detect]`` options are the ones measured. A free fall must
    last 1 s in this file: the synthetic ones (0.6 s and 0.8 s) are no longer stopped."""
    assert evaluate_main(["--dataset", "csv", str(dataset), "--json", "-", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["falls"]["detected"] == 3
    blind = tmp_path / "blind.toml"
    text = (Path(__file__).resolve().parents[1] / "examples" / "sim.toml").read_text()
    assert "free_fall_g = 0.4\nimpact_g = 3.5\n" in text
    blind.write_text(text.replace("free_fall_g = 0.4\nimpact_g = 3.5\n",
                                  "free_fall_g = 0.4\nimpact_g = 3.5\nfree_fall_hold_s = 1.0\n"))
    assert evaluate_main(["--dataset", "csv", str(dataset), "--json", "-", "--quiet",
                          "--config", str(blind)]) == 0
    assert json.loads(capsys.readouterr().out)["falls"]["detected"] == 0


def test_a_malformed_config_is_one_line(dataset: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[detect]\nfree_fall_g = -1\n")
    assert evaluate_main(["--dataset", "csv", str(dataset), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.toml" in err, err
