"""Session reports for a therapist: one self-contained ``index.html`` from the black box.

- :func:`session_report`: one black-box recording (``treadguard report SESSION``): who ran
  (runner, profile, program), a summary in plain words (duration, distance, bouts, cautions,
  stops and their reasons), and plots of speed, trunk sway and tipping rate, cadence, steps per
  bout, the fall model's score and rail contact, every event marked.
- :func:`runner_report`: one runner's trend over the runner store's session summaries
  (``treadguard report --runner NAME``), and those summaries as CSV.

Plots are matplotlib figures embedded as inline SVG (no file beside the page, no URL): the
page opens from a USB stick on any computer. Each plot is a ``<figure data-plot=NAME
data-points=N>``; a plot whose data is missing (no handrail sensors, no bouts) is replaced by
a sentence saying so, never drawn empty. Reading never writes to the black box.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from controller.blackbox.store import TELEMETRY_COLUMNS, SessionInfo, rows
from controller.events import EventKind
from controller.stop_reasons import PLANNED_STOPS, StopReason
from controller.store import DB_NAME, Store, StoreError

PLAIN_REASONS: Final[dict[StopReason, str]] = {
    StopReason.POWER_ON: "The controller had just been switched on (or restarted); the belt "
                         "stays stopped until a person resets it.",
    StopReason.SHUTDOWN: "The controller was switched off or restarted.",
    StopReason.START_ABORTED: "A start was cancelled: a check before starting failed.",
    StopReason.TREADMILL_LINK: "The treadmill stopped answering or reported a fault, so its "
                               "power was cut.",
    StopReason.BELT_NOT_STOPPING: "The belt did not come to a stop in time, so its power was "
                                  "cut.",
    StopReason.BELT_MOVING_WHILE_LATCHED: "The belt moved while it should have been stopped, "
                                          "so its power was cut.",
    StopReason.LOOP_STALL: "The controller's own timing failed (it paused), so the belt's "
                           "power was cut.",
    StopReason.INTERNAL_ERROR: "A software error in the controller; the belt's power was cut.",
    StopReason.ESTOP: "Someone pressed the emergency stop (or its cable is broken).",
    StopReason.SAFETY_KEY_REMOVED: "The safety key was pulled out.",
    StopReason.RELAY_WELDED: "The power relay did not open when asked: a hardware fault to "
                             "repair before the next session.",
    StopReason.RELAY_FEEDBACK_LOST: "The power relay's check signal was lost: a wiring or "
                                    "hardware fault.",
    StopReason.IMU_STALE: "The belt-clip motion sensor stopped sending data.",
    StopReason.IMU_STUCK: "The belt-clip motion sensor froze (the same reading over and over).",
    StopReason.IMU_SATURATED: "The belt-clip motion sensor hit the end of its range (a violent "
                              "movement or a knock on the sensor).",
    StopReason.IMU_IMPLAUSIBLE: "The belt-clip motion sensor gave readings no person can "
                                "produce (a faulty sensor).",
    StopReason.I2C_ERROR_BUDGET: "Too many communication errors with the sensors (loose cable "
                                 "or interference).",
    StopReason.CLIP_MOVED: "The belt clip moved or turned on the runner's belt during the run.",
    StopReason.RAILS_STALE: "The handrail sensors stopped sending data.",
    StopReason.RAILS_STUCK: "The handrail sensors froze (the same reading over and over).",
    StopReason.RAIL_FORCE_RESET: "A handrail grip sensor restarted by itself (a power glitch).",
    StopReason.RAIL_TOUCH_RESET: "A handrail touch sensor restarted by itself (a power glitch).",
    StopReason.DECK_STALE: "The sensor that sees where the runner stands on the deck stopped "
                           "sending data.",
    StopReason.DECK_STUCK: "The sensor that sees where the runner stands on the deck froze.",
    StopReason.DECK_POSITION_UNKNOWN: "The runner was not seen on the deck for too long.",
    StopReason.SLIP_TRIP: "A slip or trip: the trunk tipped quickly while stepping.",
    StopReason.PRE_IMPACT: "The movement looked like the start of a fall (stopped before any "
                           "impact).",
    StopReason.FALL: "A fall: the trunk tipped far over.",
    StopReason.FREE_FALL: "A drop: the body was briefly in free fall.",
    StopReason.IMPACT: "A hard impact with the trunk tilted far over (likely a fall to the "
                       "deck).",
    StopReason.KFALL_THRESHOLD: "A fall by the published threshold method (only used when "
                                "evaluating recordings, never in a session).",
    StopReason.RAIL_GRAB: "The runner suddenly grabbed a handrail (a sign of losing balance).",
    StopReason.RAIL_OVERLOAD: "The runner pushed or pulled very hard on a handrail.",
    StopReason.RAIL_NOT_FITTED: "The hands-on program needs handrail sensors that are not "
                                "fitted.",
    StopReason.HANDS_OFF: "In the hands-on program a hand left the rail for too long.",
    StopReason.NO_RUNNER: "Nobody was walking on the moving belt.",
    StopReason.DECK_DRIFT: "The runner drifted too far back or too far forward on the deck.",
    StopReason.SESSION_COMPLETE: "The session ended as planned, after the cool-down.",
    StopReason.BOUT_REST: "A planned rest between bouts, with the belt stopped.",
    StopReason.STOP_REQUESTED: "Someone stopped the session from the control command.",
}
"""Each stop reason in words a therapist understands (``tests/test_report.py`` checks every
:class:`StopReason` has its sentence)."""

INSTABILITY: Final = frozenset({
    StopReason.SLIP_TRIP, StopReason.PRE_IMPACT, StopReason.FALL, StopReason.FREE_FALL,
    StopReason.IMPACT, StopReason.RAIL_GRAB, StopReason.RAIL_OVERLOAD, StopReason.HANDS_OFF,
    StopReason.DECK_DRIFT})
"""Stops that say the runner lost balance (counted as instability events in the trend)."""

"""Stops the program makes: counted apart from the others in the summary."""

MARKED: Final = {EventKind.STOP: ("#c0392b", 1.6), EventKind.CAUTION: ("#e67e22", 1.3),
                 EventKind.STATE: ("#7f8c8d", 0.6), EventKind.CUE: ("#2980b9", 0.5),
                 EventKind.INPUT: ("#8e44ad", 0.6), EventKind.INFO: ("#95a5a6", 0.4)}
"""How each kind of event is marked on every plot (colour, line width); speed commands are
the speed plot itself."""


class ReportError(Exception):
    """The report cannot be made (one line)."""


def plain_reason(reason: str) -> str:
    """The therapist's words for a stop reason (the reason itself if it is unknown)."""
    try:
        return PLAIN_REASONS[StopReason(reason)]
    except ValueError:
        return reason


@dataclass
class Plot:
    """One figure of the page: the SVG, or the sentence saying why there is none."""

    name: str
    title: str
    svg: str | None
    points: int
    missing: str = ""


@dataclass
class Page:
    title: str
    facts: list[tuple[str, str]]
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _mpl() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError("the report needs matplotlib: pip install 'treadguard[report]' "
                          "(Raspberry Pi OS: apt install python3-matplotlib)") from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "treadguard",
                                "font.size": 9})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _mpl().close(fig)
    text = buf.getvalue()
    # Without the XML prolog (inline in HTML) and the metadata (its URLs are names, not links).
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)


# ---------------------------------------------------------------------- one session


@dataclass
class SessionData:
    info: SessionInfo
    events: list[tuple[float, str, str]]
    telemetry: dict[str, list[Any]]
    t0_s: float

    @property
    def t(self) -> list[float]:
        return [t - self.t0_s for t in self.telemetry["t_s"]]


def load_session(state_dir: Path, info: SessionInfo) -> SessionData:
    events = [(float(t), str(k), str(m)) for t, k, m in rows(state_dir, info, "events")]
    tele_rows = list(rows(state_dir, info, "telemetry"))
    telemetry = {c: [r[i] for r in tele_rows] for i, c in enumerate(TELEMETRY_COLUMNS)}
    starts = [t for t, _, _ in events] + telemetry["t_s"]
    return SessionData(info, events, telemetry, min(starts) if starts else 0.0)


def _bouts(data: SessionData) -> list[tuple[int, float, float]]:
    """(bout number, start, end) in session seconds, from the program's cues."""
    out: list[tuple[int, float, float]] = []
    start: dict[int, float] = {}
    for t, kind, message in data.events:
        if kind != EventKind.CUE or not message.startswith("bout "):
            continue
        number = message[5:].split("/", 1)[0]
        if not number.isdigit():
            continue
        if " done" in message.split(":", 1)[0]:
            if int(number) in start:
                out.append((int(number), start.pop(int(number)) - data.t0_s, t - data.t0_s))
        else:
            start[int(number)] = t
    return out


def _steps_at(data: SessionData, t_rel: float) -> int | None:
    best = None
    for t, steps in zip(data.t, data.telemetry["steps"], strict=True):
        if steps is not None and t <= t_rel + 1e-9:
            best = int(steps)
    return best


def _stops(data: SessionData) -> list[tuple[float, str, str]]:
    out = []
    for t, kind, message in data.events:
        if kind == EventKind.STOP and message.startswith("STOP: "):
            reason, _, detail = message.removeprefix("STOP: ").partition(" — ")
            out.append((t - data.t0_s, reason, detail))
    return out


def _distance_m(data: SessionData) -> float:
    t, v = data.t, data.telemetry["actual_kmh"]
    total = 0.0
    for i in range(1, len(t)):
        if v[i - 1] is not None:
            total += abs(float(v[i - 1])) / 3.6 * (t[i] - t[i - 1])
    return total


def _mark_events(ax: Any, data: SessionData) -> None:
    for t, kind, _ in data.events:
        style = MARKED.get(EventKind(kind)) if kind in EventKind.__members__.values() else None
        if style is not None:
            ax.axvline(t - data.t0_s, color=style[0], lw=style[1], alpha=0.7, zorder=0)


def _series_plot(data: SessionData, name: str, title: str, series: Sequence[tuple[str, str]],
                 ylabel: str, missing: str, step: bool = False) -> Plot:
    plt = _mpl()
    t = data.t
    drawn = []
    for column, label in series:
        pts = [(x, float(y)) for x, y in zip(t, data.telemetry[column], strict=True)
               if y is not None and math.isfinite(float(y))]
        if pts:
            drawn.append((label, pts))
    if not drawn:
        return Plot(name, title, None, 0, missing)
    fig, ax = plt.subplots(figsize=(9.0, 2.6))
    _mark_events(ax, data)
    for i, (label, pts) in enumerate(drawn):
        xs, ys = zip(*pts, strict=True)
        # The first series wide and pale, the next ones on top: a measured speed equal to the
        # commanded one must not hide it.
        width, alpha = (3.0, 0.45) if i == 0 and len(drawn) > 1 else (1.0, 1.0)
        if step:
            ax.step(xs, ys, where="post", label=label, lw=width, alpha=alpha)
        else:
            ax.plot(xs, ys, label=label, lw=width, alpha=alpha)
    ax.set_xlabel("time in the session (s)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(drawn) > 1:
        ax.legend(loc="upper right", fontsize=8)
    return Plot(name, title, _svg(fig), sum(len(p) for _, p in drawn))


def session_plots(data: SessionData) -> list[Plot]:
    plots = [
        _series_plot(data, "speed", "Belt speed: commanded and measured",
                     [("commanded_kmh", "commanded"), ("actual_kmh", "measured")], "km/h",
                     "No belt speed was recorded (no treadmill link: relay-only mode).",
                     step=True),
        _series_plot(data, "sway", "Trunk sway (tilt from upright)", [("tilt_deg", "tilt")],
                     "degrees", "No trunk sway was recorded (no motion sensor data)."),
        _series_plot(data, "tipping", "Tipping rate (how fast the trunk tilts)",
                     [("tipping_dps", "tipping rate")], "degrees/s",
                     "No tipping rate was recorded (no motion sensor data)."),
        _series_plot(data, "cadence", "Cadence", [("cadence_spm", "cadence")],
                     "steps/min", "No cadence was recorded (no steps detected)."),
        _series_plot(data, "detector", "Fall detector level (the fall model's score; higher "
                     "is more fall-like)", [("fall_score", "fall score")], "score (logit)",
                     "No fall detector level was recorded (the fall model was not running)."),
    ]
    plots.insert(4, _bout_plot(data))
    forces = [v for c in ("rail_force_left_n", "rail_force_right_n")
              for v in data.telemetry[c] if v is not None]
    if forces:
        plots.append(_rail_plot(data))
    else:
        plots.append(Plot("rails", "Handrail contact", None, 0,
                          "No handrail sensors were recorded in this session (none fitted or "
                          "none configured): rail contact is unknown."))
    return plots


def _rail_plot(data: SessionData) -> Plot:
    """Grip force per rail (left axis) over the shaded times a hand was on a rail."""
    plt = _mpl()
    t = data.t
    fig, ax = plt.subplots(figsize=(9.0, 2.6))
    _mark_events(ax, data)
    contact = [1.0 if c else 0.0 for c in data.telemetry["rail_contact"]]
    ax.fill_between(t, 0, 1, where=[c > 0 for c in contact], step="post", color="#27ae60",
                    alpha=0.25, transform=ax.get_xaxis_transform(), label="hand on a rail")
    points = len(contact)
    for column, label in (("rail_force_left_n", "left grip"), ("rail_force_right_n",
                                                               "right grip")):
        pts = [(x, float(y)) for x, y in zip(t, data.telemetry[column], strict=True)
               if y is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, lw=1.0, label=label)
            points += len(pts)
    ax.set_ylim(bottom=0.0, top=max(5.0, ax.get_ylim()[1]))
    ax.set_xlabel("time in the session (s)")
    ax.set_ylabel("grip force (N)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    held = sum(contact) / len(contact) * 100.0 if contact else 0.0
    return Plot("rails", f"Handrail contact (shaded: {held:.0f} % of samples) and grip force",
                _svg(fig), points)


def _bout_plot(data: SessionData) -> Plot:
    title = "Steps per bout"
    bouts = _bouts(data)
    counts = []
    for number, start, end in bouts:
        a, b = _steps_at(data, start), _steps_at(data, end)
        if a is not None and b is not None:
            counts.append((number, b - a))
    if not counts:
        return Plot("bouts", title, None, 0, "No bouts in this recording (not a runner's "
                    "program, or stopped before the first bout).")
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(9.0, 2.4))
    ax.bar([str(n) for n, _ in counts], [c for _, c in counts], color="#2980b9")
    for i, (_, c) in enumerate(counts):
        ax.text(i, c, str(c), ha="center", va="bottom")
    ax.set_ylim(0, max(c for _, c in counts) * 1.2 + 1)
    ax.set_xlabel("bout")
    ax.set_ylabel("steps")
    ax.grid(axis="y", alpha=0.3)
    return Plot("bouts", title, _svg(fig), len(counts))


def _runner_facts(state_dir: Path, runner: str | None) -> list[tuple[str, str]]:
    if runner is None:
        return [("Runner", "none: a session without a runner's program")]
    facts = [("Runner", runner)]
    if not (state_dir / DB_NAME).exists():
        return [*facts, ("Profile", "unknown (no runner store in this directory)")]
    try:
        store = Store(state_dir)
        try:
            r = store.runner(runner)
        finally:
            store.close()
    except StoreError as exc:
        return [*facts, ("Profile", f"unknown ({exc})")]
    lim = r.limits
    return [*facts, ("Profile", r.profile),
            ("Program now", f"warm-up {lim.warmup_s:g} s at {lim.warmup_speed_kmh:g} km/h; "
                            f"{lim.bouts} bouts of {lim.bout_speed_kmh:g} km/h "
                            f"({lim.bout_steps} steps), rest {lim.rest_s:g} s "
                            f"({lim.rest_mode}); session up to {lim.session_limit_s:g} s; "
                            f"cool-down {lim.cooldown_s:g} s; cap {lim.max_speed_kmh:g} km/h")]


def session_report(state_dir: Path, info: SessionInfo) -> Page:
    data = load_session(state_dir, info)
    stops = _stops(data)
    cautions = [(t - data.t0_s, m) for t, k, m in data.events if k == EventKind.CAUTION]
    bouts = _bouts(data)
    running = [t for t, s in zip(data.t, data.telemetry["state"], strict=True)
               if s == "running"]
    program = next((m for _, k, m in data.events
                    if k == EventKind.INFO and ": warm-up" in m), None)
    facts = [*_runner_facts(state_dir, info.runner),
             ("Program in this session", program or "—"),
             ("Started (UTC)", info.started_utc[:19].replace("T", " ")),
             ("Ended (UTC)", (info.ended_utc or "not closed (a crash or a power cut)")[:19]
              .replace("T", " ")),
             ("Belt running", f"{(running[-1] - running[0]) if running else 0:.0f} s"),
             ("Distance", f"{_distance_m(data):.0f} m"),
             ("Bouts", str(len(bouts))),
             ("Cautions", str(len(cautions))),
             ("Stops", f"{len(stops)}" + (f" ({planned} planned: the end of the session or a "
                                          f"rest)" if (planned := sum(
                                              r in PLANNED_STOPS for _, r, _ in stops)) else "")),
             ("Black-box session", info.id)]
    page = Page(f"Session report: {info.runner or 'no runner'}, "
                f"{info.started_utc[:16].replace('T', ' ')} UTC", facts)
    page.tables.append(("Stops", ["time (s)", "what happened", "reason (code)", "detail"],
                        [[f"{t:.1f}", plain_reason(r), r, d] for t, r, d in stops]))
    page.tables.append(("Cautions (the belt slowed down)", ["time (s)", "what happened"],
                        [[f"{t:.1f}", m] for t, m in cautions]))
    page.plots = session_plots(data)
    page.tables.append(("Every event", ["time (s)", "kind", "message"],
                        [[f"{t - data.t0_s:.2f}", k, m] for t, k, m in data.events]))
    page.notes.append("Vertical lines on the plots mark events: red a stop, orange a "
                      "caution, grey a change of state, blue a cue to the runner, purple a "
                      "button. Times are seconds from the start of this recording.")
    return page


# ---------------------------------------------------------------------- a runner's trend

CSV_COLUMNS: Final = ("at_utc", "ended_by", "clean", "profile", "session_s", "warmup_s",
                      "bouts_completed", "bouts_planned", "steps_total", "cautions",
                      "bout_speed_kmh", "instability_events")


def runner_rows(state_dir: Path, runner: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The runner's sessions, oldest first, flattened (with the bout speed in force, from
    the audit log), and the progression changes of the audit log."""
    if not (state_dir / DB_NAME).exists():
        raise ReportError(f"no runner store in {state_dir} ({DB_NAME} is missing)")
    try:
        store = Store(state_dir)
        try:
            store.runner(runner)
            sessions = list(reversed(store.sessions(runner)))
            audit = store.audit(runner)
        finally:
            store.close()
    except StoreError as exc:
        raise ReportError(str(exc)) from None
    out = []
    for s in sessions:
        p = s.get("program") or {}
        speed = None
        for entry in audit:  # the last value set before the session (its own progression
            if entry.what == "bout_speed_kmh" and (  # is logged in the same second, after)
                    entry.at < s["at"] or (entry.at == s["at"] and entry.who != "progression")):
                speed = float(entry.new) if entry.new is not None else None
        ended_by = str(s.get("ended_by", ""))
        instability = int(s.get("cautions", 0)) + (1 if ended_by in INSTABILITY else 0)
        out.append({"at_utc": s["at"], "ended_by": ended_by, "clean": s["clean"],
                    "profile": s.get("profile"), "session_s": p.get("session_s"),
                    "warmup_s": p.get("warmup_s"), "bouts_completed": p.get("bouts_completed"),
                    "bouts_planned": p.get("bouts_planned"), "steps_total": p.get("steps_total"),
                    "cautions": s.get("cautions", 0), "bout_speed_kmh": speed,
                    "instability_events": instability})
    progression = [e for e in audit if e.who == "progression"]
    return out, progression


def write_csv(path: Path, sessions: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(sessions)


def _trend_plot(sessions: list[dict[str, Any]], name: str, title: str, key: str,
                ylabel: str, bar: bool = False) -> Plot:
    pts = [(i + 1, float(s[key])) for i, s in enumerate(sessions) if s.get(key) is not None]
    if not pts:
        return Plot(name, title, None, 0, f"No {ylabel} recorded in this runner's sessions.")
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(9.0, 2.4))
    xs, ys = zip(*pts, strict=True)
    if bar:
        ax.bar(xs, ys, color="#e67e22")
    else:
        ax.plot(xs, ys, marker="o", lw=1.2)
    ax.set_xlabel("session number")
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(xs))
    ax.grid(alpha=0.3)
    return Plot(name, title, _svg(fig), len(pts))


def runner_report(state_dir: Path, runner: str) -> tuple[Page, list[dict[str, Any]]]:
    sessions, progression = runner_rows(state_dir, runner)
    facts = _runner_facts(state_dir, runner)
    facts.append(("Sessions recorded", str(len(sessions))))
    if sessions:
        facts.append(("First / last", f"{sessions[0]['at_utc']} / {sessions[-1]['at_utc']}"))
    page = Page(f"Runner report: {runner}", facts)
    if sessions:
        page.plots = [
            _trend_plot(sessions, "length", "Session length", "session_s", "seconds"),
            _trend_plot(sessions, "bout_speed", "Bout speed (the program's, in force at the "
                        "session)", "bout_speed_kmh", "km/h"),
            _trend_plot(sessions, "steps", "Steps per session", "steps_total", "steps"),
            _trend_plot(sessions, "instability", "Instability events (cautions, and stops for "
                        "loss of balance)", "instability_events", "events", bar=True),
        ]
    else:
        page.notes.append("This runner has no recorded sessions yet.")
    page.tables.append(("Sessions", ["#", "when (UTC)", "length (s)", "bouts", "steps",
                                     "bout speed (km/h)", "cautions", "ended by"],
                        [[str(i + 1), s["at_utc"], _num(s["session_s"]),
                          f"{_num(s['bouts_completed'])}/{_num(s['bouts_planned'])}",
                          _num(s["steps_total"]), _num(s["bout_speed_kmh"]),
                          str(s["cautions"]), _ended_words(s["ended_by"])]
                         for i, s in enumerate(sessions)]))
    page.tables.append(("Progression changes (decided after a session)",
                        ["when (UTC)", "what", "from", "to"],
                        [[e.at, e.what, e.old or "—", e.new or "—"] for e in progression]))
    page.notes.append(f"The sessions are also in {runner}-sessions.csv beside this page.")
    return page, sessions


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _ended_words(ended_by: str) -> str:
    words = {"program": "completed as planned", "time_limit": "the session's time limit"}
    return words.get(ended_by) or plain_reason(ended_by)


# ---------------------------------------------------------------------- the page

CSS: Final = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:1.5em auto;padding:0 1em;
color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.facts th{width:14em}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
figure svg{max-width:100%;height:auto}
p.missing{background:#fff6e0;border-left:4px solid #e67e22;padding:.5em}
details summary{cursor:pointer}
"""


def render(page: Page) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{e(page.title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(page.title)}</h1>", "<table class=\"facts\">"]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in page.facts]
    parts.append("</table>")
    summary_tables = [t for t in page.tables if t[0] != "Every event"]
    for title, header, body in summary_tables:
        parts.append(_table(title, header, body))
    if page.plots:
        parts.append("<h2>Plots</h2>")
    for note in page.notes:
        parts.append(f"<p>{e(note)}</p>")
    for plot in page.plots:
        parts.append(f"<figure data-plot=\"{e(plot.name)}\" data-points=\"{plot.points}\">"
                     f"<figcaption>{e(plot.title)}</figcaption>")
        parts.append(plot.svg if plot.svg is not None
                     else f"<p class=\"missing\">{e(plot.missing)}</p>")
        parts.append("</figure>")
    for title, header, body in page.tables:
        if title == "Every event":
            parts.append(f"<details><summary>{e(title)} ({len(body)})</summary>"
                         f"{_table('', header, body)}</details>")
    parts.append("<p><small>Made by treadguard report from the controller's black box. "
                 "Times in UTC.</small></p></body></html>")
    return "\n".join(parts)


def _table(title: str, header: list[str], body: list[list[str]]) -> str:
    e = html.escape
    out = f"<h2>{e(title)}</h2>" if title else ""
    if not body:
        return out + "<p>None.</p>"
    out += "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
    out += "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
    return out + "</table>"
