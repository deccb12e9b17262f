"""The subject split for KFall development subjects SA06–SA21 (split by subject, never by trial).

Thresholds were tuned only on :data:`KFALL_TUNE`; :data:`KFALL_HELD_ASIDE` were chosen before
any tuning (every third subject from SA09) and are used only to report figures.
"""

from __future__ import annotations

KFALL_HELD_ASIDE: tuple[str, ...] = ("SA09", "SA12", "SA15", "SA18", "SA21")
KFALL_TUNE: tuple[str, ...] = ("SA06", "SA07", "SA08", "SA10", "SA11", "SA13", "SA14", "SA16",
                               "SA17", "SA19", "SA20")
