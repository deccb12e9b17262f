"""Simulated handrail hardware: the twins a ``[rails]`` section calls for, on a SimBus.

One :class:`~hardware.sim.grip.Grip` feeds them all: the MPR121 twin sees the touches and each
ADS1115 twin's input sees the voltage the rail's FSR divider would give for the grip force
(the same :class:`~hardware.fsr.FsrDivider` model the driver side converts back with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hardware.clock import Clock
from hardware.fsr import FsrDivider
from hardware.sim.ads1115 import Ads1115Model
from hardware.sim.bus import SimBus
from hardware.sim.grip import Grip
from hardware.sim.mpr121 import Mpr121Model


@dataclass
class RailTwins:
    """The twins attached for the rails (for fault injection)."""

    touch: Mpr121Model | None = None
    force: dict[int, Ads1115Model] = field(default_factory=dict)  # by I²C address


def attach_rail_twins(bus: SimBus, clock: Clock, grip: Grip, *,
                      touch_address: int | None = None, electrodes: tuple[int, int] = (0, 1),
                      force_inputs: Sequence[tuple[int, int]] = (),
                      fsr: FsrDivider | None = None, seed: int = 0) -> RailTwins:
    """Attach rail twins to ``bus``, all fed by ``grip``.

    Args:
        touch_address: the MPR121 twin's I²C address, or None for no touch chip.
        electrodes: its (left, right) rail electrodes (default 0 and 1).
        force_inputs: ``(address, channel)`` of the left rail's force input, then the right
            one's: two addresses for one ADS1115 per rail, one address twice for one chip
            switched between two inputs; empty (default) for no force chip.
        fsr: the FSR divider model that turns the grip force into the input's volts (required
            with ``force_inputs``).
        seed: noise seed (each ADS1115 twin adds its address to it).
    """
    twins = RailTwins()
    if touch_address is not None:
        twins.touch = Mpr121Model(clock, grip, electrodes, seed=seed)
        bus.attach(touch_address, twins.touch)
    if force_inputs:
        if fsr is None:
            raise ValueError("force inputs need the FSR divider model (fsr)")
        for rail, (address, channel) in enumerate(force_inputs):
            if address not in twins.force:
                twins.force[address] = Ads1115Model(clock, seed=seed + address)
                bus.attach(address, twins.force[address])
            twins.force[address].connect(channel, _source(fsr, grip, rail))
    return twins


def _source(fsr: FsrDivider, grip: Grip, rail: int) -> Callable[[float], float]:
    def volts(t_s: float) -> float:
        return fsr.volts(grip.at(t_s)[rail].force_n)

    return volts
