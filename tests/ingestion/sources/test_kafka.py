"""The Kafka source: the generator's event stream fed into a real broker, extracted into Bronze exactly once.

Pure parts (the feeder's messages, the offset plan, the rows from Spark's Kafka frame) are
tested on their own; the rest runs on a real Kafka broker started through
`catalog.services` and a REST catalog of its own. Expected rows come from the generator's
delivered rows (its ground truth), never from the connector.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from pyspark.sql import types as T

from catalog import services
from catalog.errors import ServiceUnreachable
from catalog.kafka_broker import admin_client
from catalog.naming import BRONZE, TableName
from catalog.settings import KafkaSettings, LakehouseSettings, load_settings
from ingestion.bronze.columns import LINE_NUMBER, PARSE_ERROR, RAW_LINE, SOURCE_FILE
from ingestion.bronze.transform import NOT_A_JSON_OBJECT
from ingestion.sources import kafka
from ingestion.sources.commit import commit_rows, committed_position
from ingestion.sources.job import batch_id_for, ingest_source
from ingestion.synthetic.delivery_problems import Origin
from ingestion.synthetic.event_stream import PARTITIONS
from ingestion.synthetic.feeds.kafka import Message, ensure_topic, feed_day, messages, produce
from ingestion.synthetic.generator import PlannedDay, plan_days
from ingestion.synthetic.report import MalformedKind
from tests.conftest import (
    REPO_ROOT,
    SHARED_CACHE,
    TEST_CATALOG_PORT,
    TEST_KAFKA_CONTROLLER_PORT,
    TEST_KAFKA_PORT,
    TEST_TRINO_PORT,
    own_rest_catalog,
)

CATALOG = "kafkacat"
START = dt.date(2026, 1, 1)
SCALE = 0.05
# Two days with every kind of row the stream delivers: clean, exact copies, a redelivery, truncated JSON.
SEED = 2
EVENT_FIELDS = ("event_id", "event_type", "event_time", "session_id", "customer_id", "page")
LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


@dataclass(frozen=True)
class Source:
    """A Kafka source as `ingestion/sources.yml` declares one."""

    name: str = "events"
    topic: str = "events"
    kind: str = "kafka"
    key: tuple[str, ...] = ("event_id",)
    value_format: str = "json"


EVENTS = Source()


def _days() -> list[PlannedDay]:
    return list(plan_days(START, 2, SCALE, SEED))


def _event_delivery(planned: PlannedDay):
    (delivery,) = [d for d in planned.deliveries if d.source.name == "events"]
    return delivery


def _expected_value(row) -> str:
    """The message text for a delivered row, by the rules the feeder documents."""
    payload = {k: v for k, v in row.record.items() if k not in ("partition", "offset")}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text[: len(text) // 2] if row.defect == MalformedKind.TRUNCATED_JSON else text


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


# --- Pure: the feeder's messages ---------------------------------------------------


def test_messages_carry_the_event_without_broker_fields_to_the_generators_partition() -> None:
    for planned in _days():
        delivery = _event_delivery(planned)
        batch = messages(delivery)
        assert len(batch) == len(delivery.rows)
        for row, message in zip(delivery.rows, batch, strict=True):
            assert message.partition == row.record["partition"]
            assert message.key == row.record["session_id"].encode()
            assert message.value.decode() == _expected_value(row)
            if row.defect is None:
                assert set(json.loads(message.value)) == set(EVENT_FIELDS)


def test_a_truncated_json_row_becomes_a_value_that_is_not_json() -> None:
    broken = [
        (row, message)
        for planned in _days()
        for row, message in zip(_event_delivery(planned).rows, messages(_event_delivery(planned)), strict=True)
        if row.defect == MalformedKind.TRUNCATED_JSON
    ]
    assert broken, "the seed must give a truncated row"
    for _, message in broken:
        with pytest.raises(json.JSONDecodeError):
            json.loads(message.value)


def test_the_seed_delivers_every_kind_of_row() -> None:
    origins = Counter(row.origin for planned in _days() for row in _event_delivery(planned).rows)
    assert set(origins) == set(Origin), origins


# --- Pure: the offset plan -----------------------------------------------------------


def test_plan_starts_at_the_position_and_earliest_for_partitions_it_does_not_name() -> None:
    ranges, lost = kafka.plan_ranges({"0": 5, "1": 2}, {0: 0, 1: 0, 2: 3}, {0: 9, 1: 2, 2: 7})
    assert ranges == [kafka.OffsetRange(0, 5, 9), kafka.OffsetRange(1, 2, 2), kafka.OffsetRange(2, 3, 7)]
    assert lost == []


def test_plan_reports_offsets_the_broker_no_longer_keeps_and_restarts_there() -> None:
    ranges, lost = kafka.plan_ranges({"0": 3, "1": 12, "7": 4}, {0: 5, 1: 0}, {0: 9, 1: 10})
    assert ranges == [kafka.OffsetRange(0, 5, 9), kafka.OffsetRange(1, 0, 10)]
    assert lost == [
        "partition 0 at offset 3, kept 5 to 9",
        "partition 1 at offset 12, kept 0 to 10",
        "partition 7 is gone",
    ]


def test_first_run_reads_everything_kept() -> None:
    ranges, lost = kafka.plan_ranges(None, {0: 2}, {0: 4})
    assert (ranges, lost) == ([kafka.OffsetRange(0, 2, 4)], [])


# --- Pure: rows from Spark's Kafka frame --------------------------------------------

KAFKA_FRAME = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
    ]
)


def test_bronze_rows_parse_json_and_take_partition_and_offset_from_the_broker(spark) -> None:
    values = [
        (b'{"event_id":"e1","customer_id":17,"amount":12.50,"page":null}', 2, 7),
        (b'{"event_id":"e2","customer_id', 2, 8),  # truncated
        (b'{"event_id":"e3","offset":99}', 1, 0),  # claims an offset of its own
        ('{"event_id":"caf\u00e9"}'.encode("latin-1"), 1, 1),  # not UTF-8
        (None, 0, 3),  # a tombstone
    ]
    frame = spark.createDataFrame([(None, value, "events", p, o) for value, p, o in values], KAFKA_FRAME)
    lines = kafka.kafka_lines(frame, "127.0.0.1:9092")
    keys = [k for k in kafka.json_columns(lines) if k not in kafka.BROKER_COLUMNS]
    rows = {r[LINE_NUMBER]: r.asDict() for r in kafka.bronze_rows(lines, keys).collect()}
    assert keys == ["event_id", "customer_id", "amount", "page"]
    assert list(kafka.bronze_rows(lines, keys).columns) == [*keys, "partition", "offset", SOURCE_FILE, LINE_NUMBER, "_record_hash", RAW_LINE, PARSE_ERROR]
    good = rows[7]
    assert (good["event_id"], good["customer_id"], good["amount"], good["page"]) == ("e1", "17", "12.5", None)
    assert (good["partition"], good["offset"], good[SOURCE_FILE]) == ("2", "7", "kafka://127.0.0.1:9092/events/2")
    assert good[PARSE_ERROR] is None
    assert rows[8][PARSE_ERROR] == NOT_A_JSON_OBJECT and rows[8][RAW_LINE] == '{"event_id":"e2","customer_id'
    assert rows[0][PARSE_ERROR] == "keys not carried as columns: offset"
    assert rows[1][PARSE_ERROR].startswith("invalid UTF-8")
    assert rows[3][PARSE_ERROR] is not None and rows[3][RAW_LINE] == ""
    for line in (8, 0, 1, 3):
        assert {k: rows[line][k] for k in (*keys, "partition", "offset")} == dict.fromkeys((*keys, "partition", "offset"))


# --- On a real broker -----------------------------------------------------------------


def _settings_with_kafka(settings: LakehouseSettings, port: int, controller_port: int, **kafka_fields) -> LakehouseSettings:
    return settings.model_copy(
        update={"kafka": KafkaSettings(port=port, controller_port=controller_port, **kafka_fields)}
    )


@pytest.fixture(scope="module")
def broker(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    """A REST catalog and a Kafka broker of this module's own, in one home."""
    home = tmp_path_factory.mktemp("kafka-home")
    with own_rest_catalog(spark, home, CATALOG, TEST_CATALOG_PORT + 80) as own:
        settings = _settings_with_kafka(own, TEST_KAFKA_PORT, TEST_KAFKA_CONTROLLER_PORT)
        services.up(settings, only=["kafka"])
        try:
            yield settings
        finally:
            services.down(settings)


@dataclass(frozen=True)
class BronzeRow:
    fields: tuple[str | None, ...]  # EVENT_FIELDS, then partition and offset
    source_file: str
    line_number: int
    raw_line: str
    parse_error: str | None
    ingest_date: dt.date


def _bronze(spark, settings: LakehouseSettings, source: str = "events") -> list[BronzeRow]:
    table = spark.table(TableName(BRONZE, source).sql(settings))
    columns = [*EVENT_FIELDS, "partition", "offset"]
    return [
        BronzeRow(tuple(r[c] for c in columns), r[SOURCE_FILE], r[LINE_NUMBER], r[RAW_LINE], r[PARSE_ERROR], r["_ingest_date"])
        for r in table.select(*columns, SOURCE_FILE, LINE_NUMBER, RAW_LINE, PARSE_ERROR, "_ingest_date").collect()
    ]


@dataclass
class Scenario:
    settings: LakehouseSettings
    days: list[PlannedDay]
    bronze_after_day: list[list[BronzeRow]]
    position_after_day: list[dict]
    crash_report: dict  # what the killed extract had read


# A separate process: a Spark session of its own extracts the day, prints what it read, and
# waits to be killed before it commits anything.
CRASH_CHILD = """
import datetime as dt, json, sys, time, types
from catalog.settings import load_settings
from catalog.spark_session import spark_session
from ingestion.sources import kafka
from ingestion.sources.commit import committed_position
from ingestion.sources.job import batch_id_for

settings = load_settings()
spark = spark_session(settings, app_name="kafka-crash")
source = types.SimpleNamespace(name="events", kind="kafka", topic="events", key=("event_id",), value_format="json")
position = committed_position(settings, source.name)
extract = kafka.extract(
    spark, settings, source, position, batch_id=batch_id_for(source.name, position),
    ingested_at=dt.datetime.now(dt.UTC), day=dt.date.fromisoformat(sys.argv[1]),
)
print(json.dumps({"rows": extract.rows.count(), "position": extract.position}), flush=True)
time.sleep(600)
"""


def _extract_then_get_killed(settings: LakehouseSettings, day: dt.date) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")},
        "PYTHONPATH": str(REPO_ROOT),
        "LAKEHOUSE_HOME": str(settings.home),
        "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
        "LAKEHOUSE_CATALOG__NAME": settings.catalog.name,
        "LAKEHOUSE_CATALOG__PORT": str(settings.catalog.port),
        "LAKEHOUSE_KAFKA__PORT": str(settings.kafka.port),
        "LAKEHOUSE_KAFKA__CONTROLLER_PORT": str(settings.kafka.controller_port),
        "LAKEHOUSE_SPARK__DRIVER_MEMORY": "1g",
        "LAKEHOUSE_LINEAGE__ENABLED": "false",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD, day.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its Spark JVM is killed with it
    )
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line, f"the extracting process died before it printed what it read (exit {child.poll()})"
        return json.loads(line)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


@pytest.fixture(scope="module")
def scenario(spark, broker: LakehouseSettings) -> Scenario:
    """Day 1 fed and ingested; day 2 fed, extracted by a process killed before its commit, then ingested again."""
    days = _days()
    bronze_after_day, positions = [], []
    feed_day(broker, days[0])
    ingest_source(spark, broker, EVENTS, days[0].day)
    bronze_after_day.append(_bronze(spark, broker))
    positions.append(committed_position(broker, "events"))

    feed_day(broker, days[1])
    crash = _extract_then_get_killed(broker, days[1].day)
    crash["bronze_after_crash"] = _bronze(spark, broker)
    crash["position_after_crash"] = committed_position(broker, "events")
    ingest_source(spark, broker, EVENTS, days[1].day)
    bronze_after_day.append(_bronze(spark, broker))
    positions.append(committed_position(broker, "events"))
    return Scenario(broker, days, bronze_after_day, positions, crash)


def _expected_by_partition(days: list[PlannedDay]) -> dict[int, list[tuple]]:
    """Per partition, in broker order: (row, day) of every message the days delivered."""
    by_partition: dict[int, list[tuple]] = {p: [] for p in range(PARTITIONS)}
    for planned in days:
        for row in _event_delivery(planned).rows:
            by_partition[row.record["partition"]].append((row, planned.day))
    return by_partition


@pytest.mark.integration
@pytest.mark.parametrize("day_count", [1, 2])
def test_bronze_holds_each_fed_message_once_at_its_kafka_offset(scenario: Scenario, day_count: int) -> None:
    bronze = scenario.bronze_after_day[day_count - 1]
    bootstrap = scenario.settings.kafka.bootstrap_servers
    expected = _expected_by_partition(scenario.days[:day_count])
    assert len(bronze) == sum(map(len, expected.values()))
    for partition, rows in expected.items():
        found = sorted((b for b in bronze if b.source_file == f"kafka://{bootstrap}/events/{partition}"), key=lambda b: b.line_number)
        # The broker's offsets, 0 on, one per message, in the order they were produced.
        assert [b.line_number for b in found] == list(range(len(rows)))
        assert [b.raw_line for b in found] == [_expected_value(row) for row, _ in rows]
        for b, (row, day) in zip(found, rows, strict=True):
            assert b.ingest_date == day
            if row.defect is None:
                record = row.record
                assert b.parse_error is None
                assert b.fields == (*(_as_text(record[f]) for f in EVENT_FIELDS), str(partition), str(b.line_number))
            else:
                assert b.parse_error == NOT_A_JSON_OBJECT
                assert b.fields == (None,) * (len(EVENT_FIELDS) + 2)
    assert scenario.position_after_day[day_count - 1] == {str(p): len(rows) for p, rows in expected.items()}


@pytest.mark.integration
def test_the_non_json_message_is_in_bronze_with_its_partition_and_offset(scenario: Scenario) -> None:
    bronze = scenario.bronze_after_day[-1]
    broken = [b for b in bronze if b.parse_error is not None]
    truncated = [
        row for planned in scenario.days for row in _event_delivery(planned).rows if row.defect == MalformedKind.TRUNCATED_JSON
    ]
    assert Counter(b.raw_line for b in broken) == Counter(_expected_value(row) for row in truncated)
    for b in broken:
        row = next(row for row in truncated if _expected_value(row) == b.raw_line)
        assert b.source_file.endswith(f"/events/{row.record['partition']}")
        assert b.line_number >= 0


@pytest.mark.integration
def test_a_crash_between_extract_and_commit_leaves_bronze_and_the_rerun_adds_the_day_once(scenario: Scenario) -> None:
    crash = scenario.crash_report
    day_two = len(_event_delivery(scenario.days[1]).rows)
    assert crash["rows"] == day_two, "the killed process had extracted the whole day"
    assert crash["position"] == scenario.position_after_day[1]
    # Killed before its commit: neither rows nor position moved.
    assert Counter(crash["bronze_after_crash"]) == Counter(scenario.bronze_after_day[0])
    assert crash["position_after_crash"] == scenario.position_after_day[0]


@pytest.mark.integration
def test_a_replay_adds_nothing(spark, scenario: Scenario) -> None:
    settings = scenario.settings
    batch = ingest_source(spark, settings, EVENTS, scenario.days[1].day)
    assert (batch.rows_read, batch.rows_written) == (0, 0)
    assert Counter(_bronze(spark, settings)) == Counter(scenario.bronze_after_day[-1])
    assert committed_position(settings, "events") == scenario.position_after_day[-1]


@pytest.mark.integration
def test_a_day_larger_than_the_producers_local_queue_is_fed_whole(broker: LakehouseSettings, monkeypatch) -> None:
    """A large day once failed with BufferError (queue full) past 100,000 messages: the feeder waits instead."""
    from ingestion.synthetic.feeds import kafka as feeder

    monkeypatch.setattr(feeder, "LOCAL_QUEUE_MESSAGES", 5)
    ensure_topic(broker, "large_day", 1)
    batch = [Message(0, None, json.dumps({"n": n}).encode()) for n in range(200)]
    assert produce(broker, "large_day", batch) == 200
    earliest, latest = kafka.watermarks(broker, Source(name="large_day", topic="large_day"))
    assert latest[0] - earliest[0] == 200


# --- Faults ----------------------------------------------------------------------------


@pytest.mark.integration
def test_a_broker_that_is_down_is_one_line_naming_the_source_and_the_fix(spark, broker: LakehouseSettings) -> None:
    nowhere = _settings_with_kafka(broker, TEST_KAFKA_PORT + 50, TEST_KAFKA_CONTROLLER_PORT + 50)
    with pytest.raises(ServiceUnreachable) as error:
        ingest_source(spark, nowhere, EVENTS, START)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("source events: the Kafka broker at 127.0.0.1:")
    assert "`lakehouse up`" in message


@pytest.mark.integration
def test_a_missing_topic_is_one_line_naming_the_source_and_the_fix(spark, broker: LakehouseSettings) -> None:
    with pytest.raises(kafka.KafkaSourceError) as error:
        ingest_source(spark, broker, Source(name="clicks", topic="no_such_topic"), START)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("source clicks: Kafka topic 'no_such_topic' does not exist")
    assert "ingestion/sources.yml" in message


def _extract_and_commit(spark, settings: LakehouseSettings, source: Source) -> int:
    """`job.ingest_source` without the Bronze contract check (the topic here has no contract)."""
    position = committed_position(settings, source.name)
    extract = kafka.extract(
        spark, settings, source, position, batch_id=batch_id_for(source.name, position), ingested_at=dt.datetime.now(dt.UTC), day=START
    )
    return commit_rows(spark, settings, source.name, extract.rows, extract.position)


@pytest.mark.integration
def test_offsets_lost_to_retention_fail_unless_the_loss_is_accepted(spark, broker: LakehouseSettings) -> None:
    from confluent_kafka import TopicPartition

    source = Source(name="retained", topic="retained")
    ensure_topic(broker, source.topic, 1)
    produce(broker, source.topic, [Message(0, None, json.dumps({"n": n}).encode()) for n in range(3)])
    assert _extract_and_commit(spark, broker, source) == 3
    produce(broker, source.topic, [Message(0, None, json.dumps({"n": n}).encode()) for n in range(3, 6)])
    # What retention does to old segments: offsets 0-4 deleted, so 3 and 4 never reach Bronze.
    admin = admin_client(broker)
    (future,) = admin.delete_records([TopicPartition(source.topic, 0, 5)]).values()
    future.result(timeout=30)

    with pytest.raises(kafka.KafkaSourceError) as error:
        _extract_and_commit(spark, broker, source)
    message = str(error.value)
    assert "\n" not in message
    assert "source retained: Kafka topic 'retained' no longer holds" in message
    assert "partition 0 at offset 3, kept 5 to 6" in message and "LAKEHOUSE_KAFKA__FAIL_ON_DATA_LOSS=false" in message
    assert committed_position(broker, source.name) == {"0": 3}

    accepting = _settings_with_kafka(broker, broker.kafka.port, broker.kafka.controller_port, fail_on_data_loss=False)
    assert _extract_and_commit(spark, accepting, source) == 1
    table = spark.table(TableName(BRONZE, source.name).sql(broker))
    assert sorted(row[LINE_NUMBER] for row in table.select(LINE_NUMBER).collect()) == [0, 1, 2, 5]
    assert committed_position(broker, source.name) == {"0": 6}


# --- The service -----------------------------------------------------------------------


def _cli(settings: LakehouseSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")},
        "PYTHONPATH": str(REPO_ROOT),
        "LAKEHOUSE_HOME": str(settings.home),
        "LAKEHOUSE_CACHE_DIR": str(SHARED_CACHE),
        "LAKEHOUSE_CATALOG__PORT": str(settings.catalog.port),
        "LAKEHOUSE_TRINO__PORT": str(settings.trino.port),
        "LAKEHOUSE_KAFKA__PORT": str(settings.kafka.port),
        "LAKEHOUSE_KAFKA__CONTROLLER_PORT": str(settings.kafka.controller_port),
        "COLUMNS": "200",
    }
    return subprocess.run([LAKEHOUSE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_up_status_and_down_show_kafka_and_a_restart_keeps_its_topics(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path / "home",
        cache_dir=SHARED_CACHE,
        catalog={"port": TEST_CATALOG_PORT + 90},
        trino={"port": TEST_TRINO_PORT + 90},
        kafka={"port": TEST_KAFKA_PORT + 10, "controller_port": TEST_KAFKA_CONTROLLER_PORT + 10},
    )
    try:
        (started,) = services.up(settings, only=["kafka"])
        assert (started.name, started.url, started.state) == ("kafka", f"kafka://127.0.0.1:{TEST_KAFKA_PORT + 10}", "running")
        ensure_topic(settings, "kept", 2)

        status = _cli(settings, "status")
        (kafka_line,) = [line for line in status.stdout.splitlines() if " kafka " in line]
        assert f"kafka://127.0.0.1:{TEST_KAFKA_PORT + 10}" in kafka_line and "running" in kafka_line
        assert str(started.pid) in kafka_line

        down = _cli(settings, "down")
        assert "stopped: kafka" in down.stdout, down.stdout + down.stderr
        assert not psutil.pid_exists(started.pid) or psutil.Process(started.pid).status() == psutil.STATUS_ZOMBIE
        assert [s.state for s in services.status(settings) if s.name == "kafka"] == ["stopped"]

        # Formatted once: the second start keeps the cluster and its topics.
        services.up(settings, only=["kafka"])
        assert "kept" in admin_client(settings).list_topics(timeout=10).topics
    finally:
        services.down(settings)
