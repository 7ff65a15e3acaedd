"""The generator's clickstream into a real Kafka topic: one message per delivered row.

`messages` (pure) maps a day's `events` delivery to messages; `produce` and `feed_day`
write them to the broker.

- The value is the event as one compact UTF-8 JSON object, encoded as the file mode's
  `dump.jsonl` lines are (`landing_formats.encode_rows`), without `partition` and
  `offset`: those are where Kafka keeps a message, not what a producer sends. The
  extractor reads them from the broker's metadata, and the broker numbers offsets itself,
  duplicates and broken messages included.
- The key is the session id (the topic's key, as in the file mode), and each message goes
  to the partition the generator chose, so a session's events stay in one partition.
- Exact copies and redeliveries are produced again, as a producer retrying after a lost
  acknowledgement does; a TRUNCATED_JSON row becomes a message whose value is the
  truncated text, which is not JSON.

Feeding is not idempotent: feeding a day twice produces its messages twice, as a
source system resending would. Feed each day once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.errors import LakehouseError
from catalog.kafka_broker import CONNECT_TIMEOUT_SECONDS, admin_client, client_config, cluster_metadata
from catalog.settings import LakehouseSettings
from ingestion.synthetic import event_stream
from ingestion.synthetic.generator import PlannedDay, SourceDelivery
from ingestion.synthetic.landing_formats import encode_rows

TOPIC = event_stream.SOURCE.name
# Kafka's metadata of a message, never part of its value.
BROKER_FIELDS = ("partition", "offset")
# How long delivery may take before the feed reports the broker as down.
DELIVERY_TIMEOUT_SECONDS = 30.0


class FeedError(LakehouseError):
    """The feeder could not deliver a day's messages to Kafka."""


@dataclass(frozen=True)
class Message:
    partition: int
    key: bytes | None
    value: bytes


def messages(delivery: SourceDelivery) -> list[Message]:
    """A day's delivered rows as Kafka messages, in delivery order."""
    columns = [name for name in delivery.columns if name not in BROKER_FIELDS]
    rows = [row._replace(record={k: v for k, v in row.record.items() if k not in BROKER_FIELDS}) for row in delivery.rows]
    values = [line.removesuffix(b"\n") for line in encode_rows(delivery.source, columns, rows)]
    return [
        Message(int(row.record["partition"]), _key(row.record.get("session_id")), value)  # type: ignore[arg-type]
        for row, value in zip(delivery.rows, values, strict=True)
    ]


def feed_day(settings: LakehouseSettings, planned: PlannedDay, *, topic: str = TOPIC) -> int:
    """Produce the day's `events` delivery into `topic` (created if missing); the messages produced."""
    (delivery,) = [d for d in planned.deliveries if d.source.name == event_stream.SOURCE.name]
    ensure_topic(settings, topic, event_stream.PARTITIONS)
    return produce(settings, topic, messages(delivery))


def ensure_topic(settings: LakehouseSettings, topic: str, partitions: int) -> None:
    """Create `topic` with `partitions` partitions unless it exists; one with fewer cannot take the feed."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    who = f"feeding Kafka topic {topic!r}"
    found = cluster_metadata(settings, who=who).topics.get(topic)
    if found is None:
        # The client must outlive the future: a destroyed client fails what it has in flight.
        admin = admin_client(settings)
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
        try:
            future.result(timeout=CONNECT_TIMEOUT_SECONDS)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another feeder was first
                raise FeedError(f"{who}: could not create the topic ({exc.args[0].str()}): see the broker's log") from None
        return
    if len(found.partitions) < partitions:
        raise FeedError(
            f"{who}: the topic has {len(found.partitions)} partitions and the generator writes to {partitions}: "
            "delete the topic or feed another one"
        )


# Messages the client holds before the broker acknowledges them (librdkafka's default).
LOCAL_QUEUE_MESSAGES = 100_000


def produce(settings: LakehouseSettings, topic: str, batch: Sequence[Message]) -> int:
    """Send `batch` in order and wait until the broker acknowledged every message."""
    from confluent_kafka import Producer

    who = f"feeding Kafka topic {topic!r}"
    failures: list[str] = []
    producer = Producer(
        {
            **client_config(settings),
            # Retries never duplicate or reorder a message: a duplicate in the topic is one the generator meant.
            "enable.idempotence": True,
            "message.timeout.ms": int(DELIVERY_TIMEOUT_SECONDS * 1000),
            "queue.buffering.max.messages": LOCAL_QUEUE_MESSAGES,
        }
    )
    def report(error: object, _message: object) -> None:
        if error is not None:
            failures.append(error.str())  # type: ignore[attr-defined]

    for message in batch:
        while True:
            try:
                producer.produce(topic, value=message.value, key=message.key, partition=message.partition, on_delivery=report)
                break
            except BufferError:
                # The client's local queue is full (100,000 messages by default): wait for the
                # broker to acknowledge some, then send this one. A large day never fails on it.
                producer.poll(1)
        producer.poll(0)  # serve delivery reports
    unsent = producer.flush(DELIVERY_TIMEOUT_SECONDS + 5)
    if unsent or failures:
        reasons = "; ".join(dict.fromkeys(failures)) or "not acknowledged in time"
        raise FeedError(
            f"{who}: {unsent + len(failures)} of {len(batch)} messages were not delivered ({reasons}) to the broker at "
            f"{settings.kafka.bootstrap_servers}: check it with `lakehouse status`, then feed the day again "
            "(messages already delivered arrive twice, as redeliveries)"
        )
    return len(batch)


def _key(session_id: object) -> bytes | None:
    return None if session_id is None else str(session_id).encode()

