"""Trino's principals and, with `trino.password_auth` on, how they authenticate.

`ensure_secrets` (called by `lakehouse up`) generates, once, under
`<home>/secrets/trino/` (folder 0700, every file 0600, git-ignored with the home):

- `keystore.p12` + `keystore.key`: a self-signed certificate for 127.0.0.1, localhost and
  `trino.host`, made with the JDK's `keytool`, and the keystore's random password;
- `ca.pem`: that certificate alone, which clients verify the server against;
- `<user>.password`: a random password for each principal;
- `password.db`: their PBKDF2 hashes, for Trino's file password authenticator;
- `shared-secret`: `internal-communication.shared-secret`, which Trino requires once
  authentication is on.

Later calls reuse every file. Deleting one regenerates it: a deleted `<user>.password`
rotates that password, a deleted `keystore.p12` or `ca.pem` the certificate. The
keystore password and the shared secret reach Trino through its environment
(`${ENV:...}` in `config.properties`), so no rendered config file holds a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import ConfigError, ServiceError
from catalog.secret_files import create_once as _create_once
from catalog.secret_files import write_private as _write_private
from catalog.settings import LakehouseSettings

# The user `up` probes readiness as (a scan of the TPC-H health catalog and of information_schema, nothing else).
TRINO_HEALTH_USER = "lakehouse-health"

# Trino reads these from its environment: `${ENV:NAME}` in config.properties.
KEYSTORE_KEY_ENV = "TRINO_KEYSTORE_KEY"
SHARED_SECRET_ENV = "TRINO_SHARED_SECRET"

# Trino's file authenticator checks PBKDF2 with HMAC-SHA1 (EncryptionUtil in
# trino-password-authenticators 476) and refuses fewer than 1000 iterations. SHA-1 is
# Trino's choice, not ours; the passwords are 192 random bits, so the hash is not what
# keeps them safe. bcrypt would need a new dependency for no gain.
PBKDF2_ITERATIONS = 100_000
CERTIFICATE_DAYS = 3650
KEYSTORE_ALIAS = "trino"


def principals(settings: LakehouseSettings) -> tuple[str, ...]:
    """Every user Trino knows: the engineer, the analyst, and the health probe."""
    return (settings.trino.user, settings.trino.analyst_user, TRINO_HEALTH_USER)


@dataclass(frozen=True)
class SecretFiles:
    """Where the generated TLS material and passwords live."""

    directory: Path

    @property
    def keystore(self) -> Path:
        return self.directory / "keystore.p12"

    @property
    def keystore_key(self) -> Path:
        return self.directory / "keystore.key"

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def password_db(self) -> Path:
        return self.directory / "password.db"

    @property
    def shared_secret(self) -> Path:
        return self.directory / "shared-secret"

    def password_file(self, user: str) -> Path:
        return self.directory / f"{user}.password"


def secret_files(settings: LakehouseSettings) -> SecretFiles:
    return SecretFiles(settings.home / "secrets" / "trino")


def ensure_secrets(settings: LakehouseSettings) -> SecretFiles:
    """Generate whatever is missing; keep whatever exists (idempotent)."""
    files = secret_files(settings)
    files.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(files.directory, 0o700)
    _create_once(files.shared_secret, lambda: secrets.token_urlsafe(48))
    keystore_key = _create_once(files.keystore_key, lambda: secrets.token_urlsafe(24))
    if not (files.keystore.is_file() and files.ca_cert.is_file()):
        _make_certificate(settings, files, keystore_key)
    passwords = {user: _create_once(files.password_file(user), lambda: secrets.token_urlsafe(24)) for user in principals(settings)}
    _ensure_password_db(files.password_db, passwords)
    return files


def server_env(files: SecretFiles) -> dict[str, str]:
    """The secrets Trino reads from its environment."""
    return {KEYSTORE_KEY_ENV: files.keystore_key.read_text(), SHARED_SECRET_ENV: files.shared_secret.read_text()}


def read_password(settings: LakehouseSettings, user: str) -> str:
    path = secret_files(settings).password_file(user)
    try:
        return path.read_text()
    except FileNotFoundError:
        known = ", ".join(principals(settings))
        raise ConfigError(
            f"trino.password_auth is on but there is no password for {user!r} at {path}: "
            f"run `lakehouse up` (it generates one for {known})"
        ) from None


def basic_auth_header(settings: LakehouseSettings, user: str) -> dict[str, str]:
    """HTTP headers that authenticate `user` with its generated password."""
    token = base64.b64encode(f"{user}:{read_password(settings, user)}".encode()).decode()
    return {"X-Trino-User": user, "Authorization": f"Basic {token}"}


# --- password.db -------------------------------------------------------------


def pbkdf2_entry(user: str, password: str, *, salt: bytes | None = None) -> str:
    """One password.db line: `user:iterations:hex salt:hex hash`, as Trino parses it."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, PBKDF2_ITERATIONS, dklen=32)
    return f"{user}:{PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}"


def pbkdf2_matches(hashed: str, password: str) -> bool:
    """Whether `password` hashes to `hashed` (`iterations:hex salt:hex hash`, a line after its user)."""
    try:
        iterations, salt, digest = hashed.split(":")
        expected = bytes.fromhex(digest)
        actual = hashlib.pbkdf2_hmac("sha1", password.encode(), bytes.fromhex(salt), int(iterations), dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def _ensure_password_db(path: Path, passwords: dict[str, str]) -> None:
    """Rewrite password.db only if a principal is missing or a hash no longer matches its password."""
    try:
        entries = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    except FileNotFoundError:
        entries = {}
    current = set(entries) == set(passwords) and all(pbkdf2_matches(entries[u], p) for u, p in passwords.items())
    if not current:
        _write_private(path, "".join(pbkdf2_entry(user, password) + "\n" for user, password in passwords.items()))


# --- Certificate -------------------------------------------------------------


def _make_certificate(settings: LakehouseSettings, files: SecretFiles, keystore_key: str) -> None:
    """A self-signed certificate with the host names clients use, via the JDK's keytool."""
    keytool = settings.java.jdk25_home / "bin" / "keytool"
    if not keytool.is_file():
        raise ConfigError(
            f"trino.password_auth needs keytool to make a certificate, but there is none at {keytool}: "
            "set LAKEHOUSE_JAVA__JDK25_HOME to a JDK (ls /usr/lib/jvm)"
        )
    files.keystore.unlink(missing_ok=True)
    files.ca_cert.unlink(missing_ok=True)
    # The password goes through the environment, not argv, so `ps` never shows it.
    common = ["-alias", KEYSTORE_ALIAS, "-keystore", str(files.keystore), "-storetype", "PKCS12", "-storepass:env", KEYSTORE_KEY_ENV]
    _keytool(
        [str(keytool), "-genkeypair", *common, "-keyalg", "RSA", "-keysize", "2048", "-validity", str(CERTIFICATE_DAYS),
         "-dname", "CN=localhost", "-ext", f"SAN={_subject_alt_names(settings.trino.host)}"],
        keystore_key,
    )
    _keytool([str(keytool), "-exportcert", "-rfc", *common, "-file", str(files.ca_cert)], keystore_key)
    for path in (files.keystore, files.ca_cert):
        os.chmod(path, 0o600)


def _subject_alt_names(host: str) -> str:
    names = ["ip:127.0.0.1", "dns:localhost"]
    try:
        own = f"ip:{ipaddress.ip_address(host)}"
    except ValueError:
        own = f"dns:{host}"
    if own not in names:
        names.append(own)
    return ",".join(names)


def _keytool(argv: list[str], keystore_key: str) -> None:
    result = subprocess.run(argv, env={**os.environ, KEYSTORE_KEY_ENV: keystore_key}, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(
            f"keytool could not make Trino's certificate (exit {result.returncode}): see the output above",
            details=(result.stdout + result.stderr).strip(),
        )

