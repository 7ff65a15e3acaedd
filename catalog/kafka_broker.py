"""The local Kafka broker: the command that runs it, its storage, and how clients reach it.

The broker runs in KRaft combined mode (`engine_config.kafka_server_properties`). Its
storage is formatted once, before the first start, as a quorum of one voter
(`--standalone`); later starts find it formatted and keep the topics.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from catalog import artifacts, engine_config
from catalog.errors import ServiceError, ServiceUnreachable
from catalog.settings import LakehouseSettings

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient, ClusterMetadata

# Written by the storage tool into every formatted log directory.
FORMATTED_MARKER = "meta.properties"
PROBE_TIMEOUT_SECONDS = 2.0
# How long a client waits for the broker before saying it is down.
CONNECT_TIMEOUT_SECONDS = 10.0
START_BROKER = "start it with `lakehouse up` (or set LAKEHOUSE_KAFKA__HOST/PORT to where it runs)"

# librdkafka logs every failed connection attempt; the caller reports a down broker itself.
_QUIET = logging.getLogger("lakehouse.kafka.client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def command(settings: LakehouseSettings, lib: Path) -> list[str]:
    """The broker's argv: `kafka.Kafka` in the foreground, so the recorded pid is the broker's."""
    config = engine_config.kafka_config_dir(settings)
    return [
        *_java(settings),
        f"-Xmx{settings.kafka.heap}",
        f"-Xms{settings.kafka.heap}",
        "-cp",
        f"{lib}/*",
        "kafka.Kafka",
        str(config / "server.properties"),
    ]


def format_storage(settings: LakehouseSettings) -> None:
    """Format the log directory for a new cluster, once; a formatted one is left as it is."""
    log_dir = engine_config.kafka_log_dir(settings)
    if (log_dir / FORMATTED_MARKER).is_file():
        return
    lib = artifacts.ensure_kafka(settings.cache_dir)  # type: ignore[arg-type]
    log_dir.mkdir(parents=True, exist_ok=True)
    config = engine_config.kafka_config_dir(settings) / "server.properties"
    result = subprocess.run(
        [
            *_java(settings),
            "-cp",
            f"{lib}/*",
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            f"--cluster-id={new_cluster_id()}",
            f"--config={config}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(
            f"kafka could not format its storage in {log_dir}: see the output above; "
            "if that folder holds another cluster's data, move it away",
            details=(result.stdout + result.stderr).strip()[-2000:],
        )


def new_cluster_id() -> str:
    """A cluster id as Kafka writes one: 16 random bytes, base64url without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka's own generator skips ids starting with '-': they read as an option on a command line.
        if not text.startswith("-"):
            return text


def admin_client(settings: LakehouseSettings) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient(client_config(settings))


def client_config(settings: LakehouseSettings) -> dict[str, object]:
    """What every client of the local broker (producer, admin) starts from."""
    return {"bootstrap.servers": settings.kafka.bootstrap_servers, "logger": _QUIET, "error_cb": lambda error: None}


def answers(settings: LakehouseSettings) -> bool:
    """The health probe: the broker serves metadata and lists itself (registered and unfenced)."""
    from confluent_kafka import KafkaException

    try:
        return bool(admin_client(settings).list_topics(timeout=PROBE_TIMEOUT_SECONDS).brokers)
    except KafkaException:
        return False


def cluster_metadata(settings: LakehouseSettings, *, who: str, topic: str | None = None) -> ClusterMetadata:
    """The broker's metadata (of `topic` only, if given), or one line saying the broker is down.

    `who` names the source or command that needed the broker.
    """
    from confluent_kafka import KafkaException

    try:
        return admin_client(settings).list_topics(topic, timeout=CONNECT_TIMEOUT_SECONDS)
    except KafkaException as exc:
        raise broker_unreachable(settings, who, exc.args[0].str() if exc.args else str(exc)) from None


def broker_unreachable(settings: LakehouseSettings, who: str, reason: str) -> ServiceUnreachable:
    return ServiceUnreachable(
        f"{who}: the Kafka broker at {settings.kafka.bootstrap_servers} did not answer ({reason}): {START_BROKER}"
    )


def _java(settings: LakehouseSettings) -> list[str]:
    log4j2 = engine_config.kafka_config_dir(settings) / "log4j2.xml"
    return [str(settings.java.jdk17_home / "bin" / "java"), f"-Dlog4j2.configurationFile={log4j2}"]
