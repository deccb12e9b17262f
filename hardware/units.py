"""Unit conversions, defined once for every layer (drivers, twins and the controller).

Speeds are km/h wherever a person reads them (configuration, log, the treadmill's display in
metric mode) and m/s or m/s² wherever physics is done (ramps, decelerations, belt dynamics).
"""

from __future__ import annotations

from typing import Final

KMH_PER_MPS: Final = 3.6
"""km/h per m/s: ``speed_kmh = speed_mps * KMH_PER_MPS`` (and a ramp of 1 m/s² is 3.6 km/h/s)."""
KMH_PER_MPH: Final = 1.609344
"""km/h per mile per hour (the international mile): Trackmaster speeds in ``"mph"`` units."""
DEG_TO_RAD: Final = 0.017453292519943295
"""Radians per degree (π/180): gyroscope ranges are in °/s, samples in rad/s."""
RAD_TO_DEG: Final = 57.29577951308232
"""Degrees per radian (180/π)."""
