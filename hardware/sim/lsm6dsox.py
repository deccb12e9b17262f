"""Register-faithful twin of the ST LSM6DSOX accelerometer + gyroscope.

Implements the registers the driver uses, with the datasheet's addresses, encodings, byte
order (little-endian outputs) and reset behaviour:

- WHO_AM_I 0x0F = 0x6C; CTRL1_XL 0x10 (ODR_XL[7:4], FS_XL[3:2]); CTRL2_G 0x11 (ODR_G[7:4],
  FS_G[3:2], FS_125 bit 1); CTRL3_C 0x12 (BDU bit 6, IF_INC bit 2 default 1, SW_RESET bit 0,
  self-clearing); STATUS_REG 0x1E (XLDA bit 0, GDA bit 1); OUTX_L_G 0x22–0x27, OUTX_L_A 0x28–0x2D.
- FIFO: FIFO_CTRL1–4 0x07–0x0A (BDR_GY[7:4] / BDR_XL[3:0] in FIFO_CTRL3, FIFO_MODE[2:0] in
  FIFO_CTRL4: 0 bypass = empty, 1 FIFO = stop when full, 6 continuous = overwrite
  oldest);
  FIFO_STATUS1/2 0x3A/0x3B (DIFF_FIFO[9:0] = unread words, FIFO_OVR_IA bit 6 and
  FIFO_FULL_IA bit 5 of STATUS2; the twin clears OVR once STATUS2 is read); 7-byte words at
  FIFO_DATA_OUT_TAG 0x78 + X/Y/Z 0x79–0x7E. The tag byte is TAG_SENSOR[7:3] (0x01 gyroscope,
  0x02 accelerometer), TAG_CNT[2:1] (2-bit time-slot counter, +1 per batch time slot) and
  TAG_PARITY bit 0. Reading the tag register pops the next word; with IF_INC the register
  pointer rolls back from 0x7E to 0x78, so one long read drains many words — as on the chip.
- Samples are produced at the configured output data rate on the injected clock's time grid
  (sample k at ``k / ODR``), from a :class:`~hardware.sim.motion.Motion`, converted to counts at
  the configured full scale, with white noise at the datasheet's density (so a healthy twin
  never repeats a sample) and saturating at ±32767/−32768 as the chip does.

Fault hooks (:class:`~hardware.sim.register_twin.ImuTwin`): :attr:`freeze` (outputs stop changing
but new samples keep arriving — the nastiest failure: a dead sensor that looks alive),
:attr:`stuck_fifo` (FIFO_STATUS keeps reporting the same words and reads return them again:
nothing new ever arrives), :attr:`who_am_i` (a wrong identity), :attr:`saturate`
(accelerometer X pinned at +full scale; the other axes stay live);
:meth:`power_on_reset` (power-on defaults, FIFO empty).

Not modelled: the exact FIFO capacity (the chip holds up to 9 KB; the twin holds
:data:`FIFO_CAPACITY_WORDS` words, so it overflows sooner, never later), FIFO compression,
watermark / batch-counter interrupts, timestamp and temperature batching, the latched
FIFO_OVR_LATCHED bit, temperature, interrupts and embedded functions (free-fall, 6D), power
modes, filters' group delay, self-test, turn-on time, the chip's ODR tolerance (the twin's
208 Hz is exact), and the TAG_PARITY rule (the twin sets it as the XOR of bits 7:1).
"""

from __future__ import annotations

from collections import deque

from hardware.clock import Clock
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.motion import Motion, Vec3
from hardware.sim.register_twin import ImuTwin, clamp16
from hardware.units import RAD_TO_DEG

FIFO_CTRL1 = 0x07
FIFO_CTRL2 = 0x08
FIFO_CTRL3 = 0x09
FIFO_CTRL4 = 0x0A
WHO_AM_I = 0x0F
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
STATUS_REG = 0x1E
OUTX_L_G = 0x22
OUTX_L_A = 0x28
LAST_OUTPUT = 0x2D
FIFO_STATUS1 = 0x3A
FIFO_STATUS2 = 0x3B
FIFO_DATA_OUT_TAG = 0x78
FIFO_DATA_OUT_LAST = 0x7E

CHIP_ID = 0x6C
CTRL3_C_RESET = 0x04  # IF_INC set

TAG_GYRO = 0x01
TAG_ACCEL = 0x02
FIFO_MODE_BYPASS = 0
FIFO_MODE_FIFO = 1
FIFO_MODE_CONTINUOUS = 6
FIFO_CAPACITY_WORDS = 512
STATUS2_OVR = 0x40
STATUS2_FULL = 0x20

WRITABLE = (FIFO_CTRL1, FIFO_CTRL2, FIFO_CTRL3, FIFO_CTRL4, CTRL1_XL, CTRL2_G, CTRL3_C)

# ODR / BDR code (bits 7:4 of CTRL1/2, nibbles of FIFO_CTRL3) → Hz
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

def _tag(sensor: int, slot: int) -> int:
    tag = (sensor << 3) | ((slot & 3) << 1)
    parity = bin(tag).count("1") & 1
    return tag | parity


class Lsm6dsoxModel(ImuTwin):
    """The LSM6DSOX register map, fed by ``motion`` on ``clock`` time.

    Args:
        clock: the injected clock (the sample grid is ``k / ODR`` seconds).
        motion: what the sensor feels.
        seed: noise seed, for reproducible simulated sessions.
    """

    chip = "LSM6DSOX"

    def __init__(self, clock: Clock, motion: Motion, seed: int = 0) -> None:
        super().__init__(clock, motion, seed, CHIP_ID)
        self._fifo: deque[bytes] = deque()
        self._word = bytes(7)  # the word currently visible at 0x78–0x7E
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x80)
        self._regs[CTRL3_C] = CTRL3_C_RESET
        self._sample_index = -1  # index of the newest sample generated
        self._read_index = -1  # last sample index whose data-ready was consumed
        self._fifo.clear()
        self._overrun = False
        self._frozen_words: list[int] | None = None

    @property
    def fifo_words(self) -> int:
        """Unread FIFO words (for tests and ``treadguard check``)."""
        return len(self._fifo)

    # ------------------------------------------------------------------ sample generation
    def _odr_hz(self) -> float:
        xl = ODR_HZ.get(self._regs[CTRL1_XL] >> 4, 0.0)
        g = ODR_HZ.get(self._regs[CTRL2_G] >> 4, 0.0)
        return min(xl, g) if xl and g else max(xl, g)

    def _fifo_mode(self) -> int:
        return self._regs[FIFO_CTRL4] & 0x07

    def _batching(self) -> tuple[bool, bool]:
        ctrl3 = self._regs[FIFO_CTRL3]
        return (ctrl3 >> 4) != 0, (ctrl3 & 0x0F) != 0

    def _update_outputs(self) -> None:
        odr = self._odr_hz()
        if odr <= 0.0:
            return
        index = int(self._clock.now_s() * odr + 1e-9)
        if index <= self._sample_index:
            return
        first = self._sample_index + 1
        if self._sample_index < 0:
            first = index  # the chip starts sampling when configured, with no history
        # A long gap only matters up to what the FIFO can hold: bounded catch-up.
        if index - first >= FIFO_CAPACITY_WORDS:
            first = index - FIFO_CAPACITY_WORDS + 1
            if self._fifo_mode() != FIFO_MODE_BYPASS and any(self._batching()):
                self._overrun = True
        for k in range(first, index + 1):
            words = self._sample_words(k, odr)
            self._latch(words)
            self._push(k, words)
        self._sample_index = index

    def _sample_words(self, index: int, odr_hz: float) -> list[int]:
        if self.freeze and self._frozen_words is not None:
            return self._frozen_words
        acc, gyro = self.motion.at(index / odr_hz)
        words = self._convert(acc, gyro, odr_hz)
        if self.saturate:
            words[3] = 32767  # accel X pinned at +full scale; the other axes keep their noise
        if self.freeze:
            self._frozen_words = words
        else:
            self._frozen_words = None
        return words

    def _convert(self, acc_mps2: Vec3, gyro_rads: Vec3, odr_hz: float) -> list[int]:
        a_lsb_mg = ACCEL_MG_PER_LSB[(self._regs[CTRL1_XL] >> 2) & 3]
        ctrl2 = self._regs[CTRL2_G]
        g_lsb_mdps = GYRO_125_MDPS_PER_LSB if ctrl2 & 0x02 else GYRO_MDPS_PER_LSB[(ctrl2 >> 2) & 3]
        bandwidth_hz = odr_hz / 2.0
        a_noise_g = ACCEL_NOISE_G_PER_RTHZ * bandwidth_hz**0.5
        g_noise_dps = GYRO_NOISE_DPS_PER_RTHZ * bandwidth_hz**0.5
        words: list[int] = []
        for w in gyro_rads:
            dps = w * RAD_TO_DEG + self._rng.gauss(0.0, g_noise_dps)
            words.append(clamp16(dps * 1000.0 / g_lsb_mdps))
        for a in acc_mps2:
            g = a / STANDARD_GRAVITY_MPS2 + self._rng.gauss(0.0, a_noise_g)
            words.append(clamp16(g * 1000.0 / a_lsb_mg))
        return words

    def _latch(self, words: list[int]) -> None:
        for i, word in enumerate(words):
            low = OUTX_L_G + 2 * i
            self._regs[low : low + 2] = (word & 0xFFFF).to_bytes(2, "little")

    def _push(self, index: int, words: list[int]) -> None:
        mode = self._fifo_mode()
        if mode == FIFO_MODE_BYPASS or self.stuck_fifo:
            return
        gyro_on, accel_on = self._batching()
        entries: list[bytes] = []
        if gyro_on:
            entries.append(bytes([_tag(TAG_GYRO, index)]) + _pack(words[0:3]))
        if accel_on:
            entries.append(bytes([_tag(TAG_ACCEL, index)]) + _pack(words[3:6]))
        for entry in entries:
            if len(self._fifo) >= FIFO_CAPACITY_WORDS:
                self._overrun = True
                if mode == FIFO_MODE_FIFO:
                    return  # FIFO mode stops collecting when full
                self._fifo.popleft()  # continuous mode overwrites the oldest word
            self._fifo.append(entry)

    # ------------------------------------------------------------------ bus side
    def _write_register(self, reg: int, value: int) -> None:
        if reg == CTRL3_C and value & 0x01:
            self._reset()  # SW_RESET: registers back to defaults; the bit clears itself
            return
        if reg in WRITABLE:
            self._regs[reg] = value
            if reg == FIFO_CTRL4 and value & 0x07 == FIFO_MODE_BYPASS:
                self._fifo.clear()  # bypass mode empties the FIFO
                self._overrun = False
        # Writes to read-only or reserved registers are ignored, as on the chip.

    def _advance(self) -> None:
        if self._regs[CTRL3_C] & 0x04:  # IF_INC
            if self._pointer == FIFO_DATA_OUT_LAST:
                self._pointer = FIFO_DATA_OUT_TAG  # the FIFO output window rolls back
            else:
                self._pointer = (self._pointer + 1) & 0x7F

    def _before_read(self) -> None:
        self._update_outputs()

    def _read_register(self, reg: int) -> int:
        if reg == WHO_AM_I:
            return self.who_am_i
        if reg == STATUS_REG:
            fresh = self._sample_index > self._read_index and self._odr_hz() > 0
            return 0x03 if fresh else 0x00
        if OUTX_L_G <= reg <= LAST_OUTPUT:
            self._read_index = self._sample_index  # reading outputs consumes data-ready
        if reg == FIFO_STATUS1:
            return self._fifo_count() & 0xFF
        if reg == FIFO_STATUS2:
            status = (self._fifo_count() >> 8) & 0x03
            if self._overrun:
                status |= STATUS2_OVR
            if len(self._fifo) >= FIFO_CAPACITY_WORDS:
                status |= STATUS2_FULL
            self._overrun = False  # the non-latched flag clears once reported
            return status
        if reg == FIFO_DATA_OUT_TAG:
            self._word = self._pop()
        if FIFO_DATA_OUT_TAG <= reg <= FIFO_DATA_OUT_LAST:
            return self._word[reg - FIFO_DATA_OUT_TAG]
        return self._regs[reg]

    def _fifo_count(self) -> int:
        return len(self._fifo)

    def _pop(self) -> bytes:
        if not self._fifo:
            return bytes(7)  # reading an empty FIFO returns zeros (tag 0: nothing)
        if self.stuck_fifo:
            return self._fifo[0]  # the read pointer no longer advances
        return self._fifo.popleft()


def _pack(words: list[int]) -> bytes:
    return b"".join((w & 0xFFFF).to_bytes(2, "little") for w in words)
