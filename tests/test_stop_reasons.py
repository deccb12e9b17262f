"""Stop reasons and event kinds are named once (:mod:`controller.stop_reasons`,
:mod:`controller.events`), listed in ``docs/architecture.md``, and never spelled as bare strings
where a stop is requested — so the code, the log and the docs cannot drift apart."""

from __future__ import annotations

import ast
import re

from controller.events import EventKind
from controller.stop_reasons import RAIL_RESET_REASON, StopReason

from .conftest import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"
SOURCES = sorted(p for d in ("controller", "hardware") for p in (ROOT / d).rglob("*.py"))


def _section(title: str) -> str:
    """The text of one ``## title`` section of docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/architecture.md has no section '## {title}'"
    return match.group(1)


def _first_column(section: str) -> list[str]:
    """The backticked names in the first column of a Markdown table."""
    return re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.MULTILINE)


def test_the_docs_list_every_stop_reason_and_no_other() -> None:
    listed = _first_column(_section("Stop reasons"))
    assert sorted(listed) == sorted(set(listed)), "listed twice"
    assert set(listed) == {r.value for r in StopReason}


def test_the_docs_list_every_event_kind_and_no_other() -> None:
    listed = _first_column(_section("Event kinds"))
    assert set(listed) == {k.value for k in EventKind}


def test_a_member_is_its_string() -> None:
    # The log, the account and the tests compare with plain strings: a StrEnum keeps them equal.
    reason: str = StopReason.SLIP_TRIP
    kind: str = EventKind.STOP
    assert reason == "slip_trip" and f"{reason}" == "slip_trip" and str(reason) == "slip_trip"
    assert kind == "stop" and f"{kind}" == "stop"
    assert set(RAIL_RESET_REASON.values()) <= set(StopReason)


def _is_level_stop(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "STOP" and (
        isinstance(node.value, ast.Name) and node.value.id == "Level")


def _bare_reasons(tree: ast.AST) -> list[int]:
    """Lines where a stop is requested with a string literal (plain or f-string) as reason."""
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        reason: ast.expr | None = None
        if name == "request_stop":
            reason = node.args[0] if node.args else None
        elif name == "Decision" and node.args and _is_level_stop(node.args[0]):
            reason = node.args[1] if len(node.args) > 1 else None
        elif name == "Decision" and any(k.arg == "level" and _is_level_stop(k.value)
                                        for k in node.keywords):
            reason = next((k.value for k in node.keywords if k.arg == "reason"), None)
        for k in node.keywords:
            if name == "request_stop" and k.arg == "reason":
                reason = k.value
        if isinstance(reason, ast.JoinedStr) or (
                isinstance(reason, ast.Constant) and isinstance(reason.value, str)):
            bad.append(node.lineno)
    return bad


def test_no_stop_is_requested_with_a_bare_string() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}" for path in SOURCES
           for line in _bare_reasons(ast.parse(path.read_text(encoding="utf-8")))]
    assert not bad, "use a StopReason member:\n" + "\n".join(bad)


def test_the_check_finds_a_bare_string() -> None:
    source = ('sup.request_stop("x")\nDecision(Level.STOP, f"rail_{k}")\n'
              'Decision(Level.CAUTION, "stumble")\nsup.request_stop(StopReason.ESTOP)\n')
    assert _bare_reasons(ast.parse(source)) == [1, 2]


def test_every_reason_is_produced_somewhere() -> None:
    # A member no code uses is a stale name in the docs' list.
    code = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES
                     if p != ROOT / "controller" / "stop_reasons.py")
    unused = [r.name for r in StopReason if f"StopReason.{r.name}" not in code
              and r not in RAIL_RESET_REASON.values()]
    assert not unused, unused
