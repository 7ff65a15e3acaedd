"""The generator's days fed into the source servers, as the real systems would hold them.

PostgreSQL (`postgres.py`) for the warehouse tables, Kafka (`kafka.py`) for the event
stream, the CRM API (`crm_api.py`) for contacts and deals. Which source goes to a server
is the sources file's (`ingestion/sources.yml`) kind; file sources, and every source with
`pipeline.sources: files`, stay landing files.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping

from catalog.settings import LakehouseSettings
from ingestion.sources.declarations import load_sources
from ingestion.sources.job import reads_landing_files
from ingestion.synthetic.generator import Feed, PlannedDay

# Each kind's feeder module, imported on first use: each needs its own client library.
FEEDERS = {
    "jdbc": "ingestion.synthetic.feeds.postgres",
    "kafka": "ingestion.synthetic.feeds.kafka",
    "http": "ingestion.synthetic.feeds.crm_api",
}


def server_feed(settings: LakehouseSettings) -> Feed:
    """A `deliver_days` feed that writes each day's server-backed sources into their servers."""
    by_kind: dict[str, set[str]] = {}
    for name, source in load_sources(settings).items():
        if not reads_landing_files(settings, source):
            by_kind.setdefault(source.kind, set()).add(name)

    def feed(planned: PlannedDay) -> set[str]:
        fed: set[str] = set()
        for kind, names in sorted(by_kind.items()):
            deliveries = tuple(d for d in planned.deliveries if d.source.name in names)
            if not deliveries:
                continue
            written = importlib.import_module(FEEDERS[kind]).feed_day(settings, dataclasses.replace(planned, deliveries=deliveries))
            # A feeder that reports per source names the ones it knows; the rest stay files.
            fed |= set(written) if isinstance(written, Mapping) else {d.source.name for d in deliveries}
        return fed

    return feed
