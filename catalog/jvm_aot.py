"""Trino's ahead-of-time cache (Java 25: JEPs 483, 514 and 515): a faster start and warm-up.

A JVM started with a cache finds Trino's classes already loaded and linked, and its
JIT finds the method profiles of an earlier run, so it compiles the hot paths at
once. Measured here: Trino's start 21 -> 13 s, the first `dbt build` after a start
56 -> 44 s (benchmarks/RESULTS.md).

The demo trains it: its Trino, when there is no cache yet, records the run (start-up,
then `dbt build`, the workload worth being fast) and writes the cache when it stops
(`lakehouse down`, 30-60 s, once). Other starts only use a cache: one recorded by a
Trino that was started and stopped with no queries would hold no query profiles, and
would stay in place for good. The
recording goes to a file of its own and is moved into place only after a clean exit,
so two Trinos training at once, or one killed while writing, never leave a broken
cache. The file is named after the Trino and the exact JDK version, because a JVM
refuses a cache another build wrote (it warns and starts without it) and a stale one
would otherwise never be replaced.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from catalog.artifacts import TRINO_VERSION
from catalog.java import AOT_CACHE_JAVA, java_version, major_of

CACHE_FOLDER = "trino-aot"
_RECORDING_SUFFIX = ".recording"
_OUTPUT_OPTION = "-XX:AOTCacheOutput="


def cache_file(cache_dir: Path, java_home: Path) -> Path | None:
    """Where the cache for this Trino on this JDK lives; None if the JDK cannot use one."""
    version = java_version(java_home)  # one read of the release file
    major = major_of(version)
    if version is None or major is None or major not in AOT_CACHE_JAVA:
        return None
    return cache_dir / CACHE_FOLDER / f"trino-{TRINO_VERSION}-java-{version}.aot"


def launcher_options(cache_dir: Path, java_home: Path, *, record: bool = False) -> list[str]:
    """Trino launcher options: use the cache if there is one; else, with `record`, record one."""
    cache = cache_file(cache_dir, java_home)
    if cache is None:
        return []
    if cache.is_file():
        return ["-J", f"-XX:AOTCache={cache}"]
    if not record:
        return []
    cache.parent.mkdir(parents=True, exist_ok=True)
    recording = cache.with_name(f"{cache.name}.{uuid.uuid4().hex}{_RECORDING_SUFFIX}")
    # It warns about each class it cannot archive (1,500 lines in trino.log, once). Quieting
    # that with -Xlog makes this JVM refuse the option when the launcher passes both.
    return ["-J", f"{_OUTPUT_OPTION}{recording}"]


def recording(command: Sequence[str]) -> Path | None:
    """The file a Trino started with `command` writes its cache to as it stops, if it records one."""
    for argument in command:
        if argument.startswith(_OUTPUT_OPTION):
            return Path(argument.removeprefix(_OUTPUT_OPTION))
    return None


def keep(recorded: Path) -> Path | None:
    """Move a finished recording into place; the cache, or None if the JVM wrote nothing."""
    if not recorded.is_file():
        return None
    # "<cache>.<id>.recording" -> "<cache>"
    cache = recorded.with_name(recorded.name.removesuffix(_RECORDING_SUFFIX).rsplit(".", 1)[0])
    os.replace(recorded, cache)  # atomic: a Trino starting meanwhile sees no cache or a whole one
    return cache


def discard(recorded: Path) -> None:
    """Drop a recording a JVM may have left half-written (it was killed)."""
    recorded.unlink(missing_ok=True)
    Path(f"{recorded}.config").unlink(missing_ok=True)  # the JVM's temporary training file
