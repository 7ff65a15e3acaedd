"""Silver: one Iceberg table per entity, Bronze rows checked against its data contract and merged.

`silver_day(spark, settings, entity, contracts, day, window_days=...)` -> `SilverCommit`;
see `job.py` for the flow. The transforms (`batch.py`, `dedup.py`, `fx.py`, `scd2.py`,
`late_window.py`) are pure, DataFrame in, DataFrame out, and can be tested on tiny
in-memory frames; `publish.py` writes them through the Iceberg catalog.
"""
