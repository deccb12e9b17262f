"""Signal sources that feed the simulated handrail sensors with physical values.

A :class:`Grip` answers "what are the hands doing on the rails at time t": for each rail
(left, right), whether a hand touches it and the grip force in newtons. Both the MPR121 twin
(touch) and the ADS1115 twin (force, through the FSR divider) read the same source, so they
agree with each other as the real sensors would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Hand:
    """One rail's contact: ``touch`` (skin on the electrode) and ``force_n`` (grip, newtons)."""

    touch: bool = False
    force_n: float = 0.0


NO_HAND = Hand()


class Grip(Protocol):
    """A source of handrail contact over time."""

    def at(self, t_s: float) -> tuple[Hand, Hand]:
        """``(left, right)`` at time ``t_s`` (seconds)."""
        ...


class Hands:
    """A settable grip: tests and scripted sessions assign :attr:`left` / :attr:`right`."""

    def __init__(self, left: Hand = NO_HAND, right: Hand = NO_HAND) -> None:
        self.left = left
        self.right = right

    def at(self, t_s: float) -> tuple[Hand, Hand]:
        return self.left, self.right
