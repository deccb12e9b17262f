"""The detector interface shared by the loop, ``treadguard evaluate`` and ``treadguard sim``.

A detector is fed samples one at a time (``update``) and answers each with a
:class:`Decision`. It keeps bounded state (no growing buffers) so it can run for hours at
200 Hz on a Raspberry Pi. The supervisor treats ``Level.STOP`` as a latched controlled stop and
``Level.CAUTION`` as "slow down and warn".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from hardware.imu import ImuSample


class Level(IntEnum):
    """Severity of a decision. Ordered: ``max()`` of levels is the most severe."""

    OK = 0
    CAUTION = 1
    STOP = 2


@dataclass(frozen=True, slots=True)
class Decision:
    """A detector's answer to one sample.

    Attributes:
        level: OK, CAUTION or STOP.
        reason: a short stable name (``"slip"``, ``"free_fall"``, …) that reaches the
            supervisor, the log and the session report. Empty when ``level`` is OK.
        detail: a human-readable sentence with the numbers that triggered it.
    """

    level: Level
    reason: str = ""
    detail: str = ""


OK = Decision(Level.OK)
"""The shared "nothing to report" decision (detectors return it to avoid allocating)."""


class Detector(Protocol):
    """A streaming detector over IMU samples."""

    name: str

    def update(self, sample: ImuSample) -> Decision:
        """Consume one sample (in time order) and return the decision for it."""
        ...

    def reset(self) -> None:
        """Forget all state, as at the start of a new session."""
        ...
