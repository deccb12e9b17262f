"""Readers on the real published formats (``../shared/datasets``), a few trials each.

Marked ``dataset``; skipped with a message when the datasets are absent. Only the members
needed are unpacked, into pytest's temporary folder (never into the repository).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

from controller.evaluate.readers import read_kfall, read_kfall_labels, read_sisfall
from controller.evaluate.trial import resample

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
pytestmark = pytest.mark.dataset


def _unpack(archive: Path, dest: Path, wanted: tuple[str, ...]) -> None:
    """Stream ``archive`` and extract members whose path contains one of ``wanted``."""
    if not archive.exists():
        pytest.skip(f"dataset archive {archive} absent (see ../shared/datasets/README.md)")
    with tarfile.open(archive, "r|xz") as tar:
        for member in tar:
            if member.isfile() and any(w in member.name for w in wanted):
                tar.extract(member, dest, filter="data")


@pytest.fixture(scope="module")
def kfall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("kfall")
    _unpack(DATASETS / "kfall-dev.tar.xz", dest,
            ("SA06_label.xlsx", "S06T01R01.csv", "S06T06R01.csv", "S06T28R01.csv",
             "S06T34R01.csv", "S06T34R02.csv"))
    roots = list(dest.rglob("sensor_data"))
    if not roots:
        pytest.fail("kfall-dev.tar.xz holds no sensor_data/ folder")
    return roots[0].parent


@pytest.fixture(scope="module")
def sisfall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("sisfall")
    _unpack(DATASETS / "sisfall-sample.tar.xz", dest,
            ("D01_SA01_R01.txt", "F05_SA01_R01.txt", "Readme.txt"))
    dirs = [p.parent.parent for p in dest.rglob("D01_SA01_R01.txt")]
    if not dirs:
        pytest.fail("sisfall-sample.tar.xz holds no D01_SA01_R01.txt")
    return dirs[0]


def test_kfall_labels_real(kfall: Path) -> None:
    labels = read_kfall_labels(kfall / "label_data" / "SA06_label.xlsx")
    assert len(labels) > 60
    assert {code for code, _ in labels} == {f"F{i:02d}" for i in range(1, 16)}
    assert all(onset < impact for onset, impact in labels.values())


def test_kfall_trials_real(kfall: Path) -> None:
    trials = {t.file: t for t in read_kfall(kfall, ["SA06"])}
    assert "S06T01R01.csv" in trials and "S06T06R01.csv" in trials
    stand = trials["S06T01R01.csv"]
    assert (stand.task_code, stand.kind) == ("D01", "adl")
    assert stand.rate_hz == pytest.approx(100.0, rel=0.01)
    # Standing: y is vertical, about −1 g, and nothing rotates.
    assert np.median(stand.acc_g[:, 1]) == pytest.approx(-1.0, abs=0.05)
    assert np.median(np.linalg.norm(stand.acc_g, axis=1)) == pytest.approx(1.0, abs=0.05)
    assert np.median(np.abs(stand.gyro_dps)) < 5.0
    falls = [t for t in trials.values() if t.kind == "fall"]
    assert falls, "expected at least one labelled fall trial"
    for f in falls:
        assert f.onset_s is not None and f.impact_s is not None
        assert 0.0 < f.onset_s < f.impact_s < f.duration_s
        assert 0.2 < f.impact_s - f.onset_s < 2.0
    up = resample(stand)
    assert up.rate_hz == pytest.approx(200.0, rel=0.01)


def test_sisfall_trials_real(sisfall: Path) -> None:
    trials = {t.file: t for t in read_sisfall(sisfall, ["SA01"])}
    assert set(trials) == {"D01_SA01_R01.txt", "F05_SA01_R01.txt"}
    walk = trials["D01_SA01_R01.txt"]
    assert walk.rate_hz == pytest.approx(200.0)
    assert walk.duration_s > 90.0  # 100 s of slow walking
    norm = np.linalg.norm(walk.acc_g, axis=1)
    assert np.median(norm) == pytest.approx(1.0, abs=0.1)
    assert np.percentile(np.abs(walk.gyro_dps), 99) < 500.0
    fall = trials["F05_SA01_R01.txt"]
    assert fall.kind == "fall"
    assert np.linalg.norm(fall.acc_g, axis=1).max() > 2.0  # the impact


JOGGING_FROM_THE_FIRST_SAMPLE = ("D02_SA22_R01.txt", "D03_SA12_R01.txt", "D04_SA12_R01.txt")
"""Development SisFall recordings that start mid-walk / mid-jog: the first tracker armed on
their first 0.1 s and stopped the belt within 0.3 s, then again and again (4–6 alarms each)."""


@pytest.fixture(scope="module")
def sisfall_dev(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("sisfall_dev")
    _unpack(DATASETS / "sisfall-dev.tar.xz", dest, JOGGING_FROM_THE_FIRST_SAMPLE)
    dirs = {p.parent.parent for p in dest.rglob("*.txt")}
    if len(dirs) != 1:
        pytest.fail("sisfall-dev.tar.xz: expected the three recordings in one dataset folder")
    return dirs.pop()


def test_walking_from_the_first_sample_does_not_stop_real(sisfall_dev: Path) -> None:
    from controller.detect import build_default
    from controller.evaluate.harness import run_trial

    trials = list(read_sisfall(sisfall_dev, ["SA12", "SA22"]))
    assert {t.file for t in trials} == set(JOGGING_FROM_THE_FIRST_SAMPLE)
    det = build_default()
    for trial in trials:
        result = run_trial(det, trial)
        assert result.alarm_starts_s == (), f"{trial.file}: stops at {result.alarm_starts_s}"
        assert not det.orientation.armed_still  # it never kept still: armed on the fallback
