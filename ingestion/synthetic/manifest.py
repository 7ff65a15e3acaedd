"""The per-day manifest `_manifest/<day>.json`: the report of every source for that day.

It holds nothing that depends on the run's length, so the manifests of a 10-day and a
30-day run with the same start, scale and seed are identical for their common days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence

from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import SourceDayReport
from ingestion.synthetic.volumes import DailyVolumes

MANIFEST_DIRECTORY = "_manifest"
MANIFEST_VERSION = 1


def manifest_path(day: dt.date) -> str:
    return f"{MANIFEST_DIRECTORY}/{day.isoformat()}.json"


def manifest_bytes(
    *,
    start: dt.date,
    day: dt.date,
    day_index: int,
    scale: float,
    seed: int,
    rates: ProblemRates,
    volumes: DailyVolumes,
    entries: Sequence[SourceDayReport],
) -> bytes:
    document = {
        "manifest_version": MANIFEST_VERSION,
        "start": start.isoformat(),
        "day": day.isoformat(),
        "day_index": day_index,
        "scale": scale,
        "seed": seed,
        "problem_rates": dataclasses.asdict(rates),
        "volumes": dataclasses.asdict(volumes),
        "sources": {entry.source: entry.to_dict() for entry in entries},
    }
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
