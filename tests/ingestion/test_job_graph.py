import threading

import pytest

from ingestion.job_graph import DependencyCycle, run_job_graph


def _recording(log: list[str], name: str, value: object = None):
    def job():
        log.append(f"start {name}")
        log.append(f"end {name}")
        return value if value is not None else name

    return job


def test_a_job_starts_only_after_everything_it_depends_on_finished():
    log: list[str] = []
    jobs = {name: _recording(log, name) for name in ("fx", "customers", "orders", "events")}
    depends_on = {"orders": {"fx", "customers"}, "events": {"orders"}}
    results = run_job_graph(jobs, depends_on, workers=3)
    assert results == {"fx": "fx", "customers": "customers", "orders": "orders", "events": "events"}
    assert list(results) == ["fx", "customers", "orders", "events"]
    assert log.index("start orders") > max(log.index("end fx"), log.index("end customers"))
    assert log.index("start events") > log.index("end orders")


def test_independent_jobs_run_at_the_same_time():
    # Each job waits for the other at a barrier: only concurrent execution gets both through.
    barrier = threading.Barrier(2, timeout=10)
    jobs = {name: (lambda name=name: barrier.wait() is not None and name) for name in ("a", "b")}
    assert run_job_graph(jobs, {}, workers=2) == {"a": "a", "b": "b"}


def test_one_worker_runs_the_jobs_in_the_given_order():
    log: list[str] = []
    jobs = {name: _recording(log, name) for name in ("c", "a", "b")}
    run_job_graph(jobs, {}, workers=1)
    assert log == ["start c", "end c", "start a", "end a", "start b", "end b"]


def test_a_failure_stops_dependents_and_is_raised_after_running_jobs_finish():
    started: list[str] = []
    release = threading.Event()

    def slow_sibling():
        started.append("sibling")
        release.wait(10)
        return "sibling"

    def failing():
        started.append("failing")
        release.set()
        raise RuntimeError("contract violated")

    jobs = {"sibling": slow_sibling, "failing": failing, "dependent": lambda: started.append("dependent")}
    with pytest.raises(RuntimeError, match="contract violated"):
        run_job_graph(jobs, {"dependent": {"failing"}}, workers=2)
    assert sorted(started) == ["failing", "sibling"]


def test_a_cycle_or_an_unknown_dependency_is_refused_before_anything_runs():
    ran: list[str] = []
    jobs = {"a": lambda: ran.append("a"), "b": lambda: ran.append("b")}
    with pytest.raises(DependencyCycle):
        run_job_graph(jobs, {"a": {"b"}, "b": {"a"}}, workers=2)
    with pytest.raises(ValueError, match="unknown"):
        run_job_graph(jobs, {"a": {"zzz"}}, workers=2)
    assert ran == []
