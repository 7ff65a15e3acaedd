"""CRM contacts as an API export: JSON lines in fixed-size pages, one record per line.

Day 0 delivers every contact (their `updated_at` in the year before the run); later days
deliver contacts created or updated that day, sorted by `updated_at` like an incremental
API export. Contacts are never deleted.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ingestion.synthetic.people import COMPANIES, COUNTRIES, EMAIL_DOMAINS, email_for, random_person
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import SECONDS_PER_DAY, at_second, iso_utc, random_moment
from ingestion.synthetic.volumes import DailyVolumes

# CRM APIs page at 100 at most; 50 gives a normal day several pages, so duplicates
# can straddle pages.
CRM_PAGE_SIZE = 50

SOURCE = LandingSource(
    name="crm_contacts",
    file_format="jsonl",
    key_field="contact_id",
    page_size=CRM_PAGE_SIZE,
    malformed_kinds=(MalformedKind.TRUNCATED_JSON,),
    spare_key=lambda rng, day_index, n: f"ct_spare_{day_index:04d}_{n:04d}",
)
COLUMNS = ("contact_id", "first_name", "last_name", "email", "company", "country", "created_at", "updated_at")
CHANGEABLE_ATTRIBUTES = ("email", "company", "country")
# How far before the run the initial contacts were created.
HISTORY_DAYS = 365


@dataclass(frozen=True)
class ContactDay:
    landing: SourceDay
    # Contacts that existed at the start of the day: the ones a new deal may reference.
    referenceable_ids: tuple[str, ...]


def contact_id_for(number: int) -> str:
    return f"ct_{number:08d}"


def daily_contacts(start: dt.date, days: int, volumes: DailyVolumes, seed: int) -> Iterator[ContactDay]:
    contacts: dict[str, Record] = {}
    for day_index in range(days):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        if day_index == 0:
            for _ in range(volumes.crm_contacts_initial):
                history_start = day - dt.timedelta(days=HISTORY_DAYS)
                created = at_second(history_start, rng.randint(0, HISTORY_DAYS * SECONDS_PER_DAY - 1))
                seconds_until_run = int((at_second(day, 0) - created).total_seconds())
                updated = created + dt.timedelta(seconds=rng.randint(0, seconds_until_run))
                contact = _new_contact(rng, len(contacts) + 1, created, updated)
                contacts[str(contact["contact_id"])] = contact
            records = sorted(contacts.values(), key=_export_order)
            yield ContactDay(SourceDay(tuple(records), COLUMNS), tuple(contacts))
            continue

        existing = tuple(contacts)
        changed: list[Record] = []
        for contact_id in rng.sample(existing, min(volumes.crm_contacts_updated, len(existing))):
            contacts[contact_id] = _changed_contact(rng, contacts[contact_id], random_moment(rng, day))
            changed.append(contacts[contact_id])
        for _ in range(volumes.crm_contacts_new):
            created = random_moment(rng, day)
            contact = _new_contact(rng, len(contacts) + 1, created, created)
            contacts[str(contact["contact_id"])] = contact
            changed.append(contact)
        yield ContactDay(SourceDay(tuple(sorted(changed, key=_export_order)), COLUMNS), existing)


def _export_order(contact: Record) -> tuple[str, str]:
    return str(contact["updated_at"]), str(contact["contact_id"])


def _new_contact(rng: random.Random, number: int, created: dt.datetime, updated: dt.datetime) -> Record:
    first_name, last_name = random_person(rng)
    return {
        "contact_id": contact_id_for(number),
        "first_name": first_name,
        "last_name": last_name,
        "email": email_for(first_name, last_name, number, rng.choice(EMAIL_DOMAINS)),
        "company": rng.choice(COMPANIES),
        "country": rng.choice(COUNTRIES),
        "created_at": iso_utc(created),
        "updated_at": iso_utc(updated),
    }


def _changed_contact(rng: random.Random, contact: Record, updated: dt.datetime) -> Record:
    attribute = rng.choice(CHANGEABLE_ATTRIBUTES)
    changed = dict(contact)
    if attribute == "email":
        number = int(str(contact["contact_id"]).removeprefix("ct_"))
        current_domain = str(contact["email"]).rsplit("@", 1)[1]
        domain = rng.choice([domain for domain in EMAIL_DOMAINS if domain != current_domain])
        changed["email"] = email_for(str(contact["first_name"]), str(contact["last_name"]), number, domain)
    else:
        choices = COMPANIES if attribute == "company" else COUNTRIES
        changed[attribute] = rng.choice([value for value in choices if value != contact[attribute]])
    changed["updated_at"] = iso_utc(updated)
    return changed
