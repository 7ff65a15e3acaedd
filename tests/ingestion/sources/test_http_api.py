"""The CRM API source end to end: the real `crm-api` process (started through catalog.services),
the generator's days fed into it, extracted into Bronze on a real REST catalog by Spark.

Ground truth is the generator's delivered rows, read as the API serves them: one object
per id, as last written that day (a duplicate or a redelivery is the same object written
again, served once by the day's search), and each truncated record once, under its spare key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil
import pytest
from pyspark.sql import functions as F

from catalog import services
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze.columns import BATCH_ID, PARSE_ERROR, RAW_LINE
from ingestion.contracts.contract import BRONZE_CONTRACTS, load_contracts
from ingestion.sources.commit import committed_position
from ingestion.sources.http_api import HttpSourceError
from ingestion.sources.job import batch_id_for, ingest_source
from ingestion.synthetic.delivery_problems import Origin
from ingestion.synthetic.feeds.crm_api import CRM_OBJECTS, feed_day
from ingestion.synthetic.generator import PlannedDay, SourceDelivery, plan_days
from ingestion.synthetic.problem_rates import ProblemRates
from tests.conftest import REPO_ROOT, SHARED_CACHE, TEST_CATALOG_PORT, TEST_CRM_API_PORT, own_rest_catalog
from tests.ingestion.sources.crm_sources import HttpSource, crm_source

pytestmark = pytest.mark.integration

CATALOG = "httpcat"
CATALOG_PORT = TEST_CATALOG_PORT + 80
START = dt.date(2026, 1, 1)
SCALE = 0.05
SEED = 11
# Raised so that two small days carry duplicates, redeliveries and truncated records.
RATES = ProblemRates(duplicate_rate=0.3, redelivery_rate=0.3, malformed_rate=0.15)
SPARE_KEY = re.compile(r"(?:ct|dl)_spare_\d{4}_\d{4}")


@pytest.fixture(scope="module")
def catalog(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    with own_rest_catalog(spark, tmp_path_factory.mktemp("http-catalog"), CATALOG, CATALOG_PORT) as own:
        yield own


@pytest.fixture(scope="module")
def days() -> list[PlannedDay]:
    return list(plan_days(START, 2, SCALE, SEED, RATES))


def _settings(home: Path, **crm_api: Any) -> LakehouseSettings:
    return load_settings(
        home=home,
        cache_dir=SHARED_CACHE,
        catalog={"port": CATALOG_PORT, "name": CATALOG},
        crm_api={"port": TEST_CRM_API_PORT, "search_settle_seconds": 0.2, "retry_budget_seconds": 15, **crm_api},
        spark={"driver_memory": "1g", "shuffle_partitions": 2},
    )


@contextmanager
def crm_api(home: Path, **crm_api: Any) -> Iterator[LakehouseSettings]:
    """A `crm-api` process of its own (its own home: its own objects and token)."""
    settings = _settings(home, **crm_api)
    services.up(settings, only=["crm-api"])
    try:
        yield settings
    finally:
        services.down(settings)


def _ingest(spark, settings: LakehouseSettings, source: HttpSource, day: dt.date) -> tuple[int, str]:
    contract = load_contracts(BRONZE_CONTRACTS).table("crm_contacts" if source.object_type == "contacts" else "crm_deals")
    batch = ingest_source(spark, settings, source, day, contract=contract)
    return batch.rows_written, batch.batch_id or ""


def _served(delivery: SourceDelivery) -> tuple[Counter, Counter]:
    """What the day's search serves: every object written that day once, as last written; spare keys of truncated ones."""
    key = CRM_OBJECTS[delivery.source.name].key
    last = {row.record[key]: row for row in delivery.rows}
    records = Counter(tuple(row.record.get(c) for c in delivery.columns) for row in last.values() if row.origin != Origin.MALFORMED)
    truncated = Counter(str(k) for k, row in last.items() if row.origin == Origin.MALFORMED)
    return records, truncated


def _bronze(spark, settings: LakehouseSettings, source: str, columns: tuple[str, ...], batch_id: str | None = None):
    table = spark.table(TableName(BRONZE, source).sql(settings))
    if batch_id is not None:
        table = table.where(F.col(BATCH_ID) == batch_id)
    rows = table.select(*columns, PARSE_ERROR, RAW_LINE).collect()
    records = Counter(tuple(row[c] for c in columns) for row in rows if row[PARSE_ERROR] is None)
    truncated = Counter(
        key for row in rows if row[PARSE_ERROR] is not None for key in SPARE_KEY.findall(json.loads(row[RAW_LINE])["properties"])
    )
    return records, truncated


def _delivery(planned: PlannedDay, name: str) -> SourceDelivery:
    return next(d for d in planned.deliveries if d.source.name == name)


def test_two_days_reach_bronze_as_the_api_serves_them_and_a_replay_adds_nothing(
    spark, catalog: LakehouseSettings, days: list[PlannedDay], tmp_path: Path
) -> None:
    origins: Counter = Counter()
    with crm_api(tmp_path / "api") as settings:
        for planned in days:
            feed_day(settings, planned)
            for source in (crm_source("crm_contacts", "contacts"), crm_source("crm_deals", "deals", page_size=3)):
                delivery = _delivery(planned, source.name)
                origins.update(row.origin for row in delivery.rows)
                written, batch_id = _ingest(spark, settings, source, planned.day)
                expected = _served(delivery)
                assert written == sum(expected[0].values()) + sum(expected[1].values())
                assert _bronze(spark, settings, source.name, delivery.columns, batch_id) == expected
                assert _ingest(spark, settings, source, planned.day)[0] == 0, "a replay adds nothing"
        # Every kind of row was met, and the whole table is the two days' objects, nothing else.
        assert set(origins) == set(Origin), origins
        for name in ("crm_contacts", "crm_deals"):
            columns = _delivery(days[0], name).columns
            both_days = [_served(_delivery(planned, name)) for planned in days]
            expected = (sum((r for r, _ in both_days), Counter()), sum((t for _, t in both_days), Counter()))
            assert _bronze(spark, settings, name, columns) == expected
            pages = list((settings.bronze_dir / name / "pages").rglob("page-*.json"))
            assert len(pages) >= 2 and all(json.loads(page.read_bytes())["results"] for page in pages)


# The child: extract as the job would, then die before the commit.
_CRASH_AFTER_EXTRACT = """
import datetime as dt, json, os, signal, sys, types
from catalog.settings import load_settings
from catalog.spark_session import spark_session
from ingestion.sources.commit import committed_position
from ingestion.sources.http_api import extract
from ingestion.sources.job import batch_id_for

args = json.loads(sys.argv[1])
settings = load_settings(**args["settings"])
source = types.SimpleNamespace(**args["source"])
spark = spark_session(settings, app_name="crash-after-extract")
position = committed_position(settings, source.name)
extracted = extract(
    spark, settings, source, position, batch_id=batch_id_for(source.name, position),
    ingested_at=dt.datetime.now(dt.UTC), day=dt.date.fromisoformat(args["day"]),
)
print(json.dumps({"rows": extracted.rows.count(), "position": extracted.position}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crash_between_extract_and_commit_then_a_rerun_gives_the_same_bronze(
    spark, catalog: LakehouseSettings, days: list[PlannedDay], tmp_path: Path
) -> None:
    source = crm_source("crm_deals_crash", "deals", page_size=4)
    with crm_api(tmp_path / "api") as settings:
        first, second = days
        feed_day(settings, first)
        _ingest(spark, settings, source, first.day)
        before = committed_position(settings, source.name)
        feed_day(settings, second)

        arguments = {
            "settings": {"home": str(settings.home), "cache_dir": str(SHARED_CACHE), "catalog": {"port": CATALOG_PORT, "name": CATALOG},
                         "crm_api": settings.crm_api.model_dump(), "spark": {"driver_memory": "1g", "shuffle_partitions": 2}},
            "source": {**asdict(source), "key": list(source.key)},
            "day": second.day.isoformat(),
        }
        child = _run_and_reap([sys.executable, "-c", _CRASH_AFTER_EXTRACT, json.dumps(arguments)])
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        extracted = json.loads(child.stdout.strip().splitlines()[-1])
        expected = _served(_delivery(second, "crm_deals"))
        assert extracted["rows"] == sum(expected[0].values()) + sum(expected[1].values()) > 0
        assert committed_position(settings, source.name) == before, "nothing was committed"
        pages = settings.bronze_dir / source.name / "pages" / batch_id_for(source.name, before)
        assert sorted(pages.glob("page-*.json")), "the child kept its pages before it died"

        written, batch_id = _ingest(spark, settings, source, second.day)
        assert committed_position(settings, source.name) == extracted["position"]
        columns = _delivery(second, "crm_deals").columns
        assert written == extracted["rows"]
        assert _bronze(spark, settings, source.name, columns, batch_id) == expected
        day_one = _served(_delivery(first, "crm_deals"))
        assert _bronze(spark, settings, source.name, columns) == (day_one[0] + expected[0], day_one[1] + expected[1])


def _run_and_reap(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `command` in a session of its own; afterwards end what it left behind (its Spark JVM)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        leftovers = [p for p in psutil.process_iter() if _in_session(p, process.pid)]
        for leftover in leftovers:
            leftover.kill()
        psutil.wait_procs(leftovers, timeout=30)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _in_session(process: psutil.Process, session: int) -> bool:
    try:
        return os.getsid(process.pid) == session
    except (ProcessLookupError, PermissionError, psutil.Error):
        return False


def test_429_and_500_within_the_budget_are_survived(spark, catalog: LakehouseSettings, days: list[PlannedDay], tmp_path: Path) -> None:
    source = crm_source("crm_contacts_flaky", "contacts", page_size=5)
    with crm_api(tmp_path / "api", rate_limit_every=3, retry_after_seconds=1, fault_every=4) as settings:
        feed_day(settings, days[0])
        written, batch_id = _ingest(spark, settings, source, days[0].day)
        delivery = _delivery(days[0], "crm_contacts")
        assert _bronze(spark, settings, source.name, delivery.columns, batch_id) == _served(delivery)
        log = (settings.run_dir / "crm-api.log").read_text()
        assert '/search HTTP/1.1" 429' in log and '/search HTTP/1.1" 500' in log, "the faults were met"


def test_past_the_budget_nothing_is_committed_and_the_next_run_resumes(
    spark, catalog: LakehouseSettings, days: list[PlannedDay], tmp_path: Path
) -> None:
    source = crm_source("crm_contacts_outage", "contacts", page_size=5)
    home = tmp_path / "api"
    with crm_api(home, fault_every=1, retry_attempts=3) as settings:
        feed_day(settings, days[0])
        with pytest.raises(HttpSourceError) as failed:
            _ingest(spark, settings, source, days[0].day)
        assert str(failed.value).startswith(
            f"crm_contacts_outage: the CRM API at {settings.crm_api.url} answered 500 3 times, past the retry budget: nothing was committed"
        )
        assert committed_position(settings, source.name) is None
    with crm_api(home) as settings:  # the same objects, healthy again
        written, batch_id = _ingest(spark, settings, source, days[0].day)
        delivery = _delivery(days[0], "crm_contacts")
        assert _bronze(spark, settings, source.name, delivery.columns, batch_id) == _served(delivery)


def test_api_down_and_a_wrong_token_are_one_line_naming_the_fix(spark, catalog: LakehouseSettings, tmp_path: Path) -> None:
    source = crm_source("crm_contacts_faults", "contacts")
    with crm_api(tmp_path / "api") as settings:
        token = services.crm_api_token_file(settings)
        assert token.stat().st_mode & 0o777 == 0o600
        token.write_text("not-the-token")
        with pytest.raises(HttpSourceError, match=r"^crm_contacts_faults: the CRM API at \S+ refused the token in \S+ \(401\): restart"):
            _ingest(spark, settings, source, START)
    # Down: nothing listens on the port any more.
    down = _settings(tmp_path / "api", retry_attempts=2)
    with pytest.raises(HttpSourceError, match=r"^crm_contacts_faults: the CRM API at \S+ is not answering .*: start it with `lakehouse up`"):
        _ingest(spark, down, source, START)
    assert committed_position(down, source.name) is None


def test_up_status_and_down_show_the_crm_api(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    try:
        [started] = services.up(settings, only=["crm-api"])
        assert (started.name, started.state, started.url) == ("crm-api", "running", settings.crm_api.url)
        assert ("crm-api", "running") in [(s.name, s.state) for s in services.status(settings)]
        lakehouse = Path(sys.executable).with_name("lakehouse")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
        env |= {"LAKEHOUSE_HOME": str(settings.home), "LAKEHOUSE_CRM_API__PORT": str(settings.crm_api.port), "COLUMNS": "200"}
        shown = subprocess.run([str(lakehouse), "status"], env=env, capture_output=True, text=True, timeout=120)
        assert re.search(rf"crm-api\s+│\s+{re.escape(settings.crm_api.url)}\s+│\s+{started.pid}\s+│\s+running", shown.stdout), shown.stdout
    finally:
        stopped = services.down(settings)
    assert stopped == ["crm-api"]
    assert ("crm-api", "stopped") in [(s.name, s.state) for s in services.status(settings)]
