"""Pure transforms from landing bytes to Bronze rows: DataFrames in, DataFrames out, no IO.

1. `split_lines`: one row per file (`_source_file`, `content` bytes) -> one row per physical line.
2. `parse_lines` (`parse_csv` / `parse_json`): lines -> one string column per source column,
   plus `_raw_line`, `_record_hash` and `_parse_error`. A line that does not parse keeps its
   text and says why; its source columns are null. Only CSV header lines become no row.
3. `with_batch_metadata`: the batch's constants, each file's landing day, and the final column order (`columns.py`).

Built-in functions only, no Python UDF. Bytes are split as ISO-8859-1 text, which maps
every byte to one character and back, so a line that is not UTF-8 is split, hashed and
kept exactly instead of failing the job. Values are never cast: CSV fields are the text
between the separators (an empty field is null, the sources' convention), JSON strings
their value, and other JSON values their JSON text as Spark prints it (`12.50` -> `12.5`,
nested objects and arrays as compact JSON).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingestion.bronze.columns import (
    BATCH_ID,
    INGEST_DATE,
    INGESTED_AT,
    LINE_NUMBER,
    METADATA_COLUMNS,
    PARSE_ERROR,
    RAW_LINE,
    RECORD_HASH,
    SOURCE_FILE,
    column,
    column_name_problem,
    usable_columns,
)
from ingestion.bronze.source_formats import LandingFormat

# Input of `split_lines`: the whole file, as Spark's binaryFile source reads it.
CONTENT = "content"
# Output of `split_lines`: one line's bytes, without its '\n'.
RAW_BYTES = "_raw_bytes"
# Every byte is one character in it, both ways.
_LOSSLESS_CHARSET = "ISO-8859-1"
_IS_UTF8 = "_is_utf8"
# What `parse_lines` adds after the source columns; `with_batch_metadata` adds the rest.
_LINE_COLUMNS = (SOURCE_FILE, LINE_NUMBER, RECORD_HASH, RAW_LINE, PARSE_ERROR)
_CSV_CORRUPT = "_corrupt_record"
_CSV_OPTIONS = {
    # RFC 4180: a quote inside a quoted field is doubled (Spark's default escape is a backslash).
    "escape": '"',
    "mode": "PERMISSIVE",
    # Spark fills this field when the field count does not match the schema.
    "columnNameOfCorruptRecord": _CSV_CORRUPT,
}

INVALID_UTF8 = "invalid UTF-8: _raw_line holds the bytes read as ISO-8859-1"
EMPTY_LINE = "empty line"
NOT_A_JSON_OBJECT = "not a JSON object (truncated or malformed JSON)"
UNBALANCED_QUOTES = "unbalanced quotes"
UNEXPECTED_HEADER = "unexpected header: "
DUPLICATE_JSON_KEYS = "a key appears twice in the JSON object"


@dataclass(frozen=True)
class CsvHeader:
    columns: tuple[str, ...] = ()
    # Why the header is not one this source sends; every data line of the file is then
    # unparseable with `unexpected header: <problem>`, and the file adds no column.
    problem: str | None = None


def parse_csv_header(first_line: bytes, declared: Sequence[str] = ()) -> CsvHeader:
    """The header of a CSV file from its first line (line end and a UTF-8 BOM are ignored).

    The source's header: every `declared` column (its Bronze contract's, in any order),
    and more only as plausible column names (`columns.COLUMN_NAME_RULE`), the additive
    drift a source may bring. Anything else (a stray text file, another delimiter, a
    header missing columns) is not this source's header.
    """
    line = first_line.removesuffix(b"\n").removesuffix(b"\r").removeprefix(b"\xef\xbb\xbf")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return CsvHeader(problem="the header is not valid UTF-8")
    if not text:
        return CsvHeader(problem="the header line is empty")
    (names,) = csv.reader([text])
    problems = [problem for problem in map(column_name_problem, names) if problem is not None][:1]
    if not problems and len(usable_columns(names)) != len(names):
        problems.append("the header repeats a column name (case is ignored)")
    missing = [name for name in declared if name not in names]
    if missing:
        problems.append(f"lacks declared column(s) {', '.join(missing)}")
    if problems:
        return CsvHeader(problem="; ".join(problems))
    return CsvHeader(tuple(names))


def split_lines(files: DataFrame) -> DataFrame:
    """`_source_file`, `content` -> `_source_file`, `_line_number` (1-based), `_raw_bytes` per physical line.

    Lines end with '\\n'; a last line without one still counts, an empty file has none.
    """
    # Split once per file, in its own projection. With `size(split(...))` next to the
    # explode, Spark evaluated it per output line: the whole file decoded again for
    # every line, quadratic in the file's length (a 25,000-line file took minutes).
    split = files.select(F.col(SOURCE_FILE), F.split(F.decode(F.col(CONTENT), _LOSSLESS_CHARSET), "\n").alias("_split"))
    counted = split.select(F.col(SOURCE_FILE), F.col("_split"), F.size("_split").alias("_pieces"))
    exploded = counted.select(F.col(SOURCE_FILE), F.posexplode("_split").alias("_index", "_piece"), F.col("_pieces"))
    # The '\n' that ends the last line leaves an empty piece after it: not a line.
    after_last_line_end = (F.col("_index") == F.col("_pieces") - 1) & (F.col("_piece") == "")
    return exploded.where(~after_last_line_end).select(
        F.col(SOURCE_FILE),
        (F.col("_index") + 1).cast(T.IntegerType()).alias(LINE_NUMBER),
        F.encode(F.col("_piece"), _LOSSLESS_CHARSET).alias(RAW_BYTES),
    )


def parse_lines(
    lines: DataFrame,
    landing_format: LandingFormat,
    *,
    csv_headers: Mapping[str, CsvHeader] | None = None,
    json_keys: Sequence[str] = (),
) -> DataFrame:
    """Lines of one batch -> parsed rows (no batch metadata yet).

    CSV: `csv_headers` maps each `_source_file` of `lines` to its header (a file left
    out would be left out of the result); files with different headers (a column added
    by the source) are parsed apart and unioned by name, so a new column is null on the
    other files' rows. JSON: `json_keys` (see `json_columns`).
    """
    if landing_format is LandingFormat.JSON_LINES:
        return parse_json(lines, json_keys)
    files_by_header: dict[CsvHeader, list[str]] = {}
    for source_file, header in (csv_headers or {}).items():
        files_by_header.setdefault(header, []).append(source_file)
    if not files_by_header:
        return parse_csv(lines, CsvHeader(problem="no header was given for the file"))
    parsed = [
        parse_csv(lines.where(F.col(SOURCE_FILE).isin(files)), header) for header, files in files_by_header.items()
    ]
    union = functools.reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), parsed)
    # The union appends columns of later headers after the metadata: put them with the source columns.
    source_columns = [name for name in union.columns if name not in METADATA_COLUMNS]
    return union.select(*(column(name) for name in source_columns), *_LINE_COLUMNS)


def parse_csv(lines: DataFrame, header: CsvHeader) -> DataFrame:
    """Data lines (line 2 on) of CSV files that share `header` -> one string column per header name."""
    data = _decoded(lines.where(F.col(LINE_NUMBER) > 1))
    text = _without_carriage_return(F.col(RAW_LINE))
    if header.problem is not None:
        # The file is not what the source sends: every line says so, whatever else is wrong with it.
        return _parsed_rows(data, {}, F.lit(UNEXPECTED_HEADER + header.problem))
    width = len(header.columns)
    schema = ", ".join(f"_field{index} STRING" for index in range(width)) + f", {_CSV_CORRUPT} STRING"
    parsed = F.from_csv(text, schema, _CSV_OPTIONS)
    # Every quote of a one-line RFC 4180 record is paired, escaped ones included.
    quotes = F.regexp_count(text, F.lit('"'))
    # Commas outside quoted sections separate fields.
    fields_found = F.size(F.split(F.regexp_replace(text, '"[^"]*"', ""), ","))
    csv_problem = (
        F.when(quotes % 2 == 1, F.lit(UNBALANCED_QUOTES))
        .when(fields_found != width, F.format_string(f"expected {width} CSV fields, found %d", fields_found))
        .when(parsed.getField(_CSV_CORRUPT).isNotNull(), F.lit("malformed CSV record"))
    )
    values = {name: parsed.getField(f"_field{index}") for index, name in enumerate(header.columns)}
    return _parsed_rows(data, values, F.coalesce(_line_problem(text), csv_problem))


def json_columns(lines: DataFrame) -> list[str]:
    """The top-level keys of the lines' JSON objects that can be columns, in order of first appearance.

    An action (it collects one row per distinct key). Keys left out (blank, not a
    plausible column name, a metadata name, a repeat in other case) make their lines
    unparseable in `parse_json`.
    """
    text = _json_text()
    keys = (
        _decoded(lines)
        .where(F.col(_IS_UTF8))
        .select(SOURCE_FILE, LINE_NUMBER, F.posexplode(F.json_object_keys(text)).alias("_position", "_key"))
    )
    first_seen = keys.groupBy("_key").agg(F.min(F.struct(SOURCE_FILE, LINE_NUMBER, "_position")).alias("_first"))
    return usable_columns(row["_key"] for row in first_seen.orderBy("_first").collect())


def parse_json(lines: DataFrame, keys: Sequence[str]) -> DataFrame:
    """JSON lines -> one string column per key in `keys`; a line with another key is unparseable."""
    data = _decoded(lines)
    text = _json_text()
    found = F.json_object_keys(text)
    expected = F.array(*(F.lit(key) for key in keys)) if keys else F.array().cast("array<string>")
    unexpected = F.array_except(found, expected)
    json_problem = (
        F.when(found.isNull(), F.lit(NOT_A_JSON_OBJECT))
        .when(F.size(unexpected) > 0, F.concat(F.lit("keys not carried as columns: "), F.array_join(unexpected, ", ")))
        # Which of the values would win is the parser's choice, not the source's.
        .when(F.size(found) != F.size(F.array_distinct(found)), F.lit(DUPLICATE_JSON_KEYS))
    )
    values: dict[str, Column] = {}
    if keys:
        parsed = F.from_json(text, T.StructType([T.StructField(key, T.StringType()) for key in keys]))
        values = {key: parsed.getField(key) for key in keys}
    return _parsed_rows(data, values, F.coalesce(_line_problem(text), json_problem))


def with_batch_metadata(
    parsed: DataFrame, *, batch_id: str, landing_days: Mapping[str, dt.date], ingested_at: dt.datetime
) -> DataFrame:
    """Parsed rows -> Bronze rows: source columns in their order, then every metadata column.

    `landing_days`: each `_source_file` -> its landing day, which becomes the row's
    `_ingest_date` (a catch-up batch holds files of several days).
    """
    days = F.create_map(*(part for path, day in sorted(landing_days.items()) for part in (F.lit(path), F.lit(day))))
    constants = {
        BATCH_ID: F.lit(batch_id).cast(T.StringType()),
        INGESTED_AT: F.lit(ingested_at).cast(T.TimestampType()),
        INGEST_DATE: days[F.col(SOURCE_FILE)].cast(T.DateType()),
    }
    source_columns = [column(name) for name in parsed.columns if name not in METADATA_COLUMNS]
    metadata = [constants[name].alias(name) if name in constants else F.col(name) for name in METADATA_COLUMNS]
    return parsed.select(*source_columns, *metadata)


def _decoded(lines: DataFrame) -> DataFrame:
    as_utf8 = F.col(RAW_BYTES).cast(T.StringType())
    is_utf8 = F.is_valid_utf8(as_utf8)
    text = F.when(is_utf8, as_utf8).otherwise(F.decode(F.col(RAW_BYTES), _LOSSLESS_CHARSET))
    return lines.select("*", is_utf8.alias(_IS_UTF8), text.alias(RAW_LINE))


def _without_carriage_return(text: Column) -> Column:
    # A '\r\n' line end: the '\r' stays in _raw_line and the hash, not in the values.
    return F.regexp_replace(text, "\r$", "")


def _json_text() -> Column:
    # A UTF-8 byte order mark before the first object is the file's, not the object's
    # (CSV drops it from the header the same way).
    text = _without_carriage_return(F.col(RAW_LINE))
    return F.when(F.col(LINE_NUMBER) == 1, F.regexp_replace(text, "^\uFEFF", "")).otherwise(text)


def _line_problem(text: Column) -> Column:
    return F.when(~F.col(_IS_UTF8), F.lit(INVALID_UTF8)).when(text == "", F.lit(EMPTY_LINE))


def _parsed_rows(data: DataFrame, values: Mapping[str, Column], problem: Column) -> DataFrame:
    with_problem = data.select("*", problem.alias(PARSE_ERROR), F.sha2(F.col(RAW_BYTES), 256).alias(RECORD_HASH))
    parsed_ok = F.col(PARSE_ERROR).isNull()
    return with_problem.select(
        *(F.when(parsed_ok, value).cast(T.StringType()).alias(name) for name, value in values.items()),
        *_LINE_COLUMNS,
    )
