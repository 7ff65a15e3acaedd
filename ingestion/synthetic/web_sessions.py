"""Customer behaviour sessions from the web analytics tool: one CSV per day, sorted by start.

Anonymous visitors have an empty customer_id. Sessions start and end on the same day
(they start at least an hour before midnight and last under an hour).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import SECONDS_PER_DAY, at_second, sql_timestamp
from ingestion.synthetic.volumes import DailyVolumes


def random_uuid(rng: random.Random) -> str:
    """A UUID4-shaped id from a seeded stream: uuid.uuid4() would break determinism."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


SOURCE = LandingSource(
    name="web_sessions",
    file_format="csv",
    key_field="session_id",
    file_name="sessions.csv",
    malformed_kinds=(MalformedKind.BAD_TYPE, MalformedKind.MISSING_KEY),
    spare_key=lambda rng, day_index, n: random_uuid(rng),
    bad_type_field="pages",
    bad_value=lambda rng: rng.choice(("seven", "3.5", "12x")),
)
COLUMNS = ("session_id", "customer_id", "started_at", "ended_at", "pages", "device", "channel")
ANONYMOUS_SHARE = 0.3
DEVICES = ("desktop", "mobile", "tablet")
DEVICE_WEIGHTS = (45, 45, 10)
CHANNELS = ("organic", "paid_search", "email", "social", "direct")
MAX_SESSION_SECONDS = 3_600
SECONDS_PER_PAGE = (15, 179)


@dataclass(frozen=True)
class Session:
    session_id: str
    customer_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime
    pages: int


@dataclass(frozen=True)
class SessionsDay:
    landing: SourceDay
    sessions: tuple[Session, ...]


def daily_sessions(
    start: dt.date,
    days: int,
    volumes: DailyVolumes,
    seed: int,
    referenceable_customers: Iterable[Sequence[int]],
) -> Iterator[SessionsDay]:
    for day_index, customer_ids in zip(range(days), referenceable_customers, strict=True):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        sessions: list[Session] = []
        records: list[Record] = []
        for _ in range(volumes.sessions):
            session_id = random_uuid(rng)
            is_anonymous = rng.random() < ANONYMOUS_SHARE
            customer_id = None if is_anonymous else rng.choice(customer_ids)
            # Mostly 1-5 pages; one session in five browses up to 15 more (about 4.5 on average).
            pages = 1 + rng.randint(0, 4) + rng.randint(0, 15) * (rng.random() < 0.2)
            started_at = at_second(day, rng.randint(0, SECONDS_PER_DAY - MAX_SESSION_SECONDS - 1))
            ended_at = started_at + dt.timedelta(seconds=pages * rng.randint(*SECONDS_PER_PAGE))
            sessions.append(Session(session_id, customer_id, started_at, ended_at, pages))
            records.append(
                {
                    "session_id": session_id,
                    "customer_id": customer_id,
                    "started_at": sql_timestamp(started_at),
                    "ended_at": sql_timestamp(ended_at),
                    "pages": pages,
                    "device": rng.choices(DEVICES, weights=DEVICE_WEIGHTS)[0],
                    "channel": rng.choice(CHANNELS),
                }
            )
        records.sort(key=lambda record: (str(record["started_at"]), str(record["session_id"])))
        yield SessionsDay(SourceDay(tuple(records), COLUMNS), tuple(sessions))
