"""Data contracts: what a table promises, and the YAML file (one per layer) that declares it.

The models are engine-neutral. They describe checks as data (`RowCheck`) and
never as Spark or Polars expressions, so that the Spark gate
(`spark_row_checks`, `spark_table_checks`) and a Polars validator evaluate
the same contract and report the same reasons.

Column types are Iceberg/Spark type names: boolean, int, bigint, float,
double, string, date, timestamp, decimal(p,s).

Besides what a column declares, every column gets the checks its type implies:
a decimal(p,s) value with more than s decimal places fails (it is never rounded;
trailing zeros do not count, so 12.500 is 12.50), and a string value fails when
it is longer than `max_length` characters (DEFAULT_MAX_LENGTH unless declared) or
holds a control character (U+0000-U+001F, U+007F).

Date and timestamp columns may be bounded relative to the run date
(`max_days_before_run`, `max_days_after_run`). Those checks exist only once a run
date is known: `row_checks(run_dates)` resolves them to fixed bounds, whole UTC
days, from the first run date minus the days before to the last plus the days after.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from catalog.errors import ConfigError, LakehouseError

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

SILVER_CONTRACTS = Path(__file__).with_name("silver.yml")
BRONZE_CONTRACTS = Path(__file__).with_name("bronze.yml")

_IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_SIMPLE_TYPES = {
    "boolean": "boolean",
    "int": "integer",
    "bigint": "integer",
    "float": "floating",
    "double": "floating",
    "string": "string",
    "date": "date",
    "timestamp": "timestamp",
}
# Iceberg's decimal limit, and Spark's.
_MAX_DECIMAL_PRECISION = 38
# Characters a string column holds at most unless it declares `max_length`.
DEFAULT_MAX_LENGTH = 1000
# C0 controls and DEL, as a regular expression both Java (Spark) and Rust (Polars) read alike.
CONTROL_CHARACTERS = r"[\x00-\x1F\x7F]"
# How an SCD2 table marks its versions: a key whose versions are all closed (none
# `is_current`) was deleted at its latest `valid_to`.
SCD2_VALID_TO = "valid_to"
SCD2_IS_CURRENT = "is_current"
SUPPORTED_TYPES = "boolean, int, bigint, float, double, string, date, timestamp, decimal(p,s) with p <= 38"

TypeFamily = Literal["boolean", "integer", "floating", "decimal", "string", "date", "timestamp"]
Bound = Decimal | dt.datetime | dt.date
AcceptedValue = str | int


class SchemaMismatchError(LakehouseError):
    """The data lacks a column its contract declares."""


class ContractFieldError(ValueError):
    """A model validator's finding about one of its fields (or, from the file, one table's field).

    Field validators raise a plain ValueError: pydantic's location already names their field.
    """

    def __init__(self, field: str, problem: str, *, table: str | None = None) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem
        self.table = table


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RowCheckKind = Literal[
    "not_null", "range", "run_date_range", "accepted_values", "decimal_scale", "max_length", "control_characters"
]


@dataclass(frozen=True)
class RunDates:
    """The landing days a batch covers (one day, or a catch-up's first to last).

    Bounds relative to the run date use `first` for the lower bound and `last` for the
    upper one, so that a catch-up batch accepts what each of its days would.
    """

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"run dates {self.first} to {self.last}: the first is after the last")

    @classmethod
    def of(cls, day: dt.date) -> RunDates:
        return cls(day, day)

    def __str__(self) -> str:
        return self.last.isoformat() if self.first == self.last else f"{self.first.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True)
class RowCheck:
    """One row-level check. `description` is the quarantine reason when a row fails it.

    `range` and `run_date_range` fail outside the inclusive [min, max]; `decimal_scale`
    fails a value with more than `limit` decimal places, `max_length` one longer than
    `limit` characters, `control_characters` one matching CONTROL_CHARACTERS. A null
    value passes all but `not_null`.
    """

    column: str
    kind: RowCheckKind
    description: str
    min: Bound | None = None
    max: Bound | None = None
    accepted_values: tuple[AcceptedValue, ...] = ()
    limit: int | None = None


class ColumnContract(_Strict):
    name: str = Field(pattern=_IDENTIFIER)
    type: str
    nullable: bool = True
    description: str = ""
    # Inclusive bounds. A null value passes, because nullability is its own check.
    min: Any = None
    max: Any = None
    accepted_values: list[Any] | None = None
    # Date and timestamp columns: bounds relative to the run date, in whole days (see RunDates).
    max_days_before_run: int | None = Field(default=None, ge=0)
    max_days_after_run: int | None = Field(default=None, ge=0)
    # String columns: the most characters a value may hold (default DEFAULT_MAX_LENGTH).
    max_length: int | None = Field(default=None, ge=1)

    @field_validator("type")
    @classmethod
    def _supported_type(cls, value: str) -> str:
        decimal = _DECIMAL.match(value)
        if decimal:
            precision, scale = int(decimal.group(1)), int(decimal.group(2))
            if not 1 <= precision <= _MAX_DECIMAL_PRECISION or scale > precision:
                raise ValueError(f"'{value}' is not a valid decimal: use decimal(p,s) with 1 <= p <= 38 and s <= p")
            return f"decimal({precision},{scale})"
        if value not in _SIMPLE_TYPES:
            raise ValueError(f"'{value}' is not a supported type: use one of {SUPPORTED_TYPES}")
        return value

    @field_validator("min", "max")
    @classmethod
    def _bound(cls, value: Any) -> Bound | None:
        if value is None or isinstance(value, dt.date):
            return value
        # bool is an int in Python, but `min: yes` is a typo, not a bound.
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return Decimal(str(value))
        raise ValueError(f"{value!r} is not a bound: write a number, a date or a timestamp, unquoted")

    @field_validator("accepted_values")
    @classmethod
    def _accepted_values(cls, values: list[Any] | None) -> list[AcceptedValue] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("is empty: list the allowed values or remove the field")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ValueError(
                    f"{value!r} is not a string or an integer: quote it (YAML reads yes/no/on/off as booleans)"
                )
        return values

    @property
    def family(self) -> TypeFamily:
        return "decimal" if self.type.startswith("decimal(") else _SIMPLE_TYPES[self.type]  # type: ignore[return-value]

    @model_validator(mode="after")
    def _checks_fit_type(self) -> ColumnContract:
        for field, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and not _bound_fits(bound, self.family):
                raise ContractFieldError(field, f"{_format_bound(bound)} does not fit a {self.type} column: {_bound_hint(self.family)}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ContractFieldError("min", f"{self.min} is greater than max {self.max}: swap them")
        if self.accepted_values is not None:
            wanted = str if self.family == "string" else int if self.family == "integer" else None
            if wanted is None:
                raise ContractFieldError(
                    "accepted_values", f"applies to string or integer columns, not {self.type}: use min/max or remove it"
                )
            wrong = [value for value in self.accepted_values if not isinstance(value, wanted)]
            if wrong:
                raise ContractFieldError("accepted_values", f"{wrong[0]!r} is not a {self.type}: write it as one")
        for name in ("max_days_before_run", "max_days_after_run"):
            if getattr(self, name) is not None and self.family not in ("date", "timestamp"):
                raise ContractFieldError(name, f"applies to date or timestamp columns, not {self.type}: remove it")
        if self.max_length is not None and self.family != "string":
            raise ContractFieldError("max_length", f"applies to string columns, not {self.type}: remove it")
        return self

    @property
    def scale(self) -> int | None:
        decimal = _DECIMAL.match(self.type)
        return int(decimal.group(2)) if decimal else None

    def run_date_bounds(self, run_dates: RunDates) -> tuple[Bound | None, Bound | None]:
        """The inclusive bounds for `run_dates`; a timestamp's are whole UTC days."""
        before, after = self.max_days_before_run, self.max_days_after_run
        low = run_dates.first - dt.timedelta(days=before) if before is not None else None
        high = run_dates.last + dt.timedelta(days=after) if after is not None else None
        if self.family == "date":
            return low, high
        return (
            dt.datetime.combine(low, dt.time.min, dt.timezone.utc) if low is not None else None,
            dt.datetime.combine(high, dt.time.max, dt.timezone.utc) if high is not None else None,
        )

    def row_checks(self, run_dates: RunDates | None = None) -> list[RowCheck]:
        """The column's checks; bounds relative to the run date only when `run_dates` is given."""
        checks = []
        if not self.nullable:
            checks.append(RowCheck(self.name, "not_null", f"{self.name} is null"))
        if self.min is not None or self.max is not None:
            checks.append(RowCheck(self.name, "range", _range_description(self.name, self.min, self.max), self.min, self.max))
        has_run_bounds = self.max_days_before_run is not None or self.max_days_after_run is not None
        if run_dates is not None and has_run_bounds:
            low, high = self.run_date_bounds(run_dates)
            # The allowed days, not the row's value: reasons stay value-free, as the other checks' do.
            description = f"{self.name} is out of range for run date {run_dates}: allowed {_days_allowed(low, high)}"
            checks.append(RowCheck(self.name, "run_date_range", description, low, high))
        if self.accepted_values is not None:
            checks.append(
                RowCheck(
                    self.name,
                    "accepted_values",
                    f"{self.name} not in accepted values",
                    accepted_values=tuple(self.accepted_values),
                )
            )
        if self.scale is not None:
            checks.append(
                RowCheck(self.name, "decimal_scale", f"{self.name} has more than {self.scale} decimal places", limit=self.scale)
            )
        # Accepted values imply both string checks (none is that long or holds a control character).
        if self.family == "string" and self.accepted_values is None:
            limit = self.max_length or DEFAULT_MAX_LENGTH
            checks.append(RowCheck(self.name, "max_length", f"{self.name} is longer than {limit} characters", limit=limit))
            checks.append(RowCheck(self.name, "control_characters", f"{self.name} holds control characters"))
        return checks


class Reference(_Strict):
    table: str = Field(pattern=_IDENTIFIER)
    columns: list[str] = Field(min_length=1)


class ForeignKey(_Strict):
    columns: list[str] = Field(min_length=1)
    references: Reference
    # A date or timestamp column of this table. When set, the referenced table is an SCD2
    # table, and a row whose key was deleted there at or before this column's value is an
    # orphan: the row claims a reference that no longer existed. Rows dated before the
    # deletion stay valid, since history does not change when a key is deleted later.
    not_deleted_before: str | None = Field(default=None, pattern=_IDENTIFIER)

    @model_validator(mode="after")
    def _same_arity(self) -> ForeignKey:
        if len(self.columns) != len(self.references.columns):
            raise ContractFieldError(
                "references.columns",
                f"has {len(self.references.columns)} columns for {len(self.columns)} in columns: list one per foreign key column",
            )
        return self


class QualityThreshold(_Strict):
    # Share of rows that must pass every row check, from 0 to 1.
    min_score: float = Field(ge=0, le=1)
    severity: Literal["error", "warn"]


class TableContract(_Strict):
    name: str = Field(pattern=_IDENTIFIER)
    description: str = ""
    primary_key: list[str] = Field(min_length=1)
    columns: list[ColumnContract] = Field(min_length=1)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    quality: QualityThreshold

    @model_validator(mode="after")
    def _keys_are_declared(self) -> TableContract:
        names = [column.name for column in self.columns]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ContractFieldError("columns", f"'{repeated[0]}' is declared twice: keep one")
        by_name = {column.name: column for column in self.columns}
        for name in self.primary_key:
            if name not in by_name:
                raise ContractFieldError("primary_key", f"'{name}' is not a declared column: add it under columns or fix the name")
            if by_name[name].nullable:
                raise ContractFieldError(
                    "primary_key", f"'{name}' is nullable: set nullable: false on it, a primary key cannot be null"
                )
        for index, foreign_key in enumerate(self.foreign_keys):
            for name in foreign_key.columns:
                if name not in by_name:
                    raise ContractFieldError(
                        f"foreign_keys[{index}].columns", f"'{name}' is not a declared column: add it under columns or fix the name"
                    )
            dated_by = foreign_key.not_deleted_before
            if dated_by is not None:
                if dated_by not in by_name or by_name[dated_by].family not in ("date", "timestamp"):
                    raise ContractFieldError(
                        f"foreign_keys[{index}].not_deleted_before",
                        f"'{dated_by}' is not a declared date or timestamp column: name the column that dates the row",
                    )
                if len(foreign_key.columns) != 1:
                    raise ContractFieldError(
                        f"foreign_keys[{index}].not_deleted_before", "applies to single-column foreign keys: remove it"
                    )
        return self

    def column(self, name: str) -> ColumnContract:
        return next(column for column in self.columns if column.name == name)

    def row_checks(self, run_dates: RunDates | None = None) -> list[RowCheck]:
        """Every column's checks; those relative to the run date only when `run_dates` is given."""
        return [check for column in self.columns for check in column.row_checks(run_dates)]


class ContractFile(_Strict):
    layer: str = Field(pattern=_IDENTIFIER)
    tables: list[TableContract] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> ContractFile:
        by_name: dict[str, TableContract] = {}
        for table in self.tables:
            if table.name in by_name:
                raise ContractFieldError("name", "is declared twice in this file: keep one", table=table.name)
            by_name[table.name] = table
        for table in self.tables:
            for index, foreign_key in enumerate(table.foreign_keys):
                field = f"foreign_keys[{index}].references"
                referenced = by_name.get(foreign_key.references.table)
                if referenced is None:
                    raise ContractFieldError(
                        f"{field}.table",
                        f"'{foreign_key.references.table}' is not a table of this file: use one of {', '.join(by_name)}",
                        table=table.name,
                    )
                declared = {column.name for column in referenced.columns}
                for name in foreign_key.references.columns:
                    if name not in declared:
                        raise ContractFieldError(
                            f"{field}.columns",
                            f"'{name}' is not a column of {referenced.name}: use one of {', '.join(sorted(declared))}",
                            table=table.name,
                        )
                if foreign_key.not_deleted_before is not None and not {SCD2_VALID_TO, SCD2_IS_CURRENT} <= declared:
                    raise ContractFieldError(
                        f"foreign_keys[{index}].not_deleted_before",
                        f"needs an SCD2 table, but {referenced.name} has no {SCD2_VALID_TO} and {SCD2_IS_CURRENT}: remove it",
                        table=table.name,
                    )
        return self

    def table(self, name: str) -> TableContract:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigError(f"no contract for table '{name}' in layer {self.layer}: add it to the layer's YAML file")


def contracts_path(settings: LakehouseSettings, layer: str) -> Path:
    """The contract file of a layer (`bronze`, `silver`): `<settings.contracts_dir>/<layer>.yml`, else the packaged one."""
    return (settings.contracts_dir or SILVER_CONTRACTS.parent) / f"{layer}.yml"


def load_contracts(path: Path = SILVER_CONTRACTS) -> ContractFile:
    """Parse and validate one layer's contract file; any problem is one ConfigError line."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the contract file ({exc.strerror}): check the path") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unparseable"
        raise ConfigError(f"{path}: not valid YAML{where} ({problem}): fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'layer' and 'tables' at the top: start the file with 'layer:'")
    try:
        return ContractFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_contract_error(path, raw, exc)) from exc


def describe_contract_error(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """`<file>: table '<t>', field '<f>': <problem>: <fix>` for the first error."""
    error = exc.errors()[0]
    table, field = _locate(raw, error["loc"])
    finding = (error.get("ctx") or {}).get("error")
    if isinstance(finding, ContractFieldError):
        table = finding.table or table
        field = f"{field}.{finding.field}" if field else finding.field
        problem = finding.problem
    elif isinstance(finding, ValueError):
        # A field validator's message: the location already names the field.
        problem = str(finding)
    elif error["type"] == "missing":
        problem = "is missing: add it"
    elif error["type"] == "extra_forbidden":
        problem = "is not a contract field: remove it or fix its spelling"
    else:
        problem = f"{error['msg']} (got {error['input']!r}): fix the value"
    where = f"table '{table}', field '{field}'" if table else f"field '{field}'"
    return f"{path}: {where}: {problem}"


def _locate(raw: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[str | None, str]:
    """The table name and a readable field path (`columns[amount].type`) for a pydantic location."""
    table = None
    parts: list[str] = []
    node: Any = raw
    index = 0
    if len(loc) >= 2 and loc[0] == "tables" and isinstance(loc[1], int):
        node = _item(raw.get("tables"), loc[1])
        table = _name_of(node) or f"#{loc[1] + 1}"
        index = 2
    for part in loc[index:]:
        if isinstance(part, int):
            child = _item(node, part)
            name = _name_of(child)
            parts[-1:] = [f"{parts[-1] if parts else ''}[{name if name else part}]"]
            node = child
        else:
            parts.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return table, ".".join(parts)


def _item(node: Any, index: int) -> Any:
    return node[index] if isinstance(node, list) and 0 <= index < len(node) else None


def _name_of(node: Any) -> str | None:
    return str(node["name"]) if isinstance(node, dict) and node.get("name") is not None else None


def _bound_fits(bound: Bound, family: TypeFamily) -> bool:
    if family in ("integer", "floating", "decimal"):
        return isinstance(bound, Decimal)
    if family == "date":
        return isinstance(bound, dt.date) and not isinstance(bound, dt.datetime)
    if family == "timestamp":
        # A naive timestamp bound would mean different instants in different engines.
        return isinstance(bound, dt.datetime) and bound.tzinfo is not None
    return False


def _bound_hint(family: TypeFamily) -> str:
    return {
        "integer": "write a number",
        "floating": "write a number",
        "decimal": "write a number",
        "date": "write a date such as 2020-01-01",
        "timestamp": "write a timestamp with an offset such as 2020-01-01T00:00:00Z",
    }.get(family, "remove min/max, they apply to numbers, dates and timestamps")


def _format_bound(bound: Bound) -> str:
    # Fixed-point, so that 0.00000001 does not print as 1E-8.
    return bound.isoformat() if isinstance(bound, dt.date) else format(bound, "f")


def _days_allowed(low: Bound | None, high: Bound | None) -> str:
    def day(bound: Bound) -> str:
        return (bound.date() if isinstance(bound, dt.datetime) else bound).isoformat()  # type: ignore[union-attr]

    if low is not None and high is not None:
        return f"from {day(low)} to {day(high)}"
    return f"from {day(low)}" if low is not None else f"up to {day(high)}"  # type: ignore[arg-type]


def _range_description(column: str, low: Bound | None, high: Bound | None) -> str:
    if low is not None and high is not None:
        return f"{column} out of range [{_format_bound(low)}, {_format_bound(high)}]"
    if low is not None:
        return f"{column} below minimum {_format_bound(low)}"
    return f"{column} above maximum {_format_bound(high)}"  # type: ignore[arg-type]
