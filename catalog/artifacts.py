"""JVM artifacts: every version pinned here, fetched once by Maven into the cache.

Nothing downloaded is committed. Each artifact set is unpacked into its own
versioned folder under `cache_dir` and marked complete only after the whole
set arrived, so an interrupted download is simply retried.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from catalog.errors import ArtifactError

# One place for every JVM version the project runs or links against.
ICEBERG_VERSION = "1.11.0"
TRINO_VERSION = "476"
SPARK_SCALA_SUFFIX = "4.1_2.13"  # pyspark 4.1.x is built for Scala 2.13
JETTY_VERSION = "12.1.14"  # what iceberg-open-api 1.11 test fixtures compile against
HADOOP_VERSION = "3.4.2"
SQLITE_JDBC_VERSION = "3.50.3.0"
POSTGRES_JDBC_VERSION = "42.7.8"
SLF4J_VERSION = "2.0.17"
# The local broker (KRaft, Java 17+). Its log4j2 binding is not a dependency of kafka_2.13
# (the distribution adds it): pinned to the log4j-core version kafka 4.1.1 brings.
KAFKA_VERSION = "4.1.1"
KAFKA_LOG4J_VERSION = "2.24.3"
# Spark's Kafka source. Not pyspark's 4.1.4: Maven Central has no spark-sql-kafka 4.1.4, and
# the spark-token-provider-kafka it depends on only as 4.1.1 of the 4.1 line. A connector
# keeps binary compatibility within a Spark minor.
SPARK_KAFKA_VERSION = "4.1.1"
SPARK_KAFKA_PACKAGE = f"org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_KAFKA_VERSION}"

# Spark resolves these itself (Ivy, from Maven Central) through spark.jars.packages.
SPARK_PACKAGES = (
    f"org.apache.iceberg:iceberg-spark-runtime-{SPARK_SCALA_SUFFIX}:{ICEBERG_VERSION}",
    # Spark's JDBC source reads the PostgreSQL source (ingestion/sources/jdbc.py).
    f"org.postgresql:postgresql:{POSTGRES_JDBC_VERSION}",
    SPARK_KAFKA_PACKAGE,
)
# An S3 warehouse (deployment `cluster`): Hadoop's S3A for what Spark reads and writes outside
# Iceberg (Bronze Parquet, add_files, landing files). Its version is pyspark's hadoop-client's;
# it brings the AWS SDK v2 bundle (~640 MB, fetched once into the Ivy cache), which Iceberg's
# S3FileIO in the Spark runtime uses too.
SPARK_S3_PACKAGE = f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}"
# The OpenLineage Spark listener, added to them when lineage.spark_listener is on. 1.54.0
# (the Python client's version) is not on Maven Central for Scala 2.13; 1.53.0 is the newest
# there, and both write the same OpenLineage spec (2-0-2).
OPENLINEAGE_SPARK_VERSION = "1.53.0"
OPENLINEAGE_SPARK_PACKAGE = f"io.openlineage:openlineage-spark_2.13:{OPENLINEAGE_SPARK_VERSION}"

# The cluster deployment's S3-compatible object store (`catalog/object_store.py`): S3Proxy on
# its filesystem backend, one self-contained jar (Java 17+). Why not SeaweedFS: docs/architecture.md.
S3PROXY_VERSION = "4.1.0"
S3PROXY_ARTIFACT = f"org.gaul:s3proxy:{S3PROXY_VERSION}:jar:jar-with-dependencies"
# The alternative it was measured against (benchmarks/bench_object_store.py only): a Go
# pseudo-version of SeaweedFS 4.53 on the Go module proxy, built from source on first use.
SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs"
SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"

# Trino plugins unpacked into plugin/<name>; the core tarball has none of the connectors.
# tpch serves the readiness probe's catalog (settings.TRINO_HEALTH_CATALOG).
TRINO_PLUGINS = ("iceberg", "tpch")

# The reference REST catalog server and what it needs at run time. The test
# fixtures jar declares no dependencies of its own, so they are listed here.
# hadoop-client-api/runtime are Hadoop's shaded jars: HadoopFileIO writes the
# table metadata to the local warehouse without pulling in Hadoop's Jetty 9.
REST_CATALOG_DEPENDENCIES = (
    ("org.apache.iceberg", "iceberg-open-api", ICEBERG_VERSION, "test-fixtures"),
    ("org.apache.iceberg", "iceberg-core", ICEBERG_VERSION, None),
    ("org.apache.iceberg", "iceberg-core", ICEBERG_VERSION, "tests"),
    ("org.eclipse.jetty.ee10", "jetty-ee10-servlet", JETTY_VERSION, None),
    ("org.eclipse.jetty.compression", "jetty-compression-gzip", JETTY_VERSION, None),
    ("org.eclipse.jetty.compression", "jetty-compression-server", JETTY_VERSION, None),
    ("org.xerial", "sqlite-jdbc", SQLITE_JDBC_VERSION, None),
    ("org.postgresql", "postgresql", POSTGRES_JDBC_VERSION, None),
    ("org.slf4j", "slf4j-simple", SLF4J_VERSION, None),
    ("org.apache.hadoop", "hadoop-client-api", HADOOP_VERSION, None),
    ("org.apache.hadoop", "hadoop-client-runtime", HADOOP_VERSION, None),
    ("commons-logging", "commons-logging", "1.3.5", None),
    # S3FileIO for an S3 warehouse, and the AWS SDK it needs.
    ("org.apache.iceberg", "iceberg-aws", ICEBERG_VERSION, None),
    ("org.apache.iceberg", "iceberg-aws-bundle", ICEBERG_VERSION, None),
)

KAFKA_DEPENDENCIES = (
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION, None),
    ("org.apache.logging.log4j", "log4j-slf4j-impl", KAFKA_LOG4J_VERSION, None),
)

_COMPLETE_MARKER = ".complete"
_NO_MAVEN = "Maven ('mvn') is not installed: run 'apt-get install maven' (it fetches the JVM artifacts)"


def rest_catalog_dir(cache_dir: Path) -> Path:
    # Named by its jar list too: a folder fetched before a dependency was added is not reused.
    digest = hashlib.sha256(repr(REST_CATALOG_DEPENDENCIES).encode()).hexdigest()[:8]
    return cache_dir / f"iceberg-rest-catalog-{ICEBERG_VERSION}-{digest}"


def trino_dir(cache_dir: Path) -> Path:
    # Named by its plugins too: a server unpacked before a plugin was added is not reused.
    return cache_dir / f"trino-server-{TRINO_VERSION}-{'-'.join(TRINO_PLUGINS)}"


def kafka_dir(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-{KAFKA_VERSION}"


def s3proxy_dir(cache_dir: Path) -> Path:
    return cache_dir / f"s3proxy-{S3PROXY_VERSION}"


def s3proxy_jar(folder: Path) -> Path:
    return folder / f"s3proxy-{S3PROXY_VERSION}-jar-with-dependencies.jar"


def is_cached(folder: Path) -> bool:
    return (folder / _COMPLETE_MARKER).is_file()


def ensure_rest_catalog(cache_dir: Path) -> Path:
    """The folder of jars that runs `RESTCatalogServer`, fetched on first use."""
    target = rest_catalog_dir(cache_dir)
    if is_cached(target):
        return target / "lib"
    with _staging(target) as staging:
        (staging / "pom.xml").write_text(_rest_catalog_pom())
        _mvn(["dependency:copy-dependencies", "-DoutputDirectory=lib"], cwd=staging, what="the Iceberg REST catalog")
    return target / "lib"


def ensure_kafka(cache_dir: Path) -> Path:
    """The folder of jars that runs `kafka.Kafka` (broker and controller), fetched on first use."""
    target = kafka_dir(cache_dir)
    if is_cached(target):
        return target / "lib"
    with _staging(target) as staging:
        (staging / "pom.xml").write_text(_pom("kafka-server", KAFKA_VERSION, KAFKA_DEPENDENCIES))
        _mvn(
            ["dependency:copy-dependencies", "-DoutputDirectory=lib", "-DincludeScope=runtime"],
            cwd=staging,
            what="Apache Kafka",
        )
    return target / "lib"


def ensure_s3proxy(cache_dir: Path) -> Path:
    """The folder holding S3Proxy's self-contained jar, fetched on first use."""
    target = s3proxy_dir(cache_dir)
    if is_cached(target):
        return target
    with _staging(target) as staging:
        _mvn(
            ["dependency:copy", f"-Dartifact={S3PROXY_ARTIFACT}", f"-DoutputDirectory={staging}"],
            cwd=staging,
            what=S3PROXY_ARTIFACT,
        )
    return target


def ensure_trino(cache_dir: Path) -> Path:
    """An unpacked Trino server with its plugins, fetched on first use."""
    target = trino_dir(cache_dir)
    if is_cached(target):
        return target
    with _staging(target) as staging:
        downloads = staging / "downloads"
        coordinates = [f"io.trino:trino-server-core:{TRINO_VERSION}:tar.gz"]
        coordinates += [f"io.trino:trino-{plugin}:{TRINO_VERSION}:zip" for plugin in TRINO_PLUGINS]
        for coordinate in coordinates:
            _mvn(
                ["dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={downloads}"],
                cwd=staging,
                what=coordinate,
            )
        with tarfile.open(downloads / f"trino-server-core-{TRINO_VERSION}.tar.gz") as tar:
            tar.extractall(staging, filter="tar")
        server = staging / f"trino-server-core-{TRINO_VERSION}"
        for plugin in TRINO_PLUGINS:
            with zipfile.ZipFile(downloads / f"trino-{plugin}-{TRINO_VERSION}.zip") as archive:
                archive.extractall(server / "plugin")
            (server / "plugin" / f"trino-{plugin}-{TRINO_VERSION}").rename(server / "plugin" / plugin)
        # The launcher is a Go binary; zip/tar extraction keeps the mode, but be sure.
        for launcher in (server / "bin").rglob("launcher"):
            launcher.chmod(0o755)
        for child in server.iterdir():
            child.rename(staging / child.name)
        server.rmdir()
        shutil.rmtree(downloads)
    return target


class _staging:
    """Build an artifact folder next to its final place and swap it in whole."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}-", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        (self.tmp / _COMPLETE_MARKER).write_text("")
        shutil.rmtree(self.target, ignore_errors=True)
        self.tmp.rename(self.target)


def _mvn(args: list[str], *, cwd: Path, what: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactError(_NO_MAVEN)
    result = subprocess.run([mvn, "-q", "-B", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ArtifactError(
            f"could not fetch {what} from Maven Central ({tail}): the first run needs network access "
            "to Maven Central, or a proxy in ~/.m2/settings.xml"
        )


def _rest_catalog_pom() -> str:
    return _pom("iceberg-rest-catalog", ICEBERG_VERSION, REST_CATALOG_DEPENDENCIES)


def _pom(name: str, project_version: str, coordinates: tuple[tuple[str, str, str, str | None], ...]) -> str:
    dependencies = "\n".join(
        "    <dependency>"
        f"<groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}</artifactId>"
        f"<version>{escape(version)}</version>"
        + (f"<classifier>{escape(classifier)}</classifier>" if classifier else "")
        + "</dependency>"
        for group, artifact, version, classifier in coordinates
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Rendered by catalog/artifacts.py: only used to resolve the jars of {escape(name)}. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lakehouse.local</groupId>
  <artifactId>{escape(name)}</artifactId>
  <version>{escape(project_version)}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
