"""Kafka -> Bronze rows: a Spark batch read of exactly the offsets after the committed position.

Extract: the topic's partitions and their end offsets, fetched from the broker just before
the read, are Spark's `endingOffsets`; the committed position (the next offset of each
partition; the earliest kept for a partition it does not name, e.g. a new one) is its
`startingOffsets`. The new position is those end offsets, so what is committed with the
rows is exactly what was read, and messages arriving during the read wait for the next run.

Transform (pure): each message is a line as in the file mode (`bronze/transform.py`):
`_source_file` is `kafka://<broker>/<topic>/<partition>`, `_line_number` the offset,
`_raw_line` the value's text, parsed as a JSON object into string columns with the file
mode's spellings and rules. `partition` and `offset` come from the broker, never from the
value: a value that carries them is unparseable. A value that is not a JSON object (or
not UTF-8, or empty, or null) keeps its text and says why in `_parse_error`, every source
column null; Silver quarantines it with its `_source_file` and `_line_number`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog.errors import LakehouseError
from catalog.kafka_broker import CONNECT_TIMEOUT_SECONDS, admin_client, broker_unreachable, cluster_metadata
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import LINE_NUMBER, METADATA_COLUMNS, PARSE_ERROR, SOURCE_FILE, column
from ingestion.bronze.transform import RAW_BYTES, json_columns, parse_json
from ingestion.sources.commit import Extract, Position, bronze_frame

# Source columns filled from the broker's metadata of a message.
PARTITION = "partition"
OFFSET = "offset"
BROKER_COLUMNS = (PARTITION, OFFSET)
VALUE_FORMATS = ("json",)


class KafkaSourceError(LakehouseError):
    """A Kafka source cannot be read as declared."""


class KafkaSource(Protocol):
    name: str
    topic: str
    value_format: str


@dataclass(frozen=True)
class OffsetRange:
    partition: int
    start: int  # first offset to read
    end: int  # offset after the last one to read


def extract(
    spark: SparkSession,
    settings: LakehouseSettings,
    source: KafkaSource,
    position: Position | None,
    *,
    batch_id: str,
    ingested_at: dt.datetime,
    day: dt.date,
) -> Extract:
    if source.value_format not in VALUE_FORMATS:
        raise KafkaSourceError(
            f"source {source.name}: value_format {source.value_format!r} is not supported: "
            f"declare one of {', '.join(VALUE_FORMATS)} in ingestion/sources.yml"
        )
    ranges = offset_ranges(settings, source, position)
    broker = settings.kafka.bootstrap_servers
    # Read once: finding the JSON keys and parsing both scan the messages.
    messages = read_ranges(spark, broker, source.topic, ranges).localCheckpoint(eager=True)
    lines = kafka_lines(messages, broker)
    keys = [key for key in json_columns(lines) if key not in BROKER_COLUMNS]
    rows = bronze_frame(bronze_rows(lines, keys), batch_id=batch_id, ingested_at=ingested_at, ingest_date=day)
    return Extract(
        rows=rows,
        position={str(r.partition): r.end for r in ranges},
        rows_read=messages.count(),
        unit=f"kafka://{broker}/{source.topic}",
    )


# --- Offsets -------------------------------------------------------------------


def offset_ranges(settings: LakehouseSettings, source: KafkaSource, position: Position | None) -> list[OffsetRange]:
    """What to read of each partition: from the committed position to the end the broker has now."""
    earliest, latest = watermarks(settings, source)
    ranges, lost = plan_ranges(position, earliest, latest)
    if lost and settings.kafka.fail_on_data_loss:
        raise KafkaSourceError(
            f"source {source.name}: Kafka topic {source.topic!r} no longer holds the offsets Bronze reads next "
            f"({'; '.join(lost)}), deleted by retention or with the topic: to accept the loss and go on from the "
            "earliest offsets kept, run once with LAKEHOUSE_KAFKA__FAIL_ON_DATA_LOSS=false"
        )
    return ranges


def plan_ranges(
    position: Position | None, earliest: Mapping[int, int], latest: Mapping[int, int]
) -> tuple[list[OffsetRange], list[str]]:
    """The ranges to read, and what the position points at that the broker no longer has.

    A partition the position does not name starts at its earliest offset kept; one whose
    committed offset is outside what the broker keeps starts there too, and is reported.
    """
    committed = {int(partition): int(offset) for partition, offset in (position or {}).items()}
    ranges: list[OffsetRange] = []
    lost: list[str] = []
    for partition in sorted(latest):
        start = committed.get(partition, earliest[partition])
        if not earliest[partition] <= start <= latest[partition]:
            lost.append(f"partition {partition} at offset {start}, kept {earliest[partition]} to {latest[partition]}")
            start = earliest[partition]
        ranges.append(OffsetRange(partition, start, latest[partition]))
    lost += [f"partition {partition} is gone" for partition in sorted(committed.keys() - latest.keys())]
    return ranges, lost


def watermarks(settings: LakehouseSettings, source: KafkaSource) -> tuple[dict[int, int], dict[int, int]]:
    """Each partition's earliest offset kept and the offset after its last message, as the broker has them now."""
    from confluent_kafka import KafkaException, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    who = f"source {source.name}"
    partitions = topic_partitions(settings, source)
    admin = admin_client(settings)
    found: list[dict[int, int]] = []
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        futures = admin.list_offsets(
            {TopicPartition(source.topic, p): spec for p in partitions}, request_timeout=CONNECT_TIMEOUT_SECONDS
        )
        try:
            found.append({tp.partition: future.result().offset for tp, future in futures.items()})
        except KafkaException as exc:
            raise broker_unreachable(settings, who, exc.args[0].str()) from None
    return found[0], found[1]


def topic_partitions(settings: LakehouseSettings, source: KafkaSource) -> list[int]:
    from confluent_kafka import KafkaError

    metadata = cluster_metadata(settings, who=f"source {source.name}", topic=source.topic)
    topic = metadata.topics.get(source.topic)
    if topic is None or (topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
        raise KafkaSourceError(
            f"source {source.name}: Kafka topic {source.topic!r} does not exist on the broker at "
            f"{settings.kafka.bootstrap_servers}: feed it first (the generator creates it), or fix the topic "
            "in ingestion/sources.yml"
        )
    if topic.error is not None:
        raise broker_unreachable(settings, f"source {source.name}", topic.error.str())
    return sorted(topic.partitions)


# --- Spark ---------------------------------------------------------------------


def read_ranges(spark: SparkSession, broker: str, topic: str, ranges: list[OffsetRange]) -> DataFrame:
    """The messages of `ranges`, as Spark's Kafka source gives them (key, value, topic, partition, offset, ...)."""
    offsets = {
        "startingOffsets": {topic: {str(r.partition): r.start for r in ranges}},
        "endingOffsets": {topic: {str(r.partition): r.end for r in ranges}},
    }
    reader = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", broker)
        # The partitions named, not a subscription: a partition added after the offsets were fetched waits for the next run.
        .option("assign", json.dumps({topic: [r.partition for r in ranges]}))
    )
    for option, value in offsets.items():
        reader = reader.option(option, json.dumps(value))
    return reader.load()


def kafka_lines(messages: DataFrame, broker: str) -> DataFrame:
    """Spark's Kafka rows -> the file mode's lines (`transform.split_lines`' columns).

    A null value (a tombstone) is an empty line. The file mode strips a UTF-8 byte order
    mark from line 1 of a file; here that is the message at offset 1, an accepted oddity.
    """
    return messages.select(
        F.concat(F.lit(f"kafka://{broker}/"), F.col("topic"), F.lit("/"), F.col("partition").cast(T.StringType())).alias(
            SOURCE_FILE
        ),
        F.col("offset").alias(LINE_NUMBER),
        F.coalesce(F.col("value"), F.lit(bytearray())).alias(RAW_BYTES),
    )


def bronze_rows(lines: DataFrame, keys: list[str]) -> DataFrame:
    """Lines -> the source columns (`keys` from the JSON, then `partition` and `offset` from the broker) and
    `_source_file`, `_line_number`, `_raw_line`, `_parse_error` (see `commit.bronze_frame`)."""
    parsed = parse_json(lines, keys)
    parsed_ok = F.col(PARSE_ERROR).isNull()
    broker = {
        PARTITION: F.substring_index(F.col(SOURCE_FILE), "/", -1),
        OFFSET: F.col(LINE_NUMBER).cast(T.StringType()),
    }
    source_columns = [column(name) for name in parsed.columns if name not in METADATA_COLUMNS]
    return parsed.select(
        *source_columns,
        *(F.when(parsed_ok, value).alias(name) for name, value in broker.items()),
        *(F.col(name) for name in parsed.columns if name in METADATA_COLUMNS),
    )

