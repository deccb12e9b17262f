"""Register-faithful twin of the NXP MPR121 capacitive touch controller (hand on rail).

Implements what the driver uses, with the datasheet's addresses and encodings:

- Touch status 0x00–0x01 (bit n = electrode n touched; OVCF bit 7 of 0x01), out-of-range
  status 0x02–0x03 (always 0), filtered data 0x04–0x1D (10-bit, little-endian pairs), baseline
  0x1E–0x2A (8-bit: the 10-bit baseline's upper 8 bits), touch/release thresholds 0x41–0x5A
  (pairs per electrode), debounce 0x5B, CONFIG1 0x5C (reset 0x10), CONFIG2 0x5D (reset 0x24 —
  the chip's only identity: it has no ID register), ECR 0x5E (CL[7:6], ELEPROX[5:4],
  ELE_EN[3:0]), soft reset 0x80 (write 0x63). Reads auto-increment the register pointer.
- Writes other than to ECR and soft reset are ignored while electrodes are enabled (run mode),
  as on the chip: configuration must happen in stop mode.
- On entering run mode with CL = 0b10 or 0b11 the baseline is loaded from the first filtered
  value; touch is ``baseline − filtered > touch threshold``, release ``< release threshold``.
- Filtered data: untouched :data:`UNTOUCHED_COUNTS`; a touching hand pulls it down by
  :data:`LIGHT_TOUCH_DELTA` plus :data:`DELTA_PER_N` per newton of grip (capacitance grows
  with contact area), with ±1 count of noise, refreshed every SFI × ESI (CONFIG2).

Fault hooks: :attr:`freeze` (filtered data and status stop changing), :attr:`config2_reset`
(a different value after reset: "not an MPR121"), :attr:`over_current` (OVCF set, the chip
stops: a shorted electrode), :meth:`power_on_reset` (a supply dip: registers back to their
reset values — ECR 0x00, stop mode, filtered data and touch status 0 — until set up again).

The ±1 count noise (0 half of the time) makes consecutive readings of two electrodes identical
about one time in seven (0.375² by that distribution), so runs of a dozen identical readings
occur in a long session (``scripts/rail_noise_runs.py``): the frozen criterion in
``controller/health_rails.py`` is 200.

Not modelled: the baseline tracking filter (MHD/NHD/NCL/FDL: the baseline stays where it was
loaded — a hand resting on the rail at start-up is learned as "no touch", as the real chip
can also do), debounce, proximity electrode, auto-configuration, GPIO/LED drivers, charge
current/time physics, out-of-range detection, electrode capacitance variation with humidity.
"""

from __future__ import annotations

from hardware.clock import Clock
from hardware.sim.grip import Grip
from hardware.sim.register_twin import RegisterTwin

TOUCH_STATUS = 0x00
FILTERED = 0x04
BASELINE = 0x1E
THRESHOLDS = 0x41
DEBOUNCE = 0x5B
CONFIG1 = 0x5C
CONFIG2 = 0x5D
ECR = 0x5E
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


class Mpr121Model(RegisterTwin):
    """The MPR121 register map, fed by ``grip`` on ``clock`` time.

    Args:
        clock: the injected clock.
        grip: the hands on the rails.
        electrodes: ``(left, right)`` electrode numbers the rails are wired to (default 0, 1).
        seed: noise seed.
    """

    chip = "MPR121"

    def __init__(self, clock: Clock, grip: Grip, electrodes: tuple[int, int] = (0, 1),
                 seed: int = 0) -> None:
        super().__init__(clock, seed, 0x81)  # 0x00–0x80: SOFT_RESET is register 0x80
        self.grip = grip
        self._electrodes = electrodes
        self.over_current = False
        self.config2_reset = CONFIG2_RESET
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(0x81)
        self._regs[CONFIG1] = CONFIG1_RESET
        self._regs[CONFIG2] = self.config2_reset
        self._filtered = [0] * 12
        self._baseline = [0] * 12
        self._touched = 0
        self._scan_index = -1

    # ------------------------------------------------------------------ scanning
    def _enabled(self) -> int:
        return min(self._regs[ECR] & 0x0F, 12)

    def _period_s(self) -> float:
        c2 = self._regs[CONFIG2]
        return SFI_SAMPLES[(c2 >> 3) & 3] * ESI_MS[c2 & 7] / 1000.0

    def _update(self) -> None:
        n = self._enabled()
        if n == 0 or self.freeze or self.over_current:
            return
        index = int(self._clock.now_s() / self._period_s() + 1e-9)
        if index == self._scan_index:
            return
        self._scan_index = index
        hands = dict(zip(self._electrodes, self.grip.at(self._clock.now_s()), strict=True))
        for e in range(n):
            hand = hands.get(e)
            delta = 0.0
            if hand is not None and hand.touch:
                delta = min(MAX_DELTA, LIGHT_TOUCH_DELTA + DELTA_PER_N * hand.force_n)
            value = round(UNTOUCHED_COUNTS - delta + self._rng.choice((-1, 0, 0, 1)))
            self._filtered[e] = max(0, min(1023, value))
            if self._baseline[e] == 0:
                self._baseline[e] = self._filtered[e]  # CL = 0b10/0b11: load on first data
            touch_th = self._regs[THRESHOLDS + 2 * e]
            release_th = self._regs[THRESHOLDS + 2 * e + 1]
            drop = self._baseline[e] - self._filtered[e]
            bit = 1 << e
            if drop > touch_th:
                self._touched |= bit
            elif drop < release_th:
                self._touched &= ~bit
        for e in range(n, 12):
            self._touched &= ~(1 << e)

    # ------------------------------------------------------------------ bus side
    def _select(self, register: int) -> int:
        return register  # 8-bit register addresses: SOFT_RESET is 0x80

    def _advance(self) -> None:
        self._pointer = min(self._pointer + 1, 0x80)

    def _write_register(self, reg: int, value: int) -> None:
        if reg == SOFT_RESET:
            if value == RESET_MAGIC:
                self._reset()
            return
        if reg == ECR:
            if value & 0x0F and not self._enabled():
                self._baseline = [0] * 12  # entering run mode: reload baselines
                self._scan_index = -1
            self._regs[ECR] = value
            return
        if self._enabled():
            return  # run mode: configuration writes are ignored
        if THRESHOLDS <= reg <= CONFIG2:
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
