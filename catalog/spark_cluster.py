"""The cluster deployment's Spark: a standalone master and its workers, as local processes.

They run from the Spark distribution inside the pyspark wheel (its `jars/`), on the
driver's Java 17, so the cluster is exactly the driver's Spark. A worker starts each
application's executor as a child process, from the same distribution (`SPARK_HOME`).
Health comes from the master's JSON API: the master is ALIVE (a master starts as
STANDBY), and a worker is healthy once the master lists it ALIVE.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from catalog import engine_config
from catalog.settings import LakehouseSettings

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The launcher library asks for it when it builds an executor's command; Spark's shell
# scripts set it, and the pyspark wheel's jars are Scala 2.13 ones.
SCALA_VERSION = "2.13"


def spark_home() -> Path:
    """The Spark distribution the pyspark package ships (found without importing pyspark)."""
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.submodule_search_locations, "pyspark is a dependency"
    return Path(next(iter(spec.submodule_search_locations)))


def worker_names(settings: LakehouseSettings) -> list[str]:
    """The workers' service names, spark-worker-1 to -N."""
    return [worker_name(number) for number in range(1, settings.spark.cluster.workers + 1)]


def worker_name(number: int) -> str:
    return f"spark-worker-{number}"


def worker_dir(settings: LakehouseSettings, number: int) -> Path:
    """Worker `number`'s folder: each application's executor logs and fetched jars, and its scratch space."""
    return settings.data_dir / worker_name(number)


def _daemon(settings: LakehouseSettings, main_class: str) -> list[str]:
    return [
        str(settings.java.jdk17_home / "bin" / "java"),
        f"-Xmx{settings.spark.cluster.daemon_heap}",
        "-cp",
        f"{spark_home() / 'jars'}/*",
        main_class,
        "--properties-file",
        str(engine_config.spark_daemon_conf_file(settings)),
    ]


def master_command(settings: LakehouseSettings) -> list[str]:
    cluster = settings.spark.cluster
    return [
        *_daemon(settings, MASTER_CLASS),
        "--host", cluster.host,
        "--port", str(cluster.master_port),
        "--webui-port", str(cluster.master_webui_port),
    ]


def worker_command(settings: LakehouseSettings, number: int) -> list[str]:
    cluster = settings.spark.cluster
    return [
        *_daemon(settings, WORKER_CLASS),
        cluster.master_url,
        "--host", cluster.host,
        "--cores", str(cluster.worker_cores),
        "--memory", cluster.worker_memory,
        "--work-dir", str(worker_dir(settings, number)),
        "--webui-port", str(cluster.worker_webui_port + number - 1),
    ]


def env(settings: LakehouseSettings, *, scratch: Path | None = None) -> dict[str, str]:
    """A daemon's environment; a worker passes it on to the executors it starts."""
    values = {
        "SPARK_HOME": str(spark_home()),
        "SPARK_SCALA_VERSION": SCALA_VERSION,
        "JAVA_HOME": str(settings.java.jdk17_home),
        # Bind loopback, not the address the host name resolves to.
        "SPARK_LOCAL_IP": settings.spark.cluster.host,
    }
    if scratch is not None:
        # Shuffle files and spilled blocks, under the home rather than /tmp.
        values["SPARK_LOCAL_DIRS"] = str(scratch)
    return values


def master_alive(body: bytes) -> bool:
    return json.loads(body).get("status") == "ALIVE"


def worker_alive(body: bytes, webui_url: str) -> bool:
    """Whether the master's JSON lists the worker with this web UI as ALIVE.

    A worker killed and restarted registers anew (a new id, the same web UI), while the
    master may still list the dead one for a while: any ALIVE entry counts.
    """
    state = json.loads(body)
    return state.get("status") == "ALIVE" and any(
        worker.get("webuiaddress") == webui_url and worker.get("state") == "ALIVE" for worker in state.get("workers", [])
    )
