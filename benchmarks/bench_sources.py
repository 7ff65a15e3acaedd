"""Each source connector's extraction vs the plain client reading the same rows.

    .venv/bin/python benchmarks/bench_sources.py [--scale 10] [--repeat 3]

One generated day (`plan_days`) is fed by the feeders into a PostgreSQL, a Kafka broker
and the CRM API of a private home, beside a fresh REST catalog (ports 31xxx). Then, for
each server-backed source, in rounds (round 0 warms up and is discarded):

- extract: the connector's `extract(...)` from position None, its rows materialized
  (a Spark `noop` write of every column);
- extract+commit: `extract(...)` then `commit_rows` into `bronze.<source>`, as
  `ingest_source` does (without the contract check);
- Spark floor: Spark's own reader on the same data, every column materialized the same
  way (JDBC `SELECT *`, Kafka earliest to latest; for the API, `createDataFrame` of the
  plain client's rows): what any Spark path pays, before the connector's own work;
- plain: the client without Spark: psycopg 3 `COPY (SELECT * ...) TO STDOUT` (CSV) into a
  pyarrow Table; a confluent-kafka Consumer from earliest to the end of each partition
  into a pyarrow Table; httpx2 paging through the CRM API's search, with the connector's
  page size and keyset filter (the search refuses to page past 10,000 results), into a
  pyarrow Table.

Every path must read the same number of rows, or the script stops. rows/s are medians
of `--repeat` rounds; the ratio is ours/plain in rows/s (the issue's goal: at least 0.5).
The SparkSession starts once, before the rounds, and is not timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402
import psycopg  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

from catalog import postgres, services  # noqa: E402
from catalog.kafka_broker import client_config  # noqa: E402
from catalog.settings import LakehouseSettings, load_settings  # noqa: E402
from catalog.spark_session import spark_session  # noqa: E402
from ingestion.sources import http_api, jdbc, kafka  # noqa: E402
from ingestion.sources.commit import commit_rows  # noqa: E402
from ingestion.sources.declarations import load_sources  # noqa: E402
from ingestion.synthetic import plan_days  # noqa: E402
from ingestion.synthetic.feeds import crm_api as crm_feed  # noqa: E402
from ingestion.synthetic.feeds import kafka as kafka_feed  # noqa: E402
from ingestion.synthetic.feeds import postgres as postgres_feed  # noqa: E402

DAY = dt.date(2026, 1, 1)
SEED = 1
EXTRACTORS = {"jdbc": jdbc.extract, "kafka": kafka.extract, "http": http_api.extract}
PLAIN_CLIENT = {
    "jdbc": "psycopg COPY -> pyarrow",
    "kafka": "confluent-kafka Consumer -> pyarrow",
    "http": "httpx2 search paging -> pyarrow",
}
KAFKA_BATCH = 10_000
# consume() waits this long for a full batch: short, or the last partial batch of a topic would sit out the wait.
KAFKA_POLL_SECONDS = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".lakehouse" / "cache", help="the JVM artifact cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sources-") as work:
        # Reachable by PostgreSQL's OS user when we run as root, so the cluster stays in the home.
        os.chmod(work, 0o755)
        settings = load_settings(
            home=Path(work) / "home",
            cache_dir=args.cache_dir,
            catalog={"port": 31181, "name": "benchsrc"},
            postgres={"port": 31433},
            kafka={"port": 31092, "controller_port": 31093},
            crm_api={"port": 31099},
            spark={"shuffle_partitions": 2},
        )
        started = time.monotonic()
        services.up(settings, only=["rest-catalog", "postgres", "kafka", "crm-api"])
        try:
            print(f"services up in {time.monotonic() - started:.1f} s", flush=True)
            started = time.monotonic()
            feed(settings, args.scale)
            print(f"scale {args.scale}: one day fed in {time.monotonic() - started:.1f} s", flush=True)
            spark = spark_session(settings, app_name="bench-sources")
            results, load = measure(spark, settings, args.repeat)
        finally:
            services.down(settings)
    report(results, args.scale, args.repeat, load)


def feed(settings: LakehouseSettings, scale: float) -> None:
    (planned,) = plan_days(DAY, 1, scale, SEED)
    for feeder in (postgres_feed, kafka_feed, crm_feed):
        feeder.feed_day(settings, planned)


# --- One round of each path ----------------------------------------------------


def ours(spark: SparkSession, settings: LakehouseSettings, source, *, commit: bool) -> int:
    """The connector from position None; its rows materialized, or committed to Bronze."""
    # A batch id of its own per round: the API connector keeps a batch's pages and would skip rewriting them.
    batch_id = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    extract = EXTRACTORS[source.kind](
        spark, settings, source, None, batch_id=batch_id, ingested_at=dt.datetime.now(dt.UTC), day=DAY
    )
    if commit:
        written = commit_rows(spark, settings, source.name, extract.rows, extract.position)
        assert written == extract.rows_read, (source.name, written, extract.rows_read)
    else:
        materialize(extract.rows)
    return extract.rows_read


def materialize(frame: DataFrame) -> None:
    """Compute every column of every row, keep nothing."""
    frame.write.format("noop").mode("overwrite").save()


def spark_floor(spark: SparkSession, settings: LakehouseSettings, source) -> int:
    """Spark's own reader on the same data, every column materialized: the cost of any Spark path."""
    if source.kind == "jdbc":
        frame = (
            spark.read.format("jdbc")
            .option("url", postgres.jdbc_url(settings, source.database))
            .option("driver", jdbc.DRIVER)
            .option("user", settings.postgres.user)
            .option("password", postgres.password(settings))
            .option("fetchsize", str(jdbc.FETCH_SIZE))
            .option("dbtable", source.table)
            .load()
        )
    elif source.kind == "kafka":
        frame = (
            spark.read.format("kafka")
            .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
            .option("subscribe", source.topic)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
        )
    else:
        table = plain_http(settings, source)
        schema = T.StructType([T.StructField(name, T.StringType()) for name in table.column_names])
        frame = spark.createDataFrame([tuple(row.values()) for row in table.to_pylist()], schema)
    frame = frame.cache()
    materialize(frame)
    rows = frame.count()
    frame.unpersist()
    return rows


def plain(settings: LakehouseSettings, source) -> int:
    if source.kind == "jdbc":
        return plain_jdbc(settings, source).num_rows
    if source.kind == "kafka":
        return plain_kafka(settings, source).num_rows
    return plain_http(settings, source).num_rows


def plain_jdbc(settings: LakehouseSettings, source) -> pa.Table:
    """`COPY (SELECT * FROM <table>) TO STDOUT` as CSV, parsed by pyarrow with every column as text."""
    schema, table = jdbc.table_parts(source.table)
    buffer = io.BytesIO()
    with psycopg.connect(**postgres.connection_kwargs(settings, source.database)) as connection:  # type: ignore[arg-type]
        query = f'COPY (SELECT * FROM "{schema}"."{table}") TO STDOUT (FORMAT csv, HEADER true)'
        with connection.cursor().copy(query) as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    header = buffer.readline().decode().strip().split(",")
    buffer.seek(0)
    return pa_csv.read_csv(
        buffer,
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True),
    )


def plain_kafka(settings: LakehouseSettings, source) -> pa.Table:
    """Every message of the topic, earliest to the end each partition has now."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(source.topic, timeout=10).topics[source.topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(source.topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(source.topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = {p for p, end in ends.items() if end > 0}
        columns: dict[str, list] = {"partition": [], "offset": [], "key": [], "value": []}
        while pending:
            for message in consumer.consume(KAFKA_BATCH, timeout=KAFKA_POLL_SECONDS):
                if message.error() is not None:
                    raise RuntimeError(message.error().str())
                partition, offset = message.partition(), message.offset()
                if offset >= ends[partition]:
                    continue
                columns["partition"].append(partition)
                columns["offset"].append(offset)
                columns["key"].append(message.key())
                columns["value"].append(message.value())
                if offset == ends[partition] - 1:
                    pending.discard(partition)
    finally:
        consumer.close()
    return pa.table(
        {
            "partition": pa.array(columns["partition"], pa.int32()),
            "offset": pa.array(columns["offset"], pa.int64()),
            "key": pa.array(columns["key"], pa.binary()),
            "value": pa.array(columns["value"], pa.binary()),
        }
    )


def plain_http(settings: LakehouseSettings, source) -> pa.Table:
    """The search endpoint, page by page in (modified date, id) order, each page asking for what follows the last."""
    properties = list(http_api.COLUMNS[source.object_type].values())
    token = (settings.home / "secrets" / "crm-api" / "token").read_text().strip()
    modified = source.cursor_property
    until = {"propertyName": modified, "operator": "LT", "value": str(time.time_ns() // 1_000_000)}
    groups = [{"filters": [until]}]
    records: list[dict] = []
    with httpx2.Client(base_url=settings.crm_api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while True:
            body = {
                "filterGroups": groups,
                "sorts": [
                    {"propertyName": modified, "direction": "ASCENDING"},
                    {"propertyName": "hs_object_id", "direction": "ASCENDING"},
                ],
                "properties": properties,
                "limit": source.page_size,
            }
            response = client.post(f"/crm/v3/objects/{source.object_type}/search", json=body)
            response.raise_for_status()
            answer = response.json()
            page = answer["results"]
            records.extend(page)
            if not page or "next" not in (answer.get("paging") or {}):
                break
            last_ms = str(round(dt.datetime.fromisoformat(page[-1]["updatedAt"]).timestamp() * 1000))
            groups = [
                {"filters": [{"propertyName": modified, "operator": "EQ", "value": last_ms},
                             {"propertyName": "hs_object_id", "operator": "GT", "value": page[-1]["id"]}, until]},
                {"filters": [{"propertyName": modified, "operator": "GT", "value": last_ms}, until]},
            ]
    rows = [
        {name: (r["properties"].get(name) if isinstance(r["properties"], dict) else None) for name in properties} for r in records
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in properties]))


# --- Rounds and the report -------------------------------------------------------

PATHS = ("extract", "extract+commit", "spark floor", "plain")


def measure(spark: SparkSession, settings: LakehouseSettings, repeat: int) -> tuple[dict, tuple]:
    """{source: {"rows", "kind", path: [seconds per timed round]}}, and the load averages at start and end."""
    sources = [s for s in load_sources(settings).values() if s.kind in EXTRACTORS]

    def runs(source) -> dict[str, Callable[[], int]]:
        return {
            "extract": lambda: ours(spark, settings, source, commit=False),
            "extract+commit": lambda: ours(spark, settings, source, commit=True),
            "spark floor": lambda: spark_floor(spark, settings, source),
            "plain": lambda: plain(settings, source),
        }

    results: dict[str, dict] = {s.name: {"kind": s.kind, **{p: [] for p in PATHS}} for s in sources}
    load_start = os.getloadavg()
    for round_number in range(repeat + 1):  # round 0 warms up
        for source in sources:
            for path, run in runs(source).items():
                started = time.monotonic()
                rows = run()
                seconds = time.monotonic() - started
                expected = results[source.name].setdefault("rows", rows)
                if rows != expected:
                    raise SystemExit(f"{source.name}: {path} read {rows} rows, another path {expected}: not comparable")
                if round_number:
                    results[source.name][path].append(seconds)
        print(f"round {round_number} done (load {os.getloadavg()[0]:.1f})", flush=True)
    return results, (load_start, os.getloadavg())


def report(results: dict, scale: float, repeat: int, load: tuple) -> None:
    print(f"\none day at scale {scale:g}, median of {repeat} rounds after a warm-up; rows/s (median s)")
    print("| source | kind | rows | extract | extract+commit | Spark floor | plain client | ratio extract/plain | ratio extract+commit/plain |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        rows = result["rows"]
        medians = {path: statistics.median(result[path]) for path in PATHS}
        cells = [f"{rows / medians[p]:,.0f} ({medians[p]:.2f})" for p in PATHS]
        ratios = [medians["plain"] / medians[p] for p in ("extract", "extract+commit")]
        print(f"| {name} | {result['kind']} | {rows:,} | {' | '.join(cells)} | {ratios[0]:.3f} | {ratios[1]:.3f} |")
    print("\nplain clients: " + "; ".join(f"{kind}: {client}" for kind, client in PLAIN_CLIENT.items()))
    (start_1, start_5, _), (end_1, end_5, _) = load
    print(f"load average (1 min, 5 min): {start_1:.1f}, {start_5:.1f} at the first round; {end_1:.1f}, {end_5:.1f} at the end")
    print("runs s: " + "; ".join(f"{name} {p} " + ",".join(f"{s:.2f}" for s in r[p]) for name, r in results.items() for p in PATHS))


if __name__ == "__main__":
    main()
