"""The local PostgreSQL server: the JDBC source, standing in for a warehouse (Snowflake, Redshift).

Debian's `postgresql` package brings the binaries; nothing is downloaded. `lakehouse up`
initialises a cluster once (`prepare`) and runs the `postgres` binary in the foreground, so
the pid `catalog.services` records is the postmaster's. Clients connect over TCP only, with
scram-sha-256 password authentication, so a wrong password is refused as it would be by a
real warehouse.

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the
`postgres` OS user (Debian's package creates it). That user must reach the data folder; a
home inside a private folder (pytest's 0700 temporary folders, /root) is out of its reach,
and the cluster then lives under /var/tmp, with `<home>/data/postgres` a symlink to it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from catalog.errors import ConfigError, ServiceError
from catalog.secret_files import configured_or_generated, ensure_generated
from catalog.settings import LakehouseSettings

PASSWORD_ENV = "LAKEHOUSE_POSTGRES__PASSWORD"
# The OS user the server runs as when we are root.
SERVER_OS_USER = "postgres"
# Where a root-run cluster lives when the postgres user cannot reach the home.
SHARED_CLUSTER_ROOT = Path("/var/tmp/lakehouse-postgres")
DEBIAN_BIN_DIRS = Path("/usr/lib/postgresql")
# The database every client can connect to for administration (initdb creates it).
ADMIN_DATABASE = "postgres"
PROBE_TIMEOUT_SECONDS = 2


def bin_dir(settings: LakehouseSettings) -> Path:
    """The server's binaries: the setting, else the newest Debian install."""
    configured = settings.postgres.bin_dir
    candidates = [configured] if configured else sorted(DEBIAN_BIN_DIRS.glob("*/bin"), key=_major_version)
    for candidate in reversed(candidates):
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    where = configured or f"{DEBIAN_BIN_DIRS}/*/bin"
    raise ConfigError(
        f"the PostgreSQL server is not installed (no postgres and initdb in {where}): "
        "run 'apt-get install postgresql', or set LAKEHOUSE_POSTGRES__BIN_DIR to its bin folder"
    )


def _major_version(path: Path) -> int:
    return int(path.parent.name) if path.parent.name.isdigit() else 0


def data_dir(settings: LakehouseSettings) -> Path:
    """Where the cluster is, as the user sees it (possibly a symlink, see the module doc)."""
    return (settings.postgres.data_dir or settings.data_dir / "postgres").expanduser().absolute()


def password_file(settings: LakehouseSettings) -> Path:
    return settings.home / "secrets" / "postgres" / "password"


def password(settings: LakehouseSettings) -> str:
    """The password of `postgres.user`: LAKEHOUSE_POSTGRES__PASSWORD, else the file `up` generated."""
    return configured_or_generated(
        settings.postgres.password, password_file(settings), env_var=PASSWORD_ENV, what="PostgreSQL password"
    )


def ensure_password(settings: LakehouseSettings) -> str:
    """The password, generating the file once when the environment sets none."""
    return ensure_generated(settings.postgres.password, password_file(settings))


def prepare(settings: LakehouseSettings) -> None:
    """Before a start: the password, and on the first start the cluster (initdb)."""
    secret = ensure_password(settings)
    if (data_dir(settings) / "PG_VERSION").is_file():
        return
    cluster = _make_cluster_dir(settings)
    # initdb reads the superuser's password from a file; the server user must be able to read it.
    handle, pwfile = tempfile.mkstemp(prefix=".pwfile-", dir=cluster.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(secret + "\n")
        _give_to_server_user(Path(pwfile))
        initdb = [
            str(bin_dir(settings) / "initdb"),
            f"--pgdata={cluster}",
            f"--username={settings.postgres.user}",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
        result = subprocess.run(as_server_user(initdb), capture_output=True, text=True)
    finally:
        os.unlink(pwfile)
    if result.returncode != 0:
        shutil.rmtree(cluster, ignore_errors=True)  # empty but for initdb's half-made files: retried next time
        raise ServiceError(
            f"initdb could not create the PostgreSQL cluster in {cluster} (exit {result.returncode}): see the output above",
            details=(result.stdout + result.stderr).strip(),
        )


def server_command(settings: LakehouseSettings, binaries: Path) -> list[str]:
    """The postmaster in the foreground, TCP only (no Unix socket: no socket folder to share or clean)."""
    postgres = settings.postgres
    return as_server_user(
        [
            str(binaries / "postgres"),
            "-D",
            str(data_dir(settings).resolve()),
            "-p",
            str(postgres.port),
            "-c",
            f"listen_addresses={postgres.host}",
            "-k",
            "",
        ]
    )


def is_ready(settings: LakehouseSettings) -> bool:
    """True when the server accepts connections (pg_isready: no password needed, none read)."""
    try:
        binaries = bin_dir(settings)
    except ConfigError:
        return False
    probe = [
        str(binaries / "pg_isready"),
        f"--host={settings.postgres.host}",
        f"--port={settings.postgres.port}",
        f"--timeout={PROBE_TIMEOUT_SECONDS}",
        "--quiet",
    ]
    try:
        return subprocess.run(probe, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS + 3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def jdbc_url(settings: LakehouseSettings, database: str) -> str:
    return f"jdbc:postgresql://{settings.postgres.host}:{settings.postgres.port}/{database}"


def connection_kwargs(settings: LakehouseSettings, database: str) -> dict[str, object]:
    """psycopg.connect's keyword arguments for `database` (the password included: never log them)."""
    postgres = settings.postgres
    return {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": password(settings),
        "dbname": database,
        "connect_timeout": 10,
    }


# --- Running as the postgres OS user ----------------------------------------


def as_server_user(argv: list[str]) -> list[str]:
    """`argv` run as the postgres OS user when we are root; setpriv execs in place, so a pid stays the server's."""
    if os.geteuid() != 0:
        return argv
    user = _server_os_user()
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *argv]


def _server_os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise ConfigError(
            f"PostgreSQL may not run as root and there is no '{SERVER_OS_USER}' user to run it as: "
            "run 'apt-get install postgresql' (it creates the user), or run lakehouse as a normal user"
        ) from None


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        user = _server_os_user()
        os.chown(path, user.pw_uid, user.pw_gid)


def _make_cluster_dir(settings: LakehouseSettings) -> Path:
    """An empty folder for initdb, owned by the server's user and reachable by it: the real path."""
    target = data_dir(settings)
    if target.is_symlink() and not target.exists():
        target.unlink()  # its cluster under /var/tmp was cleaned away
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)  # initdb refuses a cluster folder others can read
    if os.geteuid() != 0:
        return target.resolve()
    _give_to_server_user(target)
    if _server_user_can_write(target.resolve()):
        return target.resolve()
    # Out of the postgres user's reach: the cluster moves to a folder of its own under /var/tmp.
    shared = SHARED_CLUSTER_ROOT / hashlib.sha256(str(target).encode()).hexdigest()[:16]
    SHARED_CLUSTER_ROOT.mkdir(exist_ok=True)
    os.chmod(SHARED_CLUSTER_ROOT, 0o755)
    _remove_orphaned_clusters()
    shutil.rmtree(shared, ignore_errors=True)  # a leftover of a home that no longer links to it
    shared.mkdir(mode=0o700)
    _give_to_server_user(shared)
    (SHARED_CLUSTER_ROOT / f"{shared.name}{_LINK_SUFFIX}").write_text(str(target))
    target.rmdir()
    target.symlink_to(shared, target_is_directory=True)
    return shared


_LINK_SUFFIX = ".linked-from"


def _remove_orphaned_clusters() -> None:
    """Clusters under /var/tmp whose home is gone (test homes, mostly): nothing can reach their data."""
    for link_note in SHARED_CLUSTER_ROOT.glob(f"*{_LINK_SUFFIX}"):
        cluster = link_note.with_name(link_note.name.removesuffix(_LINK_SUFFIX))
        linked_from = Path(link_note.read_text())
        still_linked = linked_from.is_symlink() and linked_from.resolve() == cluster
        if not still_linked and not (cluster / "postmaster.pid").exists():
            shutil.rmtree(cluster, ignore_errors=True)
            link_note.unlink()


def _server_user_can_write(folder: Path) -> bool:
    return subprocess.run(as_server_user(["test", "-w", str(folder)]), capture_output=True).returncode == 0

