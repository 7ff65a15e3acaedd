"""Which AOT cache options Trino gets, and how a recording becomes the cache (no JVM needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import jvm_aot
from catalog.artifacts import TRINO_VERSION


def _jdk(tmp_path: Path, version: str) -> Path:
    home = tmp_path / f"jdk-{version}"
    home.mkdir()
    (home / "release").write_text(f'IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="{version}"\nJAVA_VERSION_DATE="2026-04-21"\n')
    return home


def test_the_cache_is_named_after_trino_and_the_exact_jdk(tmp_path: Path) -> None:
    cache = jvm_aot.cache_file(tmp_path / "cache", _jdk(tmp_path, "25.0.3"))
    assert cache == tmp_path / "cache" / jvm_aot.CACHE_FOLDER / f"trino-{TRINO_VERSION}-java-25.0.3.aot"
    # Another JDK build would refuse that file: it gets a cache of its own.
    assert jvm_aot.cache_file(tmp_path / "cache", _jdk(tmp_path, "25.0.4")) != cache


@pytest.mark.parametrize("version", ["24.0.2", "17.0.12"])
def test_jdks_without_one_step_recording_get_no_options(tmp_path: Path, version: str) -> None:
    home = _jdk(tmp_path, version)
    assert jvm_aot.cache_file(tmp_path, home) is None
    assert jvm_aot.launcher_options(tmp_path, home, record=True) == []


def test_a_folder_that_is_not_a_jdk_gets_no_options(tmp_path: Path) -> None:
    assert jvm_aot.launcher_options(tmp_path, tmp_path / "missing", record=True) == []


def test_without_a_cache_only_a_recording_start_records_one(tmp_path: Path) -> None:
    home = _jdk(tmp_path, "25.0.3")
    assert jvm_aot.launcher_options(tmp_path / "cache", home) == []
    first = jvm_aot.launcher_options(tmp_path / "cache", home, record=True)
    second = jvm_aot.launcher_options(tmp_path / "cache", home, record=True)
    recording = jvm_aot.recording(first)
    assert recording is not None and recording.parent.is_dir()
    assert recording != jvm_aot.recording(second), "two Trinos recording at once must not share a file"


def test_a_clean_recording_becomes_the_cache_and_the_next_trino_uses_it(tmp_path: Path) -> None:
    home = _jdk(tmp_path, "25.0.3")
    recording = jvm_aot.recording(jvm_aot.launcher_options(tmp_path / "cache", home, record=True))
    assert recording is not None
    assert jvm_aot.keep(recording) is None  # the JVM wrote nothing: nothing to keep

    recording.write_bytes(b"archive")
    cache = jvm_aot.keep(recording)
    assert cache == jvm_aot.cache_file(tmp_path / "cache", home)
    assert cache is not None and cache.read_bytes() == b"archive" and not recording.exists()
    # Every start uses it, and none records again.
    assert jvm_aot.launcher_options(tmp_path / "cache", home) == ["-J", f"-XX:AOTCache={cache}"]
    assert jvm_aot.launcher_options(tmp_path / "cache", home, record=True) == ["-J", f"-XX:AOTCache={cache}"]


def test_a_killed_recording_is_discarded_with_the_jvms_temporary_file(tmp_path: Path) -> None:
    home = _jdk(tmp_path, "25.0.3")
    recording = jvm_aot.recording(jvm_aot.launcher_options(tmp_path / "cache", home, record=True))
    assert recording is not None
    recording.write_bytes(b"half an archive")
    Path(f"{recording}.config").write_bytes(b"training data")
    jvm_aot.discard(recording)
    assert list(recording.parent.iterdir()) == []
    assert jvm_aot.cache_file(tmp_path / "cache", home).exists() is False  # type: ignore[union-attr]


def test_commands_without_recording_have_none() -> None:
    assert jvm_aot.recording(["launcher", "run", "-J", "-XX:AOTCache=/x.aot"]) is None
    assert jvm_aot.recording([]) is None
