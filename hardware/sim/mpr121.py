"""Register-faithful twin of the NXP MPR121 capacitive touch controller (hand on rail).

Every register a driver may write keeps its value (in stop mode, as on the chip), with the
datasheet's reset values (all 0x00 except CONFIG1 0x10 and CONFIG2 0x24):

- Touch status 0x00–0x01 (bit n = electrode n touched; OVCF bit 7 of 0x01), out-of-range
  status 0x02–0x03 (always 0), filtered data 0x04–0x1D (10-bit, little-endian pairs), baseline
  0x1E–0x2A (8-bit: the 10-bit baseline's upper 8 bits; writable in stop mode).
- Baseline filter 0x2B–0x35 (MHD/NHD/NCL/FDL for rising, falling; NHD/NCL/FDL for touched)
  and the proximity electrode's set 0x36–0x40; touch/release thresholds 0x41–0x5A; debounce
  0x5B (DR[6:4], DT[2:0]); CONFIG1 0x5C (FFI[7:6], CDC[5:0]); CONFIG2 0x5D (CDT[7:5],
  SFI[4:3], ESI[2:0] — the chip's only identity: it has no ID register); ECR 0x5E (CL[7:6],
  ELEPROX_EN[5:4], ELE_EN[3:0]); per-electrode charge current 0x5F–0x6B and time 0x6C–0x72;
  GPIO 0x73–0x7A (writable in run mode too); auto-configuration 0x7B–0x7F; soft reset 0x80
  (write 0x63). Reads auto-increment the register pointer.
- Writes other than to ECR, GPIO and soft reset are ignored while electrodes are enabled (run
  mode), as on the chip: configuration must happen in stop mode.
- Scanning starts when ECR enables electrodes: a scan every SFI × ESI (CONFIG2) from then on.
  At the first scan after entering run mode the baseline is set by CL: 00 keeps the baseline
  register's value, 01 keeps it and locks it (no tracking), 10 loads the 5 high bits of the
  first filtered value (up to 31 counts below it), 11 loads all 10 bits.
- Baseline tracking (CL ≠ 01), per scan, with the rising (data above baseline), falling (below,
  not touched) or touched parameter set: the filter acts once every FDL + 1 scans; a difference
  within MHD counts is taken into the baseline at once; a larger one must persist for more
  than NCL of those filter steps, then the baseline moves NHD counts towards the data. With the
  reset values (all 0) the baseline never moves.
- Touch is ``baseline − filtered > touch threshold``, release ``< release threshold``; the
  status changes only after DT + 1 (touch) or DR + 1 (release) consecutive scans agree.
- Filtered data: untouched ``untouched_counts`` (default :data:`UNTOUCHED_COUNTS`; with
  auto-configuration, ACE in 0x7B, the target level TL × 4 when set); a touching hand pulls it
  down by :data:`LIGHT_TOUCH_DELTA` plus :data:`DELTA_PER_N` per newton of grip (capacitance
  grows with contact area), with ±1 count of noise.

Fault hooks: :attr:`freeze` (filtered data and status stop changing), :attr:`config2_reset`
(a different value after reset: "not an MPR121"), :attr:`over_current` (OVCF set, the chip
stops: a shorted electrode), :meth:`power_on_reset` (a supply dip: registers back to their
reset values — ECR 0x00, stop mode, filtered data and touch status 0 — until set up again).

The ±1 count noise (0 half of the time) makes consecutive readings of two electrodes identical
about one time in seven (0.375² by that distribution), so runs of a dozen identical readings
occur in a long session (``scripts/rail_noise_runs.py``): the frozen criterion in
``controller/health_rails.py`` is 200.

Not modelled: the exact analogue noise, the charge current/time physics (CDC/CDT keep their
values but do not change the counts; auto-configuration writes no CDC/CDT results), the first
filter (FFI), the proximity electrode, out-of-range detection, GPIO/LED drivers, electrode
capacitance variation with humidity, scans further back than :data:`MAX_CATCH_UP_SCANS` when
nobody read for a long time (the older ones are skipped).
"""

from __future__ import annotations

from hardware.clock import Clock
from hardware.sim.grip import Grip
from hardware.sim.register_twin import RegisterTwin

TOUCH_STATUS = 0x00
FILTERED = 0x04
BASELINE = 0x1E
MHD_RISING = 0x2B
MHD_FALLING = 0x2F
NHD_TOUCHED = 0x33
THRESHOLDS = 0x41
DEBOUNCE = 0x5B
CONFIG1 = 0x5C
CONFIG2 = 0x5D
ECR = 0x5E
GPIO_FIRST = 0x73
GPIO_LAST = 0x7A
AUTO_CONFIG0 = 0x7B
TARGET_LEVEL = 0x7F
SOFT_RESET = 0x80
RESET_MAGIC = 0x63

CONFIG1_RESET = 0x10
CONFIG2_RESET = 0x24
UNTOUCHED_COUNTS = 720
LIGHT_TOUCH_DELTA = 30
DELTA_PER_N = 0.5
MAX_DELTA = 200
ESI_MS = (1, 2, 4, 8, 16, 32, 64, 128)
SFI_SAMPLES = (4, 6, 10, 18)
MAX_CATCH_UP_SCANS = 2000
CL_KEEP, CL_LOCK, CL_LOAD_5_MSB, CL_LOAD_10_BITS = 0, 1, 2, 3


class Mpr121Model(RegisterTwin):
    """The MPR121 register map, fed by ``grip`` on ``clock`` time.

    Args:
        clock: the injected clock.
        grip: the hands on the rails.
        electrodes: ``(left, right)`` electrode numbers the rails are wired to (default 0, 1).
        seed: noise seed.
        untouched_counts: filtered counts of an untouched rail (default 720; real rails
            differ with sleeve, cable and charge settings).
    """

    chip = "MPR121"

    def __init__(self, clock: Clock, grip: Grip, electrodes: tuple[int, int] = (0, 1),
                 seed: int = 0, untouched_counts: int = UNTOUCHED_COUNTS) -> None:
        super().__init__(clock, seed, 0x81)  # 0x00–0x80: SOFT_RESET is register 0x80
        self.grip = grip
        self._electrodes = electrodes
        self.untouched_counts = untouched_counts
        self.over_current = False
        self.config2_reset = CONFIG2_RESET
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x81)
        self._regs[CONFIG1] = CONFIG1_RESET
        self._regs[CONFIG2] = self.config2_reset
        self._filtered = [0] * 12
        self._baseline = [0] * 12  # 10-bit baselines
        self._touched = 0
        self._run_start_s = 0.0
        self._next_scan = 0  # index of the next scan since entering run mode
        self._first_scan = True
        self._noise_count = [0] * 12
        self._delay_count = [0] * 12
        self._agree = [0] * 12  # consecutive scans whose detection differs from the status

    # ------------------------------------------------------------------ scanning
    def _enabled(self) -> int:
        return min(self._regs[ECR] & 0x0F, 12)

    def _period_s(self) -> float:
        c2 = self._regs[CONFIG2]
        return SFI_SAMPLES[(c2 >> 3) & 3] * ESI_MS[c2 & 7] / 1000.0

    def _update(self) -> None:
        if self._enabled() == 0 or self.over_current:
            return
        period = self._period_s()
        newest = int((self._clock.now_s() - self._run_start_s) / period + 1e-9)
        first = max(self._next_scan, newest - MAX_CATCH_UP_SCANS + 1, 1)
        for k in range(first, newest + 1):
            if not self.freeze:
                self._scan(self._run_start_s + k * period)
        self._next_scan = max(self._next_scan, newest + 1)

    def _untouched(self) -> int:
        if self._regs[AUTO_CONFIG0] & 0x01 and self._regs[TARGET_LEVEL]:
            return self._regs[TARGET_LEVEL] << 2  # auto-configuration aims at the target level
        return self.untouched_counts

    def _scan(self, t_s: float) -> None:
        n = self._enabled()
        hands = dict(zip(self._electrodes, self.grip.at(t_s), strict=True))
        untouched = self._untouched()
        cl = self._regs[ECR] >> 6
        for e in range(n):
            hand = hands.get(e)
            delta = 0.0
            if hand is not None and hand.touch:
                delta = min(MAX_DELTA, LIGHT_TOUCH_DELTA + DELTA_PER_N * hand.force_n)
            value = round(untouched - delta + self._rng.choice((-1, 0, 0, 1)))
            self._filtered[e] = max(0, min(1023, value))
            if self._first_scan:
                if cl == CL_LOAD_5_MSB:
                    self._baseline[e] = self._filtered[e] & 0x3E0
                elif cl == CL_LOAD_10_BITS:
                    self._baseline[e] = self._filtered[e]
            elif cl != CL_LOCK:
                self._track(e)
            self._detect(e)
        self._first_scan = False
        for e in range(n, 12):
            self._touched &= ~(1 << e)

    def _track(self, e: int) -> None:
        """One step of the baseline filter for electrode ``e`` (see the module docstring)."""
        diff = self._filtered[e] - self._baseline[e]
        if diff == 0:
            self._noise_count[e] = 0
            return
        if self._touched >> e & 1:
            mhd, (nhd, ncl, fdl) = 0, self._regs[NHD_TOUCHED : NHD_TOUCHED + 3]
        else:
            base = MHD_RISING if diff > 0 else MHD_FALLING
            mhd, nhd, ncl, fdl = self._regs[base : base + 4]
        self._delay_count[e] += 1
        if self._delay_count[e] <= fdl:
            return  # the filter acts once every FDL + 1 scans
        self._delay_count[e] = 0
        if abs(diff) <= mhd:
            self._baseline[e] = self._filtered[e]
            self._noise_count[e] = 0
            return
        self._noise_count[e] += 1
        if self._noise_count[e] > ncl and nhd:
            step = min(nhd, abs(diff))
            self._baseline[e] += step if diff > 0 else -step
            self._noise_count[e] = 0

    def _detect(self, e: int) -> None:
        touch_th = self._regs[THRESHOLDS + 2 * e]
        release_th = self._regs[THRESHOLDS + 2 * e + 1]
        drop = self._baseline[e] - self._filtered[e]
        bit = 1 << e
        touched = bool(self._touched & bit)
        if not touched and drop > touch_th:
            needed = (self._regs[DEBOUNCE] & 0x07) + 1
        elif touched and drop < release_th:
            needed = ((self._regs[DEBOUNCE] >> 4) & 0x07) + 1
        else:
            self._agree[e] = 0
            return
        self._agree[e] += 1
        if self._agree[e] >= needed:
            self._touched ^= bit
            self._agree[e] = 0

    # ------------------------------------------------------------------ bus side
    def _select(self, register: int) -> int:
        return register  # 8-bit register addresses: SOFT_RESET is 0x80

    def _advance(self) -> None:
        self._pointer = min(self._pointer + 1, 0x80)

    def _write_register(self, reg: int, value: int) -> None:
        self._update()  # scans up to now run with the old configuration
        if reg == SOFT_RESET:
            if value == RESET_MAGIC:
                self._reset()
            return
        if reg == ECR:
            if value & 0x0F and not self._enabled():
                # Entering run mode: scanning starts now; the first scan sets the baseline.
                self._run_start_s = self._clock.now_s()
                self._next_scan = 1
                self._first_scan = True
                self._agree = [0] * 12
                self._noise_count = [0] * 12
                self._delay_count = [0] * 12
            self._regs[ECR] = value
            return
        if GPIO_FIRST <= reg <= GPIO_LAST:
            self._regs[reg] = value
            return
        if self._enabled():
            return  # run mode: configuration writes are ignored
        if BASELINE <= reg < BASELINE + 12:
            self._baseline[reg - BASELINE] = value << 2
        elif MHD_RISING <= reg < SOFT_RESET:
            self._regs[reg] = value

    def _before_read(self) -> None:
        self._update()

    def _read_register(self, reg: int) -> int:
        if reg == TOUCH_STATUS:
            return self._touched & 0xFF
        if reg == TOUCH_STATUS + 1:
            return ((self._touched >> 8) & 0x0F) | (0x80 if self.over_current else 0)
        if FILTERED <= reg < BASELINE:
            e, high = divmod(reg - FILTERED, 2)
            return (self._filtered[e] >> 8) & 0x03 if high else self._filtered[e] & 0xFF
        if BASELINE <= reg < BASELINE + 13:
            e = reg - BASELINE
            return (self._baseline[e] >> 2) & 0xFF if e < 12 else 0
        return self._regs[reg]
