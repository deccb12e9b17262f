"""Driver for the ST VL53L1X time-of-flight distance sensor: where is the runner on the deck?

Mounted on the console and facing the runner, it measures the distance to the runner's body;
a backward runner drifting towards the deck's rear end moves away from it. The driver is
handed its bus (a real ``smbus2.SMBus`` or the simulated bus) and the injected clock.

:meth:`Vl53l1x.setup` waits for the chip to boot, checks its identity (model EAh, module type
CCh), writes ST's default configuration (registers 0x2D–0x87, as ST's Ultra Lite Driver does),
runs one measurement to let the chip's VHV calibration settle, then sets long distance mode
(up to ~3.6 m in the dark, ~1.3 m in strong ambient light), a timing budget of
``timing_budget_ms`` and an inter-measurement period of ``period_ms``, reads the settings
back and starts continuous ranging.

:meth:`Vl53l1x.read` costs one combined transfer (GPIO__TIO_HV_STATUS) when no measurement
has completed and three when one has (the status, the 17-byte result block, the interrupt
clear). It returns a :class:`RangeReading` or None (nothing new). Register indices are 16-bit
(sent MSB first), so every transfer is an ``i2c_rdwr``.

Errors: bus failures propagate as ``OSError``; a missing, unbooted or unconfigurable chip
raises :class:`RangeError` (the controller refuses to arm when the sensor is required).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from smbus2 import i2c_msg

from hardware.clock import Clock
from hardware.i2c import I2CBus

GPIO_HV_MUX_CTRL: Final = 0x0030
GPIO_TIO_HV_STATUS: Final = 0x0031
VHV_CONFIG_TIMEOUT_MACROP_LOOP_BOUND: Final = 0x0008
VHV_CONFIG_INIT: Final = 0x000B
PHASECAL_CONFIG_TIMEOUT_MACROP: Final = 0x004B
RANGE_CONFIG_TIMEOUT_MACROP_A_HI: Final = 0x005E
RANGE_CONFIG_VCSEL_PERIOD_A: Final = 0x0060
RANGE_CONFIG_TIMEOUT_MACROP_B_HI: Final = 0x0061
RANGE_CONFIG_VCSEL_PERIOD_B: Final = 0x0063
RANGE_CONFIG_VALID_PHASE_HIGH: Final = 0x0069
INTERMEASUREMENT_PERIOD: Final = 0x006C
SD_CONFIG_WOI_SD0: Final = 0x0078
SD_CONFIG_INITIAL_PHASE_SD0: Final = 0x007A
SYSTEM_INTERRUPT_CLEAR: Final = 0x0086
SYSTEM_MODE_START: Final = 0x0087
RESULT_RANGE_STATUS: Final = 0x0089
RESULT_OSC_CALIBRATE_VAL: Final = 0x00DE
FIRMWARE_SYSTEM_STATUS: Final = 0x00E5
IDENTIFICATION_MODEL_ID: Final = 0x010F

MODEL_ID: Final = 0xEACC
STATUS_VALID: Final = 0x09
RESULT_BLOCK: Final = 17  # 0x0089 … 0x0099: status, rates, SPADs, range, signal rate
RANGE_OFFSET: Final = 0x0096 - RESULT_RANGE_STATUS
BOOT_POLLS: Final = 50
BOOT_POLL_S: Final = 0.001
FIRST_RANGE_POLLS: Final = 200
FIRST_RANGE_POLL_S: Final = 0.005
DEFAULT_CONFIGURATION_START: Final = 0x2D
DEFAULT_CONFIGURATION: Final = bytes([
    0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x02, 0x08, 0x00, 0x08, 0x10, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x00, 0xFF, 0x00, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x0B, 0x00, 0x00, 0x02,
    0x0A, 0x21, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0xC8, 0x00, 0x00, 0x38, 0xFF, 0x01,
    0x00, 0x08, 0x00, 0x00, 0x01, 0xCC, 0x0F, 0x01, 0xF1, 0x0D, 0x01, 0x68, 0x00, 0x80, 0x08,
    0xB8, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x89, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0F, 0x0D, 0x0E, 0x0E, 0x00, 0x00, 0x02, 0xC7, 0xFF, 0x9B, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00,
])
"""ST's default configuration of registers 0x2D–0x87 (interrupt active high, ranging stopped)."""
LONG_MODE: Final = {  # register: bytes (ST's long distance mode)
    PHASECAL_CONFIG_TIMEOUT_MACROP: b"\x0a",
    RANGE_CONFIG_VCSEL_PERIOD_A: b"\x0f",
    RANGE_CONFIG_VCSEL_PERIOD_B: b"\x0d",
    RANGE_CONFIG_VALID_PHASE_HIGH: b"\xb8",
    SD_CONFIG_WOI_SD0: b"\x0f\x0d",
    SD_CONFIG_INITIAL_PHASE_SD0: b"\x0e\x0e",
}
LONG_BUDGETS_MS: Final = {  # timing budget: (TIMEOUT_MACROP_A_HI, TIMEOUT_MACROP_B_HI)
    20: (0x001E, 0x0022), 33: (0x0060, 0x006E), 50: (0x00AD, 0x00C6), 100: (0x01CC, 0x01EA),
    200: (0x02D9, 0x02F8), 500: (0x048F, 0x04A4),
}


class RangeError(Exception):
    """The VL53L1X is missing, is something else, or did not take its configuration."""


@dataclass(frozen=True, slots=True)
class RangeReading:
    """One completed VL53L1X measurement.

    Attributes:
        t_s: clock time of the read, seconds.
        distance_m: measured distance, metres (meaningful only when ``valid``).
        valid: the chip reports the range as valid (raw status 09h); otherwise nothing was
            within range or the signal was too weak — "position unknown", never "close".
        status: the chip's raw range status (RESULT__RANGE_STATUS & 0x1F).
    """

    t_s: float
    distance_m: float
    valid: bool
    status: int


class Vl53l1x:
    """VL53L1X at ``address`` on ``bus``, ranging continuously in long distance mode.

    Args:
        bus: smbus2-compatible bus (see :mod:`hardware.i2c`).
        address: 7-bit address (0x29 after power-on).
        clock: the injected clock (boot waits sleep on it; readings are stamped with it).
        timing_budget_ms: 20, 33, 50 (default), 100, 200 or 500 ms per measurement.
        period_ms: time between measurements, ≥ the timing budget (default 50 ms: 20 Hz).

    Counters: ``readings`` (measurements read), ``invalid`` (of those, not valid).
    """

    chip = "VL53L1X"

    def __init__(self, bus: I2CBus, address: int, clock: Clock, timing_budget_ms: int = 50,
                 period_ms: int = 50) -> None:
        if timing_budget_ms not in LONG_BUDGETS_MS:
            raise ValueError(f"timing_budget_ms must be one of {sorted(LONG_BUDGETS_MS)}, "
                             f"got {timing_budget_ms}")
        if not timing_budget_ms <= period_ms <= 10_000:
            raise ValueError(f"period_ms must be within {timing_budget_ms}–10000 (at least "
                             f"the timing budget), got {period_ms}")
        self._bus = bus
        self.address = address
        self._clock = clock
        self.timing_budget_ms = timing_budget_ms
        self.period_ms = period_ms
        self.readings = 0
        self.invalid = 0
        self._level = 1  # GPIO__TIO_HV_STATUS bit 0 when a measurement is ready

    # ------------------------------------------------------------------ register access
    def _write(self, index: int, data: bytes) -> None:
        self._bus.i2c_rdwr(i2c_msg.write(self.address, index.to_bytes(2, "big") + data))

    def _read(self, index: int, length: int) -> bytes:
        data = i2c_msg.read(self.address, length)
        self._bus.i2c_rdwr(i2c_msg.write(self.address, index.to_bytes(2, "big")), data)
        return bytes(data)

    def _fail(self, what: str) -> RangeError:
        return RangeError(f"{self.chip} at {self.address:#04x}: {what}")

    def _wait_for(self, index: int, mask: int, want: int, polls: int, poll_s: float,
                  what: str) -> None:
        for _ in range(polls):
            if self._read(index, 1)[0] & mask == want:
                return
            self._clock.sleep_until(self._clock.now_s() + poll_s)
        raise self._fail(f"{what} did not happen")

    def _data_ready_level(self) -> int:
        return 0 if self._read(GPIO_HV_MUX_CTRL, 1)[0] & 0x10 else 1

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Boot, identify, configure, verify and start ranging. Raises RangeError / OSError."""
        self._wait_for(FIRMWARE_SYSTEM_STATUS, 0x01, 0x01, BOOT_POLLS, BOOT_POLL_S, "boot")
        model = int.from_bytes(self._read(IDENTIFICATION_MODEL_ID, 2), "big")
        if model != MODEL_ID:
            raise self._fail(f"model ID reads {model:#06x}, expected {MODEL_ID:#06x}")
        self._write(DEFAULT_CONFIGURATION_START, DEFAULT_CONFIGURATION)
        # One measurement lets the chip run its VHV calibration (ST's SensorInit).
        self._write(SYSTEM_MODE_START, b"\x40")
        level = self._data_ready_level()
        self._wait_for(GPIO_TIO_HV_STATUS, 0x01, level, FIRST_RANGE_POLLS, FIRST_RANGE_POLL_S,
                       "first measurement")
        self._write(SYSTEM_INTERRUPT_CLEAR, b"\x01")
        self._write(SYSTEM_MODE_START, b"\x00")
        self._write(VHV_CONFIG_TIMEOUT_MACROP_LOOP_BOUND, b"\x09")
        self._write(VHV_CONFIG_INIT, b"\x00")
        a_hi, b_hi = LONG_BUDGETS_MS[self.timing_budget_ms]
        osc = int.from_bytes(self._read(RESULT_OSC_CALIBRATE_VAL, 2), "big") & 0x3FF
        wanted = {
            **LONG_MODE,
            RANGE_CONFIG_TIMEOUT_MACROP_A_HI: a_hi.to_bytes(2, "big"),
            RANGE_CONFIG_TIMEOUT_MACROP_B_HI: b_hi.to_bytes(2, "big"),
            INTERMEASUREMENT_PERIOD: round(osc * self.period_ms * 1.075).to_bytes(4, "big"),
        }
        for index, data in wanted.items():
            self._write(index, data)
        for index, data in wanted.items():
            got = self._read(index, len(data))
            if got != data:
                raise self._fail(f"register {index:#06x} reads {got.hex()} after writing "
                                 f"{data.hex()}")
        self._level = self._data_ready_level()
        self._write(SYSTEM_INTERRUPT_CLEAR, b"\x01")
        self._write(SYSTEM_MODE_START, b"\x40")

    def describe(self) -> str:
        return (f"{self.chip} at {self.address:#04x}: model EAh CCh, long mode, "
                f"{self.timing_budget_ms} ms budget every {self.period_ms} ms")

    def ranging(self) -> bool:
        """Is continuous ranging on (SYSTEM__MODE_START reads 40h)? A chip that reset itself
        reads 00h and never completes another measurement. One 1-byte read."""
        return self._read(SYSTEM_MODE_START, 1)[0] == 0x40

    # ------------------------------------------------------------------ reading
    def read(self) -> RangeReading | None:
        """The measurement completed since the last call, or None. Raises ``OSError``."""
        if self._read(GPIO_TIO_HV_STATUS, 1)[0] & 0x01 != self._level:
            return None
        raw = self._read(RESULT_RANGE_STATUS, RESULT_BLOCK)
        self._write(SYSTEM_INTERRUPT_CLEAR, b"\x01")
        status = raw[0] & 0x1F
        mm = int.from_bytes(raw[RANGE_OFFSET : RANGE_OFFSET + 2], "big")
        valid = status == STATUS_VALID
        self.readings += 1
        self.invalid += not valid
        return RangeReading(self._clock.now_s(), mm / 1000.0, valid, status)
