"""Render the settings for AWS (`lakehouse config aws`, docs/deploy-aws.md).

The catalog is AWS Glue's Iceberg REST endpoint, signed with SigV4; the tables live in S3;
Spark runs on EMR (a step on an EMR on EC2 cluster, or an EMR Serverless job run) and Trino
on an EMR cluster. Each function is pure, like engine_config's, and built on them: the table
defaults, SQL settings and dbt target are the local profile's, with AWS's endpoints.

No credentials are rendered: on AWS every engine signs its requests as the IAM role it runs
as (the AWS SDKs' default credential chain). The Trino password, if any, stays in dbt's
environment (DBT_ENV_SECRET_TRINO_PASSWORD).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from catalog import engine_config
from catalog.errors import ConfigError
from catalog.naming import BRONZE, GOLD, OPS, SILVER
from catalog.settings import LakehouseSettings

# The service name Glue's Iceberg REST endpoint checks SigV4 signatures against
# (https://docs.aws.amazon.com/glue/latest/dg/connect-glu-iceberg-rest.html).
GLUE_SIGNING_NAME = "glue"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
# EMR ships Iceberg's Spark runtime (with its AWS classes) here; Ivy would fetch a second copy.
EMR_ICEBERG_JAR = "/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"
# What the user uploads to <prefix>/code/ (docs/deploy-aws.md): the step's entry point, the
# virtualenv holding the lakehouse wheel (venv-pack), and the settings file the job reads.
STEP_SCRIPT = "lakehouse_step.py"
VENV_ARCHIVE = "lakehouse-venv.tar.gz"
SETTINGS_FILE = "lakehouse.yaml"
# Where the archive is unpacked in every container: `--archives <uri>#environment`.
_VENV_PYTHON = "./environment/bin/python"
# The namespaces the pipeline writes. dbt adds gold_staging and gold_intermediate itself,
# hence the `gold*` in the IAM policy.
NAMESPACES = (BRONZE, SILVER, GOLD, OPS)
# Right for the local process, wrong on EMR: YARN or EMR Serverless places and sizes the
# driver, EMR's own Iceberg (EMR_ICEBERG_JAR) replaces the packages Ivy fetches, and EMR's
# console links each application's live UI.
_LOCAL_ONLY_SPARK = ("spark.master", "spark.driver.memory", "spark.jars.packages", "spark.ui.enabled")

_HEADER = (
    "Rendered by `lakehouse config aws` from the settings: edit the settings, not this file.\n"
    "No credentials here: on AWS each engine signs its requests as the IAM role it runs as\n"
    "(the AWS SDK's default credential chain).\n"
)


@dataclass(frozen=True)
class AwsTarget:
    """The account, region and S3 location every rendered file names."""

    region: str
    account_id: str
    bucket: str
    prefix: str

    @property
    def partition(self) -> str:
        """The ARN partition of the region (China and GovCloud have their own)."""
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    @property
    def glue_rest_uri(self) -> str:
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return f"https://glue.{self.region}.{suffix}/iceberg"

    def s3(self, folder: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{folder}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


def aws_target(settings: LakehouseSettings) -> AwsTarget:
    aws = settings.aws
    missing = [name for name in ("region", "account_id", "bucket") if getattr(aws, name) is None]
    if missing:
        variables = ", ".join(f"LAKEHOUSE_AWS__{name.upper()}" for name in missing)
        raise ConfigError(f"aws.{missing[0]} is not set: `lakehouse config aws` needs {variables} (or the aws section of lakehouse.yaml)")
    return AwsTarget(region=aws.region, account_id=aws.account_id, bucket=aws.bucket, prefix=aws.prefix)  # type: ignore[arg-type]


def aws_endpoints(settings: LakehouseSettings) -> engine_config.Endpoints:
    target = aws_target(settings)
    return engine_config.Endpoints(
        catalog_uri=target.glue_rest_uri,
        trino_host=settings.aws.trino_host or "",
        trino_port=settings.aws.trino_port,
        # Glue's REST endpoint takes the catalog id (the account) as the warehouse; each table's
        # location comes from its database's LocationUri.
        warehouse_uri=target.account_id,
    )


# --- Spark -----------------------------------------------------------------


def spark_conf(settings: LakehouseSettings) -> dict[str, str]:
    """The local profile's Spark conf (catalog, table defaults, SQL settings) on Glue and S3."""
    if settings.lineage.enabled and settings.lineage.spark_listener:
        raise ConfigError(
            "lineage.spark_listener needs the OpenLineage jar that Spark fetches locally, which the AWS "
            "profile does not ship: set LAKEHOUSE_LINEAGE__SPARK_LISTENER=false to render it"
        )
    target = aws_target(settings)
    local = engine_config.spark_conf(settings, aws_endpoints(settings))
    conf = {key: value for key, value in local.items() if key not in _LOCAL_ONLY_SPARK}
    prefix = f"spark.sql.catalog.{settings.catalog.name}"
    conf |= {
        "spark.jars": EMR_ICEBERG_JAR,
        # Iceberg 1.10+ names SigV4 this way; `rest.sigv4-enabled` still works but logs a deprecation.
        f"{prefix}.rest.auth.type": "sigv4",
        f"{prefix}.rest.signing-name": GLUE_SIGNING_NAME,
        f"{prefix}.rest.signing-region": target.region,
        f"{prefix}.io-impl": S3_FILE_IO,
        f"{prefix}.client.region": target.region,
        # Glue lists no metrics-report operation among its Iceberg REST APIs; Trino turns
        # reporting off for every SigV4 catalog for the same reason.
        f"{prefix}.rest-metrics-reporting-enabled": "false",
    }
    conf.update(settings.spark.extra_conf)  # still applied last, as locally
    return conf


def spark_defaults_conf(settings: LakehouseSettings) -> str:
    return _commented(_HEADER) + engine_config.spark_defaults_conf(spark_conf(settings))


# --- Trino -----------------------------------------------------------------


def trino_catalog_properties(settings: LakehouseSettings) -> dict[str, str]:
    """Trino 476's Iceberg connector on Glue (the names are checked against its jars in the tests)."""
    target = aws_target(settings)
    return engine_config.trino_iceberg_catalog(
        aws_endpoints(settings),
        rest_client={
            "iceberg.rest-catalog.warehouse": target.account_id,
            # Trino 476 has no `iceberg.rest-catalog.security=SIGV4` (its Security enum is NONE
            # and OAUTH2); SigV4 is this switch, signed for the region in s3.region.
            "iceberg.rest-catalog.sigv4-enabled": "true",
            "iceberg.rest-catalog.signing-name": GLUE_SIGNING_NAME,
            # Glue serves no view endpoints: listing views would fail every SHOW TABLES.
            "iceberg.rest-catalog.view-endpoints-enabled": "false",
        },
        # AWS's own S3 endpoints; credentials from the instance role.
        file_system=engine_config.trino_file_system(engine_config.S3Access(endpoint=None, region=target.region, access_key_id=None)),
    )


def trino_catalog_file(settings: LakehouseSettings) -> str:
    return _commented(_HEADER) + "".join(f"{key}={value}\n" for key, value in trino_catalog_properties(settings).items())


# --- PyIceberg -------------------------------------------------------------


def pyiceberg_properties(settings: LakehouseSettings) -> dict[str, str]:
    """What PyIceberg adds to the local profile's properties: SigV4 (it needs boto3: the `aws` extra)."""
    region = aws_target(settings).region
    return {
        "rest.sigv4-enabled": "true",
        "rest.signing-name": GLUE_SIGNING_NAME,
        "rest.signing-region": region,
        "s3.region": region,
    }


def pyiceberg_yaml(settings: LakehouseSettings) -> str:
    return _commented(_HEADER) + engine_config.pyiceberg_yaml(
        settings, aws_endpoints(settings), extra=pyiceberg_properties(settings)
    )


# --- dbt -------------------------------------------------------------------

DBT_TARGET = "aws"


def dbt_profiles(settings: LakehouseSettings) -> str:
    """dbt-trino on the EMR Trino cluster (aws.trino_host), as the local profile's user, catalog and schema."""
    aws = settings.aws
    if aws.trino_host is None:
        raise ConfigError("aws.trino_host is not set: set LAKEHOUSE_AWS__TRINO_HOST to the Trino cluster's primary node")
    output = engine_config.dbt_output(settings, aws_endpoints(settings))
    if aws.trino_password_auth:
        output = engine_config.dbt_password_login(output, port=aws.trino_port)
    return _commented(_HEADER) + engine_config.dbt_profiles_yaml(DBT_TARGET, output)


# --- EMR -------------------------------------------------------------------


def pipeline_arguments(day: dt.date) -> list[str]:
    """The console script's arguments the job runs: `lakehouse run --date <day>`."""
    return ["run", "--date", day.isoformat()]


def emr_step(settings: LakehouseSettings, day: dt.date) -> list[dict[str, object]]:
    """The steps file of `aws emr add-steps --steps file://...`: spark-submit through command-runner.jar.

    Cluster mode: the driver runs in a YARN container, where `--archives` unpacks the
    virtualenv and `--files` puts the settings file in its working directory.
    """
    code = aws_target(settings).s3("code")
    conf = {"spark.pyspark.python": _VENV_PYTHON, **spark_conf(settings)}
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--archives",
        f"{code}/{VENV_ARCHIVE}#environment",
        "--files",
        f"{code}/{SETTINGS_FILE}",
        *(part for key, value in conf.items() for part in ("--conf", f"{key}={value}")),
        f"{code}/{STEP_SCRIPT}",
        *pipeline_arguments(day),
    ]
    return [
        {
            "Type": "CUSTOM_JAR",
            "Name": f"lakehouse {' '.join(pipeline_arguments(day))}",
            "ActionOnFailure": "CONTINUE",
            "Jar": "command-runner.jar",
            "Args": args,
        }
    ]


def emr_serverless_job(settings: LakehouseSettings, day: dt.date) -> dict[str, object]:
    """The input of `aws emr-serverless start-job-run --cli-input-json file://...`.

    The catalog conf goes in as the spark-defaults classification; the virtualenv as EMR
    Serverless documents it (driverEnv/executorEnv pointing at the unpacked archive).
    """
    target = aws_target(settings)
    code = target.s3("code")
    submit = {
        "spark.archives": f"{code}/{VENV_ARCHIVE}#environment",
        "spark.files": f"{code}/{SETTINGS_FILE}",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": _VENV_PYTHON,
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": _VENV_PYTHON,
        "spark.executorEnv.PYSPARK_PYTHON": _VENV_PYTHON,
    }
    job: dict[str, object] = {
        "name": f"lakehouse {' '.join(pipeline_arguments(day))}",
        "executionRoleArn": f"arn:{target.partition}:iam::{target.account_id}:role/{settings.aws.job_role}",
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": f"{code}/{STEP_SCRIPT}",
                "entryPointArguments": pipeline_arguments(day),
                "sparkSubmitParameters": " ".join(f"--conf {key}={value}" for key, value in submit.items()),
            }
        },
        "configurationOverrides": {
            "applicationConfiguration": [{"classification": "spark-defaults", "properties": spark_conf(settings)}],
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": target.s3("logs/")}},
        },
    }
    if settings.aws.serverless_application_id is not None:
        job = {"applicationId": settings.aws.serverless_application_id, **job}
    return job


def step_script() -> str:
    """The Python file spark-submit runs: the `lakehouse` console script of the wheel in the virtualenv."""
    return _commented(_HEADER) + (
        "import sys\n\n"
        "from lakehouse.cli import app\n\n"
        'sys.exit(app(prog_name="lakehouse"))\n'
    )


# --- IAM -------------------------------------------------------------------

GLUE_ACTIONS = (
    "glue:GetCatalog",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
)
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")


def iam_policy(settings: LakehouseSettings) -> dict[str, object]:
    """What the job role needs: the lakehouse's Glue databases and its prefix of the bucket, nothing else."""
    target = aws_target(settings)
    databases = [name if name != GOLD else f"{GOLD}*" for name in NAMESPACES]
    bucket_arn = f"arn:{target.partition}:s3:::{target.bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GlueIcebergCatalog",
                "Effect": "Allow",
                "Action": list(GLUE_ACTIONS),
                "Resource": [
                    target.arn("glue", "catalog"),
                    *(target.arn("glue", f"database/{name}") for name in databases),
                    *(target.arn("glue", f"table/{name}/*") for name in databases),
                ],
            },
            {
                "Sid": "LakehouseObjects",
                "Effect": "Allow",
                "Action": list(S3_OBJECT_ACTIONS),
                "Resource": [f"{bucket_arn}/{target.prefix}/*"],
            },
            {
                "Sid": "LakehouseListing",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{target.prefix}/*"]}},
            },
            {"Sid": "BucketRegion", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn]},
        ],
    }


# --- Writing ---------------------------------------------------------------


def readme(settings: LakehouseSettings, day: dt.date) -> str:
    """The folder's README: each file, and the commands that use them with this deployment's names."""
    target = aws_target(settings)
    aws = settings.aws
    region = f"--region {target.region}"
    location = "" if target.region == "us-east-1" else f" --create-bucket-configuration LocationConstraint={target.region}"
    databases = "\n".join(
        f"  aws glue create-database {region} --database-input Name={name},LocationUri={target.s3(f'warehouse/{name}')}"
        for name in NAMESPACES
    )
    cluster = aws.cluster_id or "<cluster-id>"
    application = "" if aws.serverless_application_id else " --application-id <application-id>"
    listing = {
        "spark-defaults.conf": "Spark on EMR: the catalog, signed with SigV4 for Glue (interactive use)",
        f"trino/{settings.catalog.name}.properties": "Trino's catalog: copy to /etc/trino/conf/catalog/ on the Trino nodes",
        ".pyiceberg.yaml": "PyIceberg (install the lakehouse with its `aws` extra, for boto3)",
        "dbt/profiles.yml": "dbt-trino on the Trino cluster, target `aws`"
        if aws.trino_host
        else "not rendered until aws.trino_host names the Trino cluster's primary node",
        "emr-step.json": f"aws emr add-steps: lakehouse {' '.join(pipeline_arguments(day))}",
        "emr-serverless-job.json": "aws emr-serverless start-job-run: the same run",
        STEP_SCRIPT: "the jobs' entry point: the `lakehouse` console script",
        "iam-policy.json": f"what the job role {aws.job_role} needs",
    }
    width = max(map(len, listing)) + 2
    files = "\n".join(f"  {name:<{width}}{what}" for name, what in listing.items())
    return f"""{_HEADER}
The lakehouse on AWS (docs/deploy-aws.md): Glue's Iceberg REST endpoint {target.glue_rest_uri},
tables under {target.s3('warehouse/')}, Spark on EMR {aws.spark_release_label}, Trino on EMR {aws.trino_release_label}.

Files
{files}

Once: the bucket, the Glue databases, the role's policy
  aws s3api create-bucket {region} --bucket {target.bucket}{location}
{databases}
  aws iam put-role-policy --role-name {aws.job_role} --policy-name lakehouse --policy-document file://iam-policy.json

Each release of the code: the virtualenv (venv-pack, built where the EMR Python runs) and the settings
  aws s3 cp {STEP_SCRIPT} {target.s3(f'code/{STEP_SCRIPT}')}
  aws s3 cp {VENV_ARCHIVE} {target.s3(f'code/{VENV_ARCHIVE}')}
  aws s3 cp {SETTINGS_FILE} {target.s3(f'code/{SETTINGS_FILE}')}

A day (re-render with --date for another)
  aws emr add-steps {region} --cluster-id {cluster} --steps file://emr-step.json
  aws emr-serverless start-job-run {region}{application} --cli-input-json file://emr-serverless-job.json
"""


def aws_files(settings: LakehouseSettings, day: dt.date) -> dict[str, str]:
    """Every file `lakehouse config aws` writes, by name relative to its folder."""
    files = {
        "README.txt": readme(settings, day),
        "spark-defaults.conf": spark_defaults_conf(settings),
        f"trino/{settings.catalog.name}.properties": trino_catalog_file(settings),
        ".pyiceberg.yaml": pyiceberg_yaml(settings),
        "emr-step.json": _json(emr_step(settings, day)),
        "emr-serverless-job.json": _json(emr_serverless_job(settings, day)),
        STEP_SCRIPT: step_script(),
        "iam-policy.json": _json(iam_policy(settings)),
    }
    if settings.aws.trino_host is not None:
        files["dbt/profiles.yml"] = dbt_profiles(settings)
    return files


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _commented(text: str) -> str:
    return "".join(f"# {line}\n" for line in text.splitlines()) + "\n"
