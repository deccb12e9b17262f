"""The shipped fall-score weights: plain numbers the Pi loads without any library, and the
digest documented in docs/detection.md (so a changed file is a documented change)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from controller.detect import fall_model_weights as w
from controller.detect.fall_model import FEATURES

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "controller" / "detect" / "fall_model_weights.py"


def test_weights_are_plain_numbers_with_no_imports() -> None:
    tree = ast.parse(WEIGHTS.read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(w.W1) == len(w.B1) == len(w.W2)
    assert all(len(row) == len(FEATURES) for row in w.W1)
    assert all(isinstance(x, float) for row in w.W1 for x in row)
    assert isinstance(w.B2, float)


def test_the_weights_digest_is_documented() -> None:
    digest = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert digest in (ROOT / "docs" / "detection.md").read_text(encoding="utf-8"), (
        f"docs/detection.md must give the sha256 of {WEIGHTS.name}: {digest}")
