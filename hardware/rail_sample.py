"""What the handrail drivers yield: one timestamped reading of both rails.

A rail that is not fitted (or a quantity no fitted chip measures) is ``None`` — never zero, so
"no sensor" cannot be mistaken for "no hand".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class ChipReport:
    """What one handrail chip showed in one reading: facts for rails health, never a verdict.

    Attributes:
        chip: names the chip and where it is, e.g. ``"ADS1115 at 0x49 (right rail)"``
            (health keeps one record per name and quotes it in its stop details).
        kind: ``"touch"`` (MPR121) or ``"force"`` (ADS1115): health's frozen criterion
            differs (see :mod:`controller.health_rails`).
        raw: the codes read from the chip in this reading: the ADS1115's conversion register
            (signed code), the MPR121's filtered data of every enabled electrode. A live chip's
            codes jitter; a frozen chip's do not.
        config_fault: ``""`` when the configuration was not read back in this reading or read
            back as written; otherwise what read back wrong, in one line (e.g. ``"config
            register reads 0x8583, written 0x4ee3 (its power-on reset value)"``).
    """

    chip: str
    kind: Literal["touch", "force"]
    raw: tuple[int, ...]
    config_fault: str = ""


@dataclass(frozen=True, slots=True)
class RailSample:
    """One reading of the handrails.

    Attributes:
        t_s: time of the reading, seconds, from the injected clock.
        seq: sequence number of the reading, +1 per reading.
        touch_left / touch_right: hand touching the rail (MPR121), or None if not fitted.
        force_left_n / force_right_n: grip force in newtons (ADS1115 + FSR), or None if not fitted.
        touch_counts: the MPR121's filtered data of the (left, right) electrodes, or None —
            raw evidence for sensor health (a live chip's counts jitter; frozen ones do not)
            and for calibration.
        force_volts: the ADS1115 inputs (left, right) as read, before the FSR law clamps
            them to 0 N, or None — raw evidence for sensor health (a live ADC's codes jitter
            even with no hand on the rail; a frozen ADC's do not).
        chips: one :class:`ChipReport` per chip read in this reading (empty if the source
            gives none): per-chip evidence, so one frozen or reset chip beside live ones is
            seen.
    """

    t_s: float
    seq: int
    touch_left: bool | None = None
    touch_right: bool | None = None
    force_left_n: float | None = None
    force_right_n: float | None = None
    touch_counts: tuple[int, int] | None = None
    force_volts: tuple[float | None, float | None] | None = None
    chips: tuple[ChipReport, ...] = ()
