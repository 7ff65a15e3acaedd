"""Warehouse customers as a CDC extract: one CSV per day of I/U/D change rows.

Day 0 delivers the initial snapshot (all `I`, taken at midnight); later days deliver
new customers (`I`), attribute changes (`U`: country, email or segment, so SCD2 has
work) and deletions (`D`, carrying the last known attributes). A customer changes at
most once per day and is never reused after deletion.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ingestion.synthetic.people import (
    COUNTRIES,
    EMAIL_DOMAINS,
    LATIN1_FIRST_NAMES,
    email_for,
    random_person,
)
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import at_second, random_moment, sql_timestamp
from ingestion.synthetic.volumes import DailyVolumes

# Real customer ids count up from 1. These ranges sit far above them, and below 2**31
# so the column stays a 32-bit int: malformed lines take spare ids, orphan orders take
# orphan ids, and neither range ever appears as a real customer.
SPARE_CUSTOMER_ID_BASE = 800_000_000
ORPHAN_CUSTOMER_ID_BASE = 900_000_000
ORPHAN_CUSTOMER_ID_SPAN = 99_999_999

SOURCE = LandingSource(
    name="warehouse_customers",
    file_format="csv",
    key_field="customer_id",
    file_name="customers_cdc.csv",
    malformed_kinds=(MalformedKind.MISSING_KEY, MalformedKind.INVALID_UTF8),
    spare_key=lambda rng, day_index, n: SPARE_CUSTOMER_ID_BASE + day_index * 10_000 + n,
    invalid_utf8_field="first_name",
    invalid_utf8_values=LATIN1_FIRST_NAMES,
)
COLUMNS = ("op", "customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")
SEGMENTS = ("consumer", "smb", "enterprise")
SEGMENT_WEIGHTS = (70, 25, 5)
CHANGEABLE_ATTRIBUTES = ("country", "email", "segment")


@dataclass(frozen=True)
class CustomerDay:
    landing: SourceDay
    # Customers an order or session of this day may reference: existing at the start of
    # the day and not deleted during it, so a point-in-time join at any moment of the
    # day finds a valid version.
    referenceable_ids: tuple[int, ...]


def daily_customers(start: dt.date, days: int, volumes: DailyVolumes, seed: int) -> Iterator[CustomerDay]:
    live: dict[int, dict[str, str]] = {}
    next_id = 1
    for day_index in range(days):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        rows: list[Record] = []
        if day_index == 0:
            snapshot_at = at_second(day, 0)
            for _ in range(volumes.customers_initial):
                live[next_id] = _new_customer(rng, next_id)
                rows.append(_cdc_row("I", next_id, live[next_id], snapshot_at))
                next_id += 1
            yield CustomerDay(SourceDay(tuple(rows), COLUMNS), tuple(live))
            continue

        existing = sorted(live)
        # Never delete the last customer: orders and sessions need someone to reference.
        deleted_count = min(volumes.customers_deleted, len(existing) - 1)
        changed_count = min(volumes.customers_updated + deleted_count, len(existing))
        changed = rng.sample(existing, changed_count)
        deleted = set(changed[changed_count - deleted_count :])
        for customer_id in changed[: changed_count - deleted_count]:
            live[customer_id] = _changed_customer(rng, customer_id, live[customer_id])
            rows.append(_cdc_row("U", customer_id, live[customer_id], random_moment(rng, day)))
        for customer_id in sorted(deleted):
            rows.append(_cdc_row("D", customer_id, live.pop(customer_id), random_moment(rng, day)))
        for _ in range(volumes.customers_new):
            live[next_id] = _new_customer(rng, next_id)
            rows.append(_cdc_row("I", next_id, live[next_id], random_moment(rng, day)))
            next_id += 1
        rows.sort(key=lambda row: (row["updated_at"], row["customer_id"]))
        referenceable = tuple(customer_id for customer_id in existing if customer_id not in deleted)
        yield CustomerDay(SourceDay(tuple(rows), COLUMNS), referenceable)


def _new_customer(rng: random.Random, customer_id: int) -> dict[str, str]:
    first_name, last_name = random_person(rng)
    return {
        "first_name": first_name,
        "last_name": last_name,
        "email": email_for(first_name, last_name, customer_id, rng.choice(EMAIL_DOMAINS)),
        "country": rng.choice(COUNTRIES),
        "segment": rng.choices(SEGMENTS, weights=SEGMENT_WEIGHTS)[0],
    }


def _changed_customer(rng: random.Random, customer_id: int, current: dict[str, str]) -> dict[str, str]:
    attribute = rng.choice(CHANGEABLE_ATTRIBUTES)
    changed = dict(current)
    if attribute == "email":
        # Another domain, so the update always changes the value.
        current_domain = current["email"].rsplit("@", 1)[1]
        domain = rng.choice([domain for domain in EMAIL_DOMAINS if domain != current_domain])
        changed["email"] = email_for(current["first_name"], current["last_name"], customer_id, domain)
    else:
        choices = COUNTRIES if attribute == "country" else SEGMENTS
        changed[attribute] = rng.choice([value for value in choices if value != current[attribute]])
    return changed


def _cdc_row(op: str, customer_id: int, attributes: dict[str, str], moment: dt.datetime) -> Record:
    return {"op": op, "customer_id": customer_id, **attributes, "updated_at": sql_timestamp(moment)}
