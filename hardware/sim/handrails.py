"""Simulated handrail hardware: the twins a ``[rails]`` section calls for, on a SimBus.

One :class:`~hardware.sim.grip.Grip` feeds them all: the MPR121 twin sees the touches and each
ADS1115 twin's input sees the voltage the rail's FSR divider would give for the grip force
(the same :class:`~hardware.fsr.FsrDivider` model the driver side converts back with).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from controller.config import RailsSettings
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


def attach_rail_twins(bus: SimBus, settings: RailsSettings, clock: Clock, grip: Grip,
                      seed: int = 0) -> RailTwins:
    """Attach the twins for ``settings`` to ``bus``, all fed by ``grip``."""
    twins = RailTwins()
    if settings.touch_chip == "mpr121":
        twins.touch = Mpr121Model(clock, grip, (settings.left_electrode, settings.right_electrode),
                                  seed=seed)
        bus.attach(settings.mpr121_address, twins.touch)
    if settings.force_chip == "ads1115":
        fsr = FsrDivider(settings.fsr_supply_v, settings.fsr_divider_ohm,
                         settings.fsr_microsiemens_per_n)

        wiring = [(settings.ads1115_left_address, settings.ads1115_left_channel, 0)]
        if settings.ads1115_layout == "chip_per_rail":
            wiring.append((settings.ads1115_right_address, settings.ads1115_right_channel, 1))
        else:
            wiring.append((settings.ads1115_left_address, settings.ads1115_right_channel, 1))
        for address, channel, rail in wiring:
            if address not in twins.force:
                twins.force[address] = Ads1115Model(clock, seed=seed + address)
                bus.attach(address, twins.force[address])
            twins.force[address].connect(channel, _source(fsr, grip, rail))
    return twins


def _source(fsr: FsrDivider, grip: Grip, rail: int) -> Callable[[float], float]:
    def volts(t_s: float) -> float:
        return fsr.volts(grip.at(t_s)[rail].force_n)

    return volts
