"""Fixtures of the catalog tests: what the engines themselves declare, read from their own code."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from catalog import artifacts
from tests.conftest import SHARED_CACHE
from tests.jvm_classes import ClassStrings, read_class, read_jars


@pytest.fixture(scope="session")
def trino_declared() -> ClassStrings:
    """Trino 476's Iceberg plugin (@Config names) and the class that reads catalog files."""
    server = artifacts.ensure_trino(SHARED_CACHE)
    declared = read_jars(sorted((server / "plugin" / "iceberg").glob("io.trino_*.jar")))
    with zipfile.ZipFile(server / "lib" / f"io.trino_trino-main-{artifacts.TRINO_VERSION}.jar") as main:
        declared.literals |= read_class(main.read("io/trino/connector/FileCatalogStore.class")).literals
    return declared


@pytest.fixture(scope="session")
def iceberg_declared() -> tuple[ClassStrings, set[str]]:
    """Iceberg's Spark runtime, the one the local profile runs: the constants of the packages
    that declare catalog, table, AWS and REST properties, and every class it holds."""
    jar = _iceberg_spark_runtime()
    packages = (
        "org/apache/iceberg", "org/apache/iceberg/aws", "org/apache/iceberg/aws/s3", "org/apache/iceberg/rest", "org/apache/iceberg/rest/auth",
    )
    with zipfile.ZipFile(jar) as archive:
        classes = {name.removesuffix(".class").replace("/", ".") for name in archive.namelist()}
    return read_jars([jar], packages=packages), classes


def _iceberg_spark_runtime() -> Path:
    """From Spark's Ivy cache (a local Spark session fetched it), else Maven's local repository."""
    group, artifact, version = next(p for p in artifacts.SPARK_PACKAGES if ":iceberg-spark-runtime-" in p).split(":")
    ivy = SHARED_CACHE / "ivy" / "jars" / f"{group}_{artifact}-{version}.jar"
    if ivy.is_file():
        return ivy
    maven = Path.home() / ".m2" / "repository" / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.jar"
    if not maven.is_file():
        subprocess.run(["mvn", "-q", "-B", "dependency:get", f"-Dartifact={group}:{artifact}:{version}", "-Dtransitive=false"], check=True)
    return maven


