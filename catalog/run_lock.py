"""One pipeline writer per lakehouse home at a time: an OS file lock that dies with its holder.

`run`, `backfill` and `demo` write Bronze folders, Silver audit branches and the
ingested-file ledger, none of which two writers may share (Iceberg's optimistic commits
protect a table's metadata, not what surrounds it). Each holds `<home>/run/pipeline.lock`
for the whole run.

Why `flock` on a file: the kernel releases it when the holder's last descriptor closes,
so a SIGKILLed run never leaves a stale lock behind and nobody has to guess whether a pid
is still alive (a lease row with an expiry would need a heartbeat and a clock). The holder
writes who it is into the file, so a refused run can name it; a clean release empties the
file. A file that still names a holder when the lock is free was left by a run that died,
and the new holder is told so (`previous_holder_died`), to repair what that run left.

*Rejected:* a lock row in the REST catalog's database. It would need expiry and renewal,
and the local reference server has no such API.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import LakehouseError
from catalog.settings import LakehouseSettings

LOCK_FILE = "pipeline.lock"
MAINTENANCE_LOCK_FILE = "maintenance.lock"
TABLE_LOCK_DIR = "tables"  # one lock file per table: <home>/run/tables/<namespace.table>.lock
_POLL_SECONDS = 1.0


class WarehouseBusy(LakehouseError):
    """Another pipeline run holds the lock."""


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    started_at: str  # ISO 8601, UTC
    host: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} (`{self.command}`), started {self.started_at}"


@dataclass(frozen=True)
class Lease:
    holder: Holder
    # Set when the lock file still named a holder that had died (SIGKILL, power loss) without releasing it.
    previous_holder_died: Holder | None


def lock_path(settings: LakehouseSettings) -> Path:
    return settings.run_dir / LOCK_FILE


@contextmanager
def pipeline_lock(settings: LakehouseSettings, command: str, *, wait_seconds: float = 0.0) -> Iterator[Lease]:
    """Hold the home's pipeline lock for the block; refuse (or wait up to `wait_seconds`) while another run holds it."""
    with _holding(lock_path(settings), command, wait_seconds, "another pipeline run") as lease:
        yield lease


@contextmanager
def maintenance_lock(settings: LakehouseSettings, command: str, *, wait_seconds: float = 0.0) -> Iterator[Lease]:
    """One table maintenance at a time per home (`lakehouse maintain`, or maintenance after a run)."""
    with _holding(settings.run_dir / MAINTENANCE_LOCK_FILE, command, wait_seconds, "another table maintenance") as lease:
        yield lease


@contextmanager
def table_lock(settings: LakehouseSettings, table: str, command: str, *, wait_seconds: float) -> Iterator[Lease]:
    """Exclusive use of one table (`namespace.table`) between a writer that must see `main` stand still and maintenance.

    Iceberg's optimistic commits retry an append next to a compaction, but not a
    write-audit-publish fast-forward (main must not move while the audit branch is written)
    nor a copy-on-write UPDATE of a file that a compaction just replaced: those writers and
    maintenance take the table's lock. Waits up to `wait_seconds`, then fails in one line.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", table)
    with _holding(settings.run_dir / TABLE_LOCK_DIR / f"{safe}.lock", command, wait_seconds, f"a writer of {table}") as lease:
        yield lease


@contextmanager
def _holding(path: Path, command: str, wait_seconds: float, who: str) -> Iterator[Lease]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a symlink planted at the lock's path must not make us truncate its target.
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise LakehouseError(
            f"cannot open the lock {path}: {exc.strerror}; it must be a regular file the user can write "
            "(remove it if it is a symlink or owned by another user)"
        ) from None
    try:
        _acquire(descriptor, path, wait_seconds, who)
        previous = _read_holder(descriptor)
        holder = Holder(os.getpid(), command, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), socket.gethostname())
        _write_holder(descriptor, holder)
        try:
            yield Lease(holder, previous)
        finally:
            # Empty means "released cleanly": the next holder has nothing to repair.
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def current_holder(settings: LakehouseSettings) -> Holder | None:
    """Who holds the lock now, or None (a dead holder's leftover record does not count)."""
    path = lock_path(settings)
    if not path.is_file():
        return None
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(descriptor)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, path: Path, wait_seconds: float, who: str) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _read_holder(descriptor)
                holder_text = holder.describe() if holder else "a process that has not written its name yet"
                raise WarehouseBusy(
                    f"{who} holds {path}: {holder_text}; wait for it to finish, or stop it "
                    "(a killed run releases the lock at once)"
                ) from None
            time.sleep(_POLL_SECONDS)


def _read_holder(descriptor: int) -> Holder | None:
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 64 * 1024).decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        fields = json.loads(text)
        return Holder(int(fields["pid"]), str(fields["command"]), str(fields["started_at"]), str(fields["host"]))
    except (ValueError, KeyError, TypeError):
        # A torn write (killed mid-write): someone held it and did not release it.
        return Holder(0, "unknown (unreadable lock record)", "unknown", "unknown")


def _write_holder(descriptor: int, holder: Holder) -> None:
    os.ftruncate(descriptor, 0)
    os.lseek(descriptor, 0, os.SEEK_SET)
    os.write(descriptor, (json.dumps(holder.__dict__) + "\n").encode())
    os.fsync(descriptor)


def command_line() -> str:
    """How this process was started, for the holder record (`lakehouse run --date 2026-01-05`)."""
    name = Path(sys.argv[0]).name if sys.argv else "python"
    return " ".join([name, *sys.argv[1:]])
