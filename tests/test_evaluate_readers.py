"""Readers on tiny synthetic files in each real format, resampling, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controller.evaluate.cli import main as evaluate_main
from controller.evaluate.readers import (
    CSV_HEADER,
    DatasetError,
    kfall_task_code,
    read_csv,
    read_kfall,
    read_kfall_labels,
    read_sisfall,
)
from controller.evaluate.trial import Trial, resample, samples
from hardware.imu import STANDARD_GRAVITY_MPS2

KFALL_HEADER = "TimeStamp(s),FrameCounter,AccX,AccY,AccZ,GyrX,GyrY,GyrZ,EulerX,EulerY,EulerZ"


def write_kfall_trial(path: Path, n: int, first_frame: int = 1) -> None:
    lines = [KFALL_HEADER]
    for i in range(n):
        frame = first_frame + i
        lines.append(f"{frame * 0.01},{frame},0.01,-1.0,0.02,1.5,-2.0,0.5,88.0,-2.0,-20.0")
    path.write_text("\n".join(lines) + "\n")


def write_kfall_labels(path: Path, rows: list[tuple[object, ...]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Task Code (Task ID)", "Description", "Trial ID", "Fall_onset_frame",
               "Fall_impact_frame"])
    for row in rows:
        ws.append(list(row))
    wb.save(path)


@pytest.fixture
def kfall_root(tmp_path: Path) -> Path:
    root = tmp_path / "KFall"
    sensor = root / "sensor_data" / "SA99"
    sensor.mkdir(parents=True)
    (root / "label_data").mkdir()
    write_kfall_trial(sensor / "S99T06R01.csv", 300)  # D06 walking
    write_kfall_trial(sensor / "S99T28R01.csv", 400, first_frame=11)  # F09, labelled
    write_kfall_trial(sensor / "S99T28R02.csv", 400)  # F09, labelled on a carried-down row
    write_kfall_trial(sensor / "S99T34R01.csv", 400)  # F15, no label: skipped
    write_kfall_labels(root / "label_data" / "SA99_label.xlsx", [
        ("F09 (28)", "Vertical (forward) fall while walking caused by fainting", 1, 111, 181),
        (None, None, 2, 150, 210),
        ("F10 (29)", "Fall while walking", 1, 120, 200),
    ])
    return root


def test_kfall_task_codes() -> None:
    assert [kfall_task_code(i) for i in (1, 19, 20, 28, 34, 35, 36)] == \
        ["D01", "D19", "F01", "F09", "F15", "D20", "D21"]
    with pytest.raises(ValueError):
        kfall_task_code(37)


def test_kfall_labels_carry_the_task_code_down(kfall_root: Path) -> None:
    labels = read_kfall_labels(kfall_root / "label_data" / "SA99_label.xlsx")
    assert labels == {("F09", 1): (111, 181), ("F09", 2): (150, 210), ("F10", 1): (120, 200)}


def test_kfall_reader_maps_frames_to_times(kfall_root: Path) -> None:
    trials = {t.file: t for t in read_kfall(kfall_root)}
    assert set(trials) == {"S99T06R01.csv", "S99T28R01.csv", "S99T28R02.csv"}
    walk = trials["S99T06R01.csv"]
    assert (walk.task_code, walk.kind, walk.onset_s) == ("D06", "adl", None)
    assert walk.rate_hz == pytest.approx(100.0)
    f1 = trials["S99T28R01.csv"]  # frames start at 11: onset frame 111 is 1.00 s in
    assert (f1.task_code, f1.kind) == ("F09", "fall")
    assert f1.onset_s == pytest.approx(1.00)
    assert f1.impact_s == pytest.approx(1.70)
    f2 = trials["S99T28R02.csv"]  # frames start at 1
    assert f2.onset_s == pytest.approx(1.49)
    assert f2.impact_s == pytest.approx(2.09)
    np.testing.assert_allclose(f1.acc_g[0], [0.01, -1.0, 0.02])
    np.testing.assert_allclose(f1.gyro_dps[0], [1.5, -2.0, 0.5])


def test_kfall_subject_filter_and_missing_folders(kfall_root: Path, tmp_path: Path) -> None:
    assert list(read_kfall(kfall_root, ["SA01"])) == []
    assert len(list(read_kfall(kfall_root, ["sa99"]))) == 3
    with pytest.raises(DatasetError):
        list(read_kfall(tmp_path / "nowhere"))


def test_sisfall_reader_converts_counts_with_the_readme_formulas(tmp_path: Path) -> None:
    subject = tmp_path / "SisFall_dataset" / "SA01"
    subject.mkdir(parents=True)
    line = " 256,-256,   0,  16,   0, -16, 1024,-1024, 0;\n"
    (subject / "F05_SA01_R01.txt").write_text(line * 3 + "\n")
    (subject / "D01_SA01_R01.txt").write_text(line * 4)
    (subject / "desktop.ini").write_text("[.ShellClassInfo]\n")
    trials = {t.file: t for t in read_sisfall(tmp_path / "SisFall_dataset")}
    assert set(trials) == {"F05_SA01_R01.txt", "D01_SA01_R01.txt"}
    f = trials["F05_SA01_R01.txt"]
    assert (f.task_code, f.kind, f.subject, f.onset_s) == ("F05", "fall", "SA01", None)
    np.testing.assert_allclose(f.acc_g[0], [1.0, -1.0, 0.0])  # 32 g / 2^13 per count
    np.testing.assert_allclose(f.gyro_dps[0], [16 * 4000 / 65536, 0.0, -16 * 4000 / 65536])
    np.testing.assert_allclose(f.t_s, [0.0, 0.005, 0.010])
    assert trials["D01_SA01_R01.txt"].kind == "adl"


def test_sisfall_rejects_a_malformed_line(tmp_path: Path) -> None:
    subject = tmp_path / "SA01"
    subject.mkdir()
    (subject / "D01_SA01_R01.txt").write_text("1,2,3;\n")
    with pytest.raises(DatasetError, match="9 columns"):
        list(read_sisfall(tmp_path))


def write_csv(path: Path, t0: float, n: int, rate_hz: float) -> None:
    rows = [",".join(CSV_HEADER)]
    for i in range(n):
        rows.append(f"{t0 + i / rate_hz:.6f},0,0,1,0,0,{i}")
    path.write_text("\n".join(rows) + "\n")


def test_csv_reader_with_labels(tmp_path: Path) -> None:
    write_csv(tmp_path / "fall1.csv", 100.0, 50, 50.0)
    write_csv(tmp_path / "walk.csv", 0.0, 50, 50.0)
    (tmp_path / "labels.csv").write_text(
        "file,kind,task_code,onset_s,impact_s\nfall1.csv,fall,F13,100.2,100.8\n")
    trials = {t.file: t for t in read_csv(tmp_path)}
    assert set(trials) == {"fall1.csv", "walk.csv"}
    f = trials["fall1.csv"]
    assert (f.kind, f.task_code) == ("fall", "F13")
    assert f.onset_s == pytest.approx(0.2)  # relative to the first sample
    assert f.impact_s == pytest.approx(0.8)
    assert f.t_s[0] == 0.0
    w = trials["walk.csv"]
    assert (w.kind, w.task_code, w.onset_s) == ("adl", "CSV", None)
    np.testing.assert_allclose(w.gyro_dps[:3, 2], [0, 1, 2])


def test_csv_reader_rejects_a_wrong_header(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n")
    with pytest.raises(DatasetError, match="header"):
        list(read_csv(tmp_path))


def test_resample_to_200_hz_interpolates_linearly() -> None:
    t = np.arange(5) / 100.0
    acc = np.column_stack([t * 100.0, np.zeros(5), np.ones(5)])
    tr = resample(Trial("S", "f", "D01", "adl", t, acc, np.zeros((5, 3))))
    assert len(tr.t_s) == 9
    np.testing.assert_allclose(np.diff(tr.t_s), 0.005)
    np.testing.assert_allclose(tr.acc_g[:, 0], np.arange(9) * 0.5)
    same = Trial("S", "f", "D01", "adl", np.arange(5) / 200.0, acc, np.zeros((5, 3)))
    assert resample(same) is same


def test_samples_are_si_units() -> None:
    tr = Trial("S", "f", "D01", "adl", np.array([0.0, 0.005]),
               np.array([[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]),
               np.array([[180.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    s = next(samples(tr))
    assert s.acc_mps2[1] == pytest.approx(-STANDARD_GRAVITY_MPS2)
    assert s.gyro_rads[0] == pytest.approx(np.pi)


def test_evaluate_cli_on_a_csv_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rate = 100.0
    t = np.arange(int(3 * rate)) / rate
    rows = [",".join(CSV_HEADER)]
    for ti in t:  # standing still, then 0.6 s of free fall (0 g)
        z = 0.0 if 1.0 <= ti < 1.6 else 1.0
        rows.append(f"{ti:.3f},0,0,{z},0,0,0")
    (tmp_path / "drop.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "labels.csv").write_text("file,kind,task_code,onset_s,impact_s\n"
                                         "drop.csv,fall,F99,1.0,1.6\n")
    out = tmp_path / "out.json"
    trials_csv = tmp_path / "trials.csv"
    assert evaluate_main(["--dataset", "csv", str(tmp_path), "--json", str(out),
                          "--trials-csv", str(trials_csv)]) == 0
    report = json.loads(out.read_text())
    assert "sensitivity" in capsys.readouterr().out  # the table for people
    assert report["detector"] == "treadguard"
    assert report["falls"]["trials"] == 1
    assert report["falls"]["detected"] == 1
    assert report["cost_us_per_sample"] > 0
    lines = trials_csv.read_text().splitlines()
    assert lines[0].startswith("subject,file,task_code,kind,duration_s,first_stop_s,stop_alarms,"
                               "first_caution_s")
    assert len(lines) == 2


def test_evaluate_cli_reports_a_bad_path(tmp_path: Path) -> None:
    assert evaluate_main(["--dataset", "kfall", str(tmp_path)]) == 2
