"""Driver for the TI ADS1115 16-bit ADC reading a rail's FSR grip-force divider.

:meth:`Ads1115.setup` checks the chip (it has no ID register: the comparator thresholds'
reset values 0x8000/0x7FFF, which treadguard never writes, identify it, and the config register
must read back), then starts continuous conversions of one single-ended input at 860 SPS, so
a read returns a conversion at most 1.2 ms old. :meth:`Ads1115.read_volts` is one 2-byte read.

For one chip serving two rails (``ads1115_layout = "alternate"``), :meth:`Ads1115.select`
switches the input: the next valid result needs one conversion time (1.16 ms at 860 SPS) —
the rails object therefore reads one rail per loop cycle and switches after each read.

:meth:`Ads1115.config_fault` reads the config register back (one 2-byte read: 5 bytes on the
wire with the two address bytes and the pointer). A chip that power-on-reset (supply dip,
loose connector) answers with its reset config 0x8583 — single-shot and powered down, AIN0−AIN1,
±2.048 V, 128 SPS — and its conversion register stays at 0 (0 V: "no grip") for ever: without
the read-back a grab on that rail would go unseen. The driver only reports what it read;
:class:`controller.health_rails.RailsHealth` turns it into a stop.
"""

from __future__ import annotations

from typing import Final

from hardware.clock import Clock
from hardware.i2c import I2CBus
from hardware.register_chip import RegisterChip

CONVERSION: Final = 0x00
CONFIG: Final = 0x01
CONFIG_RESET: Final = 0x8583  # the config register's power-on value (datasheet)
LO_THRESH: Final = 0x02
HI_THRESH: Final = 0x03
THRESH_RESET: Final = (0x8000, 0x7FFF)
PGA_CODE: Final = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
DR_860_SPS: Final = 7
COMP_DISABLED: Final = 0x03  # COMP_QUE = 11 (comparator off, ALERT high-impedance)
RATE_SPS: Final = 860.0


class RailForceError(Exception):
    """The ADS1115 is missing, is something else, or did not take its configuration."""


class Ads1115(RegisterChip):
    """ADS1115 at ``address``, converting AIN``channel`` continuously.

    Args:
        bus: smbus2-compatible bus.
        address: 0x48–0x4B (ADDR pin to GND, VDD, SDA, SCL).
        clock: the injected clock.
        channel: single-ended input 0–3.
        range_v: PGA full scale (default 4.096 V: fits a 3.3 V divider with headroom).
    """

    chip = "ADS1115"
    error = RailForceError

    def __init__(self, bus: I2CBus, address: int, clock: Clock, channel: int = 0,
                 range_v: float = 4.096) -> None:
        if range_v not in PGA_CODE:
            raise ValueError(f"range_v must be one of {sorted(PGA_CODE)}, got {range_v}")
        if not 0 <= channel <= 3:
            raise ValueError(f"channel must be 0–3, got {channel}")
        super().__init__(bus, address, clock)
        self.channel = channel
        self.range_v = range_v

    def _config(self, channel: int) -> int:
        # MUX 1xx = AINx vs GND; MODE 0 = continuous; OS left 0 (meaningless in continuous).
        return ((4 + channel) << 12) | (PGA_CODE[self.range_v] << 9) | (DR_860_SPS << 5) | \
            COMP_DISABLED

    def _write_config(self, value: int) -> None:
        self._bus.write_i2c_block_data(self.address, CONFIG, [value >> 8, value & 0xFF])

    def _read_register(self, register: int) -> int:
        hi, lo = self._bus.read_i2c_block_data(self.address, register, 2)
        return (hi << 8) | lo

    def setup(self) -> None:
        """Identify, configure, verify. Raises :class:`RailForceError` or ``OSError``."""
        thresholds = (self._read_register(LO_THRESH), self._read_register(HI_THRESH))
        if thresholds != THRESH_RESET:
            self._fail(f"thresholds read {thresholds[0]:#06x}/{thresholds[1]:#06x}, "
                       f"expected 0x8000/0x7fff (not an ADS1115?)")
        self.select(self.channel)
        fault = self.config_fault()
        if fault:
            self._fail(fault)
        # The first result is ready one conversion (1.16 ms) after the config write; until
        # then the conversion register holds its power-on 0 (0 V: no grip), which is only
        # ever seen while the controller is still latched at start-up.

    def select(self, channel: int) -> None:
        """Switch to AIN``channel``; the next result is valid 1/860 s later."""
        self._write_config(self._config(channel))
        self.channel = channel

    def describe(self) -> str:
        return (f"{self.chip} at {self.address:#04x}: thresholds 0x8000/0x7fff, AIN"
                f"{self.channel} single-ended, ±{self.range_v:g} V, {RATE_SPS:g} SPS continuous")

    def config_fault(self) -> str:
        """Read the config register back: ``""`` if it holds what was last written, else what
        it reads, in one line. One 2-byte read (5 wire bytes). Raises ``OSError``."""
        got = self._read_register(CONFIG)
        wanted = self._config(self.channel)
        if got & 0x7FFF == wanted & 0x7FFF:  # OS (bit 15) is a status bit when read
            return ""
        reset = " (its power-on reset value)" if got == CONFIG_RESET else ""
        return f"config register reads {got:#06x}, written {wanted:#06x}{reset}"

    def read_code(self) -> int:
        """The latest conversion as the chip's signed code (−32768…32767). Raises ``OSError``."""
        raw = self._read_register(CONVERSION)
        return raw - 0x10000 if raw & 0x8000 else raw

    def volts(self, code: int) -> float:
        """A conversion code in volts at the configured full scale."""
        return code * self.range_v / 32768.0

    def read_volts(self) -> float:
        """The latest conversion in volts. Raises ``OSError``."""
        return self.volts(self.read_code())
