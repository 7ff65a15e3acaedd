"""The AWS profile, field by field, against what each engine itself declares.

Property names are read from the engines' own code, not from a list typed here: Trino 476's
Iceberg plugin jars (its @Config names), Iceberg's Spark runtime jar (its property constants),
PyIceberg's constants, dbt-trino's credential classes, and botocore's model of the EMR APIs.
The jars come from the shared artifact cache, fetched on a fresh machine as the suite does.
"""

from __future__ import annotations

import configparser
import dataclasses
import datetime as dt
import json
from pathlib import Path

import botocore.session
import pyiceberg.catalog
import pyiceberg.catalog.rest
import pyiceberg.io
import pytest
import typer
import yaml
from dbt.adapters.trino.connections import TrinoCredentialsFactory
from typer.testing import CliRunner

from catalog import artifacts, aws_config, engine_config
from catalog.errors import ConfigError
from catalog.settings import load_settings
from lakehouse.cli import app
from tests.jvm_classes import ClassStrings

DAY = dt.date(2026, 1, 5)
AWS = {
    "region": "eu-west-1",
    "account_id": "123456789012",
    "bucket": "acme-lake",
    "prefix": "team/lake",
    "trino_host": "ip-10-0-0-1.eu-west-1.compute.internal",
}


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(home=tmp_path, catalog={"name": "lake"}, aws=AWS)


@pytest.fixture
def files(settings) -> dict[str, str]:
    return aws_config.aws_files(settings, DAY)


# --- What the engines declare ----------------------------------------------


def _pyiceberg_constants() -> set[str]:
    modules = (pyiceberg.catalog, pyiceberg.catalog.rest, pyiceberg.io)
    return {value for module in modules for name, value in vars(module).items() if name.isupper() and isinstance(value, str)}


def _properties(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # keep case
    parser.read_string("[s]\n" + text)
    return dict(parser["s"])


def _spark_defaults(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split(" ", 1) for line in lines)


# --- Trino -----------------------------------------------------------------


def test_trino_catalog_uses_only_properties_trino_476_declares(files, trino_declared: ClassStrings) -> None:
    catalog = _properties(files["trino/lake.properties"])
    # connector.name is read by the server (FileCatalogStore), every other key by the plugin.
    assert "connector.name" in trino_declared.literals
    undeclared = set(catalog) - {"connector.name"} - trino_declared.config_names
    assert not undeclared, f"not properties of Trino {artifacts.TRINO_VERSION}'s Iceberg connector: {sorted(undeclared)}"
    # Enum-valued properties: airlift matches the value to a constant of the enum, any case.
    for key in sorted({"iceberg.catalog.type", "iceberg.file-format", "iceberg.rest-catalog.security"} & set(catalog)):
        assert catalog[key].upper() in trino_declared.literals, f"{key}={catalog[key]} names no constant Trino knows"


def test_trino_catalog_signs_for_glue_in_the_region(files) -> None:
    catalog = _properties(files["trino/lake.properties"])
    assert catalog["connector.name"] == "iceberg"
    assert catalog["iceberg.catalog.type"] == "rest"
    assert catalog["iceberg.rest-catalog.uri"] == "https://glue.eu-west-1.amazonaws.com/iceberg"
    assert catalog["iceberg.rest-catalog.warehouse"] == "123456789012"
    assert catalog["iceberg.rest-catalog.sigv4-enabled"] == "true"
    assert catalog["iceberg.rest-catalog.signing-name"] == "glue"
    assert catalog["s3.region"] == "eu-west-1"  # Trino signs catalog requests for this region too
    assert catalog["fs.native-s3.enabled"] == "true"
    assert catalog["iceberg.rest-catalog.view-endpoints-enabled"] == "false"


# --- Spark -----------------------------------------------------------------


def test_spark_catalog_keys_are_iceberg_properties(files, iceberg_declared) -> None:
    declared, _ = iceberg_declared
    prefix = "spark.sql.catalog.lake."
    keys = [key.removeprefix(prefix) for key in _spark_defaults(files["spark-defaults.conf"]) if key.startswith(prefix)]
    assert len(keys) >= 10
    # Table defaults are table properties under CatalogProperties.TABLE_DEFAULT_PREFIX.
    assert "table-default." in declared.constants
    names = [key.removeprefix("table-default.") for key in keys]
    undeclared = [name for name in names if name not in declared.constants]
    assert not undeclared, f"not properties of Iceberg {artifacts.ICEBERG_VERSION}: {undeclared}"


def test_spark_catalog_is_glue_over_sigv4_with_s3_file_io(files, iceberg_declared) -> None:
    declared, classes = iceberg_declared
    conf = _spark_defaults(files["spark-defaults.conf"])
    catalog = "spark.sql.catalog.lake"
    assert conf[f"{catalog}.uri"] == "https://glue.eu-west-1.amazonaws.com/iceberg"
    assert conf[f"{catalog}.warehouse"] == "123456789012"
    assert conf[f"{catalog}.type"] == "rest" and "rest" in declared.constants  # CatalogUtil.ICEBERG_CATALOG_TYPE_REST
    assert conf[f"{catalog}.rest.auth.type"] == "sigv4" and "sigv4" in declared.constants  # AuthProperties.AUTH_TYPE_SIGV4
    assert conf[f"{catalog}.rest.signing-name"] == "glue"
    assert conf[f"{catalog}.rest.signing-region"] == conf[f"{catalog}.client.region"] == "eu-west-1"
    for key in (catalog, f"{catalog}.io-impl", "spark.sql.extensions"):
        assert conf[key] in classes, f"{key}={conf[key]} is no class of the Iceberg runtime"
    assert conf["spark.sql.defaultCatalog"] == "lake"


def test_spark_keeps_the_local_table_defaults_and_sql_settings_but_not_its_resources(settings, files) -> None:
    conf = _spark_defaults(files["spark-defaults.conf"])
    local = engine_config.spark_conf(settings, engine_config.local_endpoints(settings))
    for key in ("spark.sql.catalog.lake.table-default.format-version", "spark.sql.session.timeZone",
                "spark.sql.catalog.lake.table-default.write.metadata.previous-versions-max", "spark.sql.catalog.lake.cache-enabled"):
        assert conf[key] == local[key], key
    # YARN or EMR Serverless sizes the driver; EMR ships Iceberg, nothing comes from Ivy.
    assert not {"spark.master", "spark.driver.memory", "spark.jars.packages", "spark.jars.ivy"} & set(conf)
    assert conf["spark.jars"] == aws_config.EMR_ICEBERG_JAR


def test_spark_extra_conf_still_wins(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws=AWS, spark={"extra_conf": {"spark.sql.catalog.iceberg.client.region": "x"}})
    assert aws_config.spark_conf(settings)["spark.sql.catalog.iceberg.client.region"] == "x"


# --- PyIceberg -------------------------------------------------------------


def test_pyiceberg_keys_are_pyiceberg_constants_signed_for_glue(files) -> None:
    properties = yaml.safe_load(files[".pyiceberg.yaml"])["catalog"]["lake"]
    undeclared = set(properties) - _pyiceberg_constants()
    assert not undeclared, f"not PyIceberg properties: {sorted(undeclared)}"
    assert properties["type"] == pyiceberg.catalog.CatalogType.REST.value
    assert properties[pyiceberg.catalog.URI] == "https://glue.eu-west-1.amazonaws.com/iceberg"
    assert properties[pyiceberg.catalog.WAREHOUSE_LOCATION] == "123456789012"
    assert properties[pyiceberg.catalog.rest.SIGV4] == "true"
    assert properties[pyiceberg.catalog.rest.SIGV4_SERVICE] == "glue"
    assert properties[pyiceberg.catalog.rest.SIGV4_REGION] == properties[pyiceberg.io.S3_REGION] == "eu-west-1"


# --- dbt -------------------------------------------------------------------


def _dbt_credentials(profile_text: str) -> dict[str, object]:
    profile = yaml.safe_load(profile_text)["lakehouse"]
    assert profile["target"] == "aws"
    output = profile["outputs"]["aws"]
    credentials = {key: value for key, value in output.items() if key not in ("type", "threads")}
    klass = TrinoCredentialsFactory._create_trino_profile(credentials)
    unknown = set(credentials) - {"method"} - {field.name for field in dataclasses.fields(klass)}
    assert not unknown, f"not fields of dbt-trino's {klass.__name__}: {sorted(unknown)}"
    TrinoCredentialsFactory.validate(credentials)
    assert output["type"] == "trino"
    return output


def test_dbt_profile_points_at_trino_on_emr(files) -> None:
    output = _dbt_credentials(files["dbt/profiles.yml"])
    assert (output["method"], output["http_scheme"]) == ("none", "http")
    assert (output["host"], output["port"]) == (AWS["trino_host"], 8889)
    assert (output["database"], output["schema"]) == ("lake", "gold")


def test_dbt_profile_with_a_password_reads_it_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws={**AWS, "trino_password_auth": True, "trino_port": 8446})
    output = _dbt_credentials(aws_config.dbt_profiles(settings))
    assert (output["method"], output["port"]) == ("ldap", 8446)
    assert output["password"] == f"{{{{ env_var('{engine_config.DBT_PASSWORD_ENV}') }}}}"


def test_no_dbt_profile_without_a_trino_host(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws={key: value for key, value in AWS.items() if key != "trino_host"})
    assert "dbt/profiles.yml" not in aws_config.aws_files(settings, DAY)
    with pytest.raises(ConfigError, match="LAKEHOUSE_AWS__TRINO_HOST"):
        aws_config.dbt_profiles(settings)


# --- EMR -------------------------------------------------------------------


def _runs_lakehouse_run_on(arguments: list[str], day: dt.date) -> None:
    """The arguments are a `lakehouse run` the real console script accepts, for `day`."""
    command = typer.main.get_command(app)
    name, *rest = arguments
    assert name == "run"
    context = command.commands[name].make_context(name, list(rest))  # type: ignore[attr-defined]
    assert context.params["date"].date() == day


def test_emr_step_spark_submits_the_run_of_the_day(files, settings) -> None:
    steps = json.loads(files["emr-step.json"])
    emr = botocore.session.get_session().get_service_model("emr")
    assert len(steps) == 1
    step = steps[0]
    assert (step["Type"], step["Jar"]) == ("CUSTOM_JAR", "command-runner.jar")
    assert step["ActionOnFailure"] in emr.shape_for("ActionOnFailure").enum
    args = step["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    code = "s3://acme-lake/team/lake/code"
    script = args.index(f"{code}/{aws_config.STEP_SCRIPT}")
    _runs_lakehouse_run_on(args[script + 1 :], DAY)
    options = args[3:script]
    conf = dict(options[i + 1].split("=", 1) for i in range(len(options)) if options[i] == "--conf")
    assert {key: value for key, value in conf.items() if key != "spark.pyspark.python"} == aws_config.spark_conf(settings)
    archive = options[options.index("--archives") + 1]
    assert archive == f"{code}/{aws_config.VENV_ARCHIVE}#environment"
    assert conf["spark.pyspark.python"].startswith(f"./{archive.split('#')[1]}/")
    assert options[options.index("--files") + 1] == f"{code}/{aws_config.SETTINGS_FILE}"


def test_emr_serverless_job_is_a_start_job_run_request(files, settings) -> None:
    job = json.loads(files["emr-serverless-job.json"])
    request = botocore.session.get_session().get_service_model("emr-serverless").operation_model("StartJobRun").input_shape
    assert set(job) <= set(request.members)
    assert "applicationId" not in job  # unset: passed on the command line (README)
    assert job["executionRoleArn"] == "arn:aws:iam::123456789012:role/lakehouse-job"
    driver = job["jobDriver"]["sparkSubmit"]
    assert set(driver) <= set(request.members["jobDriver"].members["sparkSubmit"].members)
    assert driver["entryPoint"] == f"s3://acme-lake/team/lake/code/{aws_config.STEP_SCRIPT}"
    _runs_lakehouse_run_on(driver["entryPointArguments"], DAY)
    assert f"spark.archives=s3://acme-lake/team/lake/code/{aws_config.VENV_ARCHIVE}#environment" in driver["sparkSubmitParameters"]
    [defaults] = job["configurationOverrides"]["applicationConfiguration"]
    assert defaults == {"classification": "spark-defaults", "properties": aws_config.spark_conf(settings)}
    assert job["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"] == "s3://acme-lake/team/lake/logs/"


def test_emr_serverless_job_names_its_application_when_set(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws={**AWS, "serverless_application_id": "00fabc123"})
    assert aws_config.emr_serverless_job(settings, DAY)["applicationId"] == "00fabc123"
    assert "--application-id" not in aws_config.readme(settings, DAY)


def test_step_script_runs_the_console_script(files) -> None:
    script = files[aws_config.STEP_SCRIPT]
    compile(script, aws_config.STEP_SCRIPT, "exec")
    assert "from lakehouse.cli import app" in script


# --- IAM and the rest ------------------------------------------------------


def test_iam_policy_grants_the_catalog_and_only_the_prefix(files) -> None:
    policy = json.loads(files["iam-policy.json"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    glue = by_sid["GlueIcebergCatalog"]
    assert {"glue:GetCatalog", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"} <= set(glue["Action"])
    assert "arn:aws:glue:eu-west-1:123456789012:catalog" in glue["Resource"]
    assert "arn:aws:glue:eu-west-1:123456789012:table/silver/*" in glue["Resource"]
    assert by_sid["LakehouseObjects"]["Resource"] == ["arn:aws:s3:::acme-lake/team/lake/*"]
    assert by_sid["LakehouseListing"]["Condition"] == {"StringLike": {"s3:prefix": ["team/lake/*"]}}
    assert all(statement["Effect"] == "Allow" and "*" not in statement["Action"] for statement in policy["Statement"])


def test_other_partitions_get_their_endpoint_and_arns(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws={**AWS, "region": "cn-north-1"})
    assert aws_config.aws_target(settings).glue_rest_uri == "https://glue.cn-north-1.amazonaws.com.cn/iceberg"
    assert json.loads(json.dumps(aws_config.iam_policy(settings)))["Statement"][1]["Resource"] == ["arn:aws-cn:s3:::acme-lake/team/lake/*"]


def test_every_commentable_file_says_it_is_rendered_and_holds_no_credentials(files) -> None:
    for name in ("spark-defaults.conf", "trino/lake.properties", ".pyiceberg.yaml", "dbt/profiles.yml", aws_config.STEP_SCRIPT, "README.txt"):
        assert "Rendered by `lakehouse config aws`" in files[name], name
        assert "default credential chain" in files[name], name


def test_missing_aws_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="aws.region is not set.*LAKEHOUSE_AWS__ACCOUNT_ID"):
        aws_config.aws_files(load_settings(home=tmp_path, aws={"bucket": "acme-lake"}), DAY)


def test_cli_config_aws_writes_the_files_and_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    for key, value in AWS.items():
        monkeypatch.setenv(f"LAKEHOUSE_AWS__{key.upper()}", value)
    secret = "s3cr3t-pg-password"
    monkeypatch.setenv("LAKEHOUSE_POSTGRES__PASSWORD", secret)
    monkeypatch.setenv("LAKEHOUSE_LINEAGE__API_KEY", secret)
    monkeypatch.setenv("LAKEHOUSE_CATALOG__POSTGRES_PASSWORD", secret)

    result = CliRunner().invoke(app, ["config", "aws", "--date", "2026-01-05"])

    assert result.exit_code == 0, result.output
    folder = tmp_path / "home" / "aws"
    written = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert written == set(aws_config.aws_files(load_settings(), DAY))
    assert all(str(folder / name) in result.output.replace("\n", "") for name in written)
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert secret not in text and "aws_secret_access_key" not in text.lower(), path
