"""treadguard hardware: drivers for the physical parts and their simulated twins (``sim``)."""
