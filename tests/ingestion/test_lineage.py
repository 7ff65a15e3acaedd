"""One real pipeline day, and one failing day, read back from the OpenLineage file.

The day runs against a REST catalog of its own (own home, warehouse and landing
folder, catalog name `lineage_it`) in the shared Spark session, so its Silver rows
never mix with the 10-day scenario's. Expected jobs come from the entity list and
the generator's report, not from the lineage code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from catalog.lineage import run_uuid
from catalog.settings import LakehouseSettings, load_settings
from ingestion.bronze.errors import BronzeError
from ingestion.operations import record_run
from ingestion.pipeline import DayResult, run_day
from ingestion.silver.entities import load_entities
from ingestion.synthetic import generate_sources
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog

ENTITIES = load_entities(load_settings())

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 5, 1)
CATALOG = "lineage_it"


@pytest.fixture(scope="module")
def own_catalog(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    with own_rest_catalog(spark, tmp_path_factory.mktemp("lineage-home"), CATALOG, TEST_CATALOG_PORT + 7) as settings:
        yield settings


def _events(settings: LakehouseSettings) -> list[dict]:
    return [json.loads(line) for line in settings.lineage.file.read_text().splitlines()]


@pytest.fixture(scope="module")
def one_day(own_catalog: LakehouseSettings, spark) -> tuple[str, DayResult, list[dict]]:
    generate_sources(own_catalog.landing_dir, DAY, 1, scale=0.02, seed=3)
    with record_run(spark, own_catalog, "lineage-test", DAY, DAY) as ops:
        result = run_day(spark, own_catalog, DAY, lineage=ops.lineage)
        ops.day(result)
    return run_uuid(ops.run_id), result, _events(own_catalog)


def test_every_job_of_the_day_is_a_start_and_complete_pair(one_day) -> None:
    run_id, _, events = one_day
    jobs = [f"bronze.{e.source}" for e in ENTITIES] + [f"silver.{e.table}" for e in ENTITIES]
    children = [e for e in events if e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == run_id]
    pairs = {}
    for event in children:
        pairs.setdefault(event["job"]["name"], []).append((event["eventType"], event["run"]["runId"]))
    assert sorted(pairs) == sorted(jobs)
    for job, states in pairs.items():
        assert [state for state, _ in states] == ["START", "COMPLETE"], job
        assert states[0][1] == states[1][1], f"{job}: START and COMPLETE of one run"
    parent = [(e["job"]["name"], e["eventType"]) for e in events if e["run"]["runId"] == run_id]
    assert parent == [("pipeline.lineage-test", "START"), ("pipeline.lineage-test", "COMPLETE")]
    assert [e["job"]["name"] for e in events].index("pipeline.lineage-test") == 0, "the parent starts first"


def test_bronze_reads_landing_files_and_writes_its_table(one_day, own_catalog: LakehouseSettings) -> None:
    _, result, events = one_day
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    for batch in result.bronze:
        event = complete[f"bronze.{batch.source}"]
        [landing] = event["inputs"]
        assert (landing["namespace"], landing["name"]) == ("file", str(own_catalog.landing_dir / batch.source))
        assert landing["inputFacets"]["dataQualityMetrics"]["rowCount"] == batch.rows_read > 0
        [table] = event["outputs"]
        assert (table["namespace"], table["name"]) == (own_catalog.catalog.uri, f"bronze.{batch.source}")
        assert table["outputFacets"]["outputStatistics"]["rowCount"] == batch.rows_written
        columns = {f["name"] for f in table["facets"]["schema"]["fields"]}
        assert {"_batch_id", "_raw_line", "_parse_error"} <= columns


def test_silver_reads_bronze_and_writes_its_table_with_quality(one_day, own_catalog: LakehouseSettings) -> None:
    _, result, events = one_day
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    for entity, commit in zip(ENTITIES, result.silver, strict=True):
        event = complete[f"silver.{entity.table}"]
        names = [d["name"] for d in event["inputs"]]
        assert names[0] == f"bronze.{entity.source}"
        assert event["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] == commit.rows_read
        if entity.converts_to_usd:
            assert "silver.fx_rates" in names
        table, quarantine = event["outputs"]
        assert (table["name"], quarantine["name"]) == (f"silver.{entity.table}", "silver.quarantine")
        quality = table["outputFacets"]["lakehouse_batchQuality"]
        assert (quality["rowsRead"], quality["rowsAccepted"], quality["rowsQuarantined"]) == (
            commit.rows_read, commit.rows_accepted, commit.rows_quarantined
        )
        assert quality["dqScore"] == pytest.approx(commit.dq_score)
        assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == commit.rows_quarantined
        assert {f["name"] for f in table["facets"]["schema"]["fields"]} >= set(entity.keys)
    assert sum(c.rows_quarantined for c in result.silver) > 0, "the generator injects bad rows every day"


def test_a_failing_job_ends_in_fail_for_it_and_its_run(one_day, own_catalog: LakehouseSettings, spark) -> None:
    missing = DAY + dt.timedelta(days=30)  # nothing landed that day
    with pytest.raises(BronzeError, match="no delivery"):
        with record_run(spark, own_catalog, "lineage-fail", missing, missing) as ops:
            run_day(spark, own_catalog, missing, lineage=ops.lineage)
    events = [e for e in _events(own_catalog) if e["run"]["runId"] == run_uuid(ops.run_id)
              or e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == run_uuid(ops.run_id)]
    pairs = [(e["job"]["name"], e["eventType"]) for e in events]
    assert pairs[0] == ("pipeline.lineage-fail", "START") and pairs[-1] == ("pipeline.lineage-fail", "FAIL")
    jobs = pairs[1:-1]
    # Only the jobs submitted at once (the first pipeline.parallel_jobs) start: none is
    # submitted after the failure, and each started one ends in FAIL. Their events may
    # interleave in either order.
    started = [name for name, kind in jobs if kind == "START"]
    assert 1 <= len(started) <= own_catalog.pipeline.parallel_jobs
    assert sorted(started) == sorted(f"bronze.{entity.source}" for entity in ENTITIES[: len(started)])
    assert sorted(name for name, kind in jobs if kind == "FAIL") == sorted(started)
    messages = [e["run"]["facets"].get("errorMessage", {}).get("message", "") for e in events if e["eventType"] == "FAIL"]
    assert any("no delivery" in message for message in messages), messages
    assert events[-1]["run"]["facets"]["errorMessage"]["message"].startswith("BronzeError")  # the run's own FAIL
