"""Soak: SIGKILL at random points of pipeline days, and overlapping runs, each followed by a plain rerun.

    .venv/bin/python benchmarks/soak_reliability.py [--kills 20] [--overlaps 10] [--scale 0.05]

(`--kills 0` or `--overlaps 0` runs one phase alone.) The scale must keep each day's orders
above ~40: a day's quarantine share is judged against the contracts' 95% DQ threshold, and
at scale 0.02 two bad rows out of 22 fail a day on purpose. Even at 0.05 (about 55 orders a
day), seed 7's day 36 quarantines 3 orders and fails the gate, so keep `--kills` and
`4 * --overlaps` at 35 days or fewer there, or raise the scale.

Run by hand, outside CI (about 1 to 2 hours on 2 cores); CI runs a few fixed cases
(`tests/ingestion/test_run_safety.py`). Every run goes through the real console script in its
own process group, against its own REST catalog:

1. A reference home runs every day cleanly (`backfill`, day by day).
2. Kills: for each of `--kills` days, `lakehouse run --date D` is SIGKILLed (the whole
   process tree) at a random moment between 0 and the time a clean day took, then rerun.
   After each rerun: branches other than `main`, and data files no snapshot references.
3. Overlaps, `--overlaps` trials of each: the same day started 0.5 s and 6 s apart, and two
   consecutive days started together. Exactly one may win; the loser must exit 1 with one
   `error:` line naming the winner, and no traceback. The refused day is then run.
4. Both soaked homes are compared with the reference, table by table (content checksums).

Prints one line per trial and a summary of the figures that go into the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.synthetic import generate_sources  # noqa: E402
from tests.ingestion import run_safety as safety  # noqa: E402

START = dt.date(2028, 1, 1)
CACHE = REPO / ".lakehouse" / "cache"
PORT = 29481  # clear of the ports the test suite uses, so both can run at once


def _days(count: int) -> list[dt.date]:
    return [START + dt.timedelta(days=offset) for offset in range(count)]


def _ok(result) -> None:
    if result.returncode != 0:
        raise SystemExit(f"a plain run failed:\n{result.stdout}\n{result.stderr}")


def _problems(home: safety.Home) -> list[str]:
    found = []
    if branches := safety.branches_other_than_main(home.settings):
        found.append(f"branches {branches}")
    if files := safety.unreferenced_data_files(home.settings):
        found.append(f"{len(files)} unreferenced files, e.g. {files[0]}")
    return found


def soak_kills(home: safety.Home, days: list[dt.date], clean_seconds: float, rng: random.Random) -> dict:
    figures = {"trials": 0, "killed": 0, "ended_before_kill": 0, "reruns_failed": 0, "problems": 0}
    for day in days:
        delay = rng.uniform(0.0, clean_seconds)
        process = safety.start(home, *safety.run_day_args(day))
        killed = safety.kill_after(process, delay)
        rerun = safety.run(home, *safety.run_day_args(day))
        problems = _problems(home)
        figures["trials"] += 1
        figures["killed" if killed else "ended_before_kill"] += 1
        figures["reruns_failed"] += rerun.returncode != 0
        figures["problems"] += bool(problems)
        print(f"kill {day} at {delay:5.1f} s: killed={killed} rerun={rerun.returncode} {'; '.join(problems) or 'clean'}", flush=True)
    return figures


def soak_overlaps(home: safety.Home, days: list[dt.date], trials: int) -> dict:
    """Uses consecutive fresh days, in order, so the result stays comparable with the reference."""
    figures = {"trials": 0, "one_winner": 0, "clear_refusals": 0, "problems": 0}
    pending = iter(days)
    for trial in range(trials):
        for case, apart in (("same day, 0.5 s apart", 0.5), ("same day, 6 s apart", 6.0), ("D and D+1 together", 3.0)):
            first_day = next(pending)
            second_day = next(pending) if case.startswith("D and") else first_day
            first = safety.start(home, *safety.run_day_args(first_day))
            time.sleep(apart)
            second = safety.start(home, *safety.run_day_args(second_day))
            outputs = {p.pid: (p.communicate(timeout=1800), p.returncode) for p in (first, second)}
            codes = sorted(code for _, code in outputs.values())
            winner = next((pid for pid, (_, code) in outputs.items() if code == 0), None)
            loser_err = next((out[1] for _, (out, code) in outputs.items() if code != 0), "")
            errors = [line for line in loser_err.splitlines() if line.startswith("error:")]
            clear = (
                len(errors) == 1 and "Traceback" not in loser_err and winner is not None
                and re.search(rf"pid {winner}\b", errors[0]) is not None
            )
            if case.startswith("D and"):
                _ok(safety.run(home, *safety.run_day_args(second_day)))
            problems = _problems(home)
            figures["trials"] += 1
            figures["one_winner"] += codes == [0, 1]
            figures["clear_refusals"] += clear
            figures["problems"] += bool(problems)
            print(f"overlap {trial + 1} {case}: exit codes {codes}, clear refusal={clear} {'; '.join(problems) or 'clean'}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--overlaps", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kill_days = _days(args.kills)
    overlap_days = _days(args.overlaps * 4)
    total = max(len(kill_days), len(overlap_days))
    if total == 0:
        parser.error("nothing to soak: give --kills or --overlaps")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as root:
        with safety.private_home(Path(root) / "reference", port=PORT, cache_dir=CACHE) as reference:
            generate_sources(reference.settings.landing_dir, START, total, scale=args.scale, seed=args.seed)
            clock = time.monotonic()
            _ok(safety.run(reference, "backfill", "--from", START.isoformat(), "--to", _days(total)[-1].isoformat(), timeout=7200))
            # A day's share of the backfill, plus a Spark start: the window a kill is drawn from.
            clean_seconds = (time.monotonic() - clock) / total + 20
            expected = safety.content_checksums(reference.settings)
        print(f"reference: {total} days, a clean day ~{clean_seconds:.0f} s with its Spark start", flush=True)
        results = {}
        phases = (
            ("kills", PORT + 1, kill_days, lambda home: soak_kills(home, kill_days, clean_seconds, rng)),
            ("overlaps", PORT + 2, overlap_days, lambda home: soak_overlaps(home, overlap_days, args.overlaps)),
        )
        for name, port, days_run, soak in (phase for phase in phases if phase[2]):
            with safety.private_home(Path(root) / name, port=port, cache_dir=CACHE) as home:
                generate_sources(home.settings.landing_dir, START, total, scale=args.scale, seed=args.seed)
                figures = soak(home)
                # Days the soak did not reach are run now, so the whole range compares with the reference.
                if len(days_run) < total:
                    _ok(safety.run(home, "backfill", "--from", days_run[-1].isoformat(), "--to", _days(total)[-1].isoformat(), timeout=7200))
                checksums = safety.content_checksums(home.settings)
                figures["tables_compared"] = len(expected)
                figures["tables_differing"] = sorted(t for t in expected.keys() | checksums.keys() if expected.get(t) != checksums.get(t))
                results[name] = figures
    print(f"\nsoak finished in {(time.monotonic() - started) / 60:.0f} min ({dt.date.today()}, scale {args.scale})")
    for name, figures in results.items():
        print(f"{name}: {figures}")


if __name__ == "__main__":
    main()
