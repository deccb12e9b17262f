"""Dataset readers: KFall and SisFall as published, and the documented csv format.

Each reader yields :class:`~controller.evaluate.trial.Trial` objects in g and deg/s with times
starting at 0 s; the harness resamples them to the loop rate and converts them to SI
:class:`~hardware.imu.ImuSample` before any detector sees them.

KFall (``PATH`` holds ``sensor_data/`` and ``label_data/``)
    ``sensor_data/SAxx/SxxTyyRzz.csv`` at 100 Hz (g, deg/s); task ids T01–T19 are daily
    activities D01–D19, T20–T34 falls F01–F15, T35–T36 activities D20–D21. Fall onset and
    impact come from ``label_data/SAxx_label.xlsx`` as FrameCounter values; the task code
    (``"F09 (28)"``) appears only on the first row of each group and is carried down.
    Sample times are ``(FrameCounter − first FrameCounter) / 100`` s, so a dropped frame keeps
    its place in time and labels map exactly.

SisFall (``PATH`` holds the subject folders ``SA01/``, …)
    ``Dxx_SAyy_Rzz.txt`` / ``Fxx_SAyy_Rzz.txt``, 200 Hz, nine comma-separated raw counts per
    line ending in ``;``. Columns 1–3 (ADXL345, 13 bit, ±16 g) and 4–6 (ITG3200, 16 bit,
    ±2000 °/s) are used, converted with the Readme's formula ``value = (2·range / 2^bits)·counts``.
    No onset labels.

csv (``PATH`` is a ``.csv`` file or a folder of them) — the format for your own recordings
    Header exactly ``time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps``; any
    (roughly uniform) rate; time in seconds, increasing. Optional labels in ``labels.csv``
    beside the recordings, header ``file,kind,task_code,onset_s,impact_s``: ``kind`` is
    ``fall`` or ``adl``, ``task_code`` may be empty (``CSV``), ``onset_s``/``impact_s`` are
    seconds on the recording's own time axis (empty if unknown). A recording without a label
    row is a daily activity.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from controller.evaluate.trial import Trial

KFALL_RATE_HZ = 100.0
SISFALL_RATE_HZ = 200.0
SISFALL_ACC_G_PER_COUNT = (2 * 16) / 2**13
"""ADXL345, ±16 g over 13 bits (SisFall Readme)."""
SISFALL_GYRO_DPS_PER_COUNT = (2 * 2000) / 2**16
"""ITG3200, ±2000 °/s over 16 bits (SisFall Readme)."""

CSV_HEADER = ("time_s", "acc_x_g", "acc_y_g", "acc_z_g", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps")
CSV_LABELS = "labels.csv"

_KFALL_FILE = re.compile(r"^S(\d+)T(\d+)R(\d+)\.csv$", re.IGNORECASE)
_SISFALL_FILE = re.compile(r"^([DF]\d+)_([A-Z]{2}\d+)_R(\d+)\.txt$", re.IGNORECASE)
_TASK_CELL = re.compile(r"([DF]\d+)")


class DatasetError(Exception):
    """The dataset at PATH is not in the expected format (message names the file)."""


def kfall_task_code(task_id: int) -> str:
    """KFall task id → task code: T01–T19 → D01–D19, T20–T34 → F01–F15, T35–T36 → D20–D21."""
    if 1 <= task_id <= 19:
        return f"D{task_id:02d}"
    if 20 <= task_id <= 34:
        return f"F{task_id - 19:02d}"
    if 35 <= task_id <= 36:
        return f"D{task_id - 15:02d}"
    raise ValueError(f"unknown KFall task id T{task_id:02d}")


def read_kfall_labels(path: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """Read one ``SAxx_label.xlsx``: ``{(task_code, trial): (onset_frame, impact_frame)}``.

    The task code cell is filled only on the first row of each group; later rows inherit it.
    Columns are found by their header text (``Task Code``, ``Trial ID``, ``onset``, ``impact``).
    """
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(c or "").lower() for c in next(rows)]

        def col(word: str) -> int:
            for i, h in enumerate(header):
                if word in h:
                    return i
            raise DatasetError(f"{path}: no column containing {word!r} in header {header}")

        c_task, c_trial = col("task"), col("trial")
        c_onset, c_impact = col("onset"), col("impact")
        labels: dict[tuple[str, int], tuple[int, int]] = {}
        task = ""
        for row in rows:
            cell = row[c_task] if c_task < len(row) else None
            if cell is not None and str(cell).strip():
                m = _TASK_CELL.search(str(cell))
                if not m:
                    raise DatasetError(f"{path}: cannot read task code {cell!r}")
                task = m.group(1).upper()
            trial, onset, impact = row[c_trial], row[c_onset], row[c_impact]
            if trial is None or onset is None or impact is None:
                continue
            if not task:
                raise DatasetError(f"{path}: a label row comes before any task code")
            labels[(task, int(trial))] = (int(onset), int(impact))
        return labels
    finally:
        wb.close()


def _read_kfall_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 8), ndmin=2)
    if data.shape[0] < 2:
        raise DatasetError(f"{path}: fewer than two samples")
    frames = data[:, 0]
    return frames, data[:, 1:4], data[:, 4:7]


def _subjects_filter(subjects: Iterable[str] | None) -> set[str] | None:
    return None if subjects is None else {s.strip().upper() for s in subjects if s.strip()}


def read_kfall(root: Path, subjects: Iterable[str] | None = None) -> Iterator[Trial]:
    """Yield every KFall trial under ``root`` (optionally only ``subjects``), sorted by file.

    A fall trial without a label row is skipped (it cannot be scored); one is reported by
    :class:`DatasetError` only if no trial at all can be read.
    """
    sensor = root / "sensor_data"
    label_dir = root / "label_data"
    if not sensor.is_dir() or not label_dir.is_dir():
        raise DatasetError(f"{root}: expected the KFall folders sensor_data/ and label_data/")
    wanted = _subjects_filter(subjects)
    for subject_dir in sorted(p for p in sensor.iterdir() if p.is_dir()):
        subject = subject_dir.name.upper()
        if wanted is not None and subject not in wanted:
            continue
        label_file = label_dir / f"{subject_dir.name}_label.xlsx"
        labels = read_kfall_labels(label_file) if label_file.exists() else {}
        for f in sorted(subject_dir.iterdir()):
            m = _KFALL_FILE.match(f.name)
            if not m:
                continue
            code = kfall_task_code(int(m.group(2)))
            trial_no = int(m.group(3))
            frames, acc, gyro = _read_kfall_csv(f)
            t = (frames - frames[0]) / KFALL_RATE_HZ
            onset_s = impact_s = None
            kind = "fall" if code.startswith("F") else "adl"
            if kind == "fall":
                label = labels.get((code, trial_no))
                if label is None:
                    continue
                onset_s = float(np.interp(label[0], frames, t))
                impact_s = float(np.interp(label[1], frames, t))
            yield Trial(subject, f.name, code, kind, t, acc, gyro, onset_s, impact_s)


def read_sisfall(root: Path, subjects: Iterable[str] | None = None) -> Iterator[Trial]:
    """Yield every SisFall trial under ``root`` (subject folders), raw counts converted."""
    wanted = _subjects_filter(subjects)
    dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not dirs:
        raise DatasetError(f"{root}: expected SisFall subject folders (SA01/, …)")
    for subject_dir in dirs:
        subject = subject_dir.name.upper()
        if wanted is not None and subject not in wanted:
            continue
        for f in sorted(subject_dir.iterdir()):
            m = _SISFALL_FILE.match(f.name)
            if not m:
                continue
            counts = read_sisfall_counts(f)
            n = counts.shape[0]
            if n < 2:
                continue
            code = m.group(1).upper()
            yield Trial(
                subject,
                f.name,
                code,
                "fall" if code.startswith("F") else "adl",
                np.arange(n, dtype=np.float64) / SISFALL_RATE_HZ,
                counts[:, 0:3] * SISFALL_ACC_G_PER_COUNT,
                counts[:, 3:6] * SISFALL_GYRO_DPS_PER_COUNT,
            )


def read_sisfall_counts(path: Path) -> np.ndarray:
    """The raw counts of one SisFall file, shape (n, 9); lines end in ``;``, blanks skipped."""
    rows: list[list[float]] = []
    with path.open(encoding="ascii", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip().rstrip(";").strip()
            if not line:
                continue
            parts = line.split(",")
            if len(parts) != 9:
                raise DatasetError(f"{path}:{lineno}: expected 9 columns, got {len(parts)}")
            rows.append([float(p) for p in parts])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 9)


def read_csv_labels(path: Path) -> dict[str, tuple[str, str, float | None, float | None]]:
    """``labels.csv`` → ``{file: (kind, task_code, onset_s, impact_s)}``."""
    out: dict[str, tuple[str, str, float | None, float | None]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "kind"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            kind = (row.get("kind") or "").strip().lower()
            if kind not in ("fall", "adl"):
                raise DatasetError(f"{path}: kind must be fall or adl, got {kind!r}")

            def num(key: str, row: dict[str, str] = row) -> float | None:
                text = (row.get(key) or "").strip()
                return float(text) if text else None

            code = (row.get("task_code") or "").strip() or "CSV"
            out[row["file"].strip()] = (kind, code, num("onset_s"), num("impact_s"))
    return out


def read_csv(root: Path, subjects: Iterable[str] | None = None) -> Iterator[Trial]:
    """Yield the recordings in the documented csv format (``root`` a file or a folder)."""
    del subjects  # a csv folder is one subject: its folder name
    files = [root] if root.is_file() else sorted(
        p for p in root.glob("*.csv") if p.name != CSV_LABELS)
    if not files:
        raise DatasetError(f"{root}: no .csv recordings")
    folder = root.parent if root.is_file() else root
    label_path = folder / CSV_LABELS
    labels = read_csv_labels(label_path) if label_path.exists() else {}
    for f in files:
        with f.open(encoding="utf-8") as fh:
            header = tuple(h.strip() for h in fh.readline().strip().split(","))
        if header != CSV_HEADER:
            raise DatasetError(f"{f}: expected header {','.join(CSV_HEADER)}")
        data = np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2)
        if data.shape[0] < 2 or data.shape[1] != 7:
            raise DatasetError(f"{f}: expected at least two rows of 7 numbers")
        t0 = float(data[0, 0])
        t = data[:, 0] - t0
        if np.any(np.diff(t) <= 0):
            raise DatasetError(f"{f}: time_s must increase")
        kind, code, onset, impact = labels.get(f.name, ("adl", "CSV", None, None))
        yield Trial(
            folder.name, f.name, code, kind, t, data[:, 1:4], data[:, 4:7],
            None if onset is None else onset - t0,
            None if impact is None else impact - t0,
        )


READERS = {"kfall": read_kfall, "sisfall": read_sisfall, "csv": read_csv}


def count_recordings(dataset: str, root: Path, subjects: Iterable[str] | None = None) -> int:
    """How many recording files the reader of ``dataset`` will open under ``root`` (for the
    progress bar's total; a KFall fall trial without a label row is opened but not yielded)."""
    wanted = _subjects_filter(subjects)
    if dataset == "csv":
        return 1 if root.is_file() else sum(1 for p in root.glob("*.csv") if p.name != CSV_LABELS)
    pattern, base = ((_KFALL_FILE, root / "sensor_data") if dataset == "kfall"
                     else (_SISFALL_FILE, root))
    if not base.is_dir():
        return 0
    return sum(1 for d in base.iterdir()
               if d.is_dir() and (wanted is None or d.name.upper() in wanted)
               for f in d.iterdir() if pattern.match(f.name))
