"""Register-faithful twin of the TDK InvenSense MPU-6050 accelerometer + gyroscope.

Implements the registers the driver uses, with the register map's addresses, encodings,
big-endian byte order and reset behaviour:

- SMPLRT_DIV 0x19; CONFIG 0x1A (DLPF_CFG[2:0]: 0 or 7 → 8 kHz gyro output, else 1 kHz);
  GYRO_CONFIG 0x1B (FS_SEL[4:3]); ACCEL_CONFIG 0x1C (AFS_SEL[4:3]); FIFO_EN 0x23 (TEMP bit 7,
  XG/YG/ZG bits 6–4, ACCEL bit 3); INT_STATUS 0x3A (FIFO_OFLOW bit 4, DATA_RDY bit 0, cleared
  when read); ACCEL_XOUT_H 0x3B … GYRO_ZOUT_L 0x48; USER_CTRL 0x6A (FIFO_EN bit 6, FIFO_RESET
  bit 2, self-clearing); PWR_MGMT_1 0x6B (DEVICE_RESET bit 7, SLEEP bit 6; power-on value
  0x40 = asleep); FIFO_COUNTH/L 0x72/0x73; FIFO_R_W 0x74 (reading pops one byte; the register
  pointer does not advance past it); WHO_AM_I 0x75 = 0x68.
- Sample rate = gyro output rate / (1 + SMPLRT_DIV): 1 kHz / 5 = 200 Hz. Asleep = no samples.
- FIFO of 1024 bytes, written in register order (accel, temp, gyro) for the enabled sources;
  when full the oldest bytes are lost and FIFO_OFLOW is set — as on the chip, a full FIFO
  loses frame alignment, which is why the driver resets it on overflow.
- Values from a :class:`~hardware.sim.motion.Motion` at the configured full scale, with noise at
  the datasheet's densities (accel 400 µg/√Hz, gyro 0.005 °/s/√Hz over the DLPF bandwidth),
  saturating at ±32767/−32768.
- DEVICE_RESET takes :data:`RESET_TIME_S` (the driver must wait, as on the chip).

Fault hooks (:class:`~hardware.sim.register_twin.ImuTwin`): :attr:`freeze` (values stop
changing, samples keep coming), :attr:`stuck_fifo` (FIFO_COUNT frozen and FIFO_R_W keeps
returning the same frame), :attr:`who_am_i`, :attr:`saturate` (accelerometer X pinned at +full
scale); :meth:`power_on_reset` (power-on state, asleep).

Not modelled: the DLPF's frequency response and group delay (only its noise bandwidth),
temperature (reads 0), the DMP, auxiliary I²C master, interrupts pins, self-test, clock source
selection (any CLKSEL is accepted), gyro start-up time (~30 ms), clone chips' differences.
"""

from __future__ import annotations

from collections import deque

from hardware.clock import Clock
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.motion import Motion, Vec3
from hardware.sim.register_twin import ImuTwin, clamp16
from hardware.units import RAD_TO_DEG

SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
FIFO_EN = 0x23
INT_ENABLE = 0x38
INT_STATUS = 0x3A
ACCEL_XOUT_H = 0x3B
GYRO_ZOUT_L = 0x48
SIGNAL_PATH_RESET = 0x68
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
PWR_MGMT_2 = 0x6C
FIFO_COUNTH = 0x72
FIFO_COUNTL = 0x73
FIFO_R_W = 0x74
WHO_AM_I = 0x75

CHIP_ID = 0x68
PWR_MGMT_1_RESET = 0x40  # asleep
FIFO_BYTES = 1024
RESET_TIME_S = 0.05
WRITABLE = (SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG, FIFO_EN, INT_ENABLE,
            SIGNAL_PATH_RESET, USER_CTRL, PWR_MGMT_1, PWR_MGMT_2)

ACCEL_LSB_PER_G = {0: 16384.0, 1: 8192.0, 2: 4096.0, 3: 2048.0}
GYRO_LSB_PER_DPS = {0: 131.0, 1: 65.5, 2: 32.8, 3: 16.4}
# DLPF_CFG → (accel bandwidth Hz, gyro bandwidth Hz); 0 and 7 = filter off.
DLPF_BANDWIDTH_HZ = {0: (260.0, 256.0), 1: (184.0, 188.0), 2: (94.0, 98.0), 3: (44.0, 42.0),
                     4: (21.0, 20.0), 5: (10.0, 10.0), 6: (5.0, 5.0), 7: (260.0, 256.0)}
ACCEL_NOISE_G_PER_RTHZ = 400e-6
GYRO_NOISE_DPS_PER_RTHZ = 0.005

class Mpu6050Model(ImuTwin):
    """The MPU-6050 register map, fed by ``motion`` on ``clock`` time.

    Args:
        clock: the injected clock (the sample grid is ``k / rate`` seconds).
        motion: what the sensor feels.
        seed: noise seed, for reproducible simulated sessions.
    """

    chip = "MPU-6050"

    def __init__(self, clock: Clock, motion: Motion, seed: int = 0) -> None:
        super().__init__(clock, motion, seed, CHIP_ID)
        self._fifo: deque[int] = deque()
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x80)
        self._regs[PWR_MGMT_1] = PWR_MGMT_1_RESET
        self._fifo.clear()
        self._sample_index: int | None = None
        self._frozen: list[int] | None = None
        self._stuck_frame: bytes | None = None
        self._resetting_until_s = -1.0

    @property
    def fifo_bytes(self) -> int:
        return len(self._fifo)

    # ------------------------------------------------------------------ sample generation
    def _rate_hz(self) -> float:
        if self._regs[PWR_MGMT_1] & 0x40 or self._clock.now_s() < self._resetting_until_s:
            return 0.0
        dlpf = self._regs[CONFIG] & 0x07
        gyro_rate = 8000.0 if dlpf in (0, 7) else 1000.0
        return gyro_rate / (1 + self._regs[SMPLRT_DIV])

    def _update(self) -> None:
        rate = self._rate_hz()
        if rate <= 0.0:
            self._sample_index = None  # sampling restarts on wake
            return
        index = int(self._clock.now_s() * rate + 1e-9)
        first = index if self._sample_index is None else self._sample_index + 1
        frame = self._frame_bytes()
        if frame:
            # Bounded catch-up: more than a FIFO's worth only overflows it.
            first = max(first, index - FIFO_BYTES // frame - 1)
        for k in range(first, index + 1):
            self._sample(k, rate)
        self._sample_index = index

    def _frame_bytes(self) -> int:
        en = self._regs[FIFO_EN]
        return 6 * bool(en & 0x08) + 2 * bool(en & 0x80) + sum(2 for b in (6, 5, 4) if en >> b & 1)

    def _sample(self, index: int, rate_hz: float) -> None:
        if self.freeze and self._frozen is not None:
            words = self._frozen
        else:
            acc, gyro = self.motion.at(index / rate_hz)
            words = self._convert(acc, gyro)
            if self.saturate:
                words[0] = 32767  # accel X pinned at +full scale; the other axes stay live
            self._frozen = words if self.freeze else None
        for i, word in enumerate(words):
            self._regs[ACCEL_XOUT_H + 2 * i : ACCEL_XOUT_H + 2 * i + 2] = (word & 0xFFFF).to_bytes(
                2, "big"
            )
        self._regs[INT_STATUS] |= 0x01
        if self._regs[USER_CTRL] & 0x40 and not self.stuck_fifo:
            en = self._regs[FIFO_EN]
            out = bytearray()
            if en & 0x08:
                out += self._regs[ACCEL_XOUT_H : ACCEL_XOUT_H + 6]
            if en & 0x80:
                out += self._regs[0x41:0x43]
            for bit, reg in ((6, 0x43), (5, 0x45), (4, 0x47)):
                if en >> bit & 1:
                    out += self._regs[reg : reg + 2]
            for byte in out:
                if len(self._fifo) >= FIFO_BYTES:
                    self._fifo.popleft()
                    self._regs[INT_STATUS] |= 0x10
                self._fifo.append(byte)

    def _convert(self, acc_mps2: Vec3, gyro_rads: Vec3) -> list[int]:
        a_lsb = ACCEL_LSB_PER_G[(self._regs[ACCEL_CONFIG] >> 3) & 3]
        g_lsb = GYRO_LSB_PER_DPS[(self._regs[GYRO_CONFIG] >> 3) & 3]
        a_bw, g_bw = DLPF_BANDWIDTH_HZ[self._regs[CONFIG] & 7]
        a_noise = ACCEL_NOISE_G_PER_RTHZ * a_bw**0.5
        g_noise = GYRO_NOISE_DPS_PER_RTHZ * g_bw**0.5
        words = [clamp16((a / STANDARD_GRAVITY_MPS2 + self._rng.gauss(0.0, a_noise)) * a_lsb)
                 for a in acc_mps2]
        words.append(0)  # temperature: not modelled
        words += [clamp16((w * RAD_TO_DEG + self._rng.gauss(0.0, g_noise)) * g_lsb)
                  for w in gyro_rads]
        return words

    # ------------------------------------------------------------------ bus side
    def _write_register(self, reg: int, value: int) -> None:
        self._update()
        if reg == PWR_MGMT_1 and value & 0x80:
            self._reset()
            self._resetting_until_s = self._clock.now_s() + RESET_TIME_S
            self._regs[PWR_MGMT_1] = 0x80 | PWR_MGMT_1_RESET
            return
        if reg == USER_CTRL and value & 0x04:
            self._fifo.clear()  # FIFO_RESET: empties the FIFO; the bit clears itself
            value &= ~0x04
        if reg in WRITABLE:
            self._regs[reg] = value
        # Writes to read-only or reserved registers are ignored.

    def _advance(self) -> None:
        if self._pointer != FIFO_R_W:
            self._pointer = (self._pointer + 1) & 0x7F

    def _before_read(self) -> None:
        if self._resetting_until_s >= 0 and self._clock.now_s() >= self._resetting_until_s:
            self._regs[PWR_MGMT_1] &= 0x7F  # DEVICE_RESET clears itself when reset completes
            self._resetting_until_s = -1.0
        self._update()

    def _read_register(self, reg: int) -> int:
        if reg == WHO_AM_I:
            return self.who_am_i
        if reg == INT_STATUS:
            value = self._regs[INT_STATUS]
            self._regs[INT_STATUS] = 0
            return value
        if reg in (FIFO_COUNTH, FIFO_COUNTL):
            count = len(self._fifo)
            return count >> 8 if reg == FIFO_COUNTH else count & 0xFF
        if reg == FIFO_R_W:
            return self._pop()
        return self._regs[reg]

    def _pop(self) -> int:
        if self.stuck_fifo and self._fifo:
            frame = self._frame_bytes() or 1
            if self._stuck_frame is None:
                self._stuck_frame = bytes(list(self._fifo)[:frame])
                self._stuck_pos = 0
            byte = self._stuck_frame[self._stuck_pos % len(self._stuck_frame)]
            self._stuck_pos += 1
            return byte
        self._stuck_frame = None
        return self._fifo.popleft() if self._fifo else 0xFF
