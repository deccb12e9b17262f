"""Register-faithful twin of the ST LSM6DSOX accelerometer + gyroscope.

Implements the registers the driver uses, with the datasheet's addresses, encodings, byte
order (little-endian outputs) and reset behaviour:

- WHO_AM_I 0x0F = 0x6C; CTRL1_XL 0x10 (ODR_XL[7:4], FS_XL[3:2]); CTRL2_G 0x11 (ODR_G[7:4],
  FS_G[3:2], FS_125 bit 1); CTRL3_C 0x12 (BDU bit 6, IF_INC bit 2 default 1, SW_RESET bit 0,
  self-clearing); STATUS_REG 0x1E (XLDA bit 0, GDA bit 1); OUTX_L_G 0x22–0x27, OUTX_L_A 0x28–0x2D.
- Samples are produced at the configured output data rate on the injected clock's time grid,
  from a :class:`~hardware.sim.motion.Motion`, converted to counts at the configured full scale,
  with white noise at the datasheet's density (so a healthy twin never repeats a sample) and
  saturating at ±32767/−32768 as the chip does.

Fault hooks: :attr:`freeze` (outputs stop changing but STATUS still says new data — the
nastiest failure: a dead sensor that looks alive), :attr:`who_am_i` (a wrong identity),
:attr:`saturate` (outputs pinned at full scale).

Not modelled: the FIFO (see the sensors issue), temperature, interrupts and embedded functions,
power modes, filters' group delay, self-test, turn-on time.
"""

from __future__ import annotations

import random

from controller.clock import Clock
from hardware.sim.motion import Motion, Vec3

WHO_AM_I = 0x0F
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
STATUS_REG = 0x1E
OUTX_L_G = 0x22
OUTX_L_A = 0x28
LAST_OUTPUT = 0x2D

CHIP_ID = 0x6C
CTRL3_C_RESET = 0x04  # IF_INC set

# ODR code (bits 7:4) → Hz
ODR_HZ = {0: 0.0, 1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0,
          8: 1666.0, 9: 3332.0, 10: 6664.0}
# FS_XL code (bits 3:2) → mg per LSB
ACCEL_MG_PER_LSB = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}
# FS_G code (bits 3:2) → mdps per LSB (FS_125 handled separately)
GYRO_MDPS_PER_LSB = {0: 8.75, 1: 17.5, 2: 35.0, 3: 70.0}
GYRO_125_MDPS_PER_LSB = 4.375

# Datasheet noise densities: accel 70 µg/√Hz (high-performance), gyro 3.8 mdps/√Hz.
ACCEL_NOISE_G_PER_RTHZ = 70e-6
GYRO_NOISE_DPS_PER_RTHZ = 3.8e-3

G_MPS2 = 9.80665
RAD_TO_DEG = 57.29577951308232


def _clamp16(value: float) -> int:
    return max(-32768, min(32767, round(value)))


class Lsm6dsoxModel:
    """The LSM6DSOX register map, fed by ``motion`` on ``clock`` time.

    Args:
        clock: the injected clock (the sample grid is ``k / ODR`` seconds).
        motion: what the sensor feels.
        seed: noise seed, for reproducible simulated sessions.
    """

    def __init__(self, clock: Clock, motion: Motion, seed: int = 0) -> None:
        self._clock = clock
        self.motion = motion
        self._rng = random.Random(seed)
        self.who_am_i = CHIP_ID
        self.freeze = False
        self.saturate = False
        self._regs = bytearray(0x80)
        self._pointer = 0
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x80)
        self._regs[CTRL3_C] = CTRL3_C_RESET
        self._sample_index = -1  # index of the sample latched in the output registers
        self._read_index = -1  # last sample index whose data-ready was consumed

    # ------------------------------------------------------------------ sample generation
    def _odr_hz(self) -> float:
        xl = ODR_HZ.get(self._regs[CTRL1_XL] >> 4, 0.0)
        g = ODR_HZ.get(self._regs[CTRL2_G] >> 4, 0.0)
        return min(xl, g) if xl and g else max(xl, g)

    def _update_outputs(self) -> None:
        odr = self._odr_hz()
        if odr <= 0.0:
            return
        index = int(self._clock.now_s() * odr + 1e-9)
        if index == self._sample_index:
            return
        self._sample_index = index
        if self.freeze and any(self._regs[OUTX_L_G:LAST_OUTPUT + 1]):
            return
        acc, gyro = self.motion.at(index / odr)
        self._latch(acc, gyro, odr)

    def _latch(self, acc_mps2: Vec3, gyro_rads: Vec3, odr_hz: float) -> None:
        a_lsb_mg = ACCEL_MG_PER_LSB[(self._regs[CTRL1_XL] >> 2) & 3]
        ctrl2 = self._regs[CTRL2_G]
        g_lsb_mdps = GYRO_125_MDPS_PER_LSB if ctrl2 & 0x02 else GYRO_MDPS_PER_LSB[(ctrl2 >> 2) & 3]
        bandwidth_hz = odr_hz / 2.0
        a_noise_g = ACCEL_NOISE_G_PER_RTHZ * bandwidth_hz**0.5
        g_noise_dps = GYRO_NOISE_DPS_PER_RTHZ * bandwidth_hz**0.5
        words: list[int] = []
        for w in gyro_rads:
            dps = w * RAD_TO_DEG + self._rng.gauss(0.0, g_noise_dps)
            words.append(_clamp16(dps * 1000.0 / g_lsb_mdps))
        for a in acc_mps2:
            g = a / G_MPS2 + self._rng.gauss(0.0, a_noise_g)
            words.append(_clamp16(g * 1000.0 / a_lsb_mg))
        if self.saturate:
            words = [32767] * 6
        for i, word in enumerate(words):
            low = OUTX_L_G + 2 * i
            self._regs[low : low + 2] = (word & 0xFFFF).to_bytes(2, "little")

    # ------------------------------------------------------------------ bus side
    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pointer = data[0] & 0x7F
        for value in data[1:]:
            self._write_register(self._pointer, value)
            self._advance()

    def _write_register(self, reg: int, value: int) -> None:
        if reg == CTRL3_C and value & 0x01:
            self._reset()  # SW_RESET: registers back to defaults; the bit clears itself
            return
        if reg in (CTRL1_XL, CTRL2_G, CTRL3_C):
            self._regs[reg] = value
        # Writes to read-only or reserved registers are ignored, as on the chip.

    def _advance(self) -> None:
        if self._regs[CTRL3_C] & 0x04:  # IF_INC
            self._pointer = (self._pointer + 1) & 0x7F

    def read(self, length: int) -> bytes:
        self._update_outputs()
        out = bytearray()
        for _ in range(length):
            out.append(self._read_register(self._pointer))
            self._advance()
        return bytes(out)

    def _read_register(self, reg: int) -> int:
        if reg == WHO_AM_I:
            return self.who_am_i
        if reg == STATUS_REG:
            fresh = self._sample_index > self._read_index and self._odr_hz() > 0
            return 0x03 if fresh else 0x00
        if OUTX_L_G <= reg <= LAST_OUTPUT:
            self._read_index = self._sample_index  # reading outputs consumes data-ready
        return self._regs[reg]
