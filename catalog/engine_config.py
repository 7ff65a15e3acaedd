"""Render the one settings object into every engine's configuration.

Each function is pure (settings in, text or dict out). `write_local_config`
writes the files the local processes and clients read; `docker_files` renders
the same configuration for docker-compose, where only host names and paths
differ.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from catalog import artifacts, object_store
from catalog.naming import GOLD
from catalog.settings import TRINO_HEALTH_CATALOG, LakehouseSettings
from catalog.trino_auth import KEYSTORE_KEY_ENV, SHARED_SECRET_ENV, TRINO_HEALTH_USER, SecretFiles, secret_files

DOCKER_REST_HOST = "rest"
DOCKER_TRINO_HOST = "trino"
DOCKER_REST_IMAGE = f"apache/iceberg-rest-fixture:{artifacts.ICEBERG_VERSION}"
DOCKER_TRINO_IMAGE = f"trinodb/trino:{artifacts.TRINO_VERSION}"
DOCKER_SPARK_IMAGE = "apache/spark:4.1.1-scala2.13-java17-python3-ubuntu"
DOCKER_OBJECT_STORE_HOST = "object-store"
# The same S3Proxy as the cluster deployment's jar; the image runs it on Java 25 (jlinked).
DOCKER_OBJECT_STORE_IMAGE = f"andrewgaul/s3proxy:{artifacts.S3PROXY_VERSION}"
DOCKER_OBJECT_STORE_DATA = "/data"
# The project's own image (the Dockerfile at the root), built by the compose file's `pipeline`.
DOCKER_PIPELINE_SERVICE = "pipeline"
DOCKERFILE = "Dockerfile"
# Where the Dockerfile puts the pipeline's home (LAKEHOUSE_HOME) and the artifact cache it
# fills at build time (LAKEHOUSE_CACHE_DIR); each is a volume of the `pipeline` service.
DOCKER_PIPELINE_HOME = "/var/lib/lakehouse"
DOCKER_PIPELINE_CACHE = "/opt/lakehouse/cache"
# What compose puts where the object store's secret goes: its value comes from the shell or a
# git-ignored docker/.env at `up`, and compose refuses to start without it. No default: a
# default would be a committed secret.
DOCKER_SECRET_REF = (
    f"${{{object_store.SECRET_ENV}:?set {object_store.SECRET_ENV} in the shell or in docker/.env}}"
)
# The folder holding the project's packages (catalog/, ingestion/, lakehouse/).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class S3Access:
    """How engines reach an S3 warehouse. The secret never goes into a rendered file: each
    process gets it in its environment (AWS_SECRET_ACCESS_KEY: the services) or in memory
    (Spark's session conf, PyIceberg's catalog properties)."""

    endpoint: str | None  # None: AWS's own endpoints, by region
    region: str
    access_key_id: str | None  # None: the AWS default credential chain (an instance role)
    secret_access_key: str | None = None  # only where it stays in memory

    @property
    def https(self) -> bool:
        return self.endpoint is None or self.endpoint.startswith("https://")


@dataclass(frozen=True)
class Endpoints:
    """How one deployment's clients reach the services and the warehouse."""

    catalog_uri: str
    trino_host: str
    trino_port: int
    # What REST clients send as `warehouse`: a location for the reference catalog, the
    # account's catalog id for AWS Glue (catalog/aws_config.py).
    warehouse_uri: str
    s3: S3Access | None = None  # set when the warehouse is on S3


def local_endpoints(settings: LakehouseSettings, *, with_secret: bool = False) -> Endpoints:
    """The endpoints on this machine. `with_secret` only for a process's own memory (a Spark
    session, a PyIceberg catalog): never for what is written to a file."""
    return Endpoints(
        catalog_uri=settings.catalog.uri,
        trino_host=settings.trino.host,
        trino_port=settings.trino.port,
        warehouse_uri=settings.warehouse_uri,
        s3=object_store_access(settings, with_secret=with_secret),
    )


def object_store_access(settings: LakehouseSettings, *, with_secret: bool) -> S3Access | None:
    """The cluster deployment's object store, as the engines reach it; None on the local one."""
    if settings.deployment != "cluster":
        return None
    store = settings.object_store
    secret = object_store.secret_access_key(settings) if with_secret else None
    return S3Access(endpoint=store.endpoint, region=store.region, access_key_id=store.access_key_id, secret_access_key=secret)


def docker_endpoints(settings: LakehouseSettings) -> Endpoints:
    """The compose stack: its warehouse in the object store's bucket, as on the cluster deployment."""
    store = settings.object_store
    return Endpoints(
        catalog_uri=f"http://{DOCKER_REST_HOST}:{settings.catalog.port}",
        trino_host=DOCKER_TRINO_HOST,
        trino_port=settings.trino.port,
        warehouse_uri=store.location("warehouse"),
        s3=S3Access(endpoint=f"http://{DOCKER_OBJECT_STORE_HOST}:{store.port}", region=store.region, access_key_id=store.access_key_id),
    )


# --- Spark -----------------------------------------------------------------


def spark_conf(settings: LakehouseSettings, endpoints: Endpoints, *, ivy_dir: Path | None = None) -> dict[str, str]:
    name = settings.catalog.name
    prefix = f"spark.sql.catalog.{name}"
    conf = {
        "spark.master": settings.spark.master,
        "spark.driver.memory": settings.spark.driver_memory,
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.jars.packages": ",".join(artifacts.SPARK_PACKAGES),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "rest",
        f"{prefix}.uri": endpoints.catalog_uri,
        f"{prefix}.warehouse": endpoints.warehouse_uri,
        # Trino and PyIceberg commit to the same tables: a cached table would
        # hide their snapshots from this session.
        f"{prefix}.cache-enabled": "false",
        # Trino 476 reads v3 tables only partially; keep every engine on v2.
        f"{prefix}.table-default.format-version": "2",
        # Each commit writes a metadata JSON holding every snapshot: keep only the newest few.
        **{f"{prefix}.table-default.{key}": value for key, value in metadata_log_properties(settings).items()},
        "spark.sql.defaultCatalog": name,
        # Timestamps are instants; rendering them in the machine's zone would make
        # the same row print differently in Spark and Trino.
        "spark.sql.session.timeZone": "UTC",
        # Constraint propagation infers filters from the constraints of every projection in
        # a plan. Over a Silver batch's chain of reject-reason expressions it took a quarter
        # of the driver's CPU on a pipeline day (JFR). The filters it finds cost more to infer
        # than they save on small batches. Off: a replayed day went from 34-37 s to 27-28 s.
        "spark.sql.constraintPropagation.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    if settings.deployment == "cluster":
        conf.update(spark_cluster_conf(settings))
    if not settings.spark.codegen:
        # The interpreted paths Spark falls back to when generated code fails to compile.
        conf["spark.sql.codegen.wholeStage"] = "false"
        conf["spark.sql.codegen.factoryMode"] = "NO_CODEGEN"
    if ivy_dir is not None:
        conf["spark.jars.ivy"] = str(ivy_dir)
    if endpoints.s3 is not None:
        conf.update(spark_s3_conf(prefix, endpoints.s3))
    if settings.lineage.enabled and settings.lineage.spark_listener:
        conf.update(spark_lineage_conf(settings))
        conf["spark.jars.packages"] += f",{artifacts.OPENLINEAGE_SPARK_PACKAGE}"
    conf.update(settings.spark.extra_conf)
    return conf


def spark_s3_conf(catalog_prefix: str, s3: S3Access) -> dict[str, str]:
    """An S3 warehouse: Iceberg's S3FileIO for the tables, Hadoop's S3A (for `s3://` too) for
    what Spark reads and writes outside Iceberg: Bronze's Parquet, add_files' listing, landing files."""
    conf = {
        "spark.jars.packages": ",".join((*artifacts.SPARK_PACKAGES, artifacts.SPARK_S3_PACKAGE)),
        f"{catalog_prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{catalog_prefix}.client.region": s3.region,
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
    }
    if s3.endpoint is not None:
        conf |= {
            f"{catalog_prefix}.s3.endpoint": s3.endpoint,
            # A loopback server has no per-bucket host names.
            f"{catalog_prefix}.s3.path-style-access": "true",
            "spark.hadoop.fs.s3a.endpoint": s3.endpoint,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.https).lower(),
        }
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        conf |= {
            f"{catalog_prefix}.s3.access-key-id": s3.access_key_id,
            f"{catalog_prefix}.s3.secret-access-key": s3.secret_access_key,
            "spark.hadoop.fs.s3a.access.key": s3.access_key_id,
            "spark.hadoop.fs.s3a.secret.key": s3.secret_access_key,
        }
    return conf


def spark_cluster_conf(settings: LakehouseSettings) -> dict[str, str]:
    """A driver on the standalone master: the application's executors, one per worker."""
    cluster = settings.spark.cluster
    return {
        "spark.master": cluster.master_url,
        # Executors connect back to the driver at this address; by default it is the one the
        # host name resolves to, which may not be loopback.
        "spark.driver.host": cluster.host,
        "spark.executor.cores": str(cluster.worker_cores),
        "spark.executor.memory": cluster.executor_memory,
        # Every worker's cores (the master spreads them, an executor per worker). Standalone
        # scheduling is first come, first served: a second application waits for these cores.
        "spark.cores.max": str(cluster.workers * cluster.worker_cores),
        # Executors run Python too (createDataFrame from Python rows): the driver's interpreter,
        # which has pyspark, and the driver's own modules in case a pickled object names them.
        "spark.pyspark.python": sys.executable,
        "spark.executorEnv.PYTHONPATH": str(PROJECT_ROOT),
    }


def spark_daemon_conf(settings: LakehouseSettings) -> dict[str, str]:
    """The standalone master's and workers' own properties (`--properties-file`)."""
    return {
        # Each application leaves a folder per worker holding the jars its executors fetched
        # from the driver (~100 MB: Iceberg, Kafka, PostgreSQL) and their logs. Kept a day, for
        # reading a failed run's executor logs, then deleted.
        "spark.worker.cleanup.enabled": "true",
        "spark.worker.cleanup.appDataTtl": str(24 * 3600),
    }


def spark_daemon_conf_file(settings: LakehouseSettings) -> Path:
    return settings.config_dir / "spark-cluster.conf"


def spark_lineage_conf(settings: LakehouseSettings) -> dict[str, str]:
    """The OpenLineage Spark listener, sending to the same transport as the pipeline's own events.

    With the file transport it writes its own file (`lineage.spark_file`): both writers append,
    and they would interleave lines in one file.
    """
    lineage = settings.lineage
    conf = {
        "spark.extraListeners": "io.openlineage.spark.agent.OpenLineageSparkListener",
        "spark.openlineage.namespace": lineage.namespace,
        # The listener reflects into java.security to find connectors' lineage extensions;
        # without this it logs an InaccessibleObjectException stack trace at start-up.
        "spark.driver.extraJavaOptions": "--add-opens=java.base/java.security=ALL-UNNAMED",
    }
    if lineage.transport == "http":
        conf |= {"spark.openlineage.transport.type": "http", "spark.openlineage.transport.url": str(lineage.url)}
        if lineage.api_key.get_secret_value():
            conf |= {
                "spark.openlineage.transport.auth.type": "api_key",
                "spark.openlineage.transport.auth.apiKey": lineage.api_key.get_secret_value(),
            }
    else:
        conf |= {"spark.openlineage.transport.type": "file", "spark.openlineage.transport.location": str(lineage.spark_file)}
    return conf


def spark_defaults_conf(conf: dict[str, str]) -> str:
    return "".join(f"{key} {value}\n" for key, value in sorted(conf.items()))


# --- Iceberg REST catalog --------------------------------------------------


def rest_catalog_env(
    settings: LakehouseSettings, *, warehouse_uri: str, sqlite_path: str, s3: S3Access | None = None
) -> dict[str, str]:
    """The `CATALOG_*` variables `RESTCatalogServer` reads (`CATALOG_IO__IMPL` is `io-impl`,
    `CATALOG_S3_ENDPOINT` is `s3.endpoint`). On S3 its credentials come from the AWS variables
    of its environment (`rest_catalog_secret_env`), never from this rendered list."""
    catalog = settings.catalog
    if catalog.backend == "postgresql":
        assert catalog.postgres_url is not None
        jdbc = {
            "CATALOG_URI": catalog.postgres_url,
            "CATALOG_JDBC_USER": catalog.postgres_user,
            "CATALOG_JDBC_PASSWORD": catalog.postgres_password.get_secret_value(),
        }
    else:
        # WAL lets readers (Trino, Spark, PyIceberg via REST) proceed during a commit.
        jdbc = {
            "CATALOG_URI": f"jdbc:sqlite:{sqlite_path}?journal_mode=WAL&busy_timeout=10000",
            "CATALOG_JDBC_USER": "",
            "CATALOG_JDBC_PASSWORD": "",
        }
    env = {
        **jdbc,
        "CATALOG_WAREHOUSE": warehouse_uri,
        "CATALOG_REST_PORT": str(catalog.port),
        "CATALOG_CATALOG_NAME": catalog.name,
    }
    if s3 is not None:
        env |= {"CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO", "CATALOG_CLIENT_REGION": s3.region}
        if s3.endpoint is not None:
            env |= {"CATALOG_S3_ENDPOINT": s3.endpoint, "CATALOG_S3_PATH__STYLE__ACCESS": "true"}
    return env


def aws_credentials_env(s3: S3Access) -> dict[str, str]:
    """The AWS SDK's own variables, read by its default credential chain (REST catalog, Trino)."""
    if s3.access_key_id is None or s3.secret_access_key is None:
        return {"AWS_REGION": s3.region}  # an instance role
    return {"AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_SECRET_ACCESS_KEY": s3.secret_access_key, "AWS_REGION": s3.region}


# --- Kafka -----------------------------------------------------------------

# One node is broker and controller at once (KRaft combined mode).
KAFKA_NODE_ID = 1
KAFKA_BROKER_LISTENER = "PLAINTEXT"
KAFKA_CONTROLLER_LISTENER = "CONTROLLER"


def kafka_config_dir(settings: LakehouseSettings) -> Path:
    return settings.config_dir / "kafka"


def kafka_log_dir(settings: LakehouseSettings) -> Path:
    """Where the broker keeps its partitions and the cluster metadata log."""
    return settings.data_dir / "kafka"


def kafka_server_properties(settings: LakehouseSettings) -> str:
    kafka = settings.kafka
    broker = f"{KAFKA_BROKER_LISTENER}://{kafka.host}:{kafka.port}"
    controller = f"{KAFKA_CONTROLLER_LISTENER}://{kafka.host}:{kafka.controller_port}"
    single_replica = ("offsets.topic", "transaction.state.log", "share.coordinator.state.topic")
    return _properties(
        {
            "process.roles": "broker,controller",
            "node.id": str(KAFKA_NODE_ID),
            # A dynamic quorum of one voter, this node (the storage is formatted `--standalone`).
            "controller.quorum.bootstrap.servers": f"{kafka.host}:{kafka.controller_port}",
            "listeners": f"{broker},{controller}",
            "advertised.listeners": f"{broker},{controller}",
            "controller.listener.names": KAFKA_CONTROLLER_LISTENER,
            "inter.broker.listener.name": KAFKA_BROKER_LISTENER,
            "listener.security.protocol.map": f"{KAFKA_CONTROLLER_LISTENER}:PLAINTEXT,{KAFKA_BROKER_LISTENER}:PLAINTEXT",
            "log.dirs": str(kafka_log_dir(settings)),
            "num.partitions": str(kafka.partitions),
            # Topics are created on purpose (the feeder): a source naming a topic that does
            # not exist must fail, not read a new empty topic.
            "auto.create.topics.enable": "false",
            # One broker: the internal topics cannot have more replicas than that.
            **{f"{topic}.replication.factor": "1" for topic in single_replica},
            **{f"{topic}.min.isr": "1" for topic in single_replica[1:]},
            "group.initial.rebalance.delay.ms": "0",
        }
    )


def kafka_log4j2_xml() -> str:
    """The broker's log4j2 configuration: its log to stdout (the service log), warnings and up,
    and the lines that say it started or stopped."""
    return """<?xml version="1.0" encoding="UTF-8"?>
<!-- Rendered by catalog/engine_config.py. -->
<Configuration status="warn">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Root level="WARN"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
"""


# --- Trino -----------------------------------------------------------------


TRINO_COORDINATOR_ID = "lakehouse-coordinator"
TRINO_WORKER_ID = "lakehouse-worker-1"


def trino_dirs(settings: LakehouseSettings, *, worker: bool = False) -> tuple[Path, Path]:
    """A local Trino node's `etc/` and data folders."""
    name = "trino-worker" if worker else "trino"
    return settings.config_dir / name / "etc", settings.data_dir / name


def trino_etc(
    settings: LakehouseSettings,
    endpoints: Endpoints,
    *,
    data_dir: str,
    etc_dir: str,
    auth: SecretFiles | None = None,
    worker: bool = False,
) -> dict[str, str]:
    """Trino's `etc/` folder: file name -> content.

    With `auth` (the generated secrets' paths), clients must use HTTPS with a password;
    the secrets themselves stay in their files and Trino's environment.
    With `worker`, the cluster deployment's worker node: the coordinator's catalog, rules
    and memory, its own node id and port, and only the shared secret of `auth` (clients
    never reach a worker).
    """
    trino = settings.trino
    # The address each node announces to the others; by default the machine's own IP,
    # which the cluster's nodes, all on loopback here, need not depend on.
    node_address = {"node.internal-address": trino.host} if settings.deployment == "cluster" else {}
    if worker:
        role = {"coordinator": "false", "http-server.http.port": str(trino.worker_port)}
    else:
        role = {
            "coordinator": "true",
            # On the cluster the coordinator only plans and schedules: the worker runs the tasks.
            "node-scheduler.include-coordinator": "true" if settings.deployment == "local" else "false",
            "http-server.http.port": str(endpoints.trino_port),
        }
    files = {
        "access-control.properties": _properties(
            {"access-control.name": "file", "security.config-file": f"{etc_dir}/rules.json"}
        ),
        "rules.json": json.dumps(trino_access_rules(settings), indent=2) + "\n",
        "node.properties": _properties(
            {"node.environment": "lakehouse", "node.id": TRINO_WORKER_ID if worker else TRINO_COORDINATOR_ID, "node.data-dir": data_dir}
            | node_address
        ),
        "jvm.config": "\n".join(
            [
                "-server",
                f"-Xmx{trino.heap_gb}G",
                "-XX:InitialRAMPercentage=10",
                "-XX:+UseG1GC",
                "-XX:G1HeapRegionSize=32M",
                "-XX:+ExplicitGCInvokesConcurrent",
                "-XX:+ExitOnOutOfMemoryError",
                "-XX:-OmitStackTraceInFastThrow",
                "-XX:ReservedCodeCacheSize=256M",
                "-XX:PerMethodRecompilationCutoff=10000",
                "-XX:PerBytecodeRecompilationCutoff=10000",
                "-Djdk.attach.allowAttachSelf=true",
                "-Djdk.nio.maxCachedBufferSize=2000000",
                "-Dfile.encoding=UTF-8",
                "-XX:+EnableDynamicAgentLoading",
            ]
        )
        + "\n",
        "config.properties": _properties(
            {
                **role,
                "discovery.uri": f"http://{endpoints.trino_host}:{endpoints.trino_port}",
                "query.max-memory": f"{trino.query_max_memory_mb}MB",
                "query.max-memory-per-node": f"{trino.query_max_memory_mb}MB",
                "task.concurrency": str(trino.task_concurrency),
            }
        ),
        "log.properties": _properties({"io.trino": "INFO"}),
        f"catalog/{settings.catalog.name}.properties": _properties(
            trino_iceberg_catalog(endpoints, file_system=trino_file_system(endpoints.s3))
        ),
        f"catalog/{TRINO_HEALTH_CATALOG}.properties": _properties({"connector.name": "tpch"}),
    }
    if auth is not None and worker:
        files["config.properties"] += _properties({"internal-communication.shared-secret": f"${{ENV:{SHARED_SECRET_ENV}}}"})
    elif auth is not None:
        files["config.properties"] += _properties(_trino_https_properties(settings, auth, etc_dir=etc_dir))
        files["password-authenticator.properties"] = _properties(
            {"password-authenticator.name": "file", "file.password-file": str(auth.password_db)}
        )
    return files


def trino_iceberg_catalog(
    endpoints: Endpoints, *, file_system: dict[str, str], rest_client: dict[str, str] | None = None
) -> dict[str, str]:
    """The Iceberg connector on the REST catalog: how it signs its requests (`rest_client`)
    and which file system reads the tables (`file_system`) are the deployment's."""
    return {
        "connector.name": "iceberg",
        "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": endpoints.catalog_uri,
        **(rest_client or {}),
        **file_system,
        "iceberg.file-format": "PARQUET",
    }


def trino_file_system(s3: S3Access | None) -> dict[str, str]:
    if s3 is None:
        # Native local file system: reads the file:/ and file:/// locations
        # Spark and PyIceberg write, with no S3 server in between.
        return {"fs.native-local.enabled": "true", "local.location": "/"}
    # Native S3; credentials from the AWS variables of Trino's environment (aws_credentials_env).
    properties = {"fs.native-s3.enabled": "true", "s3.region": s3.region}
    if s3.endpoint is not None:
        properties |= {"s3.endpoint": s3.endpoint, "s3.path-style-access": "true"}
    return properties


def _trino_https_properties(settings: LakehouseSettings, auth: SecretFiles, *, etc_dir: str) -> dict[str, str]:
    """HTTPS with password authentication. The HTTP port stays open for Trino's own traffic
    (authenticated by the shared secret) and /v1/info: Trino refuses to authenticate a
    client over plain HTTP (`http-server.authentication.allow-insecure-over-http` is false)."""
    return {
        "http-server.https.enabled": "true",
        "http-server.https.port": str(settings.trino.https_port),
        "http-server.https.keystore.path": str(auth.keystore),
        "http-server.https.keystore.key": f"${{ENV:{KEYSTORE_KEY_ENV}}}",
        "http-server.authentication.type": "PASSWORD",
        "password-authenticator.config-files": f"{etc_dir}/password-authenticator.properties",
        "internal-communication.shared-secret": f"${{ENV:{SHARED_SECRET_ENV}}}",
    }


def trino_access_rules(settings: LakehouseSettings) -> dict:
    """File-based access control: the engineer may do everything, the analyst read Gold only.

    In each section rules match top-down and the first match wins; a user no rule names gets
    nothing. A section left out is not "nobody", though: Trino then lets every user set every
    session property and view and kill everyone's queries. So every section is written out.

    Table procedures (`ALTER TABLE ... EXECUTE optimize`, `expire_snapshots`...) have no section:
    Trino 476's file-based access control lets every user run them on any table it can name
    (`checkCanExecuteTableProcedure` does nothing; trinodb/trino#22874), read-only catalog or
    not. On Bronze and Silver the SELECT check each table procedure makes stops the analyst; on
    Gold its row filter does (see the table rules).
    """
    engineer, analyst = re.escape(settings.trino.user), re.escape(settings.trino.analyst_user)
    health, probed = re.escape(TRINO_HEALTH_USER), re.escape(TRINO_HEALTH_CATALOG)
    catalog = re.escape(settings.catalog.name)
    everything = ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]
    return {
        "catalogs": [
            # The probe's TPC-H catalog is the probe's alone; nobody else even lists it.
            {"user": health, "catalog": probed, "allow": "read-only"},
            {"catalog": probed, "allow": "none"},
            {"user": engineer, "catalog": ".*", "allow": "all"},
            # Read-only refuses every write, DDL and GRANT, whatever the table rules say.
            {"user": f"{analyst}|{health}", "catalog": f"{catalog}|system", "allow": "read-only"},
        ],
        "schemas": [
            {"user": engineer, "schema": ".*", "owner": True},
        ],
        "tables": [
            {"user": engineer, "privileges": everything},
            # The filter keeps every row. It is there because Trino refuses ALTER TABLE EXECUTE on
            # a row-filtered table, the only way to keep table procedures away from Gold in Trino 476.
            {"user": analyst, "catalog": catalog, "schema": GOLD, "privileges": ["SELECT"], "filter": "true"},
            {"user": f"{analyst}|{health}", "schema": "information_schema", "privileges": ["SELECT"]},
            # The readiness probe's scan (see services._trino).
            {"user": health, "catalog": probed, "schema": "tiny", "table": "region", "privileges": ["SELECT"]},
        ],
        # Catalog functions and procedures: the engineer only. Iceberg's `table_changes` reads any
        # table's rows; its procedures register, unregister and roll back tables, and
        # `system.runtime.kill_query` stops queries. Built-in functions (`system.builtin`) stay open
        # to every user whatever these rules say.
        "functions": [
            {"user": engineer, "privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"]},
        ],
        "procedures": [
            {"user": engineer, "privileges": ["EXECUTE", "GRANT_EXECUTE"]},
        ],
        # Otherwise anyone may set any: the analyst could lower the catalog's
        # `expire_snapshots_min_retention`, or raise its own memory and time limits.
        "system_session_properties": [
            {"user": engineer, "allow": True},
        ],
        "catalog_session_properties": [
            {"user": engineer, "allow": True},
        ],
        # Otherwise anyone may view and kill anyone's queries (REST API and web UI). Every user
        # still sees and kills its own.
        "queries": [
            {"user": engineer, "allow": ["execute", "view", "kill"]},
            {"user": f"{analyst}|{health}", "allow": ["execute"]},
        ],
        # Nobody acts as another user (SET SESSION AUTHORIZATION, X-Trino-User behind a login)
        # or hands a schema, table or view to another owner.
        "impersonation": [],
        "authorization": [],
    }


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


# --- PyIceberg -------------------------------------------------------------


def pyiceberg_properties(settings: LakehouseSettings, endpoints: Endpoints) -> dict[str, str]:
    properties = {"type": "rest", "uri": endpoints.catalog_uri, "warehouse": endpoints.warehouse_uri}
    s3 = endpoints.s3
    if s3 is not None:
        properties["s3.region"] = s3.region
        if s3.endpoint is not None:
            properties["s3.endpoint"] = s3.endpoint  # path-style: s3.force-virtual-addressing stays false
        if s3.access_key_id is not None and s3.secret_access_key is not None:
            properties |= {"s3.access-key-id": s3.access_key_id, "s3.secret-access-key": s3.secret_access_key}
    return properties


def pyiceberg_yaml(settings: LakehouseSettings, endpoints: Endpoints, *, extra: dict[str, str] | None = None) -> str:
    properties = {**pyiceberg_properties(settings, endpoints), **(extra or {})}
    return yaml.safe_dump({"catalog": {settings.catalog.name: properties}}, sort_keys=False)


# --- dbt -------------------------------------------------------------------

DBT_PROFILE = "lakehouse"
# With password auth, the profile names this variable instead of holding the password;
# dbt scrubs `DBT_ENV_SECRET_*` values from its logs.
DBT_PASSWORD_ENV = "DBT_ENV_SECRET_TRINO_PASSWORD"


def dbt_output(settings: LakehouseSettings, endpoints: Endpoints) -> dict[str, object]:
    """dbt-trino's connection to the deployment's Trino: plain HTTP, no password."""
    return {
        "type": "trino",
        "method": "none",
        "user": settings.trino.user,
        "host": endpoints.trino_host,
        "port": endpoints.trino_port,
        "database": settings.catalog.name,
        "schema": GOLD,
        "threads": settings.gold.threads,
        "http_scheme": "http",
    }


def dbt_password_login(output: dict[str, object], *, port: int, cert: str | None = None) -> dict[str, object]:
    """The same connection with a password: dbt-trino's `ldap` method is HTTP basic
    authentication, always over HTTPS. The password stays in DBT_PASSWORD_ENV."""
    output = {key: value for key, value in output.items() if key != "http_scheme"}
    output.update(method="ldap", password=f"{{{{ env_var('{DBT_PASSWORD_ENV}') }}}}", port=port)
    if cert is not None:
        output["cert"] = cert
    return output


def dbt_profiles_yaml(target: str, output: dict[str, object]) -> str:
    return yaml.safe_dump({DBT_PROFILE: {"target": target, "outputs": {target: output}}}, sort_keys=False)


def dbt_profiles(settings: LakehouseSettings, endpoints: Endpoints, *, auth: SecretFiles | None = None) -> str:
    output = dbt_output(settings, endpoints)
    if auth is not None:
        output = dbt_password_login(output, port=settings.trino.https_port, cert=str(auth.ca_cert))
    return dbt_profiles_yaml("local", output)


# --- Writing ---------------------------------------------------------------


def local_config_files(settings: LakehouseSettings) -> dict[Path, str]:
    """Every config file the local stack reads, keyed by absolute path."""
    endpoints = local_endpoints(settings)
    auth = secret_files(settings) if settings.trino.password_auth else None
    config = settings.config_dir
    files: dict[Path, str] = {
        config / "spark-defaults.conf": spark_defaults_conf(spark_conf(settings, endpoints)),
        config / ".pyiceberg.yaml": pyiceberg_yaml(settings, endpoints),
        config / "dbt" / "profiles.yml": dbt_profiles(settings, endpoints, auth=auth),
    }
    for worker in (False, True) if settings.deployment == "cluster" else (False,):
        etc, data = trino_dirs(settings, worker=worker)
        for name, content in trino_etc(settings, endpoints, data_dir=str(data), etc_dir=str(etc), auth=auth, worker=worker).items():
            files[etc / name] = content
    if settings.deployment == "cluster":
        files[spark_daemon_conf_file(settings)] = spark_defaults_conf(spark_daemon_conf(settings))
    files[kafka_config_dir(settings) / "server.properties"] = kafka_server_properties(settings)
    files[kafka_config_dir(settings) / "log4j2.xml"] = kafka_log4j2_xml()
    return files


def write_files(files: dict[Path, str]) -> list[Path]:
    written = []
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        written.append(path)
    return written


def write_local_config(settings: LakehouseSettings) -> list[Path]:
    return write_files(local_config_files(settings))


def docker_files(settings: LakehouseSettings) -> dict[str, str]:
    """The committed docker/ folder: compose file plus the configs it mounts.

    Always plain HTTP, whatever `trino.password_auth` says: docker/ is committed, and
    generated secrets must never be. Always the local deployment's shape (one Trino node,
    Spark in its container), on the object store's bucket: the compose file has no cluster.
    The REST catalog keeps SQLite in its volume (the compose file has no PostgreSQL), and the
    compose Spark has no OpenLineage listener, whose file or API key belong to this machine.
    """
    settings = settings.model_copy(
        update={
            "deployment": "local",
            "catalog": settings.catalog.model_copy(update={"backend": "sqlite"}),
            "lineage": settings.lineage.model_copy(update={"spark_listener": False}),
        }
    )
    endpoints = docker_endpoints(settings)
    name = settings.catalog.name
    files: dict[str, str] = {
        "spark/spark-defaults.conf": spark_defaults_conf(spark_conf(settings, endpoints, ivy_dir=Path("/tmp/ivy"))),
        "pyiceberg/.pyiceberg.yaml": pyiceberg_yaml(settings, endpoints),
        "dbt/profiles.yml": dbt_profiles(settings, endpoints),
    }
    for file_name, content in trino_etc(settings, endpoints, data_dir="/data/trino", etc_dir="/etc/trino").items():
        files[f"trino/etc/{file_name}"] = content
    rest_env = rest_catalog_env(settings, warehouse_uri=endpoints.warehouse_uri, sqlite_path="/catalog/catalog.db", s3=endpoints.s3)
    files["rest.env"] = "".join(f"{key}={value}\n" for key, value in rest_env.items())
    files["docker-compose.yml"] = _compose_file(settings, name, endpoints)
    return files


def _compose_file(settings: LakehouseSettings, catalog_name: str, endpoints: Endpoints) -> str:
    assert endpoints.s3 is not None
    store = settings.object_store
    # The S3 clients' AWS SDK variables (the services' default credential chain), with the secret by reference.
    credentials = aws_credentials_env(replace(endpoints.s3, secret_access_key=DOCKER_SECRET_REF))
    bucket_dir = f"{DOCKER_OBJECT_STORE_DATA}/{store.bucket}"
    compose = {
        # 2.4 is the newest format Debian's docker-compose 1.29 validates that still
        # has depends_on conditions; Compose v2 ignores the key.
        "version": "2.4",
        "services": {
            DOCKER_OBJECT_STORE_HOST: {
                "image": DOCKER_OBJECT_STORE_IMAGE,
                # The image's start script turns these into S3Proxy's properties file (not -D flags).
                "environment": {
                    "S3PROXY_ENDPOINT": f"http://0.0.0.0:{store.port}",
                    "S3PROXY_AUTHORIZATION": "aws-v4",
                    "S3PROXY_IDENTITY": store.access_key_id,
                    "S3PROXY_CREDENTIAL": DOCKER_SECRET_REF,
                    # Trino's listings send x-amz-optional-object-attributes (see object_store.py).
                    "S3PROXY_IGNORE_UNKNOWN_HEADERS": "true",
                    "S3PROXY_JAVA_OPTS": f"-Xmx{store.heap}",
                    "JCLOUDS_PROVIDER": "filesystem",
                    "JCLOUDS_FILESYSTEM_BASEDIR": DOCKER_OBJECT_STORE_DATA,
                },
                # The bucket is a folder: made before the server starts, private (a folder others can
                # read is a public-read bucket to the filesystem backend), then the image's own start.
                "command": [
                    "sh",
                    "-c",
                    f"mkdir -p {bucket_dir} && chmod 700 {DOCKER_OBJECT_STORE_DATA} {bucket_dir} "
                    "&& exec /opt/s3proxy/run-docker-container.sh",
                ],
                # Loopback only, as on the cluster deployment: the engines reach it on the compose network.
                "ports": [f"127.0.0.1:{store.port}:{store.port}"],
                "volumes": [f"object-store:{DOCKER_OBJECT_STORE_DATA}"],
                "healthcheck": {
                    # The image has bash but no curl; /healthz answers without credentials.
                    "test": [
                        "CMD",
                        "bash",
                        "-c",
                        f'exec 3<>/dev/tcp/127.0.0.1/{store.port} && printf "GET {object_store.HEALTH_PATH} HTTP/1.0\\r\\n\\r\\n" >&3 '
                        '&& head -n 1 <&3 | grep -q " 200 "',
                    ],
                    "interval": "5s",
                    "retries": 30,
                },
            },
            DOCKER_REST_HOST: {
                "image": DOCKER_REST_IMAGE,
                "env_file": ["rest.env"],
                "environment": dict(credentials),
                "ports": [f"{settings.catalog.port}:{settings.catalog.port}"],
                # Root, to write the SQLite catalog into its named volume (created root-owned).
                "user": "0:0",
                "volumes": ["catalog:/catalog"],
                "healthcheck": {
                    "test": ["CMD-SHELL", f"curl -fs http://localhost:{settings.catalog.port}/v1/config || exit 1"],
                    "interval": "5s",
                    "retries": 30,
                },
                "depends_on": {DOCKER_OBJECT_STORE_HOST: {"condition": "service_healthy"}},
            },
            DOCKER_TRINO_HOST: {
                "image": DOCKER_TRINO_IMAGE,
                "environment": dict(credentials),
                "ports": [f"{settings.trino.port}:{settings.trino.port}"],
                "volumes": ["./trino/etc:/etc/trino:ro"],
                "depends_on": {DOCKER_REST_HOST: {"condition": "service_healthy"}},
            },
            "spark": {
                "image": DOCKER_SPARK_IMAGE,
                "command": ["/opt/spark/bin/spark-sql", "--conf", f"spark.sql.defaultCatalog={catalog_name}"],
                "stdin_open": True,
                "tty": True,
                "environment": dict(credentials),
                "volumes": ["./spark/spark-defaults.conf:/opt/spark/conf/spark-defaults.conf:ro"],
                "depends_on": {DOCKER_REST_HOST: {"condition": "service_healthy"}},
            },
            # The demo in the project's own image. It starts its own services inside its container,
            # as `lakehouse demo` does on a machine (catalog/services.py has no way to use running
            # ones), so it needs none of the above; its home, warehouse included, is its volume.
            # Behind a profile: `docker-compose run --rm pipeline` (or `--profile pipeline up`).
            DOCKER_PIPELINE_SERVICE: {
                "build": {"context": "..", "dockerfile": DOCKERFILE},
                "profiles": [DOCKER_PIPELINE_SERVICE],
                # An init as PID 1: it reaps the services the demo starts and forwards signals.
                "init": True,
                "volumes": [f"pipeline-home:{DOCKER_PIPELINE_HOME}", f"pipeline-cache:{DOCKER_PIPELINE_CACHE}"],
            },
        },
        "volumes": {"object-store": {}, "catalog": {}, "pipeline-home": {}, "pipeline-cache": {}},
    }
    header = (
        "# Rendered by `lakehouse config docker` from the settings; edit the settings, not this file.\n"
        f"# Needs {object_store.SECRET_ENV} (the object store's secret) in the shell or in docker/.env.\n"
    )
    return header + yaml.safe_dump(compose, sort_keys=False, width=1000)


def metadata_log_properties(settings: LakehouseSettings) -> dict[str, str]:
    """Table properties that make each commit delete the metadata JSON files beyond `maintenance.metadata_versions`."""
    return {
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": str(settings.maintenance.metadata_versions),
    }
