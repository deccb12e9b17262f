"""Streaming detectors: one implementation, called by the loop, ``evaluate`` and ``sim`` alike."""
