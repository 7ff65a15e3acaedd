"""Data contracts: what a table promises, and the YAML file (one per layer) that declares it.

The models are engine-neutral. They describe checks as data (`RowCheck`) and
never as Spark or Polars expressions, so that the Spark gate
(`spark_row_checks`, `spark_table_checks`) and a Polars validator evaluate
the same contract and report the same reasons.

Column types are Iceberg/Spark type names: boolean, int, bigint, float,
double, string, date, timestamp, decimal(p,s).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from catalog.errors import ConfigError, LakehouseError

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


@dataclass(frozen=True)
class RowCheck:
    """One row-level check. `description` is the quarantine reason when a row fails it."""

    column: str
    kind: Literal["not_null", "range", "accepted_values"]
    description: str
    min: Bound | None = None
    max: Bound | None = None
    accepted_values: tuple[AcceptedValue, ...] = ()


class ColumnContract(_Strict):
    name: str = Field(pattern=_IDENTIFIER)
    type: str
    nullable: bool = True
    description: str = ""
    # Inclusive bounds. A null value passes, because nullability is its own check.
    min: Any = None
    max: Any = None
    accepted_values: list[Any] | None = None

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
        return self

    def row_checks(self) -> list[RowCheck]:
        checks = []
        if not self.nullable:
            checks.append(RowCheck(self.name, "not_null", f"{self.name} is null"))
        if self.min is not None or self.max is not None:
            checks.append(RowCheck(self.name, "range", _range_description(self.name, self.min, self.max), self.min, self.max))
        if self.accepted_values is not None:
            checks.append(
                RowCheck(
                    self.name,
                    "accepted_values",
                    f"{self.name} not in accepted values",
                    accepted_values=tuple(self.accepted_values),
                )
            )
        return checks


class Reference(_Strict):
    table: str = Field(pattern=_IDENTIFIER)
    columns: list[str] = Field(min_length=1)


class ForeignKey(_Strict):
    columns: list[str] = Field(min_length=1)
    references: Reference

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
        return self

    def column(self, name: str) -> ColumnContract:
        return next(column for column in self.columns if column.name == name)

    def row_checks(self) -> list[RowCheck]:
        return [check for column in self.columns for check in column.row_checks()]


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
        return self

    def table(self, name: str) -> TableContract:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigError(f"no contract for table '{name}' in layer {self.layer}: add it to the layer's YAML file")


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


def _range_description(column: str, low: Bound | None, high: Bound | None) -> str:
    if low is not None and high is not None:
        return f"{column} out of range [{_format_bound(low)}, {_format_bound(high)}]"
    if low is not None:
        return f"{column} below minimum {_format_bound(low)}"
    return f"{column} above maximum {_format_bound(high)}"  # type: ignore[arg-type]
