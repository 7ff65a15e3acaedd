"""The generator's days fed into the source servers, as the real systems would hold them.

PostgreSQL (`postgres.py`) for the warehouse tables, Kafka (`kafka.py`) for the event
stream, the CRM API (`crm_api.py`) for contacts and deals. Which source goes to a server
is the sources file's (`ingestion/sources.yml`) kind; file sources, and every source with
`pipeline.sources: files`, stay landing files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import LakehouseError
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


def server_feed(settings: LakehouseSettings, *, world: Mapping[str, object]) -> Feed:
    """A `deliver_days` feed that writes each day's server-backed sources into their servers.

    `world` names the generation (start, scale, seed). The servers keep what they were fed,
    so the feed keeps a ledger of the days fed (`<home>/data/source-feeds.json`): a day fed
    before is not fed again (a second demo run adds no duplicates), and a different world
    is refused, since its ids would collide with the one the servers hold.
    """
    ledger = FeedLedger(settings.data_dir / "source-feeds.json", dict(world))
    by_kind: dict[str, set[str]] = {}
    for name, source in load_sources(settings).items():
        if not reads_landing_files(settings, source):
            by_kind.setdefault(source.kind, set()).add(name)

    def feed(planned: PlannedDay) -> set[str]:
        if ledger.has(planned.day):
            return {name for names in by_kind.values() for name in names}
        fed: set[str] = set()
        for kind, names in sorted(by_kind.items()):
            deliveries = tuple(d for d in planned.deliveries if d.source.name in names)
            if not deliveries:
                continue
            written = importlib.import_module(FEEDERS[kind]).feed_day(settings, dataclasses.replace(planned, deliveries=deliveries))
            # A feeder that reports per source names the ones it knows; the rest stay files.
            fed |= set(written) if isinstance(written, Mapping) else {d.source.name for d in deliveries}
        ledger.add(planned.day)
        return fed

    return feed


class FeedError(LakehouseError):
    """The source servers hold another generated world."""


@dataclass
class FeedLedger:
    """The days fed into the servers, and the world they belong to. A day is recorded once all
    its sources were fed; a crash in the middle of a day feeds that day again, in full."""

    path: Path
    world: dict[str, object]

    def _read(self) -> dict[str, object]:
        try:
            ledger = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"world": self.world, "days": []}
        if ledger["world"] != self.world:
            held = ", ".join(f"{key} {value}" for key, value in ledger["world"].items())
            raise FeedError(
                f"the source servers already hold another generated world ({held}): use the same --start, --scale "
                "and --seed, or a new home (LAKEHOUSE_HOME) for a new world"
            )
        return ledger

    def has(self, day: dt.date) -> bool:
        return day.isoformat() in self._read()["days"]  # type: ignore[operator]

    def add(self, day: dt.date) -> None:
        ledger = self._read()
        ledger["days"] = sorted({*ledger["days"], day.isoformat()})  # type: ignore[misc]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(ledger, indent=1))
        temporary.replace(self.path)
