"""The Bronze row: every source column as a string, then the metadata columns below, in this order.

Source columns keep the names the source gave them (CSV header, JSON keys), when they
are plausible column names (`COLUMN_NAME_RULE`). Metadata names start with `_`, and a
source column may not take one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

# sha256 of the source, the landing day and the batch's (path, content sha256) pairs: a replay gets the same id.
BATCH_ID = "_batch_id"
# Absolute path of the landing file.
SOURCE_FILE = "_source_file"
# 1-based physical line in that file; a CSV header is line 1 (and is not a row).
LINE_NUMBER = "_line_number"
# When the batch ran: one instant for all its rows.
INGESTED_AT = "_ingested_at"
# The landing day; the partition column.
INGEST_DATE = "_ingest_date"
# sha256 (hex) of the line's raw bytes, line end excluded: equal lines hash equal, wherever they landed.
RECORD_HASH = "_record_hash"
# The line's text. When its bytes are not UTF-8, they are kept read as ISO-8859-1, which
# maps each byte to one character, so `encode(_raw_line, 'ISO-8859-1')` gives them back.
RAW_LINE = "_raw_line"
# Null when the line parsed; otherwise why not, and every source column of the row is null.
PARSE_ERROR = "_parse_error"

METADATA_SCHEMA = T.StructType(
    [
        T.StructField(BATCH_ID, T.StringType()),
        T.StructField(SOURCE_FILE, T.StringType()),
        T.StructField(LINE_NUMBER, T.IntegerType()),
        T.StructField(INGESTED_AT, T.TimestampType()),
        T.StructField(INGEST_DATE, T.DateType()),
        T.StructField(RECORD_HASH, T.StringType()),
        T.StructField(RAW_LINE, T.StringType()),
        T.StructField(PARSE_ERROR, T.StringType()),
    ]
)
METADATA_COLUMNS: tuple[str, ...] = tuple(METADATA_SCHEMA.fieldNames())
_RESERVED = {name.lower() for name in METADATA_COLUMNS}

# What a source column may be named. Anything else (a prose line taken for a header, a
# header split on the wrong delimiter, a JSON key with spaces or quotes) is not a column
# the source meant, and must not become one of every table downstream.
COLUMN_NAME_RULE = "letters, digits and _, not starting with a digit, at most 64 characters"
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# How much of a rejected name a message quotes.
_SHOWN_CHARACTERS = 40


def column(name: str) -> Column:
    """A column by its exact name: source names may hold dots or backticks."""
    return F.col("`" + name.replace("`", "``") + "`")


def column_name_problem(name: str) -> str | None:
    """Why a source column name cannot be a Bronze column, or None."""
    if not name.strip():
        return "a column name is blank"
    if not _COLUMN_NAME.fullmatch(name):
        return f"{shown(name)} is not a column name ({COLUMN_NAME_RULE})"
    if name.lower() in _RESERVED:
        return f"column {name!r} clashes with Bronze metadata column {name.lower()}"
    return None


def usable_columns(names: Iterable[str]) -> list[str]:
    """`names` without the unusable ones and without repeats (Spark and Iceberg ignore case)."""
    seen: set[str] = set()
    usable = []
    for name in names:
        if column_name_problem(name) is None and name.lower() not in seen:
            seen.add(name.lower())
            usable.append(name)
    return usable


def shown(name: str) -> str:
    """`name` quoted for a message, cut to its first characters."""
    return repr(name if len(name) <= _SHOWN_CHARACTERS else name[:_SHOWN_CHARACTERS] + "...")
