"""Bronze: landing files kept raw in Parquet, one source and one landing day per batch.

`ingest_landing_day(spark, settings, source, day)` -> `BronzeBatch`. Rows keep every
source column as a string plus lineage metadata (`columns.py`); Trino and Spark query
them as `<catalog>.bronze.<source>`. See `job.py` for the flow and its guarantees.
"""

from ingestion.bronze.errors import BronzeError
from ingestion.bronze.job import BronzeBatch, ingest_landing_day

__all__ = ["BronzeBatch", "BronzeError", "ingest_landing_day"]
