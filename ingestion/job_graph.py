"""Run a day's jobs concurrently, each as soon as the jobs it depends on have finished.

Why threads over one SparkContext: a day is ~14 small jobs (7 Bronze sources, 7
Silver tables) whose time goes mostly to driver-side latency (Iceberg commits over
REST, planning, many short Spark jobs), not to executor CPU. Overlapping them keeps
both cores busy. Each job gets its own SparkSession (`newSession`): Silver's
write-audit-publish sets `spark.wap.branch` and snapshot properties in the session
conf and registers a temp view, which concurrent jobs must not share. The catalog
is not cached per session (`cache-enabled=false`), so a job always sees the commits
that the jobs it depends on made from another session.

Failure: once a job fails, nothing new starts; jobs already running finish; the
first failure (in submission order) is raised, as the sequential loop would have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


class DependencyCycle(ValueError):
    """The graph cannot be ordered."""


def run_job_graph(
    jobs: Mapping[str, Callable[[], T]],
    depends_on: Mapping[str, set[str]],
    *,
    workers: int,
) -> dict[str, T]:
    """Run `jobs` (name -> callable) respecting `depends_on`; results by name, in `jobs` order.

    With `workers=1` the jobs run one by one in `jobs` order (a valid order is required).
    """
    _check(jobs, depends_on)
    if workers == 1:
        # No threads at all: the jobs run in the caller's thread, one by one.
        return {name: job() for name, job in _in_dependency_order(jobs, depends_on)}
    results: dict[str, T] = {}
    pending = list(jobs)
    running: dict[Future[T], str] = {}
    failures: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
        while pending or running:
            if not failures:
                for name in [n for n in pending if depends_on.get(n, set()) <= results.keys()]:
                    if len(running) >= workers:
                        break
                    pending.remove(name)
                    running[pool.submit(jobs[name])] = name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                if future.exception() is not None:
                    failures[name] = future.exception()  # type: ignore[assignment]
                else:
                    results[name] = future.result()
    if failures:
        first = next(name for name in jobs if name in failures)
        raise failures[first]
    return {name: results[name] for name in jobs}


def _check(jobs: Mapping[str, object], depends_on: Mapping[str, set[str]]) -> None:
    unknown = {dep for deps in depends_on.values() for dep in deps} - jobs.keys()
    if unknown:
        raise ValueError(f"dependencies on unknown jobs: {sorted(unknown)}")
    done: set[str] = set()
    remaining = set(jobs)
    while remaining:
        ready = {name for name in remaining if depends_on.get(name, set()) <= done}
        if not ready:
            raise DependencyCycle(f"jobs depend on each other in a cycle: {sorted(remaining)}")
        done |= ready
        remaining -= ready


def _in_dependency_order(jobs: Mapping[str, Callable[[], T]], depends_on: Mapping[str, set[str]]) -> list[tuple[str, Callable[[], T]]]:
    """Jobs in `jobs` order, each moved after the jobs it depends on."""
    ordered: list[tuple[str, Callable[[], T]]] = []
    done: set[str] = set()
    pending = list(jobs)
    while pending:
        name = next(n for n in pending if depends_on.get(n, set()) <= done)
        pending.remove(name)
        ordered.append((name, jobs[name]))
        done.add(name)
    return ordered
