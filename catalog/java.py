"""Which Java each engine needs, and the one check that says so.

A JDK's version is read from its `release` file, which every JDK and jlinked runtime
carries, so no JVM is started to find it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import ConfigError

_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class JavaRange:
    """The major versions an engine runs on (`newest` None: no upper bound)."""

    oldest: int
    newest: int | None = None

    def __contains__(self, major: int) -> bool:
        return self.oldest <= major and (self.newest is None or major <= self.newest)

    def __str__(self) -> str:
        return f"{self.oldest}+" if self.newest is None else f"{self.oldest} to {self.newest}"


# Spark 4.1 and the REST catalog share one JDK; Hadoop's FileSystem breaks on 23+.
SPARK_JAVA = JavaRange(17, 22)
REST_CATALOG_JAVA = SPARK_JAVA
TRINO_JAVA = JavaRange(24)
# Kafka 4 brokers need Java 17 or newer.
KAFKA_JAVA = JavaRange(17)
# S3Proxy 4 is compiled for Java 17 (its jar's manifest says so).
S3PROXY_JAVA = JavaRange(17)
# -XX:AOTCacheOutput (one-step training of an AOT cache) arrived in Java 25.
AOT_CACHE_JAVA = JavaRange(25)


def java_version(java_home: Path) -> str | None:
    """The JDK's full version (e.g. "25.0.1") from its `release` file; None if it is not a JDK."""
    try:
        match = _RELEASE_VERSION.search((java_home / "release").read_text())
    except OSError:
        return None
    return match.group(1) if match else None


def major_of(version: str | None) -> int | None:
    """The major of a `release` version string ("25.0.1" -> 25); None if it has none."""
    try:
        return int(version.split(".")[0]) if version else None
    except ValueError:
        return None


def java_major(java_home: Path) -> int | None:
    return major_of(java_version(java_home))


def require_java(java_home: Path, needed: JavaRange, *, who: str, setting: str) -> None:
    """Raise one ConfigError line naming the setting to fix if `java_home` is not a fitting JDK."""
    major = java_major(java_home)
    if major is None or not (java_home / "bin" / "java").is_file():
        raise ConfigError(
            f"{who} needs Java {needed} but there is no JDK at {java_home}: install one (ls /usr/lib/jvm) and set {setting}"
        )
    if major not in needed:
        raise ConfigError(
            f"{who} needs Java {needed} but {java_home} is Java {major}: set {setting} to a matching JDK (ls /usr/lib/jvm)"
        )
