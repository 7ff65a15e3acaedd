"""Rows per day per source: what one unit of `--scale` means.

Counts are exact per day (scaled and rounded, at least 1), not random, so a run's
size is predictable; which records they are is random.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class DailyVolumes:
    # Day 0 of a run delivers a full snapshot; later days deliver increments.
    customers_initial: int = 2_000
    customers_new: int = 50
    customers_updated: int = 40
    customers_deleted: int = 2
    orders: int = 1_000
    crm_contacts_initial: int = 1_000
    crm_contacts_new: int = 40
    crm_contacts_updated: int = 30
    crm_deals_new: int = 60
    # Events are derived from sessions (one page_view per page, plus cart/checkout/purchase):
    # about 5 events per session.
    sessions: int = 1_000

    def scaled(self, scale: float) -> DailyVolumes:
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        return DailyVolumes(
            **{item.name: max(1, round(getattr(self, item.name) * scale)) for item in dataclasses.fields(self)}
        )


VOLUMES_AT_SCALE_1 = DailyVolumes()
