"""``treadguard sim --fault-matrix --json OUT``: every fault during ``walk-backward`` and every
scenario on its own, one outcome row each, with the checks the controller must pass.

For every fault: the belt stopped, the stop latched, nothing restarted, the power never closed
while latched, and the reaction within the fault's deadline — sensor and stop-chain faults
100 ms, link faults the treadmill's 0.5 s watchdog, a loop stall the stall itself plus the
stall limit and a tick; a configuration edited mid-session must change nothing (the session
completes at its old speed). For every scenario: nothing restarted and the power never closed
while latched; a session that stopped ends stopped and latched. Each row is the session's
outcome (:func:`controller.sim_session.outcome`) plus ``deadline_ms``, ``problems`` (what failed,
empty when none) and ``ok``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final, TextIO

from controller.sim_faults import FAULTS, STALL_S
from controller.sim_session import SessionPlan, run_quiet, write_outcome
from hardware.sim.scenario_file import scenario_names

FAULT_AT_S: Final = 20.0
AFTER_FAULT_S: Final = 8.0
"""Each fault's session runs this long after the fault (the stop and the latch are done)."""
DEADLINE_MS: Final = {"sensor": 100.0, "chain": 100.0, "link": 500.0, "process": 500.0,
                      "clip": 100.0,
                      "belt": 500.0, "loop": (STALL_S + 0.1 + 0.005) * 1000.0}
"""Onset → safe, by the fault's kind (see :mod:`controller.sim_faults`)."""
SCENARIOS_IN_MATRIX: Final = tuple(n for n in scenario_names() if n != "idle")
CONFIG_SPEED_BEFORE_KMH: Final = 1.5


def check_fault(row: dict[str, Any], kind: str) -> list[str]:
    """What a fault row fails (empty: it passes)."""
    problems = _universal(row)
    if kind == "config":
        if row["outcome"] != "completed":
            problems.append(f"the session did not complete ({row['stop_reason']})")
        if row["max_speed_kmh"] is not None and row["max_speed_kmh"] > \
                CONFIG_SPEED_BEFORE_KMH + 0.05:
            problems.append(f"the edited speed took effect: {row['max_speed_kmh']} km/h")
        return problems
    if not row["belt_stopped"]:
        problems.append("belt not stopped")
    elif kind == "process" and row["belt_stopped_s"] is None:
        problems.append("no time at which the belt stopped")
    if not row["latched"]:
        problems.append("not latched")
    deadline = DEADLINE_MS[kind]
    if row["reaction_ms"] is None:
        problems.append("no reaction")
    elif row["reaction_ms"] > deadline:
        problems.append(f"reaction {row['reaction_ms']} ms > {deadline:g} ms")
    return problems


def _universal(row: dict[str, Any]) -> list[str]:
    problems = []
    if row["restarts"]:
        problems.append(f"{row['restarts']} restart(s)")
    if row["relay_closed_while_latched"]:
        problems.append("power closed while latched")
    return problems


def check_scenario(row: dict[str, Any]) -> list[str]:
    """What a scenario row fails (empty: it passes)."""
    problems = _universal(row)
    if row["outcome"] == "stopped" and not (row["belt_stopped"] and row["latched"]):
        problems.append("stopped but the belt ran on or the stop did not latch")
    return problems


def fault_row(config: str, fault: str, seed: int | None, fault_at_s: float = FAULT_AT_S,
              after_s: float = AFTER_FAULT_S) -> dict[str, Any]:
    """One fault during walk-backward, checked."""
    kind = FAULTS[fault].kind
    with tempfile.TemporaryDirectory(prefix="treadguard-matrix-") as work:
        row = run_quiet(SessionPlan(config, "walk-backward", fault, fault_at_s, None,
                                    fault_at_s + after_s, seed), Path(work))
    problems = check_fault(row, kind)
    return {**row, "kind": kind, "deadline_ms": DEADLINE_MS.get(kind), "problems": problems,
            "ok": not problems}


def scenario_row(config: str, name: str, seed: int | None) -> dict[str, Any]:
    """One scenario on its own, checked."""
    row = run_quiet(SessionPlan(config, name, seed=seed))
    problems = check_scenario(row)
    return {**row, "kind": "scenario", "deadline_ms": None, "problems": problems,
            "ok": not problems}


def run_fault_matrix(config: str, out: str, seed: int | None, progress: TextIO) -> int:
    """Run the matrix, write the rows to ``out``; exit 0 when every row passes, else 1."""
    rows = []
    for fault in FAULTS:
        rows.append(fault_row(config, fault, seed))
        print(f"{fault}: {'ok' if rows[-1]['ok'] else '; '.join(rows[-1]['problems'])}",
              file=progress, flush=True)
    for name in SCENARIOS_IN_MATRIX:
        rows.append(scenario_row(config, name, seed))
        print(f"{name}: {rows[-1]['outcome']} "
              f"{'ok' if rows[-1]['ok'] else '; '.join(rows[-1]['problems'])}",
              file=progress, flush=True)
    write_outcome(rows, out)
    return 0 if all(r["ok"] for r in rows) else 1


def markdown(rows: list[dict[str, Any]]) -> str:
    """The matrix as the table in ``docs/reliability.md``."""
    lines = ["| Fault / scenario | Kind | Outcome | Stop reason | Onset s | Reaction ms | "
             "Deadline ms | Belt stopped s | Latched | Restarts | Power closed while latched | "
             "Checks |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value:g}" if isinstance(value, float) else str(value)

    for r in rows:
        name = f"`{r['fault']}`" if r["fault"] else f"`{r['scenario']}`"
        checks = "pass" if r["ok"] else "FAIL: " + "; ".join(r["problems"])
        lines.append("| " + " | ".join([
            name, r["kind"], r["outcome"], cell(r["stop_reason"]), cell(r["onset_s"]),
            cell(r["reaction_ms"]), cell(r["deadline_ms"]), cell(r["belt_stopped_s"]),
            cell(r["latched"]), cell(r["restarts"]), cell(r["relay_closed_while_latched"]),
            checks]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m controller.fault_matrix ROWS.json``: print the rows as a Markdown table."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="the fault matrix's rows as a Markdown table")
    parser.add_argument("rows", type=Path, help="the JSON written by sim --fault-matrix --json")
    args = parser.parse_args(argv)
    sys.stdout.write(markdown(json.loads(args.rows.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
