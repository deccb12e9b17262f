"""Driver for the NXP MPR121 capacitive touch controller: is a hand on each rail?

The rails' electrodes (insulated sleeves on metal rails, see docs/hardware.md) are wired to two
of the chip's 12 electrode inputs. :meth:`Mpr121.setup` soft-resets the chip and checks CONFIG2
reads its reset value 0x24 (the MPR121 has no ID register: this is the datasheet's way to tell
it is there), then — in stop mode, the only mode that accepts configuration — sets thresholds,
a 4 ms response time (ESI 1 ms × SFI 4 samples instead of the reset's 16 ms × 4) and enables
electrodes 0…n, loading baselines (all 10 bits) from the first scan. Everything written is
read back.

:meth:`Mpr121.read` costs one bus transaction: touch status, out-of-range status and the
filtered data of the enabled electrodes in one auto-incrementing block read (4 + 2n bytes).

:meth:`Mpr121.config_fault` reads ECR back (one 1-byte read: 4 bytes on the wire with the two
address bytes and the register). A chip that power-on-reset comes back in stop mode (ECR 0x00:
no electrode scanned, filtered data 0, no touch bit ever set) and answers every read without
complaint; a hand on a rail, or a hands-on runner letting go, would go unseen. The driver only
reports what it read; :class:`controller.health_rails.RailsHealth` turns it into a stop.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Final

from hardware.clock import Clock
from hardware.i2c import I2CBus
from hardware.register_chip import RegisterChip

TOUCH_STATUS: Final = 0x00
FILTERED: Final = 0x04
BASELINE: Final = 0x1E
THRESHOLDS: Final = 0x41
DEBOUNCE: Final = 0x5B
CONFIG1: Final = 0x5C
CONFIG2: Final = 0x5D
ECR: Final = 0x5E
SOFT_RESET: Final = 0x80
RESET_MAGIC: Final = 0x63
CONFIG2_AFTER_RESET: Final = 0x24
CONFIG1_VALUE: Final = 0x10  # FFI 6 samples, 16 µA charge current (the reset value)
CONFIG2_VALUE: Final = 0x20  # CDT 0.5 µs, SFI 4 samples, ESI 1 ms ⇒ 4 ms response
ECR_BASELINE_LOAD: Final = 0xC0
"""CL = 0b11: load all 10 bits of the first filtered value as the baseline. CL = 0b10 loads
only its 5 high bits — a baseline up to 31 counts below an untouched rail, which hides a touch
of up to touch threshold + 31 counts (the baseline filter, left at its reset values, never
tracks it back up)."""
OVCF: Final = 0x80


class RailTouchError(Exception):
    """The MPR121 is missing, is something else, or did not take its configuration."""


@dataclass(frozen=True, slots=True)
class TouchReading:
    """One MPR121 reading.

    Attributes:
        t_s: clock time of the read, seconds.
        touched: bit n set = electrode n touched.
        filtered_counts: filtered data of electrodes 0…n−1 (10-bit counts; falls with touch).
    """

    t_s: float
    touched: int
    filtered_counts: tuple[int, ...]


class Mpr121(RegisterChip):
    """MPR121 at ``address`` with the rails on ``electrodes``.

    Args:
        bus: smbus2-compatible bus.
        address: 0x5A–0x5D (ADDR pin).
        clock: the injected clock.
        electrodes: electrode numbers in use, e.g. ``(0, 1)`` for (left, right).
        touch_threshold_counts / release_threshold_counts: drop below baseline that counts as
            touch / release (defaults 12 / 6, the datasheet's typical values).
    """

    chip = "MPR121"
    error = RailTouchError

    def __init__(self, bus: I2CBus, address: int, clock: Clock,
                 electrodes: tuple[int, ...] = (0, 1),
                 touch_threshold_counts: int = 12, release_threshold_counts: int = 6) -> None:
        if not electrodes or not all(0 <= e <= 11 for e in electrodes):
            raise ValueError(f"electrodes must be within 0–11, got {electrodes}")
        if not 0 < release_threshold_counts < touch_threshold_counts <= 255:
            raise ValueError("thresholds must satisfy 0 < release < touch ≤ 255")
        super().__init__(bus, address, clock)
        self.electrodes = electrodes
        self.touch_threshold = touch_threshold_counts
        self.release_threshold = release_threshold_counts
        self._count = max(electrodes) + 1  # ELE_EN enables electrodes 0…n−1
        self._ecr = ECR_BASELINE_LOAD | self._count  # run mode, as setup() leaves it

    def setup(self) -> None:
        """Reset, identify, configure, enable and verify. Raises RailTouchError / OSError."""
        self._bus.write_byte_data(self.address, SOFT_RESET, RESET_MAGIC)
        config2 = self._bus.read_byte_data(self.address, CONFIG2)
        if config2 != CONFIG2_AFTER_RESET:
            self._fail(f"CONFIG2 reads {config2:#04x} after soft reset, "
                       f"expected {CONFIG2_AFTER_RESET:#04x} (not an MPR121?)")
        self._bus.write_byte_data(self.address, ECR, 0x00)  # stop mode: config writes allowed
        thresholds = []
        for _ in range(self._count):
            thresholds += [self.touch_threshold, self.release_threshold]
        self._bus.write_i2c_block_data(self.address, THRESHOLDS, thresholds)
        wanted = {DEBOUNCE: 0x00, CONFIG1: CONFIG1_VALUE, CONFIG2: CONFIG2_VALUE}
        self._write_registers(wanted)
        got_th = self._bus.read_i2c_block_data(self.address, THRESHOLDS, len(thresholds))
        if list(got_th) != thresholds:
            self._fail("thresholds did not read back")
        self._bus.write_byte_data(self.address, ECR, self._ecr)
        wanted[ECR] = self._ecr
        self._verify_registers(wanted)

    def config_fault(self) -> str:
        """Read ECR back: ``""`` if it holds what setup wrote (electrodes 0…n−1 scanning),
        else what it reads, in one line. One 1-byte read (4 wire bytes). Raises ``OSError``."""
        got = self._bus.read_byte_data(self.address, ECR)
        if got == self._ecr:
            return ""
        enabled = got & 0x0F
        state = "electrodes not scanning" if enabled == 0 else f"{enabled} electrodes enabled"
        return f"ECR reads {got:#04x}, written {self._ecr:#04x} ({state})"

    def describe(self) -> str:
        return (f"{self.chip} at {self.address:#04x}: CONFIG2 0x24 after reset, electrodes "
                f"{', '.join(map(str, self.electrodes))}, thresholds {self.touch_threshold}/"
                f"{self.release_threshold} counts, 4 ms response")

    def read(self) -> TouchReading:
        """Touch status and filtered data. Raises ``OSError`` on a bus failure, and
        ``OSError(EIO)`` if the chip flags over-current (it stops scanning then)."""
        raw = self._bus.read_i2c_block_data(self.address, TOUCH_STATUS, 4 + 2 * self._count)
        if raw[1] & OVCF:
            # An OSError, like any other bus-level failure, so it counts against the error
            # budget: the chip has stopped scanning and its touch bits mean nothing.
            raise OSError(errno.EIO, f"MPR121 at {self.address:#04x}: over-current flag "
                                     f"(shorted electrode?)")
        touched = raw[0] | ((raw[1] & 0x0F) << 8)
        filtered = tuple(raw[4 + 2 * e] | ((raw[5 + 2 * e] & 0x03) << 8)
                         for e in range(self._count))
        return TouchReading(self._clock.now_s(), touched, filtered)

    def baselines(self) -> tuple[int, ...]:
        """Baseline counts of electrodes 0…n−1 (10-bit scale; the chip keeps 8 MSBs)."""
        raw = self._bus.read_i2c_block_data(self.address, BASELINE, self._count)
        return tuple(b << 2 for b in raw)
