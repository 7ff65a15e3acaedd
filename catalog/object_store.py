"""The cluster deployment's object store: S3Proxy serving the warehouse bucket from a local folder.

S3Proxy (Apache-2.0, one jar on Maven Central, `artifacts.ensure_s3proxy`) runs on its
`filesystem` backend: a bucket is a folder under `<home>/data/object-store`, an object a
plain file at its key's path (its ETag and metadata in extended attributes). Why S3Proxy
and not SeaweedFS: docs/architecture.md, measured by benchmarks/bench_object_store.py.

Every request must be signed with SigV4 (`s3proxy.authorization=aws-v4`, what Iceberg's
S3FileIO, Trino and pyarrow send): unsigned requests and wrong secrets are refused. The
secret is LAKEHOUSE_OBJECT_STORE__SECRET_ACCESS_KEY, else generated on the first `up` into
`<home>/secrets/object-store/` (0600). S3Proxy reads its credential only from its properties
file or from JVM system properties, which `ps` shows to every user; so the properties file
is rendered beside the secret, 0600, and not into the config folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from catalog import artifacts
from catalog.secret_files import configured_or_generated, ensure_generated, write_private
from catalog.settings import LakehouseSettings

if TYPE_CHECKING:
    from pyarrow.fs import S3FileSystem

SECRET_ENV = "LAKEHOUSE_OBJECT_STORE__SECRET_ACCESS_KEY"
# Served without credentials (S3Proxy's own readiness endpoint): {"status": "OK", ...}.
HEALTH_PATH = "/healthz"


def data_dir(settings: LakehouseSettings) -> Path:
    """The filesystem backend's root: one folder per bucket."""
    return settings.data_dir / "object-store"


def secrets_dir(settings: LakehouseSettings) -> Path:
    return settings.home / "secrets" / "object-store"


def secret_file(settings: LakehouseSettings) -> Path:
    return secrets_dir(settings) / "secret-access-key"


def properties_file(settings: LakehouseSettings) -> Path:
    return secrets_dir(settings) / "s3proxy.properties"


def secret_access_key(settings: LakehouseSettings) -> str:
    """The secret of `object_store.access_key_id`: the environment's, else the one `up` generated."""
    return configured_or_generated(
        settings.object_store.secret_access_key, secret_file(settings), env_var=SECRET_ENV, what="object store secret key"
    )


def s3proxy_properties(settings: LakehouseSettings, secret: str) -> str:
    """S3Proxy's properties file (it holds the secret: written 0600 by `prepare`, never committed)."""
    store = settings.object_store
    values = {
        "s3proxy.endpoint": store.endpoint,
        # SigV4 only: S3Proxy's default also takes the older V2 signatures, which no client here sends.
        "s3proxy.authorization": "aws-v4",
        "s3proxy.identity": store.access_key_id,
        "s3proxy.credential": secret,
        # Trino's native S3 lists with `x-amz-optional-object-attributes` (to skip archived
        # objects), which S3Proxy would refuse as an unknown header: every CREATE TABLE failed.
        "s3proxy.ignore-unknown-headers": "true",
        "jclouds.provider": "filesystem",
        "jclouds.filesystem.basedir": str(data_dir(settings)),
    }
    return "# Rendered by catalog/object_store.py on every start; holds the secret key.\n" + "".join(
        f"{key}={_property_value(value)}\n" for key, value in values.items()
    )


def _property_value(value: str) -> str:
    """A value as java.util.Properties reads it back: backslashes and line breaks escaped, Latin-1 only."""
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if escaped.startswith(" "):
        escaped = "\\" + escaped  # a leading blank would be dropped as separator whitespace
    return "".join(c if ord(c) < 0x7F else _unicode_escape(c) for c in escaped)


def _unicode_escape(char: str) -> str:
    units = char.encode("utf-16-be")  # beyond the BMP: a surrogate pair, as Java strings hold it
    return "".join(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def prepare(settings: LakehouseSettings) -> None:
    """Before each start: the secret (generated once), the properties, and the private bucket folder.

    The filesystem backend's bucket is a folder, so creating it needs no client and no
    running server; an existing one is kept with everything in it.
    """
    secret = ensure_generated(settings.object_store.secret_access_key, secret_file(settings))
    secrets_dir(settings).mkdir(mode=0o700, parents=True, exist_ok=True)  # not made above when the env sets the secret
    bucket = data_dir(settings) / settings.object_store.bucket
    bucket.mkdir(parents=True, exist_ok=True)
    # The filesystem backend reads a bucket's ACL from its folder's mode: "others may read"
    # makes it public-read, and then anyone lists it unsigned. Private, whatever the umask.
    for folder in (data_dir(settings), bucket):
        folder.chmod(0o700)
    write_private(properties_file(settings), s3proxy_properties(settings, secret))


def command(settings: LakehouseSettings, folder: Path) -> list[str]:
    """S3Proxy in the foreground (the recorded pid is the JVM's)."""
    java = settings.java.jdk17_home / "bin" / "java"
    return [
        str(java),
        f"-Xmx{settings.object_store.heap}",
        "-jar",
        str(artifacts.s3proxy_jar(folder)),
        "--properties",
        str(properties_file(settings)),
    ]


def is_healthy(body: bytes) -> bool:
    try:
        return json.loads(body).get("status") == "OK"
    except (ValueError, AttributeError):
        return False


def pyarrow_filesystem(settings: LakehouseSettings, *, secret: str | None = None) -> S3FileSystem:
    """A pyarrow S3 filesystem on the store (what PyIceberg and Polars use), path-style over HTTP."""
    from pyarrow.fs import S3FileSystem

    store = settings.object_store
    return S3FileSystem(
        access_key=store.access_key_id,
        secret_key=secret if secret is not None else secret_access_key(settings),
        region=store.region,
        endpoint_override=f"{store.host}:{store.port}",
        scheme="http",
        force_virtual_addressing=False,
        # One PutObject for an object smaller than a part, as Iceberg's S3FileIO and Trino send,
        # instead of a three-request multipart upload per object (benchmarks/RESULTS.md).
        allow_delayed_open=True,
    )
