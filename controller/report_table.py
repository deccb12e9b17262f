"""Plain-text tables for people, shared by ``treadguard evaluate`` and ``bench-link``.

The JSON reports stay the machines' format; these functions only lay the same figures out in
aligned columns (first column left, the others right-aligned, like numbers in a spreadsheet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "—"
"""Shown for a figure that does not exist (None in the JSON)."""


def fmt(value: Any) -> str:
    """``value`` as a cell: None → ``—``, floats without trailing zeros (``12.5``, ``0.008``),
    lists of scalars joined by ``, ``, anything else ``str()``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def flatten(figures: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested JSON figures as ``(dotted name, value)`` rows: ``{"a": {"b": 1}}`` → ``a.b``; a
    list of objects gets its index (``runs[0].x``)."""
    rows: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(flatten(value, name + "."))
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                rows.extend(flatten(item, f"{name}[{i}].") if isinstance(item, Mapping)
                            else [(f"{name}[{i}]", item)])
        else:
            rows.append((name, value))
    return rows


def _is_figure(cell: str) -> bool:
    """A cell that starts like a number (or is the missing mark): aligned on the right."""
    return cell[:1].isdigit() or cell[:1] in ("-", "+", MISSING) or cell == ""


def table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """``rows`` (and an optional ``header`` underlined with dashes) in aligned columns, two
    spaces apart: figures right-aligned (digits line up), words left-aligned. A row of one
    cell is a section title across the table."""
    body = [list(r) for r in rows]
    lines_in = ([list(header)] if header is not None else []) + body
    ncols = max(len(r) for r in lines_in) if lines_in else 0
    widths = [max((len(r[i]) for r in lines_in if len(r) > 1 and i < len(r)), default=0)
              for i in range(ncols)]

    def line(cells: Sequence[str]) -> str:
        if len(cells) == 1:
            return cells[0]
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) if _is_figure(c) else c.ljust(w)
                  for c, w in zip(cells[1:], widths[1:], strict=False)]
        return "  ".join(parts).rstrip()

    out = []
    if header is not None:
        out.append(line(header))
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in body]
    return "\n".join(out)
