"""Every source, declared in YAML (`declarations.py`); those with a position (PostgreSQL over
JDBC, Kafka, an HTTP API) extracted into Bronze exactly once.

Each kind's `extract` reads from the committed position to now; `commit.py` appends the
rows and the new position in one Iceberg commit; `job.py` runs one source for a day.
"""
