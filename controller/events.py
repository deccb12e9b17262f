"""Session events: every state change, stop reason and commanded speed, with its time.

The loop appends :class:`Event` objects to an :class:`EventLog` (a bounded deque: appending is
O(1) and never allocates without bound, so it is safe inside the real-time loop). Readers — the
``sim`` account, the live view, later the black-box writer — consume them outside the loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """What an :class:`Event` is about. A :class:`~enum.StrEnum`: a member equals its string
    (``EventKind.STOP == "stop"``), so readers may compare with either."""

    STATE = "state"
    """A state change (``state → latched (slip_trip)``), or the relay-only start's instruction."""
    STOP = "stop"
    """A stop latched (``STOP: reason — detail``) or the relay opened (power cut)."""
    SPEED = "speed"
    """A new commanded belt speed, km/h (serial link only)."""
    CAUTION = "caution"
    """A detector's caution and what it does (slow down, or warn only in relay-only mode)."""
    CUE = "cue"
    """A warning before the belt changes: the start countdown, a speed-up (the buzzer plays it)."""
    INPUT = "input"
    """A human action and its answer (reset, start, refused and why)."""
    INFO = "info"
    """Anything else worth a line (a later stop reason while already latched)."""
    LEVEL = "level"
    """The IMU detectors' level changed (``detectors: caution (trunk_sway)``, ``detectors:
    ok``): written to the black box only, never to the event log (it changes too often for a
    person to read)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened.

    Attributes:
        t_s: time, seconds, on the injected clock.
        kind: what it is about (:class:`EventKind`).
        message: one human-readable line.
    """

    t_s: float
    kind: EventKind
    message: str


class EventLog:
    """Bounded event log with optional listeners (called synchronously: keep them cheap)."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._listeners: list[Callable[[Event], None]] = []
        self.listener_errors = 0

    def add(self, t_s: float, kind: EventKind, message: str) -> None:
        event = Event(t_s, kind, message)
        self._events.append(event)
        for listener in self._listeners:
            # Listeners are readers (stdout, buzzer, LED): one that fails — stdout a broken
            # pipe after journald restarts, a GPIO error — must never abort the caller, which
            # is often the stop path itself (Supervisor.request_stop logs before it stops).
            try:
                listener(event)
            except Exception:
                self.listener_errors += 1

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def __iter__(self) -> Iterator[Event]:
        return iter(tuple(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def of_kind(self, kind: str) -> list[Event]:
        """The events of one kind (an :class:`EventKind`, or its string), oldest first."""
        return [e for e in self._events if e.kind == kind]
