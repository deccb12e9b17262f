"""The fleet's topics and payloads: the one place that names them (``docs/fleet.md`` is the
reference for people).

Every topic is ``treadguard/<site>/<treadmill>/<leaf>``:

===================  ======  ========  ==========================================================
leaf                 QoS     retained  payload (JSON object, UTF-8)
===================  ======  ========  ==========================================================
``online``           1       yes       ``{"online": true|false, "wall": ISO-8601 UTC}``; the
                                       Last Will publishes ``false`` when the Pi vanishes
``status``           0       yes       the status snapshot (:data:`STATUS_KEYS`), at
                                       ``[fleet] status_interval_s``
``events``           1       no        one event (:data:`EVENT_KEYS`): state changes, stops
                                       and reasons, faults, remote commands and what came of them
``session``          1       no        a finished session's summary (runner, profile, time,
                                       steps, stops)
``cmd/stop/<user>``  1       no        a stop request; ``<user>`` is the broker user that sent
                                       it — the broker's ACL lets a user write only its own
                                       ``cmd/stop/<user>`` topic, so the name is the broker's
                                       word, not the payload's
===================  ======  ========  ==========================================================

The only command is ``stop``. Whatever else arrives under ``cmd/`` (``start``, ``speed``, a
malformed payload) is ignored and logged.
"""

from __future__ import annotations

import re
from typing import Final

ROOT: Final = "treadguard"
NAME_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
"""Sites, treadmills and broker users in topics: letters, digits, ``_`` and ``-`` (never the
MQTT wildcards ``+``/``#`` or a ``/``)."""

ONLINE: Final = "online"
STATUS: Final = "status"
EVENTS: Final = "events"
SESSION: Final = "session"
CMD_STOP: Final = "cmd/stop"

STATUS_KEYS: Final = (
    "schema", "site", "treadmill", "wall", "t_s", "state", "reason", "power_cut", "runner",
    "profile", "phase", "bout", "commanded_kmh", "actual_kmh", "levels", "session_s",
    "cautions", "steps")
"""Keys of a ``status`` payload (each may be null when the controller has no such part)."""

EVENT_KEYS: Final = ("schema", "seq", "wall", "t_s", "kind", "message", "dropped_before")
"""Keys of an ``events`` payload: ``seq`` counts from 1 per daemon run; ``dropped_before`` is
how many events the publisher's bounded buffer dropped (oldest first) before this one."""

SCHEMA: Final = 1
"""Payload schema version (every payload's ``schema``)."""


def name_problem(what: str, name: str) -> str | None:
    """Why ``name`` cannot be a topic level (``what`` names the option), or None."""
    if NAME_RE.fullmatch(name) is None:
        return (f"{what} = {name!r}: expected 1-32 letters, digits, '_' or '-' (it is a level "
                f"of the MQTT topics)")
    return None


def base(site: str, treadmill: str) -> str:
    """``treadguard/<site>/<treadmill>``."""
    return f"{ROOT}/{site}/{treadmill}"


def topic(site: str, treadmill: str, leaf: str) -> str:
    """``treadguard/<site>/<treadmill>/<leaf>``."""
    return f"{base(site, treadmill)}/{leaf}"


def stop_topic(site: str, treadmill: str, user: str) -> str:
    """Where broker user ``user`` publishes a stop for one treadmill."""
    return f"{base(site, treadmill)}/{CMD_STOP}/{user}"


def parse(topic_name: str) -> tuple[str, str, str] | None:
    """``(site, treadmill, leaf)`` of a fleet topic, or None if it is not one."""
    parts = topic_name.split("/", 3)
    if len(parts) != 4 or parts[0] != ROOT:
        return None
    return parts[1], parts[2], parts[3]


def stop_sender(leaf: str) -> str | None:
    """The broker user of a ``cmd/stop/<user>`` leaf, or None if the leaf is not a stop."""
    prefix = CMD_STOP + "/"
    if not leaf.startswith(prefix):
        return None
    user = leaf[len(prefix):]
    return user if NAME_RE.fullmatch(user) else None
