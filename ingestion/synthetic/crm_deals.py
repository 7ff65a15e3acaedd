"""CRM deals as an API export: JSON lines in fixed-size pages, deals created or updated that day.

A deal starts as `lead` and moves lead -> qualified -> proposal -> won; it may be `lost`
from any open stage. Each open deal moves with probability DAILY_MOVE_RATE per day,
so a deal's stage changes over days and each change is a new line with a later
`updated_at`. `closed_at` is set when a deal is won or lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from ingestion.synthetic.crm_contacts import CRM_PAGE_SIZE
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import iso_utc, random_moment
from ingestion.synthetic.volumes import DailyVolumes

SOURCE = LandingSource(
    name="crm_deals",
    file_format="jsonl",
    key_field="deal_id",
    page_size=CRM_PAGE_SIZE,
    malformed_kinds=(MalformedKind.TRUNCATED_JSON,),
    spare_key=lambda rng, day_index, n: f"dl_spare_{day_index:04d}_{n:04d}",
)
COLUMNS = ("deal_id", "contact_id", "deal_name", "stage", "amount", "currency", "created_at", "updated_at", "closed_at")
NEXT_STAGE = {"lead": "qualified", "qualified": "proposal", "proposal": "won"}
CLOSED_STAGES = ("won", "lost")
DAILY_MOVE_RATE = 0.2
# Of the moves, the share that loses the deal instead of advancing it.
LOST_SHARE = 0.25
DEAL_KINDS = ("Pilot", "Annual plan", "Expansion", "Renewal", "Onboarding")
DEAL_CURRENCIES = ("USD", "EUR", "GBP")


def daily_deals(
    start: dt.date,
    days: int,
    volumes: DailyVolumes,
    seed: int,
    referenceable_contacts: Iterable[Sequence[str]],
) -> Iterator[SourceDay]:
    open_deals: dict[str, Record] = {}
    deal_count = 0
    for day_index, contact_ids in zip(range(days), referenceable_contacts, strict=True):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        changed: list[Record] = []
        for deal_id in list(open_deals):
            move_roll, lost_roll = rng.random(), rng.random()
            moved_at = iso_utc(random_moment(rng, day))
            if move_roll >= DAILY_MOVE_RATE:
                continue
            deal = dict(open_deals[deal_id])
            deal["stage"] = "lost" if lost_roll < LOST_SHARE else NEXT_STAGE[str(deal["stage"])]
            deal["updated_at"] = moved_at
            if deal["stage"] in CLOSED_STAGES:
                deal["closed_at"] = moved_at
                del open_deals[deal_id]
            else:
                open_deals[deal_id] = deal
            changed.append(deal)
        for _ in range(volumes.crm_deals_new):
            deal_count += 1
            created_at = iso_utc(random_moment(rng, day))
            deal: Record = {
                "deal_id": f"dl_{deal_count:08d}",
                "contact_id": rng.choice(contact_ids),
                "deal_name": f"{rng.choice(DEAL_KINDS)} #{deal_count}",
                "stage": "lead",
                "amount": f"{rng.randint(1_000, 200_000)}.{rng.randint(0, 99):02d}",
                "currency": rng.choice(DEAL_CURRENCIES),
                "created_at": created_at,
                "updated_at": created_at,
                "closed_at": None,
            }
            open_deals[str(deal["deal_id"])] = deal
            changed.append(deal)
        changed.sort(key=lambda deal: (str(deal["updated_at"]), str(deal["deal_id"])))
        yield SourceDay(tuple(changed), COLUMNS)
