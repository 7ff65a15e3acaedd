"""Every source, declared in one YAML file (`ingestion/sources.yml`, or `settings.sources_file`).

A source names its kind and the object it reads (a table, a topic, an API object type),
its key and its cursor; how to reach the server (host, port, user, secret) comes from
the settings section of its kind (`postgres`, `kafka`, `crm_api`), never from this file.
Every source also declares its landing format and file pattern: `--sources files` reads
each source from landing files, whatever its kind. Its `silver` block declares the Silver
entity it feeds (`ingestion/silver/entities.py` builds `SilverEntity` from it).

The models are plain pydantic: no Spark here, so the connectors, Bronze and the CLI can
read the declarations cheaply. Any problem in the file is one `ConfigError` line naming
the file, the source and the field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlglot.errors import ParseError

from catalog.errors import ConfigError

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

PACKAGED_SOURCES = Path(__file__).parent.parent / "sources.yml"

# A source name becomes a landing directory, a Bronze table name and a state key; a Silver
# table name a table and a directory too. Lowercase only: Spark and Iceberg ignore case
# while file systems do not, so `Orders` and `orders` would be one table and two folders.
NAME_RULE = "lowercase letters, digits and _, starting with a letter, at most 63 characters"
_NAME = r"^[a-z][a-z0-9_]{0,62}$"
# A column the Silver block names (Bronze keeps the source's own names, see ingestion/bronze/columns.py).
_COLUMN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_COLUMN_RULE = "a column name (letters, digits and _, not starting with a digit)"
# What a field's pattern asks for, by field path, for the error message (the default: a column name).
_PATTERN_RULES = {
    "name": f"a usable source name ({NAME_RULE})",
    "database": f"a database name ({NAME_RULE})",
    "object_type": f"an API object type ({NAME_RULE})",
    "silver.table": f"a usable table name ({NAME_RULE})",
    "table": "a table as schema.table (lowercase letters, digits and _)",
    "topic": "a Kafka topic name (letters, digits, '.', '_' and '-')",
}
# Keys that look like a secret: those come from env vars or <home>/secrets, never from YAML.
_SECRET_LIKE = re.compile(r"pass(word)?|secret|token|api_?key|credential|private_?key", re.IGNORECASE)
# Where each kind's connection lives in the settings (the fix a secret-in-YAML error names).
_CONNECTION_SECTION = {"jdbc": "postgres", "kafka": "kafka", "http": "crm_api"}
# Connection fields someone may put in a source: they belong to the kind's settings section.
_CONNECTION_FIELDS = {"host", "port", "user", "username", "url", "jdbc_url", "bootstrap_servers", "base_url"}
# Spark SQL is the dialect the derived expressions are evaluated in (F.expr).
_SPARK = "spark"

Name = Annotated[str, Field(pattern=_NAME)]
ColumnName = Annotated[str, Field(pattern=_COLUMN)]
Key = Annotated[tuple[ColumnName, ...], Field(min_length=1)]


class LandingFormat(StrEnum):
    # UTF-8, a header line, RFC 4180 quoting ("" inside a quoted field), empty field = null.
    CSV = "csv"
    # One JSON object per line.
    JSON_LINES = "jsonl"


class SourceFieldError(ValueError):
    """A model validator's finding about one field, which pydantic's location cannot name;
    `source` is set when the finding comes from the file's validator."""

    def __init__(self, field: str, problem: str, *, source: str | None = None) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem
        self.source = source


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cursor(_Strict):
    """The column whose value only grows as rows change: the next extract reads from the last value seen."""

    column: ColumnName
    # Re-read this far behind the last value: rows committed late (a transaction open at the
    # last extract) carry a value below it.
    lookback_seconds: int = Field(default=0, ge=0)


class SilverDeclaration(_Strict):
    """The Silver entity a source feeds: rename and cast (types from the Silver contract), nothing else."""

    table: Name
    # Defaults to the source's `key`.
    keys: tuple[ColumnName, ...] = ()
    # Silver columns taken as they are named in Bronze ...
    columns: tuple[ColumnName, ...] = ()
    # ... and Silver column -> Bronze column, for the ones Silver renames.
    renamed: dict[ColumnName, ColumnName] = Field(default_factory=dict)
    # Silver column -> Spark SQL expression over the typed columns, e.g. `to_date(ordered_at)`.
    derived: dict[ColumnName, str] = Field(default_factory=dict)
    # The latest version wins in dedup and in the MERGE.
    version_column: ColumnName = "updated_at"
    # Business date and partition; None = a small table merged without a window.
    date_column: ColumnName | None = None
    # Set when the amount is converted to USD: the date whose FX rate applies.
    fx_date_column: ColumnName | None = None
    # Set for an SCD2 dimension: the attributes whose change opens a new version.
    scd2_tracked: tuple[ColumnName, ...] = ()
    # The column whose day is the record's business date, read from Bronze by the lateness
    # profile (`lakehouse lateness`); None = the table is not profiled.
    business_time_column: ColumnName | None = None

    @field_validator("derived")
    @classmethod
    def _spark_sql(cls, derived: dict[str, str]) -> dict[str, str]:
        for column, expression in derived.items():
            try:
                sqlglot.parse_one(expression, read=_SPARK)
            except ParseError as exc:
                first = exc.errors[0]["description"] if exc.errors else str(exc)
                raise ValueError(f"{column}: {expression!r} is not a Spark SQL expression ({first})") from None
        return derived

    @model_validator(mode="after")
    def _columns_resolve(self) -> SilverDeclaration:
        typed = [*self.columns, *self.renamed]
        if len(set(typed)) != len(typed):
            raise SourceFieldError("columns", "a Silver column is listed in both columns and renamed: keep one")
        known = {*typed, *self.derived}
        used = {
            "keys": self.keys,
            "version_column": (self.version_column,),
            "date_column": (self.date_column,) if self.date_column else (),
            "fx_date_column": (self.fx_date_column,) if self.fx_date_column else (),
            "scd2_tracked": self.scd2_tracked,
        }
        for field, names in used.items():
            missing = [name for name in names if name not in known]
            if missing:
                raise SourceFieldError(field, f"names {', '.join(missing)}, not a Silver column: add it to columns, renamed or derived")
        if self.business_time_column is not None and self.business_time_column not in typed:
            raise SourceFieldError(
                "business_time_column", f"names {self.business_time_column}, not a column read from Bronze: add it to columns or renamed"
            )
        return self

    @property
    def from_bronze(self) -> dict[str, str]:
        """Silver column -> the Bronze (raw string) column it is cast from."""
        return {**{name: name for name in self.columns}, **self.renamed}


class _Source(_Strict):
    name: Name
    # Landing files (`--sources files`, and the only medium of a file source): their format
    # and the fnmatch pattern (case-sensitive) of a delivery's file name. Other names in a
    # day directory (README.txt, orders.csv.tmp) are reported and left unread.
    format: LandingFormat | None = None
    pattern: str | None = None
    silver: SilverDeclaration | None = None

    @model_validator(mode="after")
    def _landing_together(self) -> _Source:
        if (self.format is None) != (self.pattern is None):
            missing = "format" if self.format is None else "pattern"
            raise SourceFieldError(missing, "is missing: format and pattern go together (e.g. format: csv, pattern: '*.csv')")
        return self

    @property
    def silver_keys(self) -> tuple[str, ...]:
        assert self.silver is not None
        return self.silver.keys or tuple(getattr(self, "key", ()))


class JdbcSource(_Source):
    """A table (or view) of a database on the `postgres` server, read over JDBC."""

    kind: Literal["jdbc"] = "jdbc"
    database: Name
    # `schema.table`, e.g. public.orders.
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
    key: Key
    cursor: Cursor
    # Parallel JDBC reads, split on ranges of `partition_column` (numeric); 1 = one read.
    partitions: int = Field(default=1, ge=1)
    partition_column: ColumnName | None = None

    @model_validator(mode="after")
    def _partitioned_on_a_column(self) -> JdbcSource:
        if self.partitions > 1 and self.partition_column is None:
            raise SourceFieldError("partition_column", f"is empty but partitions is {self.partitions}: name a numeric column to split on")
        return self


class KafkaSource(_Source):
    """A topic on the `kafka` broker; its position is the offset per partition."""

    kind: Literal["kafka"] = "kafka"
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # The record field that identifies a message (also its Kafka key).
    key: Key
    value_format: Literal["json"] = "json"


class HttpSource(_Source):
    """An object type of the HubSpot-shaped CRM API (`crm_api`), read by modified-since pages."""

    kind: Literal["http"] = "http"
    object_type: Name
    key: Key
    # The property the API filters and sorts on, e.g. lastmodifieddate.
    cursor_property: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    page_size: int = Field(default=100, ge=1, le=1000)


class FileSource(_Source):
    """Files a vendor drops into the landing directory: the landing format is the medium."""

    kind: Literal["file"] = "file"
    format: LandingFormat
    pattern: str
    key: tuple[ColumnName, ...] = ()


Source = Annotated[JdbcSource | KafkaSource | HttpSource | FileSource, Field(discriminator="kind")]
KINDS = ("jdbc", "kafka", "http", "file")


class SourcesFile(_Strict):
    sources: tuple[Source, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete_and_unique(self) -> SourcesFile:
        seen: dict[str, str] = {}
        for source in self.sources:
            # A model may leave these out (a connector's test builds a bare JdbcSource); the file may not.
            if source.format is None:
                raise SourceFieldError("format", "is missing: every source declares its landing files (format and pattern)", source=source.name)
            if source.silver is None:
                raise SourceFieldError("silver", "is missing: declare the Silver entity the source feeds", source=source.name)
            if not source.silver_keys:
                raise SourceFieldError("silver.keys", "is missing: declare the entity's keys (or the source's key)", source=source.name)
            for field, name in (("name", source.name), ("silver.table", source.silver.table)):
                if f"{field}:{name}" in seen:
                    raise SourceFieldError(field, f"{name!r} is declared twice (also by '{seen[f'{field}:{name}']}'): rename one", source=source.name)
                seen[f"{field}:{name}"] = source.name
        return self


def sources_path(settings: LakehouseSettings) -> Path:
    return settings.sources_file or PACKAGED_SOURCES


def load_sources(settings: LakehouseSettings) -> dict[str, Source]:
    """The declared sources by name, in file order."""
    return read_sources(sources_path(settings))


def read_sources(path: Path) -> dict[str, Source]:
    """Parse and validate one sources file; any problem is one ConfigError line."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the sources file ({exc.strerror}): fix LAKEHOUSE_SOURCES_FILE or unset it"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where} ({getattr(exc, 'problem', None) or 'unparseable'}): fix the syntax") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list at the top: start the file with 'sources:'")
    _refuse_secrets(path, raw["sources"])
    try:
        declared = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_source_error(path, raw, exc)) from exc
    return {source.name: source for source in declared.sources}


def _refuse_secrets(path: Path, sources: list[Any]) -> None:
    """A password or token in the sources file would end up in git: refuse it before anything else."""
    for index, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        # The silver block names columns (a `token_count` is no secret) and forbids unknown fields anyway.
        for field in _keys({key: value for key, value in source.items() if key != "silver"}):
            if _SECRET_LIKE.search(field):
                raise ConfigError(
                    f"{path}: source '{_name_of(source) or f'#{index + 1}'}', field '{field}': secrets never go in the "
                    f"sources file: remove it and set it in the environment{_settings_hint(source.get('kind'))} or under <home>/secrets"
                )


def _settings_hint(kind: Any, field: str = "...") -> str:
    section = _CONNECTION_SECTION.get(kind)
    return f" (LAKEHOUSE_{section.upper()}__{field.upper()})" if section else ""


def _keys(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        found += [path, *_keys(value, path + ".")]
    return found


def describe_source_error(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """`<file>: source '<s>', field '<f>': <problem>` for the first error."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = "the file"
    node: Any = raw
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        node = raw["sources"][loc[1]] if loc[1] < len(raw["sources"]) else None
        where = f"source '{_name_of(node) or f'#{loc[1] + 1}'}'"
        loc = loc[2:]
        # The discriminated union adds the kind as a step of the location: it is not a field.
        if loc and loc[0] in KINDS:
            loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    kind = node.get("kind") if isinstance(node, dict) else None
    finding = (error.get("ctx") or {}).get("error")
    if isinstance(finding, SourceFieldError):
        if finding.source is not None:
            where, field = f"source '{finding.source}'", finding.field
        else:
            field = f"{field}.{finding.field}" if field else finding.field
        problem = finding.problem
    elif error["type"] == "union_tag_invalid":
        field = "kind"
        problem = f"{kind!r} is not a source kind: use one of {', '.join(KINDS)}"
    elif error["type"] == "union_tag_not_found":
        field = "kind"
        problem = f"is missing: add it ({', '.join(KINDS)})"
    elif error["type"] == "missing":
        problem = "is missing: add it"
    elif error["type"] == "extra_forbidden" and loc and loc[-1] in _CONNECTION_FIELDS:
        problem = f"connections come from the settings, not the sources file: remove it and set it there{_settings_hint(kind, str(loc[-1]))}"
    elif error["type"] == "extra_forbidden":
        problem = f"is not a field of a {kind} source: remove it or fix its spelling"
    elif error["type"] == "string_pattern_mismatch":
        problem = f"{error['input']!r} is not {_PATTERN_RULES.get(field, _COLUMN_RULE)}: fix it"
    elif error["type"] == "value_error":
        problem = error["msg"].removeprefix("Value error, ")
    else:
        problem = f"{error['msg']} (got {error['input']!r}): fix the value"
    location = f"{where}, field '{field}'" if field else where
    return f"{path}: {location}: {problem}"


def _name_of(node: Any) -> str | None:
    return str(node["name"]) if isinstance(node, dict) and node.get("name") is not None else None
