"""How the supervisor starts, speeds and stops the belt: the drive, chosen by the composition root.

Two drives, one per ``[treadmill] protocol``:

- :class:`SerialDrive` — a treadmill link (``hardware/trackmaster.py``) with the relay in the
  safety-key loop behind it. The link starts the belt, sets its speed, stops it (a controlled
  stop at ``[limits] stop_decel_mps2``, or at once) and reads the belt back; the relay is opened
  only when the link cannot be trusted or a stop asks for it.
- :class:`RelayOnlyDrive` — ``protocol = "none"``: no serial port, only the relay. Every stop
  opens it (a power cut: the belt coasts to a stop on its own friction), power returns only with
  a confirmed start, the runner starts the belt and sets its speed on the console, and a caution
  can only warn.

The supervisor asks the drive, never ``if link is None``. A new treadmill protocol is a new
driver in ``hardware/`` that satisfies :class:`TreadmillLink` (then :class:`SerialDrive` drives
it), or, if it starts or stops differently, a new class here that satisfies :class:`Drive`; the
composition root (``controller/app.py``) picks it from the configuration.
"""

from __future__ import annotations

from typing import Protocol

from controller.events import EventKind


class TreadmillLink(Protocol):
    """What a drive needs from a treadmill driver (see :mod:`hardware.trackmaster`)."""

    fault: str | None
    """Why the link no longer trusts the treadmill (latched until reset), or None."""
    actual_speed_kmh: float | None
    """The belt speed last read back, km/h (None before the first read-back)."""

    def start(self) -> None: ...

    def set_speed_kmh(self, speed_kmh: float) -> None: ...

    def stop(self, decel_mps2: float | None = None) -> None: ...

    def reset(self) -> None: ...

    @property
    def belt_stopped(self) -> bool: ...


class Drive(Protocol):
    """What the supervisor needs to move and stop the belt."""

    stop_cuts_power: bool
    """Does every stop open the relay (and power return only when a confirmed start's countdown
    has played, never at a reset)? True when the relay is the only way to stop the belt."""
    controls_speed: bool
    """Does the drive set the belt's speed and read it back? Then the governor's speeds and cues
    go out, and a stop waits in STOPPING until the belt reads back 0. False: the runner sets the
    speed on the console, and a stop latches at once (the open relay is the stop)."""
    caution_action: str
    """What a caution does, for the log (``caution: stumble — slowing down``)."""
    countdown_action: str
    """What happens when the start countdown ends, for the log (``countdown: belt starts in
    3 s``)."""

    @property
    def fault(self) -> str | None:
        """Why the drive can no longer be trusted (the supervisor cuts power), or None."""
        ...

    @property
    def speed_read_back_kmh(self) -> float:
        """The belt speed read back, km/h, as a magnitude; 0.0 when nothing reads it back."""
        ...

    @property
    def belt_stopped(self) -> bool:
        """Has the treadmill confirmed the belt is stopped?"""
        ...

    def start_problems(self) -> list[str]:
        """What in the drive forbids a start now (empty: none)."""
        ...

    def start(self, speed_kmh: float) -> tuple[EventKind, str]:
        """Start the belt at ``speed_kmh`` (the governor's start speed); returns the event that
        says so."""
        ...

    def set_speed_kmh(self, speed_kmh: float) -> None:
        """Command the belt speed, km/h (only called when :attr:`controls_speed`)."""
        ...

    def stop(self, decel_mps2: float | None) -> None:
        """Stop the belt: a controlled stop at ``decel_mps2`` (m/s²), or at once when None."""
        ...

    def reset(self) -> None:
        """A human reset was accepted: clear what the drive latched."""
        ...


class SerialDrive:
    """A treadmill link with the relay behind it: controlled stops, speed control, read-back.

    Args:
        link: the treadmill driver (``hardware/trackmaster.py``), already open.
    """

    stop_cuts_power = False
    controls_speed = True
    caution_action = "slowing down"
    countdown_action = "belt starts"

    def __init__(self, link: TreadmillLink) -> None:
        self.link = link

    @property
    def fault(self) -> str | None:
        return self.link.fault

    @property
    def speed_read_back_kmh(self) -> float:
        return abs(self.link.actual_speed_kmh or 0.0)

    @property
    def belt_stopped(self) -> bool:
        return self.link.belt_stopped

    def start_problems(self) -> list[str]:
        if self.link.fault:
            return [f"treadmill link: {self.link.fault}"]
        if not self.link.belt_stopped:
            return ["treadmill has not confirmed the belt is stopped"]
        return []

    def start(self, speed_kmh: float) -> tuple[EventKind, str]:
        self.link.start()
        return EventKind.SPEED, f"speed {speed_kmh:.1f} km/h (start speed)"

    def set_speed_kmh(self, speed_kmh: float) -> None:
        self.link.set_speed_kmh(speed_kmh)

    def stop(self, decel_mps2: float | None) -> None:
        self.link.stop(decel_mps2)

    def reset(self) -> None:
        # The link clears its latched fault and the treadmill's start lockout.
        self.link.reset()


class RelayOnlyDrive:
    """No serial link (``[treadmill] protocol = "none"``): the relay in the safety-key loop is
    the only way to stop the belt, so every stop cuts power and the belt coasts to a stop. Power
    returns only with a confirmed start (the treadmill must not restart by itself on power
    return — see ``docs/treadmill-link.md``); the runner then starts the belt on the console.
    Nothing reads the belt back and nothing can slow it: a caution only warns."""

    stop_cuts_power = True
    controls_speed = False
    caution_action = "warning only (relay-only: no slow-down)"
    countdown_action = "relay closes"
    fault: str | None = None
    speed_read_back_kmh = 0.0
    belt_stopped = True
    """Nothing reads the belt back. Only consulted with the relay open (every stop opens it and
    only a start closes it), when the belt has no power."""

    def start_problems(self) -> list[str]:
        return []

    def start(self, speed_kmh: float) -> tuple[EventKind, str]:
        # The supervisor closes the relay (stop_cuts_power): that is the whole start.
        return EventKind.STATE, ("armed, relay closed: start the belt on the treadmill's "
                                 "console (relay-only: stop = power cut)")

    def set_speed_kmh(self, speed_kmh: float) -> None:
        pass  # the runner sets the speed on the console

    def stop(self, decel_mps2: float | None) -> None:
        pass  # the supervisor has opened the relay: that is the stop

    def reset(self) -> None:
        pass  # nothing latched here: power returns at the start, not at the reset
