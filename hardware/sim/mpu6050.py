"""Register-faithful twin of the TDK InvenSense MPU-6050 accelerometer + gyroscope.

Every read/write register keeps what a driver writes, with the register map's reset values
(0x00 except PWR_MGMT_1 = 0x40, asleep); read-only registers ignore writes:

- SMPLRT_DIV 0x19; CONFIG 0x1A (EXT_SYNC_SET[5:3], DLPF_CFG[2:0]); GYRO_CONFIG 0x1B;
  ACCEL_CONFIG 0x1C; the motion-detection thresholds 0x1D–0x22; FIFO_EN 0x23; the auxiliary
  I²C master registers 0x24–0x36 and 0x63–0x67; INT_PIN_CFG 0x37; INT_ENABLE 0x38;
  SIGNAL_PATH_RESET 0x68 (its reset bits clear themselves); MOT_DETECT_CTRL 0x69; USER_CTRL
  0x6A (FIFO_RESET, I2C_MST_RESET and SIG_COND_RESET clear themselves); PWR_MGMT_1 0x6B
  (DEVICE_RESET bit 7, SLEEP bit 6, CYCLE bit 5, TEMP_DIS bit 3, CLKSEL[2:0]); PWR_MGMT_2
  0x6C (LP_WAKE_CTRL[7:6], STBY_XA…STBY_ZG[5:0]). WHO_AM_I 0x75 = 0x68.
- Sample rate = gyroscope output rate / (1 + SMPLRT_DIV); the gyroscope outputs 8 kHz with the
  DLPF off (DLPF_CFG 0 or 7) and 1 kHz with it on. The accelerometer outputs 1 kHz whatever
  the DLPF: above 1 kHz the same accelerometer sample is repeated in consecutive frames, as the
  register map says. Samples lie on the grid ``k / rate`` of the chip's oscillator (started at
  power-on); a rate change takes effect at the next point of the new grid — no pause, no
  back-filled FIFO.
- Low-power cycle mode (CYCLE = 1, SLEEP = 0): the chip wakes at LP_WAKE_CTRL's 1.25, 5, 20 or
  40 Hz, takes one sample of its active sensors and sleeps; the sample rate divider is not
  used. Sleep (SLEEP = 1) stops sampling. Axes in standby (PWR_MGMT_2) keep their last value
  and are not refreshed.
- INT_STATUS 0x3A: DATA_RDY_INT bit 0 (a new sample), FIFO_OFLOW_INT bit 4; reading clears both.
- FIFO of 1024 bytes, written in register order (accel, temp, gyro) for the enabled sources at
  the sample rate while USER_CTRL.FIFO_EN is set; when full the oldest bytes are lost and
  FIFO_OFLOW_INT is set (so a full FIFO loses frame alignment). FIFO_COUNTH 0x72 latches the
  count that FIFO_COUNTL 0x73 then returns (read H first, as the register map requires).
  FIFO_R_W 0x74 pops one byte (the pointer does not advance past it); an empty FIFO returns
  the last byte read from it until new data arrives.
- Values from a :class:`~hardware.sim.motion.Motion` at the configured full scale, with noise at
  the datasheet's densities (accel 400 µg/√Hz, gyro 0.005 °/s/√Hz over the DLPF bandwidth),
  saturating at ±32767/−32768. Temperature reads 0 (36.53 °C).
- DEVICE_RESET takes :data:`RESET_TIME_S` (the driver must wait, as on the chip).

Fault hooks (:class:`~hardware.sim.register_twin.ImuTwin`): :attr:`freeze` (values stop
changing, samples keep coming), :attr:`stuck_fifo` (FIFO_COUNT frozen and FIFO_R_W keeps
returning the same frame), :attr:`who_am_i`, :attr:`saturate` (accelerometer X pinned at +full
scale); :meth:`power_on_reset` (power-on state, asleep).

Not modelled: the DLPF's frequency response and group delay (only its noise bandwidth),
temperature, the DMP, the auxiliary I²C master's transfers (its registers keep writes; no slave
is ever read), writes into the FIFO through FIFO_R_W, interrupt pins, self-test, motion
detection, clock source selection (any CLKSEL is accepted), gyro start-up time (~30 ms),
clone chips' differences.
"""

from __future__ import annotations

from collections import deque

from hardware.clock import Clock
from hardware.imu import STANDARD_GRAVITY_MPS2
from hardware.sim.motion import Motion
from hardware.sim.register_twin import ImuTwin, clamp16
from hardware.units import RAD_TO_DEG

SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
FIFO_EN = 0x23
INT_PIN_CFG = 0x37
INT_ENABLE = 0x38
INT_STATUS = 0x3A
ACCEL_XOUT_H = 0x3B
GYRO_ZOUT_L = 0x48
SIGNAL_PATH_RESET = 0x68
MOT_DETECT_CTRL = 0x69
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
WRITABLE = frozenset({*range(SMPLRT_DIV, 0x37 + 1), INT_ENABLE, *range(0x63, 0x68),
                      SIGNAL_PATH_RESET, MOT_DETECT_CTRL, USER_CTRL, PWR_MGMT_1, PWR_MGMT_2})
"""The read/write registers (the register map's R/W type), 0x19–0x38 and 0x63–0x6C."""
SELF_CLEARING = {USER_CTRL: 0x07, SIGNAL_PATH_RESET: 0x07}
"""Reset bits that clear themselves once the reset is done (FIFO/I2C_MST/SIG_COND reset)."""
SLEEP = 0x40
CYCLE = 0x20
LP_WAKE_HZ = (1.25, 5.0, 20.0, 40.0)
ACCEL_OUTPUT_HZ = 1000.0

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
        clock: the injected clock (the sample grid is ``k / rate`` seconds from power-on).
        motion: what the sensor feels.
        seed: noise seed, for reproducible simulated sessions.
    """

    chip = "MPU-6050"

    def __init__(self, clock: Clock, motion: Motion, seed: int = 0) -> None:
        super().__init__(clock, motion, seed, CHIP_ID)
        self._fifo: deque[int] = deque()
        self._origin_s = clock.now_s()
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x80)
        self._regs[PWR_MGMT_1] = PWR_MGMT_1_RESET
        self._fifo.clear()
        self._rate = 0.0
        self._next_k = 0
        self._accel_k = -1  # the 1 kHz accelerometer sample now in the output registers
        self._accel_words = [0, 0, 0]
        self._frozen: list[int] | None = None
        self._stuck_frame: bytes | None = None
        self._stuck_pos = 0
        self._last_fifo_byte = 0
        self._count_latch = 0
        self._resetting_until_s = -1.0

    def power_on_reset(self) -> None:
        self._origin_s = self._clock.now_s()
        super().power_on_reset()

    @property
    def fifo_bytes(self) -> int:
        return len(self._fifo)

    # ------------------------------------------------------------------ sample generation
    def _rate_hz(self) -> float:
        """The current sample rate (0 asleep or resetting)."""
        pwr1 = self._regs[PWR_MGMT_1]
        if pwr1 & SLEEP or self._clock.now_s() < self._resetting_until_s:
            return 0.0
        if pwr1 & CYCLE:
            return LP_WAKE_HZ[self._regs[PWR_MGMT_2] >> 6]
        return self._gyro_output_hz() / (1 + self._regs[SMPLRT_DIV])

    def _gyro_output_hz(self) -> float:
        return 8000.0 if self._regs[CONFIG] & 0x07 in (0, 7) else 1000.0

    def _grid_index(self, rate_hz: float) -> int:
        return int((self._clock.now_s() - self._origin_s) * rate_hz + 1e-9)

    def _sync(self) -> None:
        """Take up a changed rate: the new grid starts at its next point after now."""
        rate = self._rate_hz()
        if rate != self._rate:
            self._rate = rate
            if rate > 0.0:
                self._next_k = self._grid_index(rate) + 1

    def _update(self) -> None:
        self._sync()
        if self._rate <= 0.0:
            return
        newest = self._grid_index(self._rate)
        first = self._next_k
        if newest < first:
            return
        frame = self._frame_bytes()
        if frame:
            # Bounded catch-up: more than a FIFO's worth only overflows it.
            first = max(first, newest - FIFO_BYTES // frame - 1)
        for k in range(first, newest + 1):
            self._sample(self._origin_s + k / self._rate)
        self._next_k = newest + 1

    def _frame_bytes(self) -> int:
        en = self._regs[FIFO_EN]
        return 6 * bool(en & 0x08) + 2 * bool(en & 0x80) + sum(2 for b in (6, 5, 4) if en >> b & 1)

    def _sample(self, t_s: float) -> None:
        if self.freeze and self._frozen is not None:
            words = self._frozen
        else:
            words = self._convert(t_s)
            self._frozen = words if self.freeze else None
        standby = self._regs[PWR_MGMT_2] & 0x3F
        for i, word in enumerate(words):
            axis_bit = {0: 5, 1: 4, 2: 3, 4: 2, 5: 1, 6: 0}.get(i)
            if axis_bit is not None and standby >> axis_bit & 1:
                continue  # an axis in standby is not refreshed
            reg = ACCEL_XOUT_H + 2 * i
            self._regs[reg : reg + 2] = (word & 0xFFFF).to_bytes(2, "big")
        self._regs[INT_STATUS] |= 0x01
        if self._regs[USER_CTRL] & 0x40 and not self.stuck_fifo:
            self._push_frame()

    def _push_frame(self) -> None:
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

    def _convert(self, t_s: float) -> list[int]:
        """Output words (accel X/Y/Z, temperature, gyro X/Y/Z) for a sample at ``t_s``."""
        _, gyro = self.motion.at(t_s)
        g_lsb = GYRO_LSB_PER_DPS[(self._regs[GYRO_CONFIG] >> 3) & 3]
        _, g_bw = DLPF_BANDWIDTH_HZ[self._regs[CONFIG] & 7]
        g_noise = GYRO_NOISE_DPS_PER_RTHZ * g_bw**0.5
        accel_k = int((t_s - self._origin_s) * ACCEL_OUTPUT_HZ + 1e-9)
        if accel_k != self._accel_k:
            # The accelerometer takes its own 1 kHz samples; faster frames repeat the last.
            self._accel_k = accel_k
            acc_t, _ = self.motion.at(self._origin_s + accel_k / ACCEL_OUTPUT_HZ)
            a_lsb = ACCEL_LSB_PER_G[(self._regs[ACCEL_CONFIG] >> 3) & 3]
            a_bw, _ = DLPF_BANDWIDTH_HZ[self._regs[CONFIG] & 7]
            a_noise = ACCEL_NOISE_G_PER_RTHZ * a_bw**0.5
            self._accel_words = [
                clamp16((a / STANDARD_GRAVITY_MPS2 + self._rng.gauss(0.0, a_noise)) * a_lsb)
                for a in acc_t]
            if self.saturate:
                self._accel_words[0] = 32767  # pinned at +full scale; other axes stay live
        words = [*self._accel_words, 0]  # temperature: not modelled
        words += [clamp16((w * RAD_TO_DEG + self._rng.gauss(0.0, g_noise)) * g_lsb)
                  for w in gyro]
        return words

    # ------------------------------------------------------------------ bus side
    def _write_register(self, reg: int, value: int) -> None:
        self._before_read()  # the old configuration runs up to now
        if reg == PWR_MGMT_1 and value & 0x80:
            origin = self._origin_s
            self._reset()
            self._origin_s = origin
            self._resetting_until_s = self._clock.now_s() + RESET_TIME_S
            self._regs[PWR_MGMT_1] = 0x80 | PWR_MGMT_1_RESET
            return
        if reg not in WRITABLE:
            return  # read-only registers ignore writes
        if reg == USER_CTRL and value & 0x04:
            self._fifo.clear()  # FIFO_RESET: empties the FIFO
        self._regs[reg] = value & ~SELF_CLEARING.get(reg, 0) & 0xFF
        self._sync()

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
        if reg == FIFO_COUNTH:
            self._count_latch = len(self._fifo)  # reading H latches both bytes
            return self._count_latch >> 8
        if reg == FIFO_COUNTL:
            return self._count_latch & 0xFF
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
        if self._fifo:
            self._last_fifo_byte = self._fifo.popleft()
        return self._last_fifo_byte  # empty: the last byte read, until new data arrives
