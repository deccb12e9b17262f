"""treadguard hardware: drivers for the physical parts, and their simulated twins.

The twins live in ``hardware.sim``.
"""
