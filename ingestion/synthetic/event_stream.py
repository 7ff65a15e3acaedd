"""The clickstream topic dumped once a day: JSON lines with Kafka-like partition and offset.

Events are derived from the day's sessions (a page_view per page, then maybe
add_to_cart -> checkout -> purchase). The topic is keyed by session_id, so a session
stays in one partition. A dump holds what arrived that day, in arrival order:
partitions interleave and clients send with a delay, so `event_time` is not sorted.
Offsets count up per partition across dumps. A share of events arrives 1-2 days late,
in a later day's dump.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import LateArrival, LateKind, MalformedKind
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.timestamps import SECONDS_PER_DAY, at_second, iso_utc_millis
from ingestion.synthetic.web_sessions import Session, random_uuid

SOURCE = LandingSource(
    name="events",
    file_format="jsonl",
    key_field="event_id",
    file_name="dump.jsonl",
    malformed_kinds=(MalformedKind.TRUNCATED_JSON,),
    spare_key=lambda rng, day_index, n: random_uuid(rng),
)
COLUMNS = ("event_id", "event_type", "event_time", "session_id", "customer_id", "page", "partition", "offset")
PARTITIONS = 4
MAX_SEND_DELAY_MS = 120_000
MAX_LATENESS_DAYS = 2
# (event_type, page) of the funnel steps after browsing, in order.
FUNNEL = (("add_to_cart", "/cart"), ("checkout", "/checkout"), ("purchase", "/checkout/complete"))
# Share of sessions adding to cart; of those, share checking out; of those, share buying.
ADD_TO_CART_SHARE = 0.3
CHECKOUT_SHARE = 0.5
PURCHASE_SHARE = 0.8
PRODUCT_PAGES = 500


def partition_for(session_id: str) -> int:
    # crc32, not hash(): hash() of a str differs between processes.
    return zlib.crc32(session_id.encode()) % PARTITIONS


def daily_events(
    start: dt.date,
    days: int,
    seed: int,
    rates: ProblemRates,
    sessions_by_day: Iterable[Sequence[Session]],
) -> Iterator[SourceDay]:
    in_flight: dict[int, list[tuple[dt.datetime, str, int, dt.date, Record]]] = defaultdict(list)
    next_offset = [0] * PARTITIONS
    for day_index, sessions in zip(range(days), sessions_by_day, strict=True):
        day = start + dt.timedelta(days=day_index)
        rng = rng_for(seed, SOURCE.name, day_index, "records")
        for session in sessions:
            partition = partition_for(session.session_id)
            for event_time, event in _session_events(rng, session):
                if rng.random() < rates.late_event_rate:
                    arrival_index = day_index + rng.randint(1, MAX_LATENESS_DAYS)
                    arrival = at_second(start + dt.timedelta(days=arrival_index), rng.randint(0, SECONDS_PER_DAY - 1))
                else:
                    arrival_index = day_index
                    arrival = event_time + dt.timedelta(milliseconds=int(rng.random() * MAX_SEND_DELAY_MS))
                # (arrival, event_id) orders the dump; the broker assigns partition offsets on arrival.
                in_flight[arrival_index].append((arrival, event["event_id"], partition, day, event))

        records: list[Record] = []
        late: list[LateArrival] = []
        for _, event_id, partition, original_day, event in sorted(in_flight.pop(day_index, [])):
            records.append({**event, "partition": partition, "offset": next_offset[partition]})
            next_offset[partition] += 1
            if original_day != day:
                late.append(LateArrival(str(event_id), LateKind.LATE_EVENT, original_day, day))
        yield SourceDay(tuple(records), COLUMNS, late_arrivals=tuple(late))


def _session_events(rng: random.Random, session: Session) -> list[tuple[dt.datetime, Record]]:
    """Events within the session's bounds: page views, then the funnel steps the visitor reached."""
    duration_ms = int((session.ended_at - session.started_at).total_seconds() * 1000)
    # int(random() * n) rather than randint: this is the hottest loop of a run, and randint is 6x slower.
    page_offsets = sorted(int(rng.random() * duration_ms) for _ in range(session.pages))
    pages = [("page_view", f"/products/{1 + int(rng.random() * PRODUCT_PAGES)}") for _ in page_offsets]
    steps_reached = 0
    for share in (ADD_TO_CART_SHARE, CHECKOUT_SHARE, PURCHASE_SHARE):
        if rng.random() >= share:
            break
        steps_reached += 1
    last_page = page_offsets[-1]
    funnel_offsets = sorted(last_page + int(rng.random() * (duration_ms - last_page)) for _ in range(steps_reached))
    timeline = [*zip(page_offsets, pages), *zip(funnel_offsets, FUNNEL[:steps_reached])]
    events = []
    for offset_ms, (event_type, page) in timeline:
        moment = session.started_at + dt.timedelta(milliseconds=offset_ms)
        record: Record = {
            "event_id": random_uuid(rng),
            "event_type": event_type,
            "event_time": iso_utc_millis(moment),
            "session_id": session.session_id,
            "customer_id": session.customer_id,
            "page": page,
        }
        events.append((moment, record))
    return events
