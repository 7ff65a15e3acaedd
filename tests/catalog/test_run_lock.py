"""The pipeline lock, with real processes: refused while held, released by SIGKILL, and a dead holder reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from catalog.errors import LakehouseError
from catalog.run_lock import WarehouseBusy, current_holder, lock_path, pipeline_lock
from catalog.settings import LakehouseSettings, load_settings


@pytest.fixture()
def settings(tmp_path: Path) -> LakehouseSettings:
    return load_settings(home=tmp_path / "home")


def _holder_process(settings: LakehouseSettings, command: str) -> subprocess.Popen:
    """Another process that takes the lock, says so, and sleeps until killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from catalog.run_lock import pipeline_lock
        from catalog.settings import load_settings
        with pipeline_lock(load_settings(home={str(settings.home)!r}), {command!r}):
            print("held", flush=True)
            time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_naming_the_holder(settings: LakehouseSettings) -> None:
    holder = _holder_process(settings, "lakehouse run --date 2026-01-05")
    try:
        with pytest.raises(WarehouseBusy) as refused:
            with pipeline_lock(settings, "lakehouse run --date 2026-01-06"):
                pytest.fail("the lock was taken twice")
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "`lakehouse run --date 2026-01-05`" in message
        assert "\n" not in message
        assert current_holder(settings) is not None and current_holder(settings).pid == holder.pid
    finally:
        holder.terminate()
        holder.wait()


def test_sigkill_releases_the_lock_and_the_next_holder_learns_it_died(settings: LakehouseSettings) -> None:
    holder = _holder_process(settings, "lakehouse demo")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    assert current_holder(settings) is None
    with pipeline_lock(settings, "lakehouse run --date 2026-01-06") as lease:
        assert lease.previous_holder_died is not None
        assert (lease.previous_holder_died.pid, lease.previous_holder_died.command) == (holder.pid, "lakehouse demo")
        assert current_holder(settings).pid == os.getpid()
    # Released cleanly: the next holder has nothing to repair.
    with pipeline_lock(settings, "lakehouse run --date 2026-01-07") as lease:
        assert lease.previous_holder_died is None


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(settings: LakehouseSettings) -> None:
    holder = _holder_process(settings, "lakehouse backfill")
    started = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 2; kill {holder.pid}"])
    with pipeline_lock(settings, "lakehouse run", wait_seconds=60) as lease:
        assert time.monotonic() - started >= 1.5
        # SIGTERM ends Python without running its `finally`: the record says it did not release.
        assert lease.previous_holder_died is not None
    holder.wait()


def test_a_symlink_at_the_lock_path_is_not_followed(settings: LakehouseSettings, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    path = lock_path(settings)
    path.parent.mkdir(parents=True)
    path.symlink_to(victim)
    with pytest.raises(LakehouseError, match="symlink"):
        with pipeline_lock(settings, "lakehouse run"):
            pass
    assert victim.read_text() == "keep me\n"
