"""Simulated twins of the physical parts: same register maps and wire protocol, fault hooks."""
