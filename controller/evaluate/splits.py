"""The subject splits of the development data (split by subject, never by trial).

KFall SA06–SA21: thresholds and models were tuned only on :data:`KFALL_TUNE`;
:data:`KFALL_HELD_ASIDE` were chosen before any tuning (every third subject from SA09) and are
used only to report figures.

SisFall SA09–SA23 (the development release): :data:`SISFALL_HELD_ASIDE` were chosen the same
way (every third subject from SA11) before any SisFall data was looked at; the rest,
:data:`SISFALL_TUNE`, are development subjects.
"""

from __future__ import annotations

KFALL_HELD_ASIDE: tuple[str, ...] = ("SA09", "SA12", "SA15", "SA18", "SA21")
KFALL_TUNE: tuple[str, ...] = ("SA06", "SA07", "SA08", "SA10", "SA11", "SA13", "SA14", "SA16",
                               "SA17", "SA19", "SA20")
SISFALL_HELD_ASIDE: tuple[str, ...] = ("SA11", "SA14", "SA17", "SA20", "SA23")
SISFALL_TUNE: tuple[str, ...] = ("SA09", "SA10", "SA12", "SA13", "SA15", "SA16", "SA18", "SA19",
                                 "SA21", "SA22")
