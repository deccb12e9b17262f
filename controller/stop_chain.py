"""The stop chain's health: the verdicts on what the safety I/O reports.

Why here (``controller/``) and not in :mod:`hardware.safety_io`: the driver reports facts — the
e-stop input, the key input, the relay as commanded, its feedback contact, when the command last
changed — and this module judges them, like :mod:`controller.health` judges the sensors. Every
verdict is a STOP, and the loop cuts power with it: when the stop chain itself is in doubt, a
controlled stop through the link alone is not enough.

========================  ====================================================================
reason                    condition
========================  ====================================================================
``estop``                 the e-stop input reads pressed (or its wire is broken)
``safety_key_removed``    a key input is fitted and reads "out"
``relay_welded``          the relay was told to open more than ``relay_open_within_s`` ago and
                          its feedback contact still reads closed
``relay_feedback_lost``   the relay was energised more than ``relay_open_within_s`` ago and its
                          feedback contact still reads open (relay, coil supply or wire)
========================  ====================================================================

Without a feedback input neither relay verdict can be reached: a welded relay is then
invisible (``treadguard check`` says so).
"""

from __future__ import annotations

from controller.detect.base import OK, Decision, Level
from controller.stop_reasons import StopReason
from hardware.safety_io import SafetyIO


class StopChain:
    """Judges the e-stop, safety key and stop relay from :class:`SafetyIO`'s facts.

    Args:
        io: the safety I/O driver.
        relay_open_within_s: how long the relay's feedback contact may take to follow a
            command, s (``[gpio] relay_open_within_s``, default 0.05 s). Longer hides a
            welded relay for longer; shorter than the relay's release time is a false stop.
    """

    def __init__(self, io: SafetyIO, relay_open_within_s: float) -> None:
        self._io = io
        self._relay_open_within_s = relay_open_within_s

    def check(self, now_s: float) -> Decision:
        """Once per tick (``now_s`` from the injected clock): STOP with ``estop``,
        ``safety_key_removed``, ``relay_welded`` or ``relay_feedback_lost`` (the first that
        applies, in that order), else OK."""
        io = self._io
        if io.estop_pressed:
            return Decision(Level.STOP, StopReason.ESTOP,
                            "emergency-stop pressed or its wire broken")
        if io.key_present is False:
            return Decision(Level.STOP, StopReason.SAFETY_KEY_REMOVED, "safety key is out")
        feedback = io.relay_feedback_closed
        if feedback is not None and feedback != io.relay_closed:
            late_s = now_s - io.relay_changed_at_s
            if late_s > self._relay_open_within_s:
                if feedback:
                    return Decision(
                        Level.STOP, StopReason.RELAY_WELDED,
                        f"stop relay told to open {late_s * 1000:.0f} ms ago but its feedback "
                        f"contact is still closed: welded? The treadmill's own e-stop and key "
                        f"still cut power; replace the relay before further use")
                return Decision(
                    Level.STOP, StopReason.RELAY_FEEDBACK_LOST,
                    f"stop relay energised {late_s * 1000:.0f} ms ago but its feedback contact "
                    f"is open: check the relay, its coil supply and the feedback wire")
        return OK

    def arming_problems(self) -> list[str]:
        """What forbids a start: the e-stop, then :meth:`problems`."""
        problems = ["e-stop pressed (or its wire broken)"] if self._io.estop_pressed else []
        return problems + self.problems()

    def problems(self) -> list[str]:
        """Key and relay problems that forbid a reset or a start. Called while latched, i.e.
        with the relay open: a feedback contact that reads open now is the positive test that
        the stop path can open (once the relay is closed again its feedback agrees, and a weld
        could no longer be seen)."""
        io = self._io
        problems = []
        if io.key_present is False:
            problems.append("safety key is out")
        if io.relay_feedback_closed is True and not io.relay_closed:
            problems.append("stop relay feedback reads closed while the relay is open (welded?)")
        return problems
