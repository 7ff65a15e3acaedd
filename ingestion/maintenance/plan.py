"""Transform: what maintenance should do to one table, from its facts and its policy. Pure.

Each step runs only when it has work, so maintenance after every run costs a few metadata
reads for a healthy table and no Spark job:
- compaction when a partition holds `compact_min_files` small files (under 75% of the
  target, Iceberg's own cut) or delete files reach `delete_file_ratio` of the data files;
- rewriting position deletes when at least two remain to combine;
- expiry when a snapshot is older than the retention, not among a branch's newest
  `retain_last`, not a branch or tag head, and not the newest one carrying a source
  position or anything after it (the next extract starts from that position);
- a manifest rewrite when the current snapshot has more than `manifests_max`;
- the properties that make each commit delete the metadata JSON files beyond
  `maintenance.metadata_versions`, when a table lacks them (one Spark did not create:
  Gold, after each rebuild).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from catalog.settings import TablePolicy
from catalog.storage import fs_path
from ingestion.maintenance.facts import DATA, POSITION_DELETES, TableFacts

# Iceberg's rewrite_data_files counts a file as small below this share of the target (min-file-size-bytes).
SMALL_FILE_SHARE = 0.75
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Plan:
    compact: str | None  # why compaction runs (None: it does not)
    compact_skipped: str | None  # why a table that could use it is not compacted
    rewrite_deletes_with_data: bool  # compaction also rewrites every data file that has deletes
    rewrite_deletes: bool
    expire_before_ms: int | None  # expire snapshots older than this (None: nothing to expire)
    expirable: int  # snapshots that expiry would remove
    rewrite_manifests: bool
    set_properties: dict[str, str]  # table properties to set (empty: they are right)


def plan(facts: TableFacts, policy: TablePolicy, as_of: dt.datetime, metadata_log: dict[str, str]) -> Plan:
    """`metadata_log`: the properties every table should have (`catalog.engine_config.metadata_log_properties`)."""
    compact, skipped, with_deletes = _compaction(facts, policy)
    expire_before, expirable = _expiry(facts, policy, as_of)
    position_deletes = sum(1 for f in facts.files if f.content == POSITION_DELETES)
    return Plan(
        compact=compact,
        compact_skipped=skipped,
        rewrite_deletes_with_data=with_deletes,
        rewrite_deletes=position_deletes >= 2,
        expire_before_ms=expire_before if expirable else None,
        expirable=expirable,
        rewrite_manifests=facts.manifests > policy.manifests_max,
        set_properties={key: value for key, value in metadata_log.items() if facts.properties.get(key) != value},
    )


def registered_in_place(facts: TableFacts) -> bool:
    """Data files outside the table's folder: a Bronze file source's raw deliveries, registered with add_files."""
    root = fs_path(facts.location).rstrip("/") + "/"
    return any(not fs_path(f.path).startswith(root) for f in facts.files if f.content == DATA)


def _compaction(facts: TableFacts, policy: TablePolicy) -> tuple[str | None, str | None, bool]:
    data = [f for f in facts.files if f.content == DATA]
    deletes = len(facts.files) - len(data)
    small = Counter(f.partition for f in data if f.size < SMALL_FILE_SHARE * policy.target_file_mb * 1024 * 1024)
    reasons = []
    if small and max(small.values()) >= policy.compact_min_files:
        crowded = sum(1 for count in small.values() if count >= policy.compact_min_files)
        reasons.append(f"{crowded} partition(s) with {policy.compact_min_files}+ small files")
    with_deletes = bool(deletes) and deletes / max(len(data), 1) >= policy.delete_file_ratio
    if with_deletes:
        reasons.append(f"{deletes} delete files on {len(data)} data files")
    if not reasons or not policy.compact:
        return None, None, False
    if registered_in_place(facts):
        # Compaction would copy the raw deliveries into the table's folder, and expiry would
        # then delete the originals: Bronze keeps what was delivered, where it was written.
        return None, "not compacted: its files are deliveries registered in place (add_files)", False
    return "; ".join(reasons), None, with_deletes


def _expiry(facts: TableFacts, policy: TablePolicy, as_of: dt.datetime) -> tuple[int, int]:
    """(cut-off in ms, snapshots older than it that Iceberg's expiry would remove)."""
    cutoff = int(as_of.timestamp() * 1000 - policy.retain_days * _DAY_MS)
    kept: set[int] = set()
    for ref in facts.refs:
        chain = facts.ancestors(ref.snapshot_id)
        kept.update(s.snapshot_id for s in (chain[: policy.retain_last] if ref.is_branch else chain[:1]))
    main = next((ref for ref in facts.refs if ref.name == "main"), None)
    if main is not None:
        positioned = next((s for s in facts.ancestors(main.snapshot_id) if s.has_position), None)
        if positioned is not None:
            # Keep it and everything after it: the next extract walks back from main to it.
            cutoff = min(cutoff, positioned.timestamp_ms)
    expirable = sum(1 for s in facts.snapshots if s.timestamp_ms < cutoff and s.snapshot_id not in kept)
    return cutoff, expirable
