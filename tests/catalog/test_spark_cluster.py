"""The standalone master's and workers' commands, environment and health, without starting them."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import engine_config, spark_cluster
from catalog.settings import load_settings


def _settings(tmp_path: Path, **cluster: object):
    return load_settings(home=tmp_path, deployment="cluster", spark={"cluster": {"master_port": 7177, "master_webui_port": 8190, "worker_webui_port": 8191, **cluster}})


def _master_json(*workers: tuple[str, str], status: str = "ALIVE") -> bytes:
    return json.dumps(
        {"status": status, "workers": [{"webuiaddress": url, "state": state} for url, state in workers]}
    ).encode()


def test_the_cluster_runs_the_spark_that_pyspark_ships() -> None:
    import pyspark

    home = spark_cluster.spark_home()
    assert home == Path(pyspark.__file__).parent
    # The executors' classpath is built from <SPARK_HOME>/jars, and the daemons' from the same folder.
    assert any(jar.name.startswith(f"spark-core_{spark_cluster.SCALA_VERSION}-") for jar in (home / "jars").iterdir())


def test_master_and_worker_commands_carry_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, worker_cores=3, worker_memory="3g", executor_memory="3g", daemon_heap="300m")
    master = spark_cluster.master_command(settings)
    worker = spark_cluster.worker_command(settings, 2)
    java = str(settings.java.jdk17_home / "bin" / "java")
    properties = str(engine_config.spark_daemon_conf_file(settings))
    assert master[:5] == [java, "-Xmx300m", "-cp", f"{spark_cluster.spark_home() / 'jars'}/*", spark_cluster.MASTER_CLASS]
    assert _options(master) == {"--properties-file": properties, "--host": "127.0.0.1", "--port": "7177", "--webui-port": "8190"}
    assert worker[4:6] == [spark_cluster.WORKER_CLASS, "--properties-file"]
    assert "spark://127.0.0.1:7177" in worker
    assert _options(worker) == {
        "--properties-file": properties,
        "--host": "127.0.0.1",
        "--cores": "3",
        "--memory": "3g",
        "--work-dir": str(tmp_path / "data" / "spark-worker-2"),
        "--webui-port": "8192",  # worker 2: the base port + 1
    }


def _options(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


def test_a_worker_hands_its_executors_the_distribution_and_java_17(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    env = spark_cluster.env(settings, scratch=tmp_path / "scratch")
    assert env["SPARK_HOME"] == str(spark_cluster.spark_home())
    # Without it the launcher looks for a source build's folders and no executor starts.
    assert env["SPARK_SCALA_VERSION"] == spark_cluster.SCALA_VERSION
    assert env["JAVA_HOME"] == str(settings.java.jdk17_home)
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_LOCAL_DIRS"] == str(tmp_path / "scratch")
    assert "SPARK_LOCAL_DIRS" not in spark_cluster.env(settings)


def test_worker_names_follow_the_worker_count(tmp_path: Path) -> None:
    assert spark_cluster.worker_names(_settings(tmp_path, workers=3)) == ["spark-worker-1", "spark-worker-2", "spark-worker-3"]


def test_health_comes_from_the_masters_json(tmp_path: Path) -> None:
    one, two = "http://127.0.0.1:8191", "http://127.0.0.1:8192"
    assert spark_cluster.master_alive(_master_json())
    # A master starts as STANDBY, before it has recovered (nothing here) and taken the lead.
    assert not spark_cluster.master_alive(_master_json(status="STANDBY"))
    assert spark_cluster.worker_alive(_master_json((one, "ALIVE"), (two, "ALIVE")), two)
    assert not spark_cluster.worker_alive(_master_json((one, "ALIVE")), two)
    assert not spark_cluster.worker_alive(_master_json((two, "DEAD")), two)
    # Killed and restarted: the master lists the dead registration beside the new one.
    assert spark_cluster.worker_alive(_master_json((two, "DEAD"), (two, "ALIVE")), two)
    assert not spark_cluster.worker_alive(_master_json((two, "ALIVE"), status="STANDBY"), two)
