"""The documentation speaks for itself: the README lists each command once, and docs and
docstrings name only files that exist here — no issues, design cards or outside notes."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from controller.cli import build_parser

from .conftest import ROOT

PROSE = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = sorted(p for d in ("controller", "hardware", "tests", "scripts")
                 for p in (ROOT / d).rglob("*.py"))
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
THIS = Path(__file__).resolve()


def _subcommands() -> set[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def test_readme_lists_every_command_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `treadguard ([a-z-]+)", readme, flags=re.MULTILINE)
    assert sorted(listed) == sorted(set(listed)), "listed twice: " + ", ".join(
        sorted({c for c in listed if listed.count(c) > 1}))
    assert set(listed) == _subcommands()


def test_readme_mentions_the_pi_extra() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "'.[pi]'" in readme and "python3-lgpio" in readme


def _texts() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in [*PROSE, *SOURCES, *EXAMPLES]
            if p != THIS]


PATH = re.compile(r"(?<![\w./])((?:\.\./)*(?:controller|hardware|docs|tests|examples|scripts|"
                  r"systemd|reference|shared)/[\w./-]*[\w/])")


def test_named_files_exist() -> None:
    missing = []
    for path, text in _texts():
        for match in PATH.finditer(text):
            name = match.group(1)
            if "../shared/datasets" in name:  # the data sets: fetched separately, documented
                continue
            # A path outside the repository (``../``) is missing for a reader of this one.
            if name.startswith("../") or not (ROOT / name).exists():
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, "\n".join(missing)


def test_no_references_to_issues_or_design_cards() -> None:
    pattern = re.compile(r"\bissue\b|\bdesign card\b|\bon main\b", re.IGNORECASE)
    found = [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
             for path, text in _texts() for m in pattern.finditer(text)]
    assert not found, "\n".join(found)
