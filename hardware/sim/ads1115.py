"""Register-faithful twin of the TI ADS1115 16-bit ADC (grip force from FSR dividers).

Implements the register interface the driver uses, as in the datasheet:

- A pointer register selects conversion (0), config (1), Lo_thresh (2, reset 0x8000) or
  Hi_thresh (3, reset 0x7FFF). A write of 1 byte sets the pointer; 3 bytes also write the
  register, MSB first. Reads return the selected register MSB first (the pointer does not move).
- Config (reset 0x8583): OS[15], MUX[14:12] (4–7 = AINx vs GND; 0–3 differential pairs),
  PGA[11:9] (±6.144, 4.096, 2.048, 1.024, 0.512, 0.256 V), MODE[8] (0 continuous, 1
  single-shot), DR[7:5] (8 … 860 SPS), comparator bits stored but unused.
- Continuous mode: the conversion register takes a new result every 1/DR s on a grid that
  restarts when the config is written (a channel switch costs one full conversion). Single-shot:
  writing OS = 1 starts one conversion; OS reads 0 until it completes 1/DR later.
- Codes: V / FS × 32768 with 2 LSB rms noise, clamped to −32768…32767 (as the chip clamps).
- Inputs come from :meth:`Ads1115Model.connect`-ed sources: a function of time giving volts.

Fault hooks: :attr:`freeze` (the conversion register stops changing), :attr:`saturate` (reads
full scale), :attr:`thresholds_reset` (alternative Lo/Hi reset values: "not an ADS1115"),
:meth:`power_on_reset` (a supply dip: every register back to its reset value — config 0x8583,
single-shot and powered down, so the conversion register stays 0 until a config write).

Not modelled: the digital filter's settling, differential inputs' common-mode limits, input
impedance loading the FSR divider, the ALERT/RDY pin, the comparator, the ±30 % tolerance of
its internal oscillator (data rates are exact here), general-call reset.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hardware.clock import Clock

CONVERSION = 0
CONFIG = 1
LO_THRESH = 2
HI_THRESH = 3
CONFIG_RESET = 0x8583
FS_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
SPS = (8, 16, 32, 64, 128, 250, 475, 860)
NOISE_LSB = 2.0


class Ads1115Model:
    """The ADS1115 register map; ``connect(channel, source)`` wires an input.

    Args:
        clock: the injected clock.
        seed: noise seed.
    """

    chip = "ADS1115"

    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self._inputs: dict[int, Callable[[float], float]] = {}
        self.freeze = False
        self.saturate = False
        self.thresholds_reset = (0x8000, 0x7FFF)
        self._reset()

    def _reset(self) -> None:
        self._regs = [0, CONFIG_RESET, self.thresholds_reset[0], self.thresholds_reset[1]]
        self._pointer = 0
        self._grid_origin_s = self._clock.now_s()
        self._last_index = -1
        self._single_done_s: float | None = None

    def power_on_reset(self) -> None:
        """The chip's supply dipped: registers back to their reset values (configuration lost)."""
        self._reset()

    def connect(self, channel: int, source: Callable[[float], float]) -> None:
        """Wire AIN``channel`` (0–3) to ``source(t_s) -> volts``."""
        self._inputs[channel] = source

    # ------------------------------------------------------------------ conversions
    def _convert(self) -> int:
        cfg = self._regs[CONFIG]
        mux = (cfg >> 12) & 7
        fs = FS_V[(cfg >> 9) & 7]
        if self.saturate:
            return 32767
        t = self._clock.now_s()
        if mux >= 4:
            volts = self._in(mux - 4, t)
        else:  # differential pairs: AIN0-1, AIN0-3, AIN1-3, AIN2-3
            p, n = ((0, 1), (0, 3), (1, 3), (2, 3))[mux]
            volts = self._in(p, t) - self._in(n, t)
        code = volts / fs * 32768 + self._rng.gauss(0.0, NOISE_LSB)
        return max(-32768, min(32767, round(code)))

    def _in(self, channel: int, t_s: float) -> float:
        source = self._inputs.get(channel)
        return source(t_s) if source is not None else 0.0

    def _update(self) -> None:
        cfg = self._regs[CONFIG]
        now = self._clock.now_s()
        period = 1.0 / SPS[(cfg >> 5) & 7]
        if self.freeze:
            return
        if cfg & 0x0100:  # single-shot
            if self._single_done_s is not None and now >= self._single_done_s:
                self._regs[CONVERSION] = self._convert() & 0xFFFF
                self._regs[CONFIG] |= 0x8000  # OS = 1: idle again
                self._single_done_s = None
            return
        index = int((now - self._grid_origin_s) / period + 1e-9)
        if index >= 1 and index != self._last_index:
            self._last_index = index
            self._regs[CONVERSION] = self._convert() & 0xFFFF

    # ------------------------------------------------------------------ bus side
    def write(self, data: bytes) -> None:
        if not data:
            return
        self._update()
        self._pointer = data[0] & 0x03
        if len(data) >= 3 and self._pointer != CONVERSION:
            value = (data[1] << 8) | data[2]
            if self._pointer == CONFIG:
                self._write_config(value)
            else:
                self._regs[self._pointer] = value

    def _write_config(self, value: int) -> None:
        start = bool(value & 0x8000)
        single = bool(value & 0x0100)
        self._regs[CONFIG] = value & 0x7FFF
        self._grid_origin_s = self._clock.now_s()  # a new config restarts conversions
        self._last_index = 0
        if single and start:
            self._single_done_s = self._clock.now_s() + 1.0 / SPS[(value >> 5) & 7]
        elif single:
            self._regs[CONFIG] |= 0x8000  # idle
        else:
            self._regs[CONFIG] &= 0x7FFF  # continuous: OS reads 0 while converting

    def read(self, length: int) -> bytes:
        self._update()
        value = self._regs[self._pointer]
        pair = bytes([(value >> 8) & 0xFF, value & 0xFF])
        return bytes(pair[i % 2] for i in range(length))
