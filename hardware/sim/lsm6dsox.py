"""Register-faithful twin of the ST LSM6DSOX accelerometer + gyroscope.

Every register a driver may write keeps its value and has the datasheet's reset value;
read-only and reserved registers ignore writes, as on the chip:

- FUNC_CFG_ACCESS 0x01 (00h), PIN_CTRL 0x02 (3Fh), FIFO_CTRL1–4 0x07–0x0A, COUNTER_BDR_REG1/2
  0x0B/0x0C, INT1/INT2_CTRL 0x0D/0x0E, CTRL1_XL … CTRL10_C 0x10–0x19 (all 00h except CTRL3_C
  04h — IF_INC — and CTRL9_XL E0h), TAP/wake-up configuration 0x56–0x5F, user offsets
  0x73–0x75. WHO_AM_I 0x0F = 6Ch.
- Two independent sensors. The accelerometer runs at ODR_XL (CTRL1_XL[7:4]) and the gyroscope
  at ODR_G (CTRL2_G[7:4]); either powers down on its own (code 0000; the gyroscope also with
  SLEEP_G, CTRL4_C bit 6). ODR_XL 1011 is 1.6 Hz in low-power mode (XL_HM_MODE, CTRL6_C bit 4,
  set) and 12.5 Hz in high-performance mode. Reserved codes (ODR_XL 11xx, ODR_G 1011–1111)
  power the sensor down.
- Samples lie on each sensor's grid ``k / ODR`` of the chip's own oscillator (started at
  power-on). Sampling starts when the rate is written — the first sample is the next grid
  point — and a rate change takes effect at the next grid point of the new rate: no pause, no
  back-filled history.
- STATUS_REG 0x1E: XLDA bit 0, GDA bit 1, TDA bit 2, each set by a new sample of its own
  sensor and cleared by reading that sensor's output registers (OUTX_L_A…OUTZ_H_A,
  OUTX_L_G…OUTZ_H_G, OUT_TEMP_L/H) only. The temperature sensor converts at 52 Hz while either
  sensor runs (at ODR_XL when only a slower accelerometer runs); OUT_TEMP reads 0 (25 °C).
- BDU (CTRL3_C bit 6): once one byte of an output pair is read, that pair is not updated until
  its other byte has been read (then it takes the newest sample). IF_INC (bit 2, reset 1)
  auto-increments the pointer. SW_RESET (bit 0) restores every register's reset value and
  empties the FIFO; it reads 0 at once. BOOT (bit 7) reloads trimming (the twin has none to
  reload) and reads 1 for :data:`BOOT_TIME_S` before clearing itself; user registers keep their
  values, as on the chip.
- FIFO: each sensor is batched at its batch data rate (FIFO_CTRL3 BDR_GY[7:4], BDR_XL[3:0]; BDR
  1011 is 6.5 Hz for the gyroscope and 1.6 Hz for the accelerometer), i.e. every
  2^(ODR−BDR)-th sample; a BDR above the sensor's ODR batches every sample (the chip cannot
  batch samples it does not take). FIFO_MODE (FIFO_CTRL4[2:0]): 0 bypass (empty), 1 FIFO
  (stops when full), 6 continuous (the oldest word is overwritten). Watermark WTM[8:0]
  (FIFO_CTRL1 + FIFO_CTRL2 bit 0); STOP_ON_WTM (FIFO_CTRL2 bit 7) limits the depth to it.
  FIFO_STATUS1/2 0x3A/0x3B: DIFF_FIFO[9:0], FIFO_WTM_IA bit 7 (unread words ≥ WTM, WTM > 0),
  FIFO_OVR_IA bit 6 (words were overwritten; clears once a word is read or the FIFO is reset),
  FIFO_FULL_IA bit 5, FIFO_OVR_LATCHED bit 3 (cleared by reading FIFO_STATUS2). 7-byte words at
  FIFO_DATA_OUT_TAG 0x78 + X/Y/Z 0x79–0x7E: TAG_SENSOR[7:3] (0x01 gyroscope, 0x02
  accelerometer), TAG_CNT[2:1] (+1 per time slot of the fastest batched sensor), TAG_PARITY bit
  0. Reading the tag register pops the next word; with IF_INC the pointer rolls back from 0x7E
  to 0x78, so one long read drains many words — as on the chip.
- Values come from a :class:`~hardware.sim.motion.Motion`, converted at the configured full
  scale, with white noise at the datasheet's density over ODR/2, saturating at ±32767/−32768.

Fault hooks (:class:`~hardware.sim.register_twin.ImuTwin`): :attr:`freeze` (outputs stop
changing but new samples keep arriving — a dead sensor that looks alive), :attr:`stuck_fifo`
(FIFO_STATUS keeps reporting the same words and reads return them again), :attr:`who_am_i`,
:attr:`saturate` (accelerometer X pinned at +full scale); :meth:`power_on_reset`.

Not modelled: temperature, the exact analogue noise and filters (LPF1/LPF2, high-pass, their
group delay), the FIFO's exact capacity (the twin holds :data:`FIFO_CAPACITY_WORDS` words, so
it overflows sooner, never later), FIFO compression, the trigger-based FIFO modes (3, 4 and 7
act as continuous, bypass and bypass respectively), batch counter, timestamp and temperature
batching, interrupts and embedded functions (the FUNC_CFG_ACCESS bank switch is stored but
does not switch banks), self-test, turn-on time, the ODR tolerance (208 Hz is exact here),
OIS/auxiliary SPI, I3C.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from hardware.clock import Clock
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.motion import Motion
from hardware.sim.register_twin import ImuTwin, clamp16
from hardware.units import RAD_TO_DEG

FUNC_CFG_ACCESS = 0x01
PIN_CTRL = 0x02
FIFO_CTRL1 = 0x07
FIFO_CTRL2 = 0x08
FIFO_CTRL3 = 0x09
FIFO_CTRL4 = 0x0A
WHO_AM_I = 0x0F
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
CTRL4_C = 0x13
CTRL6_C = 0x15
CTRL9_XL = 0x18
CTRL10_C = 0x19
STATUS_REG = 0x1E
OUT_TEMP_L = 0x20
OUTX_L_G = 0x22
OUTX_L_A = 0x28
LAST_OUTPUT = 0x2D
FIFO_STATUS1 = 0x3A
FIFO_STATUS2 = 0x3B
FIFO_DATA_OUT_TAG = 0x78
FIFO_DATA_OUT_LAST = 0x7E

CHIP_ID = 0x6C
RESET_VALUES = {
    FUNC_CFG_ACCESS: 0x00, PIN_CTRL: 0x3F,
    **{reg: 0x00 for reg in range(FIFO_CTRL1, 0x0F)},  # FIFO_CTRL1–4, COUNTER_BDR, INT1/2_CTRL
    **{reg: 0x00 for reg in range(CTRL1_XL, CTRL10_C + 1)},
    CTRL3_C: 0x04,  # IF_INC
    CTRL9_XL: 0xE0,  # DEN_X, DEN_Y, DEN_Z
    **{reg: 0x00 for reg in range(0x56, 0x60)},  # TAP_CFG0 … MD2_CFG
    **{reg: 0x00 for reg in range(0x73, 0x76)},  # X/Y/Z_OFS_USR
}
"""Every register a driver may write, with its power-on value."""
CTRL3_C_RESET = RESET_VALUES[CTRL3_C]
BOOT = 0x80
BDU = 0x40
IF_INC = 0x04
SW_RESET = 0x01
SLEEP_G = 0x40
XL_HM_MODE = 0x10
STOP_ON_WTM = 0x80
BOOT_TIME_S = 0.010

TAG_GYRO = 0x01
TAG_ACCEL = 0x02
FIFO_MODE_BYPASS = 0
FIFO_MODE_FIFO = 1
FIFO_MODE_CONTINUOUS = 6
FIFO_MODES = {0: FIFO_MODE_BYPASS, 1: FIFO_MODE_FIFO, 3: FIFO_MODE_CONTINUOUS,
              4: FIFO_MODE_BYPASS, 6: FIFO_MODE_CONTINUOUS, 7: FIFO_MODE_BYPASS}
FIFO_CAPACITY_WORDS = 512
STATUS2_WTM = 0x80
STATUS2_OVR = 0x40
STATUS2_FULL = 0x20
STATUS2_OVR_LATCHED = 0x08
XLDA = 0x01
GDA = 0x02
TDA = 0x04
TEMP_ODR_HZ = 52.0

# Rate "levels": each level doubles the rate; codes 0001–1010 are levels 1–10.
LEVEL_HZ = {-2: 1.6, 0: 6.5, 1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0,
            8: 1666.0, 9: 3332.0, 10: 6664.0}
ODR_HZ = {code: LEVEL_HZ[code] for code in range(1, 11)}
"""ODR / BDR code 0001–1010 → Hz (0000 is power-down / not batched)."""
# FS_XL code (bits 3:2) → mg per LSB
ACCEL_MG_PER_LSB = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}
# FS_G code (bits 3:2) → mdps per LSB (FS_125 handled separately)
GYRO_MDPS_PER_LSB = {0: 8.75, 1: 17.5, 2: 35.0, 3: 70.0}
GYRO_125_MDPS_PER_LSB = 4.375

# Datasheet noise densities: accel 70 µg/√Hz (high-performance), gyro 3.8 mdps/√Hz.
ACCEL_NOISE_G_PER_RTHZ = 70e-6
GYRO_NOISE_DPS_PER_RTHZ = 3.8e-3

GYRO, ACCEL = 0, 1  # sensor indices: gyroscope words come first in a time slot


def _tag(sensor: int, slot: int) -> int:
    tag = (sensor << 3) | ((slot & 3) << 1)
    parity = bin(tag).count("1") & 1
    return tag | parity


@dataclass
class _Sensor:
    """One sensor's sampling state: the grid it runs on and where it is on it."""

    out: int  # first output register (OUTX_L_G or OUTX_L_A)
    tag: int
    level: int | None = None  # the rate level it runs at (None: powered down)
    next_k: int = 0  # the next sample index on the grid k / rate
    frozen: list[int] | None = None


class Lsm6dsoxModel(ImuTwin):
    """The LSM6DSOX register map, fed by ``motion`` on ``clock`` time.

    Args:
        clock: the injected clock (each sensor's sample grid is ``k / ODR`` seconds from
            the twin's power-on).
        motion: what the sensor feels.
        seed: noise seed, for reproducible simulated sessions.
    """

    chip = "LSM6DSOX"

    def __init__(self, clock: Clock, motion: Motion, seed: int = 0) -> None:
        super().__init__(clock, motion, seed, CHIP_ID)
        self._fifo: deque[bytes] = deque()
        self._word = bytes(7)  # the word currently visible at 0x78–0x7E
        self._origin_s = clock.now_s()  # the chip's oscillator starts at power-on
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x80)
        for reg, value in RESET_VALUES.items():
            self._regs[reg] = value
        self._sensors = (_Sensor(OUTX_L_G, TAG_GYRO), _Sensor(OUTX_L_A, TAG_ACCEL))
        self._temp_next_k = 0
        self._temp_rate = 0.0
        self._status = 0
        self._fifo.clear()
        self._overrun = False
        self._overrun_latched = False
        self._boot_until_s: float | None = None
        self._bdu_read: dict[int, set[int]] = {}  # output pair → halves read (BDU)
        self._bdu_pending: dict[int, int] = {}  # output pair → newest value held back

    def power_on_reset(self) -> None:
        self._origin_s = self._clock.now_s()
        super().power_on_reset()

    @property
    def fifo_words(self) -> int:
        """Unread FIFO words (for tests and ``treadguard check``)."""
        return len(self._fifo)

    # ------------------------------------------------------------------ configuration
    def _odr_level(self, sensor: int) -> int | None:
        """The rate level a sensor runs at, None when powered down."""
        if sensor == GYRO:
            code = self._regs[CTRL2_G] >> 4
            if self._regs[CTRL4_C] & SLEEP_G or not 1 <= code <= 10:
                return None
            return code
        code = self._regs[CTRL1_XL] >> 4
        if code == 0b1011:
            return -2 if self._regs[CTRL6_C] & XL_HM_MODE else 1
        return code if 1 <= code <= 10 else None

    def _bdr_level(self, sensor: int) -> int | None:
        """The batch rate level of a sensor, None when it is not batched."""
        nibble = self._regs[FIFO_CTRL3] >> 4 if sensor == GYRO else self._regs[FIFO_CTRL3] & 0xF
        if nibble == 0b1011:
            return 0 if sensor == GYRO else -2
        return nibble if 1 <= nibble <= 10 else None

    def _fifo_mode(self) -> int:
        return FIFO_MODES.get(self._regs[FIFO_CTRL4] & 0x07, FIFO_MODE_BYPASS)

    def _watermark(self) -> int:
        return self._regs[FIFO_CTRL1] | ((self._regs[FIFO_CTRL2] & 0x01) << 8)

    def _capacity(self) -> int:
        wtm = self._watermark()
        if self._regs[FIFO_CTRL2] & STOP_ON_WTM and wtm:
            return min(wtm, FIFO_CAPACITY_WORDS)
        return FIFO_CAPACITY_WORDS

    def _decimation(self, sensor: int) -> int | None:
        """Batch every n-th sample of ``sensor`` (None: not batched)."""
        odr, bdr = self._odr_level(sensor), self._bdr_level(sensor)
        if odr is None or bdr is None or self._fifo_mode() == FIFO_MODE_BYPASS:
            return None
        return 1 << max(0, odr - bdr)

    # ------------------------------------------------------------------ sample generation
    def _grid_index(self, rate_hz: float) -> int:
        """Index of the newest grid point of ``rate_hz`` at or before now."""
        return int((self._clock.now_s() - self._origin_s) * rate_hz + 1e-9)

    def _update_outputs(self) -> None:
        now_s = self._clock.now_s()
        if self._boot_until_s is not None and now_s >= self._boot_until_s:
            self._regs[CTRL3_C] &= ~BOOT & 0xFF
            self._boot_until_s = None
        events: list[tuple[float, int, int, bool]] = []  # (t, sensor, k, batched)
        for i, sensor in enumerate(self._sensors):
            events += self._due(i, sensor)
        events.sort()
        fastest = max((LEVEL_HZ[lvl] for i in (GYRO, ACCEL)
                       if self._decimation(i) is not None
                       and (lvl := self._bdr_level(i)) is not None), default=0.0)
        for t_s, i, _k, batched in events:
            words = self._sample_words(i, t_s)
            self._latch(self._sensors[i].out, words)
            self._status |= GDA if i == GYRO else XLDA
            if batched:
                self._push(self._sensors[i].tag, round((t_s - self._origin_s) * fastest), words)
        self._update_temperature()

    def _due(self, i: int, sensor: _Sensor) -> list[tuple[float, int, int, bool]]:
        """Samples of sensor ``i`` up to now. A changed rate starts at the next grid point;
        a long gap is bounded to what the FIFO could keep plus the newest sample."""
        self._sync(i, sensor)
        if sensor.level is None:
            return []
        rate = LEVEL_HZ[sensor.level]
        newest = self._grid_index(rate)
        first = sensor.next_k
        if newest < first:
            return []
        sensor.next_k = newest + 1
        decimation = self._decimation(i)
        due: list[int] = []
        if decimation is not None:
            k0 = -(-first // decimation) * decimation  # first batched index ≥ first
            batched = range(k0, newest + 1, decimation)
            room = self._capacity() - len(self._fifo)
            if self._fifo_mode() == FIFO_MODE_FIFO:
                due = list(batched[: max(0, room)])
            else:
                if len(batched) > self._capacity():
                    self._overrun = self._overrun_latched = True  # words lost unseen
                due = list(batched[-self._capacity():])
        batched_set = set(due)
        if newest not in batched_set:
            due.append(newest)
        origin = self._origin_s
        return [(origin + k / rate, i, k, k in batched_set) for k in due]

    def _sync(self, i: int, sensor: _Sensor) -> None:
        """Take up a changed rate: the new grid starts at its next point after now."""
        level = self._odr_level(i)
        if level != sensor.level:
            sensor.level = level
            if level is not None:
                sensor.next_k = self._grid_index(LEVEL_HZ[level]) + 1

    def _update_temperature(self) -> None:
        levels = [self._odr_level(GYRO), self._odr_level(ACCEL)]
        if levels == [None, None]:
            self._temp_rate = 0.0
            return
        rate = TEMP_ODR_HZ
        accel = levels[ACCEL]
        if levels[GYRO] is None and accel is not None:
            rate = min(TEMP_ODR_HZ, LEVEL_HZ[accel])
        newest = self._grid_index(rate)
        if rate != self._temp_rate:
            self._temp_rate, self._temp_next_k = rate, newest + 1
        if newest >= self._temp_next_k:
            self._temp_next_k = newest + 1
            self._status |= TDA  # OUT_TEMP stays 0 (25 °C): temperature is not modelled

    def _sample_words(self, i: int, t_s: float) -> list[int]:
        sensor = self._sensors[i]
        if self.freeze and sensor.frozen is not None:
            return sensor.frozen
        acc, gyro = self.motion.at(t_s)
        level = sensor.level if sensor.level is not None else 1
        bandwidth_hz = LEVEL_HZ[level] / 2.0
        if i == GYRO:
            ctrl2 = self._regs[CTRL2_G]
            lsb = GYRO_125_MDPS_PER_LSB if ctrl2 & 0x02 else GYRO_MDPS_PER_LSB[(ctrl2 >> 2) & 3]
            noise = GYRO_NOISE_DPS_PER_RTHZ * bandwidth_hz**0.5
            words = [clamp16((w * RAD_TO_DEG + self._rng.gauss(0.0, noise)) * 1000.0 / lsb)
                     for w in gyro]
        else:
            lsb = ACCEL_MG_PER_LSB[(self._regs[CTRL1_XL] >> 2) & 3]
            noise = ACCEL_NOISE_G_PER_RTHZ * bandwidth_hz**0.5
            words = [clamp16((a / STANDARD_GRAVITY_MPS2 + self._rng.gauss(0.0, noise))
                             * 1000.0 / lsb) for a in acc]
            if self.saturate:
                words[0] = 32767  # accel X pinned at +full scale; the other axes keep noise
        sensor.frozen = words if self.freeze else None
        return words

    def _latch(self, out: int, words: list[int]) -> None:
        for n, word in enumerate(words):
            pair = out + 2 * n
            if self._regs[CTRL3_C] & BDU and pair in self._bdu_read:
                self._bdu_pending[pair] = word  # held until the pair's other byte is read
                continue
            self._regs[pair : pair + 2] = (word & 0xFFFF).to_bytes(2, "little")

    def _push(self, tag: int, slot: int, words: list[int]) -> None:
        if self.stuck_fifo:
            return
        if len(self._fifo) >= self._capacity():
            if self._fifo_mode() == FIFO_MODE_FIFO:
                return  # FIFO mode stops collecting when full
            self._fifo.popleft()  # continuous mode overwrites the oldest word
            self._overrun = self._overrun_latched = True
        self._fifo.append(bytes([_tag(tag, slot)]) + _pack(words))

    # ------------------------------------------------------------------ bus side
    def _write_register(self, reg: int, value: int) -> None:
        self._update_outputs()  # the old configuration runs up to now
        if reg not in RESET_VALUES:
            return  # read-only or reserved: ignored, as on the chip
        if reg == CTRL3_C and value & SW_RESET:
            self._reset()  # SW_RESET: registers back to defaults; the bit clears itself
            return
        if reg == CTRL3_C and value & BOOT:
            self._boot_until_s = self._clock.now_s() + BOOT_TIME_S
        if reg == CTRL3_C and not value & BDU:
            self._release_bdu()
        self._regs[reg] = value
        for i, sensor in enumerate(self._sensors):
            self._sync(i, sensor)  # sampling starts (or changes rate) when the rate is written
        self._update_temperature()
        if reg == FIFO_CTRL4 and self._fifo_mode() == FIFO_MODE_BYPASS:
            self._fifo.clear()  # bypass mode empties the FIFO
            self._overrun = False

    def _advance(self) -> None:
        if self._regs[CTRL3_C] & IF_INC:
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
            return self._status
        if OUT_TEMP_L <= reg <= LAST_OUTPUT:
            return self._read_output(reg)
        if reg == FIFO_STATUS1:
            return len(self._fifo) & 0xFF
        if reg == FIFO_STATUS2:
            return self._fifo_status2()
        if reg == FIFO_DATA_OUT_TAG:
            self._word = self._pop()
        if FIFO_DATA_OUT_TAG <= reg <= FIFO_DATA_OUT_LAST:
            return self._word[reg - FIFO_DATA_OUT_TAG]
        return self._regs[reg]

    def _read_output(self, reg: int) -> int:
        """An output register: clears its sensor's data-ready flag; BDU holds the pair."""
        if reg < OUTX_L_G:
            self._status &= ~TDA
        elif reg < OUTX_L_A:
            self._status &= ~GDA
        else:
            self._status &= ~XLDA
        value = self._regs[reg]
        if self._regs[CTRL3_C] & BDU:
            pair = reg & ~1
            halves = self._bdu_read.setdefault(pair, set())
            halves.add(reg & 1)
            if len(halves) == 2:
                self._release_pair(pair)
        return value

    def _release_pair(self, pair: int) -> None:
        self._bdu_read.pop(pair, None)
        word = self._bdu_pending.pop(pair, None)
        if word is not None:
            self._regs[pair : pair + 2] = (word & 0xFFFF).to_bytes(2, "little")

    def _release_bdu(self) -> None:
        for pair in list(self._bdu_read):
            self._release_pair(pair)

    def _fifo_status2(self) -> int:
        count = len(self._fifo)
        status = (count >> 8) & 0x03
        wtm = self._watermark()
        if wtm and count >= wtm:
            status |= STATUS2_WTM
        if self._overrun:
            status |= STATUS2_OVR
        if count >= self._capacity():
            status |= STATUS2_FULL
        if self._overrun_latched:
            status |= STATUS2_OVR_LATCHED
        self._overrun_latched = False  # FIFO_OVR_LATCHED clears when FIFO_STATUS2 is read
        return status

    def _pop(self) -> bytes:
        if not self._fifo:
            return bytes(7)  # reading an empty FIFO returns zeros (tag 0: nothing)
        if self.stuck_fifo:
            return self._fifo[0]  # the read pointer no longer advances
        self._overrun = False  # a word read: the FIFO is no longer overrun
        return self._fifo.popleft()


def _pack(words: list[int]) -> bytes:
    return b"".join((w & 0xFFFF).to_bytes(2, "little") for w in words)
