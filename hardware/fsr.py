"""The force-sensing resistor (FSR) divider that turns a grip on the rail into a voltage.

Wiring (docs/hardware.md): supply → FSR → ADC input → divider resistor → ground, so the input
voltage rises with force. An FSR's conductance is roughly proportional to force (Interlink 402:
≈ 100 µS per newton, ±30 % part to part — which is why ``treadguard calibrate rails`` exists):

    V = V_supply · R_d / (R_d + R_fsr),   R_fsr = 1 / (G_per_N · F)

Used by the rails (volts → newtons) and by the ADS1115 twin's signal path (newtons → volts),
so simulation and conversion share one model.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FORCE_N = 2000.0
"""Conversions clamp here (≈ 200 kg): at the supply rail the divider says nothing finer."""


@dataclass(frozen=True)
class FsrDivider:
    """One FSR divider.

    Attributes:
        supply_v: divider supply, volts (default 3.3).
        divider_ohm: resistor from the ADC input to ground, ohms (default 1000).
        microsiemens_per_n: FSR conductance per newton (default 100).
    """

    supply_v: float = 3.3
    divider_ohm: float = 1000.0
    microsiemens_per_n: float = 100.0

    def volts(self, force_n: float) -> float:
        """Input voltage for a grip force (newtons ≥ 0)."""
        g_s = max(0.0, force_n) * self.microsiemens_per_n * 1e-6
        if g_s <= 0.0:
            return 0.0
        return self.supply_v * self.divider_ohm / (self.divider_ohm + 1.0 / g_s)

    def newtons(self, volts: float) -> float:
        """Grip force for an input voltage; 0 at or below 0 V, clamped at :data:`MAX_FORCE_N`."""
        if volts <= 0.0:
            return 0.0
        if volts >= self.supply_v:
            return MAX_FORCE_N
        r_fsr = self.divider_ohm * (self.supply_v - volts) / volts
        return min(MAX_FORCE_N, 1.0 / (r_fsr * self.microsiemens_per_n * 1e-6))
