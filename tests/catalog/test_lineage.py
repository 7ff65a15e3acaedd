"""OpenLineage events through the library's real transports: a file, and HTTP to a local server."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from catalog import engine_config
from catalog.artifacts import OPENLINEAGE_SPARK_PACKAGE
from catalog.errors import ConfigError
from catalog.lineage import Lineage, dbt_artifacts, dbt_events, input_path, output_statistics, output_table, run_uuid
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings, load_settings

DAY = dt.date(2026, 3, 5)


@pytest.fixture
def settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(home=tmp_path / "home")


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_job_is_a_start_and_a_complete_with_its_datasets(settings: LakehouseSettings, tmp_path: Path) -> None:
    lineage = Lineage.from_settings(settings)
    landing = tmp_path / "landing" / "orders"
    with lineage.job("bronze.orders", inputs=[input_path(landing)], day=DAY) as run:
        run.outputs = [
            output_table(settings, TableName(BRONZE, "orders"), columns=[("order_id", "string")], outputStatistics=output_statistics(7))
        ]

    start, complete = _events(settings.home / "lineage" / "events.jsonl")
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert start["job"] == {**start["job"], "namespace": "lakehouse", "name": "bronze.orders"}
    assert start["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith("2026-03-05T00:00:00")
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [("file", str(landing))]
    assert start["outputs"] == []  # outputs are known when the job ends
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("http://127.0.0.1:8181", "bronze.orders")
    assert [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]] == [("order_id", "string")]
    assert output["facets"]["symlinks"]["identifiers"][0]["name"] == "iceberg.bronze.orders"
    assert output["facets"]["symlinks"]["identifiers"][0]["namespace"] == "trino://127.0.0.1:8080"
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 7


def test_a_failing_job_ends_with_fail_and_its_error(settings: LakehouseSettings) -> None:
    lineage = Lineage.from_settings(settings)
    with pytest.raises(ValueError, match="bad batch"):
        with lineage.job("silver.orders"):
            raise ValueError("bad batch")

    start, fail = _events(settings.lineage.file)
    assert [start["eventType"], fail["eventType"]] == ["START", "FAIL"]
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: bad batch"
    assert error["programmingLanguage"] == "python"
    assert "raise ValueError" in error["stackTrace"]


def test_child_jobs_name_their_parent_and_root_run(settings: LakehouseSettings) -> None:
    lineage = Lineage.from_settings(settings)
    parent_id = run_uuid("0" * 31 + "1")
    with lineage.job("pipeline.run", run_id=parent_id) as parent:
        day = lineage.child(parent)
        with day.job("gold.dbt_build") as build:
            with day.child(build).job("gold.fct_orders"):
                pass

    events = _events(settings.lineage.file)
    by_job = {(e["job"]["name"], e["eventType"]): e for e in events}
    assert [e["eventType"] for e in events] == ["START", "START", "START", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert "parent" not in by_job[("pipeline.run", "START")]["run"]["facets"]
    build_parent = by_job[("gold.dbt_build", "COMPLETE")]["run"]["facets"]["parent"]
    assert build_parent["run"]["runId"] == parent_id == "00000000-0000-0000-0000-000000000001"
    assert (build_parent["job"]["namespace"], build_parent["job"]["name"]) == ("lakehouse", "pipeline.run")
    model_parent = by_job[("gold.fct_orders", "COMPLETE")]["run"]["facets"]["parent"]
    assert model_parent["job"]["name"] == "gold.dbt_build"
    assert model_parent["root"]["run"]["runId"] == parent_id


def test_disabled_lineage_writes_nothing(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, lineage={"enabled": False})
    with Lineage.from_settings(settings).job("bronze.orders"):
        pass
    assert not settings.lineage.file.exists()


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str | None, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list]]:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Collector.received
    server.shutdown()
    server.server_close()


def test_http_transport_posts_each_event_with_the_api_key(tmp_path: Path, collector: tuple[str, list]) -> None:
    url, received = collector
    settings = load_settings(home=tmp_path, lineage={"transport": "http", "url": url, "api_key": "s3cret"})
    with Lineage.from_settings(settings).job("silver.orders"):
        pass
    assert [(path, auth, event["eventType"]) for path, auth, event in received] == [
        ("/api/v1/lineage", "Bearer s3cret", "START"),
        ("/api/v1/lineage", "Bearer s3cret", "COMPLETE"),
    ]
    assert not (tmp_path / "lineage").exists()


def test_http_transport_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="LAKEHOUSE_LINEAGE__URL"):
        load_settings(lineage={"transport": "http"})


def test_a_transport_that_fails_does_not_stop_the_job(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    unwritable = tmp_path / "events.jsonl"
    unwritable.mkdir()  # the file transport cannot open a directory for appending
    lineage = Lineage.from_settings(load_settings(home=tmp_path, lineage={"file": unwritable}))
    ran = []
    with lineage.job("bronze.orders"):
        ran.append("bronze.orders")
    with lineage.job("silver.orders"):
        ran.append("silver.orders")
    assert ran == ["bronze.orders", "silver.orders"]
    warnings = [record.getMessage() for record in caplog.records if "OpenLineage" in record.getMessage()]
    assert len(warnings) == 1, "warned once, not per event"
    assert "not delivered" in warnings[0]


# --- Spark listener conf -----------------------------------------------------


def test_spark_listener_is_off_by_default(settings: LakehouseSettings) -> None:
    conf = engine_config.spark_conf(settings, engine_config.local_endpoints(settings))
    assert "spark.extraListeners" not in conf
    assert OPENLINEAGE_SPARK_PACKAGE not in conf["spark.jars.packages"]


def test_spark_listener_writes_its_own_file_or_to_the_same_http_backend(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, lineage={"spark_listener": True})
    conf = engine_config.spark_conf(settings, engine_config.local_endpoints(settings))
    assert conf["spark.extraListeners"] == "io.openlineage.spark.agent.OpenLineageSparkListener"
    assert conf["spark.jars.packages"].split(",")[-1] == OPENLINEAGE_SPARK_PACKAGE
    assert conf["spark.openlineage.transport.type"] == "file"
    assert conf["spark.openlineage.transport.location"] == str(tmp_path / "lineage" / "spark-events.jsonl")
    assert conf["spark.openlineage.namespace"] == "lakehouse"

    http = load_settings(home=tmp_path, lineage={"spark_listener": True, "transport": "http", "url": "http://m:5000", "api_key": "k"})
    conf = engine_config.spark_conf(http, engine_config.local_endpoints(http))
    assert (conf["spark.openlineage.transport.type"], conf["spark.openlineage.transport.url"]) == ("http", "http://m:5000")
    assert (conf["spark.openlineage.transport.auth.type"], conf["spark.openlineage.transport.auth.apiKey"]) == ("api_key", "k")


# --- dbt artifacts -------------------------------------------------------------

INVOCATION = "d650eb67-0688-4f60-a619-9bc29b42a77c"


def _manifest() -> dict:
    """The parts of a dbt 1.11 manifest.json the events read, as dbt writes them."""

    def model(name: str, schema: str, depends_on: list[str], columns: dict | None = None) -> dict:
        return {
            "unique_id": f"model.lakehouse.{name}", "resource_type": "model", "name": name, "alias": name,
            "database": "iceberg", "schema": schema, "depends_on": {"macros": [], "nodes": depends_on},
            "columns": columns or {},
        }

    return {
        "metadata": {"invocation_id": INVOCATION},
        "sources": {
            "source.lakehouse.warehouse.orders": {
                "unique_id": "source.lakehouse.warehouse.orders", "resource_type": "source", "name": "orders",
                "identifier": "orders", "database": "iceberg", "schema": "silver",
            }
        },
        "nodes": {
            "model.lakehouse.stg_warehouse__orders": model(
                "stg_warehouse__orders", "gold_staging", ["source.lakehouse.warehouse.orders"]
            ),
            "model.lakehouse.fct_orders": model(
                "fct_orders", "gold", ["model.lakehouse.stg_warehouse__orders"],
                {"order_id": {"name": "order_id", "data_type": "bigint"}, "note": {"name": "note", "data_type": None}},
            ),
            "model.lakehouse.customer_360": model("customer_360", "gold", ["model.lakehouse.fct_orders"]),
            "test.lakehouse.unique_fct_orders_order_id.1": {
                "unique_id": "test.lakehouse.unique_fct_orders_order_id.1", "resource_type": "test",
                "name": "unique_fct_orders_order_id", "attached_node": "model.lakehouse.fct_orders",
                "column_name": "order_id", "test_metadata": {"name": "unique"}, "config": {"severity": "ERROR"},
            },
        },
    }


def _result(unique_id: str, status: str, rows: int = -1, message: str | None = None) -> dict:
    return {
        "unique_id": unique_id, "status": status, "message": message,
        "adapter_response": {"rows_affected": rows},
        "timing": [
            {"name": "compile", "started_at": "2026-11-25T23:12:17.387714Z", "completed_at": "2026-11-25T23:12:17.406982Z"},
            {"name": "execute", "started_at": "2026-11-25T23:12:17.408006Z", "completed_at": "2026-11-25T23:12:18.237740Z"},
        ],
    }


def _run_results(*results: dict) -> dict:
    return {"metadata": {"invocation_id": INVOCATION}, "results": list(results)}


def test_each_model_dbt_ran_is_a_run_from_its_inputs_to_its_relation(settings: LakehouseSettings) -> None:
    run_results = _run_results(
        _result("model.lakehouse.stg_warehouse__orders", "success"),
        _result("model.lakehouse.fct_orders", "success", rows=42),
        _result("test.lakehouse.unique_fct_orders_order_id.1", "fail"),
        _result("model.lakehouse.customer_360", "skipped"),
    )
    events = [json.loads(Serde.to_json(e)) for e in dbt_events(settings, Lineage.disabled(), _manifest(), run_results)]

    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("gold.stg_warehouse__orders", "START"), ("gold.stg_warehouse__orders", "COMPLETE"),
        ("gold.fct_orders", "START"), ("gold.fct_orders", "COMPLETE"),
    ]  # customer_360 was skipped: it did not run
    staging, fct = events[1], events[3]
    assert [(d["namespace"], d["name"]) for d in staging["inputs"]] == [("http://127.0.0.1:8181", "silver.orders")]
    assert [d["name"] for d in staging["outputs"]] == ["gold_staging.stg_warehouse__orders"]
    assert [d["name"] for d in fct["inputs"]] == ["gold_staging.stg_warehouse__orders"]
    [output] = fct["outputs"]
    assert output["name"] == "gold.fct_orders"
    assert [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]] == [("order_id", "bigint")]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 42
    [assertion] = output["facets"]["dataQualityAssertions"]["assertions"]
    assert (assertion["assertion"], assertion["column"], assertion["success"]) == ("unique", "order_id", False)
    assert events[2]["eventTime"].startswith("2026-11-25T23:12:17.408006")
    assert fct["eventTime"].startswith("2026-11-25T23:12:18.237740")


def test_a_model_dbt_failed_ends_with_fail(settings: LakehouseSettings) -> None:
    run_results = _run_results(_result("model.lakehouse.stg_warehouse__orders", "error", message="Database Error: boom"))
    start, fail = dbt_events(settings, Lineage.disabled(), _manifest(), run_results)
    assert (start.eventType.value, fail.eventType.value) == ("START", "FAIL")
    assert fail.run.facets["errorMessage"].message == "Database Error: boom"


def test_run_results_of_another_invocation_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(_manifest()))
    (tmp_path / "run_results.json").write_text(json.dumps(_run_results()))
    assert dbt_artifacts(tmp_path) is not None
    stale = {**_run_results(), "metadata": {"invocation_id": "an-earlier-build"}}
    (tmp_path / "run_results.json").write_text(json.dumps(stale))
    assert dbt_artifacts(tmp_path) is None
    assert dbt_artifacts(tmp_path / "missing") is None
