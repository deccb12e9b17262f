"""Register-level twin of the ST VL53L1X time-of-flight distance sensor (runner's position).

A console-mounted VL53L1X faces the runner; the twin is fed the distance from the sensor to the
runner's back (a function of time, or :meth:`Vl53l1xModel.set_distance_m`), so the runner model
can drive it. What a driver sees, as with ST's Ultra Lite Driver (ULD) register use:

- 16-bit register indices, sent MSB first; multi-byte registers big-endian; the index
  auto-increments. Identification 0x010F–0x0111 = EAh (model), CCh (module type), 10h (mask
  revision). FIRMWARE__SYSTEM_STATUS 0x00E5 bit 0 = booted: it reads 0 for
  :data:`BOOT_TIME_S` after power-on or after SOFT_RESET 0x0000 is written 0 then 1.
- Configuration 0x0001–0x0087 (I²C address, pads, interrupt configuration, timing, ROI, …)
  keeps what is written; power-on values are ST's default configuration (the block the ULD
  writes at 0x2D). GPIO_HV_MUX__CTRL 0x0030 bit 4 = interrupt active low.
- SYSTEM__MODE_START 0x0087: 40h starts continuous ranging (a measurement every
  max(timing budget, inter-measurement period) from the write), 10h one measurement, 00h stops.
  The timing budget follows the distance mode (PHASECAL_CONFIG__TIMEOUT_MACROP 0x004B: 14h
  short, 0Ah long) and RANGE_CONFIG__TIMEOUT_MACROP_A_HI 0x005E as ST's tables set them
  (15–500 ms); the inter-measurement period is SYSTEM__INTERMEASUREMENT_PERIOD 0x006C (32-bit)
  ÷ (RESULT__OSC_CALIBRATE_VAL 0x00DE × 1.075) ms.
- Each completed measurement updates RESULT__RANGE_STATUS 0x0089 (raw 09h = valid, 04h =
  signal fail: nothing within range) and RESULT__FINAL_CROSSTALK_CORRECTED_RANGE_MM_SD0 0x0096
  (mm), signal and ambient rates, and asserts the interrupt: GPIO__TIO_HV_STATUS 0x0031 bit 0
  reads the active level until SYSTEM__INTERRUPT_CLEAR 0x0086 is written 01h. Measurements go on
  whether or not the interrupt was cleared; the newest result overwrites the last.
- Range: up to :data:`MAX_RANGE_LONG_M` in long mode, :data:`MAX_RANGE_SHORT_M` in short mode;
  repeatability noise :data:`NOISE_MM` (1 σ at 100 ms, growing as 1/√budget and with distance).

Fault hooks: :attr:`freeze` (results stop changing while interrupts keep coming — a sensor that
looks alive), :attr:`stall` (no measurement ever completes: the interrupt never comes),
:meth:`power_on_reset` (configuration lost, ranging stopped), and the bus's unplug/errors.

Not modelled: the optics (field of view, ROI, reflectance, ambient light), crosstalk and offset
calibration, wrap-around beyond the ambiguity distance, the I²C address change (the twin stays
at the address it was attached to), interrupt thresholds (distance windows), the GPIO pin.
"""

from __future__ import annotations

from collections.abc import Callable

from hardware.clock import Clock
from hardware.sim.register_twin import RegisterTwin
from hardware.vl53l1x import DEFAULT_CONFIGURATION

SOFT_RESET = 0x0000
I2C_SLAVE_DEVICE_ADDRESS = 0x0001
GPIO_HV_MUX_CTRL = 0x0030
GPIO_TIO_HV_STATUS = 0x0031
PHASECAL_CONFIG_TIMEOUT_MACROP = 0x004B
RANGE_CONFIG_TIMEOUT_MACROP_A_HI = 0x005E
INTERMEASUREMENT_PERIOD = 0x006C
SYSTEM_INTERRUPT_CLEAR = 0x0086
SYSTEM_MODE_START = 0x0087
RESULT_RANGE_STATUS = 0x0089
RESULT_AMBIENT_RATE = 0x0090
RESULT_RANGE_MM = 0x0096
RESULT_SIGNAL_RATE = 0x0098
RESULT_OSC_CALIBRATE_VAL = 0x00DE
FIRMWARE_SYSTEM_STATUS = 0x00E5
IDENTIFICATION_MODEL_ID = 0x010F
CONFIG_LAST = SYSTEM_MODE_START

MODEL_ID = (0xEA, 0xCC, 0x10)
OSC_CALIBRATE_VAL = 0x01F0
BOOT_TIME_S = 0.0012
STATUS_VALID = 0x09
STATUS_SIGNAL_FAIL = 0x04
MODE_CONTINUOUS = 0x40
MODE_SINGLE = 0x10
MAX_RANGE_LONG_M = 3.6
MAX_RANGE_SHORT_M = 1.3
NOISE_MM = 2.5
SHORT, LONG = 0x14, 0x0A

DEFAULT_CONFIGURATION_START = 0x2D

# Timing budget (ms) by RANGE_CONFIG__TIMEOUT_MACROP_A_HI, per distance mode (ST's tables).
BUDGET_MS = {
    SHORT: {0x001D: 15, 0x0051: 20, 0x00D6: 33, 0x01AE: 50, 0x02E1: 100, 0x03E1: 200,
            0x0591: 500},
    LONG: {0x001E: 20, 0x0060: 33, 0x00AD: 50, 0x01CC: 100, 0x02D9: 200, 0x048F: 500},
}
DEFAULT_BUDGET_MS = 100


class Vl53l1xModel(RegisterTwin):
    """The VL53L1X register map, ranging ``distance_m(t)`` on ``clock`` time.

    Args:
        clock: the injected clock.
        distance_m: distance from the sensor to the target at time ``t`` (s), metres; None
            (or a callable returning None) = nothing in front of the sensor.
        seed: noise seed.
    """

    chip = "VL53L1X"

    def __init__(self, clock: Clock,
                 distance_m: Callable[[float], float | None] | None = None,
                 seed: int = 0) -> None:
        super().__init__(clock, seed, 0x200)
        self._source: Callable[[float], float | None] = distance_m or (lambda t_s: None)
        self.stall = False
        self._reset()

    def set_distance_m(self, distance_m: float | None) -> None:
        """Feed a fixed distance from now on (None: nothing in front of the sensor)."""
        self._source = lambda t_s: distance_m

    def _reset(self) -> None:
        self._regs[:] = bytes(len(self._regs))
        self._regs[I2C_SLAVE_DEVICE_ADDRESS] = 0x29
        start = DEFAULT_CONFIGURATION_START
        self._regs[start : start + len(DEFAULT_CONFIGURATION)] = DEFAULT_CONFIGURATION
        self._regs[RESULT_OSC_CALIBRATE_VAL : RESULT_OSC_CALIBRATE_VAL + 2] = (
            OSC_CALIBRATE_VAL.to_bytes(2, "big"))
        model = IDENTIFICATION_MODEL_ID
        self._regs[model : model + 3] = bytes(MODEL_ID)
        self._booted_at_s = self._clock.now_s() + BOOT_TIME_S
        self._in_reset = False
        self._ranging_from_s: float | None = None
        self._single = False
        self._done = 0  # measurements completed since ranging started
        self._interrupt = False

    # ------------------------------------------------------------------ ranging
    def _mode(self) -> int:
        return self._regs[PHASECAL_CONFIG_TIMEOUT_MACROP]

    def timing_budget_ms(self) -> int:
        a_hi = int.from_bytes(self._regs[RANGE_CONFIG_TIMEOUT_MACROP_A_HI :
                                         RANGE_CONFIG_TIMEOUT_MACROP_A_HI + 2], "big")
        return BUDGET_MS.get(self._mode(), {}).get(a_hi, DEFAULT_BUDGET_MS)

    def period_s(self) -> float:
        """Time between measurements: max(timing budget, inter-measurement period)."""
        imp = int.from_bytes(self._regs[INTERMEASUREMENT_PERIOD : INTERMEASUREMENT_PERIOD + 4],
                             "big")
        osc = int.from_bytes(self._regs[RESULT_OSC_CALIBRATE_VAL :
                                        RESULT_OSC_CALIBRATE_VAL + 2], "big") & 0x3FF
        imp_ms = imp / (osc * 1.075) if osc else 0.0
        return max(self.timing_budget_ms(), imp_ms) / 1000.0

    def _update(self) -> None:
        if self._ranging_from_s is None or self.stall:
            return
        period = self.period_s()
        done = int((self._clock.now_s() - self._ranging_from_s) / period + 1e-9)
        if self._single:
            done = min(done, 1)
        if done > self._done:
            self._done = done
            if not self.freeze:
                self._measure(self._ranging_from_s + done * period)
            self._interrupt = True
            if self._single:
                self._ranging_from_s = None

    def _measure(self, t_s: float) -> None:
        distance = self._source(t_s)
        max_range = MAX_RANGE_SHORT_M if self._mode() == SHORT else MAX_RANGE_LONG_M
        if distance is None or not 0.0 <= distance <= max_range:
            status, mm, signal = STATUS_SIGNAL_FAIL, 0, 0
        else:
            sigma = NOISE_MM * (DEFAULT_BUDGET_MS / self.timing_budget_ms()) ** 0.5
            sigma *= 1.0 + distance / 2.0
            mm = max(0, min(0xFFFF, round(distance * 1000.0 + self._rng.gauss(0.0, sigma))))
            status = STATUS_VALID
            signal = max(1, round(40000 / (1.0 + distance * distance * 4)))  # 9.7 fixed point
        self._regs[RESULT_RANGE_STATUS] = status
        self._regs[RESULT_RANGE_MM : RESULT_RANGE_MM + 2] = mm.to_bytes(2, "big")
        self._regs[RESULT_SIGNAL_RATE : RESULT_SIGNAL_RATE + 2] = min(signal, 0xFFFF).to_bytes(
            2, "big")
        self._regs[RESULT_AMBIENT_RATE : RESULT_AMBIENT_RATE + 2] = (0x0040).to_bytes(2, "big")

    # ------------------------------------------------------------------ bus side
    def write(self, data: bytes) -> None:
        """A write message: two index bytes (MSB first) set the pointer; the rest are data."""
        if len(data) < 2:
            return  # half an index: the chip waits for the second byte that never comes
        self._pointer = ((data[0] << 8) | data[1]) % len(self._regs)
        self._update()
        for value in data[2:]:
            self._write_register(self._pointer, value)
            self._advance()

    def _advance(self) -> None:
        self._pointer = (self._pointer + 1) % len(self._regs)

    def _before_read(self) -> None:
        self._update()

    def _write_register(self, reg: int, value: int) -> None:
        if reg == SOFT_RESET:
            if value & 0x01 and self._in_reset:
                self._reset()  # out of reset: boots again with power-on values
            elif not value & 0x01:
                self._in_reset = True
                self._ranging_from_s = None
            return
        if reg == SYSTEM_INTERRUPT_CLEAR:
            if value & 0x01:
                self._interrupt = False
            return
        if reg == SYSTEM_MODE_START:
            self._regs[reg] = value
            self._done = 0
            self._single = value == MODE_SINGLE
            running = value in (MODE_CONTINUOUS, MODE_SINGLE) and not self._in_reset
            self._ranging_from_s = self._clock.now_s() if running else None
            return
        if reg <= CONFIG_LAST:
            self._regs[reg] = value
        # Result and identification registers are read-only.

    def _read_register(self, reg: int) -> int:
        if reg == FIRMWARE_SYSTEM_STATUS:
            booted = not self._in_reset and self._clock.now_s() >= self._booted_at_s
            return 0x01 if booted else 0x00
        if reg == GPIO_TIO_HV_STATUS:
            active_low = bool(self._regs[GPIO_HV_MUX_CTRL] & 0x10)
            level = self._interrupt != active_low
            return (self._regs[reg] & 0xFE) | int(level)
        if reg == SYSTEM_INTERRUPT_CLEAR:
            return 0
        return self._regs[reg]
