"""The cluster deployment of `catalog/services.py` (settings.deployment = cluster).

A Spark standalone master with two workers and a Trino coordinator with one worker, all on
loopback, started by `services.up` in a home of their own. The fast tests check which
services each deployment runs; the integration tests show that the work is distributed
(Spark's master and workers list executors, Trino's tasks run on its worker) and what a
worker's SIGKILL does: Spark reruns the lost tasks and writes the same table; Trino's query
fails with a Trino error, and the same query gives the same answer once the worker is back.
Last, the pipeline itself: three days (a catch-up batch, then a day during which a Spark
worker is killed, then that day again) and Gold on the cluster give every Silver and Gold
table the same checksum as the same days on the local deployment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from sqlglot import exp

from catalog import artifacts, engine_config, services, spark_cluster
from catalog.errors import ConfigError
from catalog.naming import TableName
from catalog.settings import LakehouseSettings, load_settings
from catalog.trino_connection import trino_connection
from tests.catalog.cluster_job import KEYS, NAMESPACE, ROWS
from tests.conftest import REPO_ROOT, SHARED_CACHE, TEST_CLUSTER_PORT_BASE, cache_without, processes_under

CLUSTER_SERVICES = ["object-store", "rest-catalog", "trino", "trino-worker", "spark-master", "spark-worker-1", "spark-worker-2"]
# Seconds after the second Spark job starts before its worker is killed: its first stage
# (16 tasks of hashing on 2 executors) takes far longer.
SPARK_KILL_DELAY = 3.0
# Trino gives up on an unreachable worker after query.remote-task.max-error-duration (1 minute).
TRINO_FAILURE_TIMEOUT = 180.0


# --- Which services each deployment runs (fast) -------------------------------------


def test_local_runs_no_cluster_service(tmp_path: Path) -> None:
    names = [service.name for service in services.services(load_settings(home=tmp_path))]
    assert names == ["rest-catalog", "trino", "crm-api", "postgres", "kafka"]
    assert services.spark_needs(load_settings(home=tmp_path)) == ("rest-catalog",)


def test_cluster_adds_the_trino_worker_the_master_and_each_spark_worker(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, deployment="cluster", spark={"cluster": {"workers": 3}})
    by_name = {service.name: service for service in services.services(settings)}
    assert list(by_name) == [
        "object-store", "rest-catalog", "trino", "trino-worker", "crm-api", "postgres", "kafka",
        "spark-master", "spark-worker-1", "spark-worker-2", "spark-worker-3",
    ]
    # Each worker is healthy when the master lists it, and has a web UI port of its own.
    workers = [by_name[f"spark-worker-{n}"] for n in (1, 2, 3)]
    assert {worker.health_url for worker in workers} == {by_name["spark-master"].health_url}
    assert [worker.port for worker in workers] == [8091, 8092, 8093]
    assert services.spark_needs(settings) == ("object-store", "rest-catalog", "spark-master", "spark-worker-1", "spark-worker-2", "spark-worker-3")


def test_only_brings_the_nodes_and_services_a_service_cannot_work_without(tmp_path: Path) -> None:
    local = load_settings(home=tmp_path)
    cluster = load_settings(home=tmp_path, deployment="cluster")
    assert services._with_needs(local, ["trino"]) == {"trino", "rest-catalog"}
    assert services._with_needs(local, ["kafka"]) == {"kafka"}
    assert services._with_needs(cluster, ["trino", "kafka"]) == {"trino", "trino-worker", "rest-catalog", "object-store", "kafka"}
    assert services._with_needs(cluster, ["spark-master"]) == {"spark-master", "spark-worker-1", "spark-worker-2"}
    # Booting at low priority, Trino's worker does too; the catalog it needs does not.
    assert services._with_nodes(cluster, ["trino"]) == {"trino", "trino-worker"}
    with pytest.raises(ConfigError, match="^spark-master runs only in the cluster deployment, and this one is local: set LAKEHOUSE_DEPLOYMENT=cluster$"):
        services.start(local, only=["spark-master"])


# --- The cluster, started for real ----------------------------------------------------


@dataclass
class Cluster:
    settings: LakehouseSettings
    config_file: Path
    startup_seconds: float

    def child_env(self) -> dict[str, str]:
        clean = {key: value for key, value in os.environ.items() if not key.startswith("LAKEHOUSE_")}
        return {**clean, "LAKEHOUSE_CONFIG": str(self.config_file), "PYTHONPATH": str(REPO_ROOT)}


def _cluster_settings(home: Path) -> dict:
    port = TEST_CLUSTER_PORT_BASE
    return {
        "deployment": "cluster",
        "home": str(home),
        "cache_dir": str(SHARED_CACHE),
        "catalog": {"port": port + 1},
        "object_store": {"port": port + 9},
        "trino": {"port": port + 2, "worker_port": port + 3, "https_port": port + 4, "heap_gb": 2},
        "spark": {
            "driver_memory": "1g",
            "shuffle_partitions": 4,
            "cluster": {
                "master_port": port + 5, "master_webui_port": port + 6, "worker_webui_port": port + 7,
                "worker_memory": "1g", "executor_memory": "1g",
            },
        },
    }



@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, local_reference_run: Future) -> Iterator[Cluster]:
    """The cluster, in a home of its own; the local reference runs meanwhile (local_reference_run)."""
    home = tmp_path_factory.mktemp("cluster-home")
    values = _cluster_settings(home)
    config_file = home / "lakehouse.yaml"
    config_file.write_text(yaml.safe_dump(values))
    settings = load_settings(**values)
    started = time.monotonic()
    try:
        # The source servers are not needed; "trino" and "spark-master" bring their workers.
        services.up(settings, only=["object-store", "rest-catalog", "trino", "spark-master"])
        yield Cluster(settings, config_file, time.monotonic() - started)
    finally:
        services.down(settings)
    # Executors are the workers' children: none may outlive `down`.
    assert processes_under(home) == []


def _pid(settings: LakehouseSettings, name: str) -> int:
    return json.loads((settings.run_dir / f"{name}.json").read_text())["pid"]


def _json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.integration
def test_up_starts_every_node_and_status_shows_each_worker(cluster: Cluster) -> None:
    settings = cluster.settings
    states = {status.name: status.state for status in services.status(settings)}
    assert {name: states[name] for name in CLUSTER_SERVICES} == dict.fromkeys(CLUSTER_SERVICES, "running")
    assert {states[name] for name in ("crm-api", "postgres", "kafka")} == {"stopped"}
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "status"], env=cluster.child_env(), capture_output=True, text=True, timeout=120
    )
    shown = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    for name in CLUSTER_SERVICES:
        assert "running" in shown[name], result.stdout
    master = _json(f"{settings.spark.cluster.master_webui_url}/json/")
    assert sorted(worker["webuiaddress"] for worker in master["workers"] if worker["state"] == "ALIVE") == [
        settings.spark.cluster.worker_webui_url(1), settings.spark.cluster.worker_webui_url(2)
    ]
    print(f"cluster up in {cluster.startup_seconds:.0f} s")


@dataclass
class SparkRun:
    """What the test saw while the cluster ran two jobs, the second losing worker 1."""

    app_id: str = ""
    checksums: dict[str, dict] = field(default_factory=dict)
    # Per worker web UI: the most cores the master saw it use, and whether its own API listed the app's executor.
    cores_used: dict[str, int] = field(default_factory=dict)
    executor_listed: dict[str, bool] = field(default_factory=dict)
    killed_running_executor: bool = False
    killed_before_done: bool = False
    driver_log: str = ""
    master_after: dict = field(default_factory=dict)
    states_after: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _watch(settings: LakehouseSettings, run: SparkRun, stop: threading.Event) -> None:
    """Poll the master's and each worker's JSON API until `stop` is set."""
    cluster = settings.spark.cluster
    webuis = [cluster.worker_webui_url(number) for number in (1, 2)]
    while not stop.is_set():
        master = _json(f"{cluster.master_webui_url}/json/")
        for worker in master["workers"]:
            if worker["state"] == "ALIVE":
                run.cores_used[worker["webuiaddress"]] = max(run.cores_used.get(worker["webuiaddress"], 0), worker["coresused"])
        for webui in webuis:
            executors = _json(f"{webui}/json/")["executors"]
            listed = any(executor.get("appid") == run.app_id for executor in executors)
            run.executor_listed[webui] = run.executor_listed.get(webui, False) or listed
        stop.wait(0.5)


@pytest.fixture(scope="module")
def spark_run(cluster: Cluster) -> SparkRun:
    """Two Spark jobs writing the same rows: the first on the healthy cluster, watched through
    the JSON APIs; during the second, worker 1 is killed with SIGKILL. Worker 1 is started
    again afterwards."""
    settings = cluster.settings
    run = SparkRun()
    driver_log = settings.home / "cluster-job.log"
    started = time.monotonic()
    with driver_log.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.catalog.cluster_job", "healthy", "killed"],
            env=cluster.child_env(), stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO_ROOT,
        )
        stop = threading.Event()
        watcher = None
        try:
            assert child.stdout is not None
            for line in child.stdout:
                word, table, rest = (line.split(maxsplit=2) + ["", ""])[:3]
                if word == "START" and table == "healthy":
                    run.app_id = rest.strip()
                    run.seconds["session"] = time.monotonic() - started
                    run.seconds["healthy"] = time.monotonic()
                    watcher = threading.Thread(target=_watch, args=(settings, run, stop), daemon=True)
                    watcher.start()
                elif word == "DONE":
                    run.checksums[table] = json.loads(rest)
                    run.seconds[table] = time.monotonic() - run.seconds[table]
                    if table == "healthy":
                        stop.set()
                        watcher.join(10)  # type: ignore[union-attr]
                    else:
                        run.killed_before_done = "kill" in run.seconds
                elif word == "START" and table == "killed":
                    run.seconds["killed"] = time.monotonic()
                    time.sleep(SPARK_KILL_DELAY)
                    executors = _json(f"{settings.spark.cluster.worker_webui_url(1)}/json/")["executors"]
                    run.killed_running_executor = any(executor.get("appid") == run.app_id for executor in executors)
                    os.kill(_pid(settings, "spark-worker-1"), signal.SIGKILL)
                    run.seconds["kill"] = time.monotonic()
            assert child.wait(timeout=600) == 0, driver_log.read_text()[-3000:]
        finally:
            stop.set()
            if child.poll() is None:
                child.kill()
    run.driver_log = driver_log.read_text()
    run.master_after = _json(f"{settings.spark.cluster.master_webui_url}/json/")
    run.states_after = {status.name: status.state for status in services.status(settings)}
    services.up(settings, only=["spark-master"])  # brings worker 1 back
    return run


@pytest.mark.integration
def test_a_spark_job_runs_executors_on_both_workers(cluster: Cluster, spark_run: SparkRun) -> None:
    cluster_settings = cluster.settings.spark.cluster
    webuis = [cluster_settings.worker_webui_url(number) for number in (1, 2)]
    # The master gave the application a core of each worker, and each worker's own API
    # listed an executor of the application while the job ran.
    assert {webui: spark_run.cores_used.get(webui) for webui in webuis} == dict.fromkeys(webuis, cluster_settings.worker_cores)
    assert spark_run.executor_listed == dict.fromkeys(webuis, True)
    # Each executor ran tasks: its log, in its worker's folder, says so.
    for number in (1, 2):
        logs = list((spark_cluster.worker_dir(cluster.settings, number) / spark_run.app_id).glob("*/stderr"))
        assert any("Finished task" in log.read_text() for log in logs), f"no task ran on worker {number}"
    print(f"Spark session {spark_run.seconds['session']:.0f} s, healthy job {spark_run.seconds['healthy']:.0f} s")


@pytest.mark.integration
def test_executors_receive_the_iceberg_and_driver_jars(cluster: Cluster, spark_run: SparkRun) -> None:
    # spark.jars.packages is resolved on the driver; each executor fetches the jars from it.
    expected = {f"{group}_{artifact}-{version}.jar" for group, artifact, version in (p.split(":") for p in artifacts.SPARK_PACKAGES)}
    for number in (1, 2):
        fetched = {jar.name for jar in (spark_cluster.worker_dir(cluster.settings, number) / spark_run.app_id).glob("*/*.jar")}
        assert expected <= fetched, f"worker {number} lacks {sorted(expected - fetched)}"


@pytest.mark.integration
def test_a_killed_spark_worker_costs_its_tasks_not_the_job(cluster: Cluster, spark_run: SparkRun) -> None:
    assert spark_run.killed_running_executor, "worker 1 had no executor of the job when it was killed"
    assert spark_run.killed_before_done, "the job ended before worker 1 was killed: make it longer"
    # The driver saw the executor go and rescheduled its tasks on the other one.
    assert "Lost executor" in spark_run.driver_log
    assert spark_run.states_after["spark-worker-1"] == "stopped"
    assert spark_run.states_after["spark-worker-2"] == "running"
    alive = [w["webuiaddress"] for w in spark_run.master_after["workers"] if w["state"] == "ALIVE"]
    assert alive == [cluster.settings.spark.cluster.worker_webui_url(2)]
    # The same rows as on the healthy cluster, and the rows the job wrote.
    assert spark_run.checksums["killed"] == spark_run.checksums["healthy"]
    assert spark_run.checksums["healthy"]["count"] == KEYS
    assert spark_run.checksums["healthy"]["total"] == ROWS * (ROWS - 1) // 2
    print(f"killed job {spark_run.seconds['killed']:.0f} s (healthy {spark_run.seconds['healthy']:.0f} s)")
    # `up` started it again.
    assert {s.name: s.state for s in services.status(cluster.settings)}["spark-worker-1"] == "running"


def _totals_sql(settings: LakehouseSettings) -> str:
    return exp.select("count(*)", "sum(total)").from_(TableName(NAMESPACE, "healthy").expression(settings)).sql(dialect="trino")


def _task_nodes(cursor, query_id: str) -> set[str]:
    cursor.execute("SELECT DISTINCT node_id FROM system.runtime.tasks WHERE query_id = ?", [query_id])
    return {row[0] for row in cursor.fetchall()}


@pytest.mark.integration
def test_trino_runs_a_querys_tasks_on_its_worker(cluster: Cluster, spark_run: SparkRun) -> None:
    cursor = trino_connection(cluster.settings).cursor()
    cursor.execute(_totals_sql(cluster.settings))
    assert cursor.fetchall() == [[spark_run.checksums["healthy"]["count"], spark_run.checksums["healthy"]["total"]]]
    assert _task_nodes(trino_connection(cluster.settings).cursor(), cursor.query_id) == {engine_config.TRINO_WORKER_ID}


@pytest.mark.integration
def test_a_killed_trino_worker_fails_the_query_cleanly_and_a_rerun_agrees(cluster: Cluster, spark_run: SparkRun) -> None:
    from trino.exceptions import TrinoQueryError

    settings = cluster.settings
    before = trino_connection(settings).cursor()
    before.execute(_totals_sql(settings))
    expected = before.fetchall()

    long_query = (
        exp.select("count(*)")
        .from_(TableName(NAMESPACE, "healthy").expression(settings))
        .join(exp.Unnest(expressions=[exp.func("sequence", 1, 10_000)]), join_type="cross")
        .join(exp.Unnest(expressions=[exp.func("sequence", 1, 10_000)]), join_type="cross")
        .sql(dialect="trino")
    )
    cursor = trino_connection(settings).cursor()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            cursor.execute(long_query)
            outcome["rows"] = cursor.fetchall()
        except Exception as error:  # noqa: BLE001 - the test inspects whatever ends the query
            outcome["error"] = error
        outcome["ended"] = time.monotonic()

    query = threading.Thread(target=run, daemon=True)
    query.start()
    watcher = trino_connection(settings).cursor()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if cursor.query_id and engine_config.TRINO_WORKER_ID in _task_nodes(watcher, cursor.query_id):
            break
        time.sleep(0.5)
    else:
        pytest.fail("the long query never ran a task on the worker")
    os.kill(_pid(settings, "trino-worker"), signal.SIGKILL)
    killed = time.monotonic()
    query.join(TRINO_FAILURE_TIMEOUT)
    assert not query.is_alive(), f"the query still runs {TRINO_FAILURE_TIMEOUT:.0f} s after its worker died"
    error = outcome.get("error")
    assert isinstance(error, TrinoQueryError), f"expected a Trino error, got {outcome}"
    print(f"Trino query failed {outcome['ended'] - killed:.0f} s after the kill: {error.error_name}")  # type: ignore[operator]

    # With its worker gone the coordinator is not ready, and `status` says so at once: the
    # readiness query, which now waits for a worker, is cancelled after its time.
    asked = time.monotonic()
    states = {status.name: status.state for status in services.status(settings)}
    assert (states["trino"], states["trino-worker"]) == ("unhealthy", "stopped")
    assert time.monotonic() - asked < services.TRINO_PROBE_QUERY_SECONDS + 15

    restarted = time.monotonic()
    services.up(settings, only=["trino"])  # starts the worker again; the coordinator is ready once it is active
    print(f"Trino worker back in {time.monotonic() - restarted:.0f} s")
    after = trino_connection(settings).cursor()
    after.execute(_totals_sql(settings))
    assert after.fetchall() == expected
    assert _task_nodes(trino_connection(settings).cursor(), after.query_id) == {engine_config.TRINO_WORKER_ID}


# --- The pipeline on the cluster, against the same days on local ---------------------------

PIPELINE_DAYS = 3
PIPELINE_SCALE = 0.05
PIPELINE_START = "2026-03-02"
# Seconds into the last day's run before Spark worker 1 is killed: its first Bronze jobs run by then.
PIPELINE_KILL_DELAY = 8.0


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
    )


def _days() -> list[str]:
    import datetime as dt

    first = dt.date.fromisoformat(PIPELINE_START)
    return [(first + dt.timedelta(days=n)).isoformat() for n in range(PIPELINE_DAYS)]


def _checksums(settings: LakehouseSettings) -> dict[str, tuple[int, str]]:
    """Every Silver and Gold table's rows, order-free, without the columns a run stamps
    (`_`-prefixed ingest metadata, quarantine time), read with PyIceberg."""
    import hashlib

    from catalog.iceberg_catalog import iceberg_catalog

    catalog = iceberg_catalog(settings)
    sums = {}
    for namespace in ("silver", "gold"):
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier).scan().to_arrow()
            columns = [name for name in table.column_names if not name.startswith("_") and name != "quarantined_at"]
            rows = sorted(json.dumps(row, sort_keys=True, default=str) for row in table.select(columns).to_pylist())
            sums[".".join(identifier)] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return sums


def _first_days(env: dict[str, str]) -> None:
    """Generate the days into the deployment's landing, then the first ones as a catch-up batch."""
    days = _days()
    generated = _cli(env, "generate", "--start", days[0], "--days", str(PIPELINE_DAYS), "--scale", str(PIPELINE_SCALE), "--sources", "files")
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    backfill = _cli(env, "backfill", "--from", days[0], "--to", days[-2], "--catch-up", "--sources", "files")
    assert backfill.returncode == 0, backfill.stdout[-3000:] + backfill.stderr[-3000:]


def _local_reference(home: Path, cache_root: Path) -> dict[str, tuple[int, str]]:
    """The same days on the local deployment (file:// warehouse, Spark local, one Trino): the
    expected checksums. Only subprocesses and PyIceberg, so that it can run in a thread.
    Spark's Ivy cache is its own: on a fresh machine the cluster's Spark fetches into the
    shared one meanwhile, and Ivy cannot update a cache from two processes at once
    (NVIDIA/cudf-spark#6577)."""
    port = TEST_CLUSTER_PORT_BASE + 10
    values = {
        "home": str(home), "cache_dir": str(cache_without(cache_root, "ivy")), "pipeline": {"sources": "files"},
        "catalog": {"port": port}, "trino": {"port": port + 1, "https_port": port + 2, "heap_gb": 2},
        "spark": {"driver_memory": "1g", "shuffle_partitions": 4},
    }
    config_file = home / "lakehouse.yaml"
    config_file.write_text(yaml.safe_dump(values))
    settings = load_settings(**values)
    env = Cluster(settings, config_file, 0.0).child_env()
    started = time.monotonic()
    try:
        services.up(settings, only=["trino"])  # and the REST catalog it needs
        _first_days(env)
        last = _cli(env, "run", "--date", _days()[-1], "--sources", "files")
        assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
        # dbt's runner is not made for a thread: Gold is built in a process of its own.
        gold = subprocess.run(
            [sys.executable, "-c", "from catalog.settings import load_settings; from lakehouse.gold import build_gold; build_gold(load_settings())"],
            env=env, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
        )
        assert gold.returncode == 0, gold.stdout[-3000:] + gold.stderr[-3000:]
        print(f"local: {PIPELINE_DAYS} days and Gold in {time.monotonic() - started:.0f} s")
        return _checksums(settings)
    finally:
        services.down(settings)


@pytest.fixture(scope="module")
def local_reference_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future]:
    """The local reference, started in the background as the module's cluster comes up: it
    runs beside the cluster's own tests instead of after them (about 3 minutes of CI)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-reference") as pool:
        yield pool.submit(_local_reference, tmp_path_factory.mktemp("local-home"), tmp_path_factory.mktemp("local-cache"))


@pytest.fixture(scope="module")
def local_reference(local_reference_run: Future) -> dict[str, tuple[int, str]]:
    return local_reference_run.result(timeout=1800)


@dataclass
class PipelineRun:
    killed: subprocess.CompletedProcess
    rerun: subprocess.CompletedProcess
    killed_running_executor: bool
    gold_tasks: dict[str, tuple[int, int]]  # node id: dbt's tasks there, table bytes they read
    checksums: dict[str, tuple[int, str]]


@pytest.fixture(scope="module")
def cluster_pipeline(cluster: Cluster, local_reference: dict) -> PipelineRun:
    """The days on the cluster: a catch-up batch, then the last day, during which Spark worker 1
    is killed with SIGKILL; `up` brings it back, the day runs again, and Gold is built."""
    from lakehouse.gold import DBT_TRINO_SOURCE, build_gold

    settings = cluster.settings
    env = {**cluster.child_env(), "LAKEHOUSE_PIPELINE__SOURCES": "files"}
    started = time.monotonic()
    _first_days(env)
    day = _days()[-1]
    child = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "run", "--date", day, "--sources", "files"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    # Kill once the run's application holds an executor on worker 1, a few seconds into its jobs.
    worker_1 = settings.spark.cluster.worker_webui_url(1)
    killed_running_executor = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        if _json(f"{worker_1}/json/")["executors"]:
            time.sleep(PIPELINE_KILL_DELAY)
            killed_running_executor = bool(_json(f"{worker_1}/json/")["executors"]) and child.poll() is None
            os.kill(_pid(settings, "spark-worker-1"), signal.SIGKILL)
            break
        time.sleep(0.5)
    stdout, stderr = child.communicate(timeout=900)
    killed = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    services.up(settings, only=["spark-master"])  # brings worker 1 back
    rerun = _cli(env, "run", "--date", day, "--sources", "files")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    build_gold(settings)
    cursor = trino_connection(settings).cursor()
    # Per node, dbt's tasks and the bytes they read from the warehouse. The coordinator also runs
    # coordinator-only stages (a write's commit, metadata queries), which read no table file.
    cursor.execute(
        "SELECT t.node_id, count(*), sum(t.physical_input_bytes) FROM system.runtime.tasks t "
        "JOIN system.runtime.queries q ON q.query_id = t.query_id WHERE q.source LIKE ? GROUP BY t.node_id",
        [DBT_TRINO_SOURCE],
    )
    nodes = {node: (tasks, read) for node, tasks, read in cursor.fetchall()}
    print(f"dbt's Trino tasks and bytes read, per node: {nodes}")
    print(f"cluster: {PIPELINE_DAYS} days, the rerun and Gold in {time.monotonic() - started:.0f} s; the killed day's last lines:")
    print("\n".join((killed.stdout + killed.stderr).splitlines()[-12:]))
    return PipelineRun(killed, rerun, killed_running_executor, nodes, _checksums(settings))


@pytest.mark.integration
def test_the_cluster_gives_the_same_silver_and_gold_as_local(cluster_pipeline: PipelineRun, local_reference: dict) -> None:
    assert {name.split(".")[0] for name in local_reference} == {"silver", "gold"}
    differ = sorted(name for name in local_reference.keys() | cluster_pipeline.checksums.keys()
                    if local_reference.get(name) != cluster_pipeline.checksums.get(name))
    assert not differ, {name: (local_reference.get(name), cluster_pipeline.checksums.get(name)) for name in differ}
    assert all(count > 0 for count, _ in local_reference.values())


@pytest.mark.integration
def test_a_day_survives_a_killed_spark_worker_and_its_rerun_converges(cluster_pipeline: PipelineRun) -> None:
    assert cluster_pipeline.killed_running_executor, "worker 1 held no executor of the day's run when it was killed"
    # Spark reran the lost executor's tasks on worker 2: the day itself succeeded.
    killed = cluster_pipeline.killed
    assert killed.returncode == 0, killed.stdout[-3000:] + killed.stderr[-3000:]
    # (the same checksums as local after the rerun: the test above)


@pytest.mark.integration
def test_gold_read_its_tables_on_the_trino_worker(cluster_pipeline: PipelineRun) -> None:
    # The worker runs the scans. The coordinator runs coordinator-only stages (a write's commit,
    # metadata queries), which read a little too: 25 tasks and 9.9 kB of dbt's 0.57 MB once.
    tasks = cluster_pipeline.gold_tasks
    worker_tasks, worker_read = tasks[engine_config.TRINO_WORKER_ID]
    assert worker_tasks > 0 and worker_read > 0, tasks
    assert set(tasks) <= {engine_config.TRINO_WORKER_ID, engine_config.TRINO_COORDINATOR_ID}, tasks
    assert worker_read >= 0.9 * sum(read for _, read in tasks.values()), tasks
