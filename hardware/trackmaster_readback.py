"""The treadmill's read-back monitor: does the belt do what it was told?

Klipper's ``verify_heater`` is the model: the link reports what it commanded and what the
treadmill read back; this monitor keeps the few timers that judge them and returns the fault to
latch, or None. It sends nothing and owns no state of the link's.

Checks (each a latched link fault; the supervisor then opens the stop relay):

- ``C1`` actual speed, while running: faster than commanded by more than
  ``readback_tolerance_kmh`` (*runaway*), or slower once ``readback_time_s`` after the start
  (*does not follow*) — either lasting ``readback_time_s``; a runaway that is still
  *accelerating* (beyond the tolerance and faster than the read-back before) is a fault at
  once: a belt that lags a lower command is slowing, never gaining speed, so only a belt that
  drives itself faster than told can be there;
- ``C1`` after a stop: above an envelope that falls at :data:`MIN_STOP_DECEL_MPS2` from the
  speed at the stop (after ``readback_time_s`` of grace) — *not slowing*, or *moving while it
  should be stopped* — lasting ``readback_time_s``;
- ``C1`` moving the other way than commanded (reverse flag);
- ``C0`` status: running with the watchdog disabled (``A1`` state); still "running" after the
  stop was acknowledged and its envelope has run out (the unit ignores stop commands); "stopped"
  while we run (a power cycle, its own stop button, its watchdog or its start lockout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hardware.trackmaster_protocol import BeltStatus
from hardware.units import KMH_PER_MPS

MIN_STOP_DECEL_MPS2: Final = 0.25
"""After a stop (plus ``readback_time_s`` of grace) a belt that slows more slowly than this is
"not slowing when told to stop". Real treadmills stop at ~0.5–1.5 m/s²; the floor is low so a
slow but working stop is not a fault (the supervisor's stop deadline still bounds it)."""


@dataclass(frozen=True)
class Commanded:
    """What the link has told the treadmill, as the monitor needs it.

    Attributes:
        running: the belt is meant to run (started, not stopping).
        stopping: a controlled stop is lowering the speed (the stop command not sent yet).
        speed_kmh: the speed last sent, km/h (0 after a stop).
        reverse: the direction last chosen.
        start_acked_s: when the ``A0`` was acknowledged (None: not since the last stop).
        stop_acked_s: when the last stop was acknowledged (None: never since the reset).
        stop_unacked: something that may move the belt was sent since that stop.
    """

    running: bool
    stopping: bool
    speed_kmh: float
    reverse: bool
    start_acked_s: float | None
    stop_acked_s: float | None
    stop_unacked: bool


class ReadbackMonitor:
    """The timers of the read-back checks.

    Args:
        tolerance_kmh: how far the read-back speed may be from the command, km/h.
        time_s: how long a deviation may last before it is a fault, s; also the grace after a
            start (and after a stop) before the belt is judged.
    """

    def __init__(self, tolerance_kmh: float, time_s: float) -> None:
        self.tolerance_kmh = tolerance_kmh
        self.time_s = time_s
        self._violation_since_s: float | None = None
        self._stop_at_s = 0.0
        self._stop_from_kmh = 0.0
        self._speed_at_stop_ack_kmh = 0.0
        self._last_kmh: float | None = None

    def clear(self) -> None:
        """Forget a deviation under way (a start, a reset: the judgement begins again)."""
        self._violation_since_s = None
        self._last_kmh = None

    def forget_stop(self) -> None:
        """After a reset: no stop envelope is running."""
        self._stop_from_kmh = 0.0
        self._violation_since_s = None

    def begin_stop(self, now_s: float, from_kmh: float) -> None:
        """A stop was asked for at ``now_s`` with the belt at ``from_kmh``: the envelope starts."""
        self._stop_at_s = now_s
        self._stop_from_kmh = from_kmh
        self._violation_since_s = None

    def stop_acked(self, belt_kmh: float) -> None:
        """The stop was acknowledged with the belt last read at ``belt_kmh``."""
        self._speed_at_stop_ack_kmh = belt_kmh

    def check_status(self, now_s: float, status: BeltStatus, cmd: Commanded) -> str | None:
        """Judge a ``C0`` status reply; the fault to latch, or None."""
        if status is BeltStatus.RUNNING_NO_CDS:
            return "treadmill runs with its communication watchdog disabled (A1 state)"
        acked = cmd.stop_acked_s
        if (not cmd.running and not cmd.stopping and acked is not None
                and not cmd.stop_unacked and status is not BeltStatus.STOPPED):
            # The stop was acknowledged; the status must say "stopped" by the time the stop
            # envelope (see check_speed) has reached zero.
            envelope_s = (self._speed_at_stop_ack_kmh / (MIN_STOP_DECEL_MPS2 * KMH_PER_MPS)
                          + self.time_s)
            if now_s - acked > envelope_s:
                return ("treadmill still reports the belt running after the stop was "
                        "acknowledged (it ignores stop commands)")
        started = cmd.start_acked_s
        if (cmd.running and started is not None and now_s - started > self.time_s
                and status is BeltStatus.STOPPED):
            return ("treadmill reports the belt stopped while it should run (power cycle, "
                    "its own stop button, its watchdog, or its start lockout)")
        return None

    def check_speed(self, now_s: float, actual_kmh: float, reverse: bool,
                    cmd: Commanded) -> str | None:
        """Judge a ``C1`` actual-speed reply (``actual_kmh`` ≥ 0, ``reverse`` its direction):
        deviations lasting ``time_s`` are faults; the fault to latch, or None."""
        tol = self.tolerance_kmh
        problem: str | None = None
        before_kmh, self._last_kmh = self._last_kmh, actual_kmh
        if (cmd.running and not cmd.stopping and reverse == cmd.reverse
                and actual_kmh > cmd.speed_kmh + tol
                and before_kmh is not None and actual_kmh > before_kmh):
            # Beyond the tolerance and still gaining speed: nothing we commanded does that
            # (a lag behind a lower command only ever slows), so waiting out the read-back
            # time would only let it carry the runner further.
            return (f"belt runaway: {actual_kmh:.1f} km/h read back and rising, "
                    f"{cmd.speed_kmh:.1f} km/h commanded")
        if actual_kmh > 0 and reverse != cmd.reverse:
            problem = (f"belt runs {'in reverse' if reverse else 'forward'}, "
                       f"the other way than commanded")
        elif cmd.running:
            started = cmd.start_acked_s
            if actual_kmh > cmd.speed_kmh + tol:
                problem = (f"belt runaway: {actual_kmh:.1f} km/h read back, "
                           f"{cmd.speed_kmh:.1f} km/h commanded")
            elif (actual_kmh < cmd.speed_kmh - tol and started is not None
                  and now_s - started > self.time_s):
                problem = (f"belt does not follow: {actual_kmh:.1f} km/h read back, "
                           f"{cmd.speed_kmh:.1f} km/h commanded")
        else:
            since = max(0.0, now_s - self._stop_at_s - self.time_s)
            envelope = max(0.0, self._stop_from_kmh - MIN_STOP_DECEL_MPS2 * KMH_PER_MPS * since)
            if actual_kmh > envelope + tol:
                problem = (f"belt not slowing after the stop: {actual_kmh:.1f} km/h read back"
                           if envelope > 0 else
                           f"belt moving while it should be stopped: {actual_kmh:.1f} km/h")
        if problem is None:
            self._violation_since_s = None
        elif self._violation_since_s is None:
            self._violation_since_s = now_s
        elif now_s - self._violation_since_s >= self.time_s:
            return problem
        return None
