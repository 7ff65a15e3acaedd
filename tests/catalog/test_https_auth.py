"""Password authentication over HTTPS, with the secrets `up` generates.

The integration tests run their own stack (home, REST catalog, Trino) on ports apart
from the shared `stack`, which runs without authentication.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from trino.exceptions import TrinoUserError

from catalog import services, trino_auth
from catalog.errors import ConfigError
from catalog.settings import LakehouseSettings, load_settings
from catalog.trino_connection import trino_connection
from lakehouse.gold import build_gold
from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT, TEST_POSTGRES_PORT, TEST_TRINO_PORT

CATALOG_PORT = TEST_CATALOG_PORT + 200
HTTP_PORT = TEST_TRINO_PORT + 200
HTTPS_PORT = TEST_TRINO_PORT + 363  # 18443 without an offset
POSTGRES_PORT = TEST_POSTGRES_PORT + 200


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    settings = load_settings(
        home=tmp_path_factory.mktemp("https-home"),
        cache_dir=SHARED_CACHE,
        catalog={"port": CATALOG_PORT},
        trino={"port": HTTP_PORT, "https_port": HTTPS_PORT, "heap_gb": 2, "password_auth": True},
        postgres={"port": POSTGRES_PORT},
    )
    try:
        services.up(settings)
        yield settings
    finally:
        services.down(settings)


@pytest.fixture(scope="module")
def files(secured) -> trino_auth.SecretFiles:
    return trino_auth.secret_files(secured)


def _query(settings: LakehouseSettings, sql: str, *, user: str | None = None) -> list[list]:
    cursor = trino_connection(settings, user=user).cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def _statement(url: str, **kwargs) -> requests.Response:
    # A session that ignores REQUESTS_CA_BUNDLE, so `verify` really is the generated certificate.
    with requests.Session() as session:
        session.trust_env = False
        return session.post(f"{url}/v1/statement", data="SELECT 1", timeout=30, **kwargs)


@pytest.mark.integration
def test_the_right_password_connects_over_https(secured) -> None:
    assert _query(secured, "SELECT current_user") == [[secured.trino.user]]
    assert _query(secured, "SELECT current_user", user=secured.trino.analyst_user) == [[secured.trino.analyst_user]]
    assert [s.url for s in services.status(secured) if s.name == "trino"] == [f"https://127.0.0.1:{HTTPS_PORT}"]


@pytest.mark.integration
def test_the_server_is_verified_against_the_generated_certificate(secured, files) -> None:
    password = files.password_file(secured.trino.user).read_text()
    url = f"https://127.0.0.1:{HTTPS_PORT}"
    assert _statement(url, auth=(secured.trino.user, password), verify=str(files.ca_cert)).status_code == 200
    # localhost is in the certificate too; the system store does not know it.
    assert _statement(f"https://localhost:{HTTPS_PORT}", auth=(secured.trino.user, password), verify=str(files.ca_cert)).ok
    with pytest.raises(requests.exceptions.SSLError):
        _statement(url, auth=(secured.trino.user, password), verify=True)


@pytest.mark.integration
def test_a_wrong_password_is_rejected(secured, files) -> None:
    response = _statement(f"https://127.0.0.1:{HTTPS_PORT}", auth=(secured.trino.user, "not-the-password"), verify=str(files.ca_cert))
    assert response.status_code == 401
    # Another principal's password is as wrong as a made-up one.
    analyst_password = files.password_file(secured.trino.analyst_user).read_text()
    response = _statement(f"https://127.0.0.1:{HTTPS_PORT}", auth=(secured.trino.user, analyst_password), verify=str(files.ca_cert))
    assert response.status_code == 401


@pytest.mark.integration
def test_plain_http_refuses_queries(secured, files) -> None:
    url = f"http://127.0.0.1:{HTTP_PORT}"
    # The old way in (a user name header, no password) no longer works...
    assert _statement(url, headers={"X-Trino-User": secured.trino.user}).status_code == 403
    # ...and neither does a correct password sent in clear text.
    password = files.password_file(secured.trino.user).read_text()
    assert _statement(url, auth=(secured.trino.user, password)).status_code == 403
    # HTTPS does not answer anonymously either.
    assert _statement(f"https://127.0.0.1:{HTTPS_PORT}", verify=str(files.ca_cert)).status_code == 401


@pytest.mark.integration
def test_analyst_authenticated_by_password_is_still_limited_to_gold(secured) -> None:
    catalog = secured.catalog.name
    for layer in ("silver", "gold"):
        _query(secured, f"CREATE SCHEMA IF NOT EXISTS {catalog}.{layer}")
        _query(secured, f"CREATE OR REPLACE TABLE {catalog}.{layer}.auth_probe AS SELECT 1 AS x")
    analyst = secured.trino.analyst_user
    assert _query(secured, f"SELECT x FROM {catalog}.gold.auth_probe", user=analyst) == [[1]]
    schemas = {row[0] for row in _query(secured, f"SHOW SCHEMAS FROM {catalog}", user=analyst)}
    assert "gold" in schemas and "silver" not in schemas
    with pytest.raises(TrinoUserError, match="Access Denied"):
        _query(secured, f"SELECT x FROM {catalog}.silver.auth_probe", user=analyst)


@pytest.mark.integration
def test_dbt_connects_with_the_rendered_profile(secured) -> None:
    assert build_gold(secured, command=("debug",)).success


@pytest.mark.integration
def test_secrets_are_private_files_under_the_home(secured, files) -> None:
    assert files.directory.is_relative_to(secured.home)
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    names = {path.name for path in files.directory.iterdir()}
    users = trino_auth.principals(secured)
    assert names == {"keystore.p12", "keystore.key", "ca.pem", "password.db", "shared-secret"} | {f"{u}.password" for u in users}
    for path in files.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # password.db holds hashes only, one per principal.
    lines = files.password_db.read_text().splitlines()
    assert sorted(line.split(":", 1)[0] for line in lines) == sorted(users)
    for user in users:
        assert files.password_file(user).read_text() not in files.password_db.read_text()
    # No rendered config file holds a secret.
    secrets_ = [files.keystore_key.read_text(), files.shared_secret.read_text()] + [files.password_file(u).read_text() for u in users]
    for config in secured.config_dir.rglob("*"):
        if config.is_file():
            assert not any(secret in config.read_text() for secret in secrets_), config


@pytest.mark.integration
def test_a_second_up_reuses_the_secrets_and_the_server(secured, files) -> None:
    before = _snapshot(files.directory)
    pids = [s.pid for s in services.status(secured)]
    assert [s.pid for s in services.up(secured)] == pids
    assert _snapshot(files.directory) == before
    assert _query(secured, "SELECT 1") == [[1]]


@pytest.mark.integration
def test_a_deleted_password_file_rotates_that_password_only(secured, files) -> None:
    analyst, engineer = secured.trino.analyst_user, secured.trino.user
    old_analyst = files.password_file(analyst).read_text()
    old_engineer = files.password_file(engineer).read_text()
    files.password_file(analyst).unlink()
    trino_auth.ensure_secrets(secured)
    new_analyst = files.password_file(analyst).read_text()
    assert new_analyst != old_analyst
    assert files.password_file(engineer).read_text() == old_engineer
    # Trino reloads password.db on its own (every 5 s): the new password works, the old one stops.
    url = f"https://127.0.0.1:{HTTPS_PORT}"
    _wait_for(lambda: _statement(url, auth=(analyst, new_analyst), verify=str(files.ca_cert)).status_code == 200)
    assert _statement(url, auth=(analyst, old_analyst), verify=str(files.ca_cert)).status_code == 401


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(1)


# --- Without services -------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> LakehouseSettings:
    """Secrets generated once for the tests below (keytool takes seconds on a busy machine)."""
    settings = load_settings(home=tmp_path_factory.mktemp("local-home"), trino={"password_auth": True, "host": "trino.internal"})
    trino_auth.ensure_secrets(settings)
    return settings


def test_ensure_secrets_generates_once(local) -> None:
    files = trino_auth.secret_files(local)
    first = _snapshot(files.directory)
    assert trino_auth.ensure_secrets(local) == files
    assert _snapshot(files.directory) == first
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files.directory.iterdir())


def test_password_db_is_in_trinos_pbkdf2_format(local) -> None:
    files = trino_auth.ensure_secrets(local)
    for line in files.password_db.read_text().splitlines():
        user, iterations, salt, digest = line.split(":")
        assert int(iterations) >= 1000  # Trino refuses fewer
        assert salt == salt.lower() and digest == digest.lower()  # Trino decodes lower-case hex only
        password = files.password_file(user).read_text()
        assert trino_auth.pbkdf2_matches(line.split(":", 1)[1], password)
        assert not trino_auth.pbkdf2_matches(line.split(":", 1)[1], password + "x")


def test_pbkdf2_matches_the_rfc_6070_vector() -> None:
    # PBKDF2-HMAC-SHA1("password", "salt", 2 iterations, 20 bytes), RFC 6070.
    assert trino_auth.pbkdf2_matches(f"2:{b'salt'.hex()}:ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957", "password")


def test_the_certificate_names_the_configured_host(local) -> None:
    import subprocess

    files = trino_auth.ensure_secrets(local)
    text = subprocess.run(["openssl", "x509", "-in", str(files.ca_cert), "-noout", "-ext", "subjectAltName"],
                          capture_output=True, text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in text and "DNS:localhost" in text and "DNS:trino.internal" in text


def test_a_missing_password_names_the_fix(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, trino={"password_auth": True})
    with pytest.raises(ConfigError, match=r"no password for 'engineer' at .*: run `lakehouse up`"):
        trino_auth.read_password(settings, "engineer")


def test_jdbc_url_names_https_and_the_certificate(local) -> None:
    from catalog.trino_connection import jdbc_url

    ca_cert = trino_auth.secret_files(local).ca_cert
    assert jdbc_url(local, user="analyst") == (
        f"jdbc:trino://trino.internal:8443/iceberg?user=analyst&SSL=true&SSLTrustStorePath={ca_cert}"
    )


def test_https_port_must_differ_from_the_http_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LAKEHOUSE_TRINO__HTTPS_PORT"):
        load_settings(home=tmp_path, trino={"password_auth": True, "port": 9443, "https_port": 9443})
