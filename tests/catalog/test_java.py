"""Which Java each engine accepts, read from a JDK's `release` file (no JVM needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.errors import ConfigError
from catalog.java import AOT_CACHE_JAVA, SPARK_JAVA, TRINO_JAVA, java_major, java_version, require_java


def _jdk(tmp_path: Path, version: str, *, with_java: bool = True) -> Path:
    home = tmp_path / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    (home / "release").write_text(f'IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="{version}"\n')
    if with_java:
        (home / "bin" / "java").touch()
    return home


def test_version_and_major_come_from_the_release_file(tmp_path: Path) -> None:
    home = _jdk(tmp_path, "25.0.1")
    assert java_version(home) == "25.0.1" and java_major(home) == 25
    assert java_version(tmp_path / "missing") is None and java_major(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("major", "spark", "trino", "aot"),
    [(17, True, False, False), (22, True, False, False), (23, False, False, False), (24, False, True, False), (25, False, True, True)],
)
def test_each_engine_accepts_its_range(major: int, spark: bool, trino: bool, aot: bool) -> None:
    assert (major in SPARK_JAVA, major in TRINO_JAVA, major in AOT_CACHE_JAVA) == (spark, trino, aot)


def test_a_wrong_version_names_the_range_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        require_java(_jdk(tmp_path, "25.0.1"), SPARK_JAVA, who="Spark 4.1", setting="LAKEHOUSE_JAVA__JDK17_HOME")
    message = str(refused.value)
    assert "Spark 4.1 needs Java 17 to 22" in message and "is Java 25" in message
    assert "LAKEHOUSE_JAVA__JDK17_HOME" in message


def test_a_folder_without_bin_java_is_not_a_jdk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trino needs Java 24\\+ but there is no JDK at"):
        require_java(_jdk(tmp_path, "25.0.1", with_java=False), TRINO_JAVA, who="trino", setting="X")
    require_java(_jdk(tmp_path, "24.0.2"), TRINO_JAVA, who="trino", setting="X")  # accepted: no error
