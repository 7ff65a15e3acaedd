"""The local services, run as plain processes: no Docker engine needed.

`up` is idempotent: a service whose recorded process is alive and healthy is
left alone. `down` stops only processes this module started, identified by the
pid *and* start time recorded at launch, so a recycled pid is never killed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlglot import exp

from catalog import artifacts, engine_config, jvm_aot, kafka_broker, object_store, postgres, spark_cluster, trino_auth
from catalog.errors import ConfigError, ServiceError
from catalog.java import KAFKA_JAVA, REST_CATALOG_JAVA, S3PROXY_JAVA, SPARK_JAVA, TRINO_JAVA, JavaRange, require_java
from catalog.settings import TRINO_HEALTH_CATALOG, LakehouseSettings

Report = Callable[[str], None]

LOG_TAIL_LINES = 25
STOP_TIMEOUT_SECONDS = 30.0
# A JVM that recorded an AOT cache writes it as it exits: 33-58 s for Trino here.
AOT_CACHE_WRITE_TIMEOUT_SECONDS = 300.0
LOW_PRIORITY_NICENESS = 19
# How long Trino's readiness query may take. On the cluster a query with no live worker to
# run on waits for one (query-manager.required-workers-max-wait, 5 minutes): the probe
# cancels it and answers "not ready" instead of waiting along.
TRINO_PROBE_QUERY_SECONDS = 15.0


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    port_setting: str  # the env var that moves it, for error messages
    url: str  # what clients connect to
    health_url: str  # probed over HTTP with `is_healthy`, unless `probe` is set (then only named in messages)
    java_home: Path | None  # None: not a JVM
    java: JavaRange | None  # the Java versions it runs on
    java_setting: str
    cache_folder: Callable[[Path], Path] | None  # cache dir -> this service's artifact folder; None: nothing to fetch
    fetch: Callable[[Path], Path] | None  # downloads into the cache, returns the install folder
    command: Callable[[Path], list[str]]  # install folder (the home if nothing is fetched) -> argv
    env: dict[str, str]
    log_file: Path
    record_file: Path
    # Read only when the service starts, so `status` and `down` never touch secrets.
    secret_env: Callable[[], dict[str, str]] = dict
    # The certificate to verify an HTTPS health URL against.
    ca_file: Path | None = None
    # Further ports the service listens on, each with the env var that moves it.
    extra_ports: tuple[tuple[int, str], ...] = ()
    # The argv that also records a JVM AOT cache (`catalog/jvm_aot.py`), if the service has one.
    recording_command: Callable[[Path], list[str]] | None = None
    # Judges the health URL's response body (HTTP services).
    is_healthy: Callable[[bytes], bool] | None = None
    # Health without HTTP (a database, a broker): replaces the health URL's probe.
    probe: Callable[[], bool] | None = None
    # Run before each start (the first one initialises the service's data); must be idempotent.
    prepare: Callable[[], None] | None = None
    # Checked before anything starts, like the Java version: raises a one-line error.
    preflight: Callable[[], None] | None = None
    # What `down` sends the process group first.
    stop_signal: signal.Signals = signal.SIGTERM

    def __post_init__(self) -> None:
        if (self.probe is None) == (self.is_healthy is None):
            raise ValueError(f"service {self.name}: give exactly one of probe and is_healthy")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str
    pid: int | None
    state: str  # running | unhealthy | stopped


def _rest_catalog(settings: LakehouseSettings) -> Service:
    catalog = settings.catalog
    sqlite_path = settings.data_dir / "catalog" / "catalog.db"
    env = engine_config.rest_catalog_env(
        settings, warehouse_uri=settings.warehouse_uri, sqlite_path=str(sqlite_path),
        s3=engine_config.object_store_access(settings, with_secret=False),
    )
    java = settings.java.jdk17_home / "bin" / "java"
    return Service(
        name="rest-catalog",
        host=catalog.host,
        port=catalog.port,
        port_setting="LAKEHOUSE_CATALOG__PORT",
        url=catalog.uri,
        health_url=f"{catalog.uri}/v1/config",
        is_healthy=lambda body: b"endpoints" in body or b"defaults" in body,
        java_home=settings.java.jdk17_home,
        java=REST_CATALOG_JAVA,
        java_setting="LAKEHOUSE_JAVA__JDK17_HOME",
        cache_folder=artifacts.rest_catalog_dir,
        fetch=artifacts.ensure_rest_catalog,
        command=lambda lib: [
            str(java),
            f"-Xmx{catalog.heap}",
            "-cp",
            f"{lib}/*",
            "org.apache.iceberg.rest.RESTCatalogServer",
        ],
        env=env,
        log_file=settings.run_dir / "rest-catalog.log",
        record_file=settings.run_dir / "rest-catalog.json",
        secret_env=lambda: _object_store_credentials(settings),
    )


def _object_store_credentials(settings: LakehouseSettings) -> dict[str, str]:
    """A JVM's AWS SDK reads these (its default credential chain): the object store's key, on the cluster deployment."""
    access = engine_config.object_store_access(settings, with_secret=True)
    return engine_config.aws_credentials_env(access) if access is not None else {}


def _trino_command(settings: LakehouseSettings, *, worker: bool = False, record: bool = False) -> Callable[[Path], list[str]]:
    """A Trino node's argv: `launcher run` stays in the foreground, so the recorded pid is Trino's."""
    etc, data = engine_config.trino_dirs(settings, worker=worker)

    def command(server: Path) -> list[str]:
        aot = (
            jvm_aot.launcher_options(settings.cache_dir, settings.java.jdk25_home, record=record)  # type: ignore[arg-type]
            if settings.trino.aot_cache
            else []
        )
        return [str(server / "bin" / "launcher"), "run", f"--etc-dir={etc}", f"--data-dir={data}", *aot]

    return command


def _trino_env(settings: LakehouseSettings) -> dict[str, str]:
    return {
        "JAVA_HOME": str(settings.java.jdk25_home),
        "PATH": f"{settings.java.jdk25_home / 'bin'}:{os.environ.get('PATH', '')}",
    }


def _trino(settings: LakehouseSettings) -> Service:
    trino = settings.trino
    files = trino_auth.secret_files(settings)
    # With password auth, clients (and the health probe) use HTTPS; plain HTTP refuses queries.
    ca_file = files.ca_cert if trino.password_auth else None
    url = f"https://{trino.host}:{trino.https_port}" if trino.password_auth else f"http://{trino.host}:{trino.port}"
    service = Service(
        name="trino",
        host=trino.host,
        port=trino.port,
        port_setting="LAKEHOUSE_TRINO__PORT",
        url=url,
        health_url=f"{url}/v1/info",
        # `starting: false` comes seconds before a scan can run: the scheduler places a
        # catalog's splits only on nodes whose announcement listed that catalog, and the
        # coordinator's node list catches up with the announcements a refresh or two later.
        # Until then scans fail with NO_NODES_AVAILABLE, while `system.runtime.nodes`
        # already shows the node active and information_schema (run on the coordinator)
        # answers. So the probe scans a table of the TPC-H catalog, which every node
        # announces together with ours and which needs no table of ours, and asks the
        # catalog's information_schema (the link to the REST catalog). On the cluster the
        # coordinator schedules no splits on itself: the scan proves a worker is ready.
        is_healthy=lambda body: json.loads(body).get("starting") is False
        and _trino_answers(
            url,
            _readiness_probe_sql(settings.catalog.name),
            headers=_trino_probe_headers(settings),
            context=_ssl_context(ca_file),
        ),
        java_home=settings.java.jdk25_home,
        java=TRINO_JAVA,
        java_setting="LAKEHOUSE_JAVA__JDK25_HOME",
        cache_folder=artifacts.trino_dir,
        fetch=artifacts.ensure_trino,
        command=_trino_command(settings),
        recording_command=_trino_command(settings, record=True),
        env=_trino_env(settings),
        log_file=settings.run_dir / "trino.log",
        record_file=settings.run_dir / "trino.json",
        secret_env=lambda: _object_store_credentials(settings),
    )
    if not trino.password_auth:
        return service
    return dataclasses.replace(
        service,
        secret_env=lambda: {**trino_auth.server_env(files), **_object_store_credentials(settings)},
        ca_file=ca_file,
        extra_ports=((trino.https_port, "LAKEHOUSE_TRINO__HTTPS_PORT"),),
    )


def _trino_worker(settings: LakehouseSettings) -> Service:
    """The cluster deployment's Trino worker: the coordinator's Trino, Java and secrets, a node of its own."""
    trino = settings.trino
    url = f"http://{trino.host}:{trino.worker_port}"
    return dataclasses.replace(
        _trino(settings),
        name="trino-worker",
        port=trino.worker_port,
        port_setting="LAKEHOUSE_TRINO__WORKER_PORT",
        url=url,  # clients never connect to it: /v1/info and Trino's internal traffic, over HTTP
        health_url=f"{url}/v1/info",
        ca_file=None,
        extra_ports=(),
        # Started: the coordinator's readiness then waits until it counts this node active.
        is_healthy=lambda body: json.loads(body).get("starting") is False,
        # It uses the AOT cache the coordinator recorded (the same Trino and JDK) but never
        # records one: a worker sees no planning, only tasks.
        command=_trino_command(settings, worker=True),
        recording_command=None,
        log_file=settings.run_dir / "trino-worker.log",
        record_file=settings.run_dir / "trino-worker.json",
    )


def _spark_master(settings: LakehouseSettings) -> Service:
    cluster = settings.spark.cluster
    return Service(
        name="spark-master",
        host=cluster.host,
        port=cluster.master_port,
        port_setting="LAKEHOUSE_SPARK__CLUSTER__MASTER_PORT",
        url=cluster.master_url,
        health_url=f"{cluster.master_webui_url}/json/",
        is_healthy=spark_cluster.master_alive,
        java_home=settings.java.jdk17_home,
        java=SPARK_JAVA,
        java_setting="LAKEHOUSE_JAVA__JDK17_HOME",
        cache_folder=None,
        fetch=None,  # the pyspark wheel's Spark
        command=lambda _: spark_cluster.master_command(settings),
        env=spark_cluster.env(settings),
        log_file=settings.run_dir / "spark-master.log",
        record_file=settings.run_dir / "spark-master.json",
        extra_ports=((cluster.master_webui_port, "LAKEHOUSE_SPARK__CLUSTER__MASTER_WEBUI_PORT"),),
    )


def _spark_worker(settings: LakehouseSettings, number: int) -> Service:
    """Worker `number`: the master's Spark and Java, registered with the master, which judges its health."""
    cluster = settings.spark.cluster
    name = spark_cluster.worker_name(number)
    webui = cluster.worker_webui_url(number)
    scratch = spark_cluster.worker_dir(settings, number) / "scratch"
    return dataclasses.replace(
        _spark_master(settings),
        name=name,
        # Its RPC port is left to the system: only the web UI's is fixed, and names it to the master.
        port=cluster.worker_webui_port + number - 1,
        port_setting="LAKEHOUSE_SPARK__CLUSTER__WORKER_WEBUI_PORT",
        url=webui,
        is_healthy=lambda body: spark_cluster.worker_alive(body, webui),
        command=lambda _: spark_cluster.worker_command(settings, number),
        env=spark_cluster.env(settings, scratch=scratch),
        log_file=settings.run_dir / f"{name}.log",
        record_file=settings.run_dir / f"{name}.json",
        extra_ports=(),
        prepare=lambda: scratch.mkdir(parents=True, exist_ok=True),
    )


def _trino_probe_headers(settings: LakehouseSettings) -> dict[str, str]:
    """The health user's headers: with password auth it authenticates like any client."""
    if settings.trino.password_auth:
        return trino_auth.basic_auth_header(settings, trino_auth.TRINO_HEALTH_USER)
    return {"X-Trino-User": trino_auth.TRINO_HEALTH_USER}


def _kafka(settings: LakehouseSettings) -> Service:
    kafka = settings.kafka
    address = f"kafka://{kafka.bootstrap_servers}"
    return Service(
        name="kafka",
        host=kafka.host,
        port=kafka.port,
        port_setting="LAKEHOUSE_KAFKA__PORT",
        url=address,
        # Kafka speaks its own protocol: `probe` asks the broker for its metadata instead.
        health_url=address,
        java_home=settings.java.jdk17_home,
        java=KAFKA_JAVA,
        java_setting="LAKEHOUSE_JAVA__JDK17_HOME",
        cache_folder=artifacts.kafka_dir,
        fetch=artifacts.ensure_kafka,
        command=lambda lib: kafka_broker.command(settings, lib),
        env={},
        log_file=settings.run_dir / "kafka.log",
        record_file=settings.run_dir / "kafka.json",
        extra_ports=((kafka.controller_port, "LAKEHOUSE_KAFKA__CONTROLLER_PORT"),),
        probe=lambda: kafka_broker.answers(settings),
        prepare=lambda: kafka_broker.format_storage(settings),
    )


def crm_api_token_file(settings: LakehouseSettings) -> Path:
    """The CRM API's bearer token: the server writes it (0600) on first start, its clients read it."""
    return settings.home / "secrets" / "crm-api" / "token"


def _crm_api(settings: LakehouseSettings) -> Service:
    api = settings.crm_api
    return Service(
        name="crm-api",
        host=api.host,
        port=api.port,
        port_setting="LAKEHOUSE_CRM_API__PORT",
        url=api.url,
        health_url=f"{api.url}/health",
        is_healthy=lambda body: json.loads(body).get("status") == "ok",
        java_home=None,
        java=None,
        java_setting="",
        cache_folder=None,
        fetch=None,
        # By module name: catalog/ never imports ingestion/. Every setting on the command
        # line, since the server runs in the home, where no lakehouse.yaml is.
        command=lambda _: [
            sys.executable, "-m", "ingestion.synthetic.crm_api",
            "--host", api.host,
            "--port", str(api.port),
            "--database", str(settings.data_dir / "crm-api" / "crm.db"),
            "--token-file", str(crm_api_token_file(settings)),
            "--page-limit", str(api.page_limit),
            "--search-cap", str(api.search_cap),
            "--rate-limit-every", str(api.rate_limit_every),
            "--retry-after", str(api.retry_after_seconds),
            "--fault-every", str(api.fault_every),
        ],
        env={},
        log_file=settings.run_dir / "crm-api.log",
        record_file=settings.run_dir / "crm-api.json",
    )


def _postgres(settings: LakehouseSettings) -> Service:
    pg = settings.postgres
    address = f"postgresql://{pg.host}:{pg.port}"
    return Service(
        name="postgres",
        host=pg.host,
        port=pg.port,
        port_setting="LAKEHOUSE_POSTGRES__PORT",
        url=address,
        health_url=address,  # `probe` asks the server itself
        probe=lambda: postgres.is_ready(settings),
        java_home=None,
        java=None,
        java_setting="",
        cache_folder=None,
        fetch=None,  # Debian's package: nothing to download
        command=lambda _: postgres.server_command(settings, postgres.bin_dir(settings)),
        env={},
        log_file=settings.run_dir / "postgres.log",
        record_file=settings.run_dir / "postgres.json",
        prepare=lambda: postgres.prepare(settings),
        preflight=lambda: postgres.bin_dir(settings),
        # SIGINT is PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every client to leave.
        stop_signal=signal.SIGINT,
    )


def _object_store(settings: LakehouseSettings) -> Service:
    store = settings.object_store
    return Service(
        name="object-store",
        host=store.host,
        port=store.port,
        port_setting="LAKEHOUSE_OBJECT_STORE__PORT",
        url=store.endpoint,
        health_url=f"{store.endpoint}{object_store.HEALTH_PATH}",
        is_healthy=object_store.is_healthy,
        java_home=settings.java.jdk17_home,
        java=S3PROXY_JAVA,
        java_setting="LAKEHOUSE_JAVA__JDK17_HOME",
        cache_folder=artifacts.s3proxy_dir,
        fetch=artifacts.ensure_s3proxy,
        command=lambda folder: object_store.command(settings, folder),
        env={},
        log_file=settings.run_dir / "object-store.log",
        record_file=settings.run_dir / "object-store.json",
        prepare=lambda: object_store.prepare(settings),
    )


# Start order: the object store holds the warehouse the REST catalog writes metadata into
# (cluster deployment); Trino's Iceberg catalog needs the REST catalog.
SERVICES: dict[str, Callable[[LakehouseSettings], Service]] = {
    "object-store": _object_store,
    "rest-catalog": _rest_catalog,
    "trino": _trino,
    "trino-worker": _trino_worker,
    "crm-api": _crm_api,
    "postgres": _postgres,
    "kafka": _kafka,
    "spark-master": _spark_master,
}


# Services that only the `cluster` deployment runs (settings.deployment). It also runs
# `spark.cluster.workers` Spark workers, spark-worker-1, -2..., after the registry's services.
CLUSTER_ONLY: frozenset[str] = frozenset({"object-store", "trino-worker", "spark-master"})


def services(settings: LakehouseSettings) -> list[Service]:
    """The deployment's services, in start order."""
    chosen = [
        factory(settings) for name, factory in SERVICES.items()
        if settings.deployment == "cluster" or name not in CLUSTER_ONLY
    ]
    if settings.deployment == "cluster":
        chosen += [_spark_worker(settings, number) for number in range(1, settings.spark.cluster.workers + 1)]
    return chosen


def spark_needs(settings: LakehouseSettings) -> tuple[str, ...]:
    """The services a Spark session needs running: the REST catalog, and on the cluster the
    object store that holds the warehouse, the master and its workers (with none, a job waits
    for executors for ever)."""
    if settings.deployment == "local":
        return ("rest-catalog",)
    return ("object-store", "rest-catalog", "spark-master", *spark_cluster.worker_names(settings))


def _with_nodes(settings: LakehouseSettings, names: Collection[str]) -> set[str]:
    """The names, and on the cluster the other nodes each cannot work without: the
    coordinator schedules no task on itself, and the master runs nothing without workers."""
    found = set(names)
    if settings.deployment == "cluster":
        peers = {"trino": ["trino-worker"], "spark-master": spark_cluster.worker_names(settings)}
        for name in names:
            found.update(peers.get(name, []))
    return found


def _with_needs(settings: LakehouseSettings, names: Collection[str]) -> set[str]:
    """The names, their nodes, and every service they cannot work without, as compose's
    `depends_on` brings them: Trino serves the REST catalog's tables (its readiness asks
    the catalog), and on the cluster the catalog keeps them in the object store."""
    needs = {"trino": ["rest-catalog"], "trino-worker": ["rest-catalog"]}
    if settings.deployment == "cluster":
        needs["rest-catalog"] = ["object-store"]
    found, todo = set(), list(_with_nodes(settings, names))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += needs.get(name, [])
    return found


# --- Commands --------------------------------------------------------------


def up(
    settings: LakehouseSettings, report: Report = lambda _: None, *, only: Collection[str] | None = None
) -> list[ServiceStatus]:
    """Start every service, or the ones named in `only` with what they need (Spark alone needs
    only "rest-catalog"; "trino" brings it too), and wait until each is healthy."""
    return start(settings, report, only=only).wait()


@dataclass
class Startup:
    """Services launched by `start`, each waited for (and reported healthy) on demand."""

    settings: LakehouseSettings
    report: Report
    launched: list[tuple[Service, psutil.Process, bool]]  # service, its process, was it running already
    _ready: dict[str, ServiceStatus] = dataclasses.field(default_factory=dict)

    def wait(self, *names: str) -> list[ServiceStatus]:
        """Wait until the named services (default: all launched) are healthy, in launch order."""
        statuses = []
        for service, process, was_running in self.launched:
            if names and service.name not in names:
                continue
            if service.name not in self._ready:
                if was_running:
                    self.report(f"{service.name} already running (pid {process.pid})")
                else:
                    self.report(f"waiting for {service.name} at {service.health_url}")
                    _wait_healthy(service, process, self.settings.startup_timeout)
                    self.report(f"{service.name} is up at {service.url}")
                self._ready[service.name] = ServiceStatus(service.name, service.url, process.pid, "running")
            statuses.append(self._ready[service.name])
        return statuses

    def check(self) -> None:
        """Raise if a launched service not yet waited for has already exited."""
        for service, process, _ in self.launched:
            if service.name not in self._ready:
                _check_alive(service, process)


def start(
    settings: LakehouseSettings,
    report: Report = lambda _: None,
    *,
    only: Collection[str] | None = None,
    low_priority: Collection[str] = (),
    record_aot_cache: bool = False,
) -> Startup:
    """Launch every service (or those in `only`) that is not running, without waiting for any.

    Callers that need one service before another (Spark needs the catalog long before
    anyone queries Trino) wait for each when they need it, and the rest boot meanwhile.
    Services named in `low_priority` run at the lowest CPU priority (nice 19), so that
    booting they take only the CPU the caller's own work leaves idle. The priority is
    theirs for life: an unprivileged process cannot raise it again.
    With `record_aot_cache`, a service that has no JVM AOT cache yet records one from
    this run's work, written when it stops (`down`).
    """
    _check_names(settings, only or ())
    deployed = services(settings)
    wanted = None if only is None else _with_needs(settings, only)
    # What a low-priority service needs runs at normal priority: the caller may wait for it first.
    low_priority = _with_nodes(settings, low_priority)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    if settings.deployment == "local":  # on the cluster, the warehouse is the object store's bucket
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    (settings.data_dir / "catalog").mkdir(parents=True, exist_ok=True)
    engine_config.write_local_config(settings)
    chosen = [service for service in deployed if wanted is None or service.name in wanted]
    planned = [(service, _recorded_process(service)) for service in chosen]
    # Check every service before starting any, so a bad setting for the last one
    # does not leave the first one running.
    for service, process in planned:
        if process is None:
            _check_java(service)
            _check_port_free(service)
    if settings.trino.password_auth:
        trino_auth.ensure_secrets(settings)
    launched = []
    for service, process in planned:
        running = process is not None and _probe(service)
        if not running and process is None:
            niceness = LOW_PRIORITY_NICENESS if service.name in low_priority else 0
            process = _start(settings, service, report, niceness=niceness, record_aot_cache=record_aot_cache)
        launched.append((service, process, running))
    return Startup(settings, report, launched)  # type: ignore[arg-type]


def _check_names(settings: LakehouseSettings, names: Collection[str]) -> None:
    workers = spark_cluster.worker_names(settings)
    known = [*SERVICES, *workers]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ConfigError(f"unknown service {', '.join(unknown)}: choose from {', '.join(known)}")
    cluster_only = CLUSTER_ONLY | set(workers)
    elsewhere = sorted(name for name in names if name in cluster_only and settings.deployment != "cluster")
    if elsewhere:
        raise ConfigError(
            f"{', '.join(elsewhere)} runs only in the cluster deployment, and this one is {settings.deployment}: "
            "set LAKEHOUSE_DEPLOYMENT=cluster"
        )


def down(settings: LakehouseSettings, report: Report = lambda _: None) -> list[str]:
    stopped = []
    for service in reversed(services(settings)):
        process = _recorded_process(service)
        if process is not None:
            recording = jvm_aot.recording(_recorded_command(service))
            if recording is None:
                report(f"stopping {service.name} (pid {process.pid})")
                _stop(process, signal_first=service.stop_signal)
            else:
                report(f"stopping {service.name} (pid {process.pid}); it writes its AOT cache first (once, 30-60 s)")
                if _stop(process, AOT_CACHE_WRITE_TIMEOUT_SECONDS):
                    jvm_aot.keep(recording)
                else:
                    jvm_aot.discard(recording)
            stopped.append(service.name)
        service.record_file.unlink(missing_ok=True)
    return stopped


def status(settings: LakehouseSettings) -> list[ServiceStatus]:
    result = []
    for service in services(settings):
        process = _recorded_process(service)
        if process is None:
            state, pid = "stopped", None
        else:
            state, pid = ("running" if _probe(service) else "unhealthy"), process.pid
        result.append(ServiceStatus(service.name, service.url, pid, state))
    return result


# --- Process handling --------------------------------------------------------


def _start(
    settings: LakehouseSettings, service: Service, report: Report, *, niceness: int = 0, record_aot_cache: bool = False
) -> psutil.Process:
    install = settings.home
    if service.fetch is not None and service.cache_folder is not None:
        if not artifacts.is_cached(service.cache_folder(settings.cache_dir)):  # type: ignore[arg-type]
            report(f"fetching {service.name} artifacts into {settings.cache_dir} (first run only)")
        install = service.fetch(settings.cache_dir)  # type: ignore[arg-type]
    if service.prepare is not None:
        service.prepare()
    records = record_aot_cache and service.recording_command is not None
    command = service.recording_command(install) if records else service.command(install)  # type: ignore[misc]
    report(f"starting {service.name}" + (f" at low CPU priority (nice {niceness})" if niceness else ""))
    # `nice` execs the command in place, so the recorded pid is still the service's.
    niced = ["nice", "-n", str(niceness)] if niceness else []
    with service.log_file.open("ab") as log:
        popen = subprocess.Popen(
            [*niced, *command],
            env={**os.environ, **service.env, **service.secret_env()},
            cwd=settings.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group: `down` signals the whole group, and Ctrl-C in the
            # shell that ran `up` does not take the services with it.
            start_new_session=True,
        )
    process = psutil.Process(popen.pid)
    if niceness:
        _lower_session_priority(process.pid, niceness)
    service.record_file.write_text(
        json.dumps({"pid": process.pid, "create_time": process.create_time(), "command": command})
    )
    return process


def _lower_session_priority(pid: int, niceness: int) -> None:
    """Give the service's session the niceness too, where Linux groups CPU time by session.

    With autogroup scheduling (the default on desktop and most cloud kernels) each
    session competes as one unit and a process's own niceness only counts inside its
    session: a niced service in a session of its own would still take half the CPU.
    """
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))
    except OSError:  # no autogroup (other kernels, other systems): the process niceness is all there is
        pass


def _recorded_command(service: Service) -> list[str]:
    try:
        return list(json.loads(service.record_file.read_text()).get("command", []))
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _recorded_process(service: Service) -> psutil.Process | None:
    """The live process this module started for `service`, if any."""
    try:
        record = json.loads(service.record_file.read_text())
        process = psutil.Process(record["pid"])
        if process.create_time() != record["create_time"] or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except (FileNotFoundError, json.JSONDecodeError, KeyError, psutil.Error):
        return None


def _stop(
    process: psutil.Process, timeout: float = STOP_TIMEOUT_SECONDS, *, signal_first: signal.Signals = signal.SIGTERM
) -> bool:
    """Signal the service's process group; True if it exited within `timeout`, False if it was killed."""
    try:
        group = os.getpgid(process.pid)
        members = [process, *process.children(recursive=True)]
        os.killpg(group, signal_first)
        _, alive = psutil.wait_procs(members, timeout=timeout)
        if not alive:
            return True
        # The group, not only the members: a process started while stopping (the JVM's
        # AOT cache writer) must go too.
        os.killpg(group, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return True
    return False


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """Verifies the server against `ca_file` (made per probe: it may not exist yet)."""
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None


def _probe(service: Service) -> bool:
    if service.probe is not None:
        return service.probe()
    try:
        with urllib.request.urlopen(service.health_url, timeout=2, context=_ssl_context(service.ca_file)) as response:
            return response.status == 200 and service.is_healthy(response.read())  # type: ignore[misc]
    except (urllib.error.URLError, OSError, ValueError, ConfigError):
        return False


def _readiness_probe_sql(catalog_name: str) -> str:
    schemata = exp.table_("schemata", db="information_schema", catalog=catalog_name, quoted=True)
    region = exp.table_("region", db="tiny", catalog=TRINO_HEALTH_CATALOG, quoted=True)
    scan_runs = exp.select("count(*) > 0").from_(region)
    catalog_answers = exp.select("count(*) > 0").from_(schemata)
    return exp.select(exp.and_(scan_runs.subquery(), catalog_answers.subquery())).sql(dialect="trino")


def _trino_answers(url: str, sql: str, *, headers: dict[str, str], context: ssl.SSLContext | None) -> bool:
    """True when `sql` returns one row holding `true` within TRINO_PROBE_QUERY_SECONDS, over Trino's HTTP protocol."""
    deadline = time.monotonic() + TRINO_PROBE_QUERY_SECONDS
    request = urllib.request.Request(f"{url}/v1/statement", data=sql.encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=5, context=context) as response:
        result = json.loads(response.read())
    # Follow the protocol's nextUri pages until the one row arrives (each page authenticates).
    while "data" not in result and "nextUri" in result and "error" not in result:
        if time.monotonic() > deadline:
            cancel = urllib.request.Request(result["nextUri"], headers=headers, method="DELETE")
            urllib.request.urlopen(cancel, timeout=5, context=context).close()
            return False
        page = urllib.request.Request(result["nextUri"], headers=headers)
        with urllib.request.urlopen(page, timeout=5, context=context) as response:
            result = json.loads(response.read())
    return result.get("data") == [[True]]


def _check_alive(service: Service, process: psutil.Process) -> None:
    if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
        service.record_file.unlink(missing_ok=True)
        raise ServiceError(
            f"{service.name} exited during start-up: see the log above and {service.log_file}",
            details=_log_tail(service.log_file),
        )


def _wait_healthy(service: Service, process: psutil.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _probe(service):
            return
        _check_alive(service, process)
        time.sleep(0.5)
    raise ServiceError(
        f"{service.name} was not healthy at {service.health_url} after {timeout:.0f}s: "
        f"see {service.log_file}, or raise LAKEHOUSE_STARTUP_TIMEOUT",
        details=_log_tail(service.log_file),
    )


_ERROR_LINE = re.compile(r"\bERROR\b|^Exception|^Error")


def _log_tail(path: Path) -> str:
    """The part of a log that explains a failure: from its last ERROR line, else its end."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    errors = [index for index, line in enumerate(lines) if _ERROR_LINE.search(line)]
    if errors:
        return "\n".join(lines[errors[-1] : errors[-1] + 6])
    return "\n".join(lines[-LOG_TAIL_LINES:])


# --- Preflight ---------------------------------------------------------------

def _check_java(service: Service) -> None:
    if service.preflight is not None:
        service.preflight()
    if service.java_home is None or service.java is None:
        return
    require_java(service.java_home, service.java, who=service.name, setting=service.java_setting)


def _check_port_free(service: Service) -> None:
    for port, setting in ((service.port, service.port_setting), *service.extra_ports):
        if not _port_is_free(port):
            raise ServiceError(
                f"port {port} for {service.name} is already in use{_port_owner(port)}: "
                f"stop that process or set {setting} to a free port"
            )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def _port_owner(port: int) -> str:
    try:
        for connection in psutil.net_connections(kind="tcp"):
            if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
                if connection.pid:
                    return f" by pid {connection.pid} ({psutil.Process(connection.pid).name()})"
    except (psutil.Error, PermissionError):
        pass
    return ""
