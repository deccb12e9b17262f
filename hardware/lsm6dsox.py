"""Driver for the ST LSM6DSOX belt-clip IMU (accelerometer + gyroscope) on I²C.

The driver is handed its bus (a real ``smbus2.SMBus`` or the simulated bus) and the injected
clock; it never opens a device itself. :meth:`Lsm6dsox.setup` identifies the chip (WHO_AM_I
allow-list), resets it, configures ranges, rate and FIFO and reads the configuration back;
:meth:`Lsm6dsox.read` returns the samples that arrived since the last call.

Why the FIFO: the chip batches gyroscope and accelerometer words at 208 Hz into its FIFO, so a
loop iteration that runs late loses nothing — the next read drains what accumulated — and no
sample is read twice (each FIFO word is popped once). One read costs two bus transactions: a
2-byte FIFO_STATUS1/2 read for the word count, then one ``i2c_rdwr`` (no 32-byte SMBus limit)
that writes the FIFO_DATA_OUT_TAG pointer and reads 7 bytes per word; the chip's register
pointer rolls back from 0x7E to 0x78 so the words come out back to back.

Sequence numbers follow the chip's own 2-bit TAG_CNT time-slot counter: a skipped slot shows
as a gap in ``seq``, a slot seen again (a FIFO that stopped advancing) is dropped and counted in
:attr:`Lsm6dsox.repeats` — never handed on as a new sample. Timestamps are back-dated from the
clock's "now" by the chip's sample spacing (1/208 s), the newest sample drained being stamped
"now" (so a stamp can be late by up to one sample period, 4.8 ms, never early).

Errors: any bus failure propagates as ``OSError`` (the loop counts it against the I²C error
budget and, past it, stops the belt). A wrong identity or a configuration that does not read
back raises :class:`ImuError` — the controller refuses to arm.
"""

from __future__ import annotations

from typing import Final

from smbus2 import i2c_msg

from hardware.clock import Clock
from hardware.i2c import I2CBus
from hardware.imu import STANDARD_GRAVITY_MPS2, ImuError, ImuSample, check_ranges
from hardware.register_chip import RegisterChip
from hardware.units import DEG_TO_RAD

FIFO_CTRL3: Final = 0x09
FIFO_CTRL4: Final = 0x0A
WHO_AM_I: Final = 0x0F
CTRL1_XL: Final = 0x10
CTRL2_G: Final = 0x11
CTRL3_C: Final = 0x12
FIFO_STATUS1: Final = 0x3A
FIFO_DATA_OUT_TAG: Final = 0x78

CHIP_IDS: Final = frozenset({0x6C})
ODR_208_HZ: Final = 0x5
CTRL3_BDU: Final = 0x40
CTRL3_IF_INC: Final = 0x04
CTRL3_SW_RESET: Final = 0x01
RESET_POLLS: Final = 10  # SW_RESET takes ~50 µs; each poll is a ~100 µs bus transfer
FIFO_BDR_208_HZ: Final = (ODR_208_HZ << 4) | ODR_208_HZ  # gyro and accel batched at 208 Hz
FIFO_MODE_BYPASS: Final = 0x00
FIFO_MODE_CONTINUOUS: Final = 0x06  # when full, the oldest word goes: the newest data survives
STATUS2_OVR: Final = 0x40
TAG_GYRO: Final = 0x01
TAG_ACCEL: Final = 0x02
WORD_BYTES: Final = 7
MAX_WORDS_PER_READ: Final = 24
"""At most 12 samples (168 bytes, ≈ 4 ms at 400 kHz) per read so one catch-up read cannot eat
the loop period; what is left stays in the FIFO for the next call (nothing is lost)."""

ACCEL_FS_CODE: Final = {2: 0, 16: 1, 4: 2, 8: 3}
ACCEL_MG_PER_LSB: Final = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
GYRO_FS_CODE: Final = {250: 0, 500: 1, 1000: 2, 2000: 3}
GYRO_MDPS_PER_LSB: Final = {250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}


class Lsm6dsox(RegisterChip):
    """LSM6DSOX at ``address`` on ``bus``, sampling at 208 Hz through its FIFO.

    Args:
        bus: smbus2-compatible bus (see :mod:`hardware.i2c`).
        address: 0x6A (SDO low) or 0x6B (SDO high).
        clock: the injected clock; samples are stamped with its time.
        accel_range_g: ±2, 4, 8 or 16 g (default 16: falls and impacts exceed 8 g).
        gyro_range_dps: ±250, 500, 1000 or 2000 °/s (default 2000).

    Counters (never reset by :meth:`read`; health and ``treadguard check`` read them):
        overruns: reads that found the FIFO had overflowed (samples lost: the loop stalled
            for longer than the FIFO holds).
        repeats: FIFO words dropped because their time slot had already been handed on.
        lost: time slots known to be missing (gaps in ``seq``).
    """

    chip = "LSM6DSOX"
    error = ImuError
    rate_hz = 208.0

    def __init__(
        self,
        bus: I2CBus,
        address: int,
        clock: Clock,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
    ) -> None:
        check_ranges(accel_range_g, gyro_range_dps)
        super().__init__(bus, address, clock)
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self._acc_scale = ACCEL_MG_PER_LSB[accel_range_g] * 1e-3 * STANDARD_GRAVITY_MPS2
        self._gyro_scale = GYRO_MDPS_PER_LSB[gyro_range_dps] * 1e-3 * DEG_TO_RAD
        self.identity = 0
        self.overruns = 0
        self.repeats = 0
        self.lost = 0
        self._forget()

    def _forget(self) -> None:
        self._seq = 0
        self._last_cnt: int | None = None
        self._last_t_s: float | None = None
        self._pending_cnt: int | None = None
        self._pending: dict[int, tuple[int, int, int]] = {}

    def setup(self) -> None:
        """Identify, reset, configure and verify. Raises :class:`ImuError` or ``OSError``."""
        self.identity = self._check_who_am_i(WHO_AM_I, CHIP_IDS, "0x6c")
        self._reset(CTRL3_C, CTRL3_IF_INC | CTRL3_SW_RESET, busy_bit=CTRL3_SW_RESET,
                    polls=RESET_POLLS, wait_s=0.0, what="software reset")
        wanted = {
            CTRL3_C: CTRL3_BDU | CTRL3_IF_INC,
            CTRL1_XL: (ODR_208_HZ << 4) | (ACCEL_FS_CODE[self.accel_range_g] << 2),
            CTRL2_G: (ODR_208_HZ << 4) | (GYRO_FS_CODE[self.gyro_range_dps] << 2),
            FIFO_CTRL3: FIFO_BDR_208_HZ,
            # Bypass first: it empties the FIFO, so the first read starts from fresh samples.
            FIFO_CTRL4: FIFO_MODE_BYPASS,
        }
        self._write_registers(wanted)
        self._bus.write_byte_data(self.address, FIFO_CTRL4, FIFO_MODE_CONTINUOUS)
        wanted[FIFO_CTRL4] = FIFO_MODE_CONTINUOUS
        self._verify_registers(wanted)
        self._forget()

    def describe(self) -> str:
        return (f"{self.chip} at {self.address:#04x}: WHO_AM_I {self.identity:#04x}, "
                f"±{self.accel_range_g} g, ±{self.gyro_range_dps} °/s, {self.rate_hz:g} Hz, "
                f"FIFO continuous")

    def read(self) -> list[ImuSample]:
        """Samples that arrived since the last call, oldest first (empty if none).

        Raises ``OSError`` on a bus failure (nothing is consumed from the driver's state then;
        words already popped from the chip by a failed transfer are lost and show as a gap).
        """
        now_s = self._clock.now_s()
        status = self._bus.read_i2c_block_data(self.address, FIFO_STATUS1, 2)
        available = status[0] | ((status[1] & 0x03) << 8)
        overrun = bool(status[1] & STATUS2_OVR)
        if overrun:
            self.overruns += 1
        if available == 0:
            return []
        count = min(available, MAX_WORDS_PER_READ)
        pointer = i2c_msg.write(self.address, [FIFO_DATA_OUT_TAG])
        data = i2c_msg.read(self.address, WORD_BYTES * count)
        self._bus.i2c_rdwr(pointer, data)
        slots = self._slots(bytes(data))
        if not slots:
            return []
        dt_s = 1.0 / self.rate_hz
        # Words left in the chip are newer than what we read: back-date past them too.
        newest_s = now_s - ((available - count) // 2) * dt_s
        samples: list[ImuSample] = []
        for i, (step, gyro, acc) in enumerate(slots):
            t_s = newest_s - (len(slots) - 1 - i) * dt_s
            if self._last_t_s is not None:
                if overrun and i == 0:
                    # The 2-bit slot counter cannot count a long gap: estimate it from time.
                    step = max(step, round((t_s - self._last_t_s) / dt_s))
                t_s = max(t_s, self._last_t_s + 1e-6)  # timestamps never run backwards
            self.lost += step - 1
            self._seq += step
            self._last_t_s = t_s
            g, a = self._gyro_scale, self._acc_scale
            samples.append(ImuSample(
                t_s=t_s,
                seq=self._seq,
                acc_mps2=(acc[0] * a, acc[1] * a, acc[2] * a),
                gyro_rads=(gyro[0] * g, gyro[1] * g, gyro[2] * g),
            ))
        return samples

    def _slots(self, raw: bytes) -> list[tuple[int, tuple[int, int, int], tuple[int, int, int]]]:
        """Group FIFO words into complete (gyro, accel) time slots: ``(step, gyro, accel)``."""
        slots = []
        for i in range(0, len(raw) - WORD_BYTES + 1, WORD_BYTES):
            tag = raw[i]
            sensor, cnt = tag >> 3, (tag >> 1) & 0x03
            if sensor not in (TAG_GYRO, TAG_ACCEL):
                continue  # empty FIFO (tag 0) or words this driver did not ask for
            if self._pending_cnt != cnt:
                if cnt == self._last_cnt:
                    self.repeats += 1  # a word of a slot already handed on
                    continue
                if self._pending:
                    self.lost += 1  # half a slot: its other word never came
                self._pending_cnt, self._pending = cnt, {}
            if sensor in self._pending:
                self.repeats += 1
                continue
            self._pending[sensor] = (
                int.from_bytes(raw[i + 1 : i + 3], "little", signed=True),
                int.from_bytes(raw[i + 3 : i + 5], "little", signed=True),
                int.from_bytes(raw[i + 5 : i + 7], "little", signed=True),
            )
            if len(self._pending) == 2:
                step = 1 if self._last_cnt is None else (cnt - self._last_cnt) % 4
                slots.append((step, self._pending[TAG_GYRO], self._pending[TAG_ACCEL]))
                self._last_cnt, self._pending_cnt, self._pending = cnt, None, {}
        return slots
