"""The handrails: touch (MPR121) and grip force (ADS1115 + FSR) of both rails as RailSamples.

Either or both sensors may be fitted (``[rails] touch_chip`` / ``force_chip``); a quantity
without a sensor is ``None`` in the :class:`~hardware.rail_sample.RailSample`, never 0.

Latency choice for the force sensors (``ads1115_layout``):

- ``"chip_per_rail"`` (default, recommended): one ADS1115 per rail converting continuously at
  860 SPS. Every loop cycle reads both, each result at most 1.16 ms old; cost two 2-byte reads
  (≈ 0.24 ms of bus time at 400 kHz). Simplest and fastest; one more €5 chip.
- ``"alternate"``: one ADS1115, inputs switched after every read. A switch invalidates the
  running conversion, so each cycle yields one rail, read ≥ 1.16 ms after its switch: each
  rail's force is refreshed every second cycle, up to ≈ 10 ms old at 200 Hz — still far inside
  the grab detector's needs (a grab lasts hundreds of ms), but twice the latency, and a second
  transaction (the config write) per cycle.

Configuration read-back (a chip that power-on-reset answers every read, with data that never
changes: see :meth:`Ads1115.config_fault`, :meth:`Mpr121.config_fault`). Bus cost:

- the touch chip and, with ``chip_per_rail``, each ADS1115 are read back in turn, one chip every
  :data:`CONFIG_CHECK_EVERY` readings: at most one extra read in any cycle (4 wire bytes for the
  MPR121's ECR, 5 for an ADS1115's config), each chip every ``CONFIG_CHECK_EVERY × chips``
  readings (3 chips: every 12 readings, 60 ms at 200 Hz);
- with ``alternate``, the ADS1115's config is read back in every reading, just before the
  channel switch rewrites it: the switch would otherwise repair a reset chip without anyone
  knowing, so a reset is only visible in that one cycle (+5 wire bytes per cycle).

Each :class:`~hardware.rail_sample.RailSample` carries one
:class:`~hardware.rail_sample.ChipReport` per chip (raw codes, read-back result), so rails health
judges every chip on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hardware.ads1115 import Ads1115
from hardware.clock import Clock
from hardware.fsr import FsrDivider
from hardware.mpr121 import Mpr121, TouchReading
from hardware.rail_sample import ChipReport, RailSample

CONFIG_CHECK_EVERY: Final = 4
"""Readings between two configuration read-backs (one chip each time, in turn); see above."""


class Handrails:
    """Both rails' sensors, made of chips the composition root built (as gpiozero's composite
    devices are made of their parts): this class only reads them in the right order and turns
    their readings into a :class:`~hardware.rail_sample.RailSample`.

    Args:
        clock: the injected clock (samples are stamped with it).
        touch: the MPR121, or None when no touch sensor is fitted. Its first two electrodes are
            the left and the right rail.
        force: the ADS1115s: one per rail (left, right: the ``"chip_per_rail"`` layout), or
            one chip switched between two inputs (``switch_channels``), or none.
        fsr: the FSR divider model that turns an ADS1115's volts into newtons (required with
            ``force``).
        switch_channels: the ``"alternate"`` layout's inputs of its one ADS1115, (left,
            right); None (default) = one chip per rail.

    Raises:
        ValueError: ``force`` without ``fsr``, or ``switch_channels`` without exactly one chip.
    """

    def __init__(self, clock: Clock, touch: Mpr121 | None = None, force: Sequence[Ads1115] = (),
                 fsr: FsrDivider | None = None,
                 switch_channels: tuple[int, int] | None = None) -> None:
        if force and fsr is None:
            raise ValueError("force chips need the FSR divider model (fsr)")
        if switch_channels is not None and len(force) != 1:
            raise ValueError("switch_channels needs exactly one force chip")
        self._clock = clock
        self._seq = 0
        self.touch = touch
        self.force: list[Ads1115] = list(force)
        self.fsr = fsr
        self._switch_channels = switch_channels
        self._alternate = switch_channels is not None
        self._next_rail = 0  # alternate layout: the rail whose input is selected now
        self.last_touch: TouchReading | None = None
        self.volts: list[float | None] = [None, None]
        # Chips read back in turn every CONFIG_CHECK_EVERY readings (the alternate layout's
        # ADS1115 is read back in every reading instead, before its switch).
        self._rotation: list[Mpr121 | Ads1115] = [self.touch] if self.touch else []
        if not self._alternate:
            self._rotation += self.force
        sides = ("both rails",) if self._alternate else ("left rail", "right rail")
        self._labels = {id(adc): f"{adc.chip} at {adc.address:#04x} ({side})"
                        for adc, side in zip(self.force, sides, strict=False)}  # none if no ADC

    @property
    def electrodes(self) -> tuple[int, int] | None:
        """The touch chip's (left, right) rail electrodes; None without a touch chip."""
        if self.touch is None:
            return None
        return self.touch.electrodes[0], self.touch.electrodes[1]

    @property
    def devices(self) -> list[Mpr121 | Ads1115]:
        """Every chip, for ``treadguard check``."""
        chips: list[Mpr121 | Ads1115] = [self.touch] if self.touch else []
        return chips + list(self.force)

    def setup(self) -> None:
        """Set up every chip; with one alternating ADS1115, take a first reading of each rail
        so the first :meth:`read` has both forces. Raises the drivers' errors or ``OSError``."""
        for chip in self.devices:
            chip.setup()
        self.prime()

    def prime(self) -> None:
        """With one alternating ADS1115, read each rail once (after setup)."""
        if self._alternate:
            adc = self.force[0]
            for rail, channel in enumerate(self._channels()):
                adc.select(channel)
                self._clock.sleep_until(self._clock.now_s() + 2.0 / 860.0)
                self.volts[rail] = adc.read_volts()
            adc.select(self._channels()[0])
            self._next_rail = 0

    def _channels(self) -> tuple[int, int]:
        assert self._switch_channels is not None  # only called in the alternate layout
        return self._switch_channels

    def describe(self) -> list[str]:
        return [chip.describe() for chip in self.devices]

    def _due(self) -> Mpr121 | Ads1115 | None:
        """The chip whose configuration this reading reads back, if any (in turn)."""
        if not self._rotation or (self._seq + 1) % CONFIG_CHECK_EVERY:
            return None
        return self._rotation[self._seq // CONFIG_CHECK_EVERY % len(self._rotation)]

    def read(self) -> RailSample:
        """One reading of both rails. Raises ``OSError`` on any bus failure (the sample is
        then not produced: rails health counts the error and, if it persists, goes stale)."""
        touch_left = touch_right = None
        counts = None
        due = self._due()
        chips: list[ChipReport] = []
        if self.touch is not None:
            reading = self.touch.read()
            self.last_touch = reading
            left, right = self.touch.electrodes[0], self.touch.electrodes[1]
            touch_left = bool(reading.touched >> left & 1)
            touch_right = bool(reading.touched >> right & 1)
            counts = (reading.filtered_counts[left], reading.filtered_counts[right])
            chips.append(ChipReport(f"{self.touch.chip} at {self.touch.address:#04x}", "touch",
                                    reading.filtered_counts,
                                    self.touch.config_fault() if due is self.touch else ""))
        if self._alternate:
            adc = self.force[0]
            rail = self._next_rail
            code = adc.read_code()
            self.volts[rail] = adc.volts(code)
            fault = adc.config_fault()  # before select() rewrites (and hides) a reset
            self._next_rail = 1 - rail
            adc.select(self._channels()[self._next_rail])
            chips.append(ChipReport(self._labels[id(adc)], "force", (code,), fault))
        else:
            for rail, adc in enumerate(self.force):
                code = adc.read_code()
                self.volts[rail] = adc.volts(code)
                chips.append(ChipReport(self._labels[id(adc)], "force", (code,),
                                        adc.config_fault() if due is adc else ""))
        force_left = force_right = None
        if self.force:
            assert self.fsr is not None  # checked in __init__
            v_left, v_right = self.volts
            force_left = None if v_left is None else self.fsr.newtons(v_left)
            force_right = None if v_right is None else self.fsr.newtons(v_right)
        self._seq += 1
        return RailSample(t_s=self._clock.now_s(), seq=self._seq,
                          touch_left=touch_left, touch_right=touch_right,
                          force_left_n=force_left, force_right_n=force_right,
                          touch_counts=counts,
                          force_volts=(self.volts[0], self.volts[1]) if self.force else None,
                          chips=tuple(chips))
