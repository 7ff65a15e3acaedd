"""What each Silver table is made of: its Bronze source, keys, business date and column types.

This is the staging step of the medallion (as in dbt's `stg_` models): rename and
cast, nothing else. The entities are declared in the sources file, each under the
source that feeds it (`ingestion/sources.yml`, see ingestion/sources/declarations.py);
the types come from the Silver contract, so a contract change cannot drift away from
what the job writes.

Processing order is derived, not declared: an entity comes after the Silver tables it
reads (its contract's foreign-key parents, and FX rates when it converts amounts to
USD), in file order otherwise. A declared order could contradict the contracts; derived,
it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from catalog.errors import ConfigError
from catalog.naming import SILVER
from ingestion.contracts.contract import ContractFile, TableContract, contracts_path, load_contracts
from ingestion.sources.declarations import Source, load_sources, sources_path

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

# The Silver table an entity converting amounts to USD reads its rates from (ingestion/silver/fx.py).
FX_RATES_TABLE = "fx_rates"


@dataclass(frozen=True)
class SilverEntity:
    table: str  # Silver table = contract name
    source: str  # Bronze source it is built from
    keys: tuple[str, ...]
    # Silver column -> Bronze (raw string) column it is cast from.
    renamed: Mapping[str, str]
    # Silver columns computed from the typed ones (e.g. the business date): Spark SQL expressions.
    derived: Mapping[str, str] = field(default_factory=dict)
    # The version column: the latest wins in dedup and in the MERGE.
    version_column: str = "updated_at"
    # Business date and partition; None = a small table merged without a window.
    date_column: str | None = None
    # Set when the amount is converted to USD: the date whose FX rate applies.
    fx_date_column: str | None = None
    # Set for an SCD2 dimension: the attributes whose change opens a new version.
    scd2_tracked: tuple[str, ...] = ()
    # Silver column whose day is the business date, for the lateness profile; None = not profiled.
    business_time_column: str | None = None

    @property
    def converts_to_usd(self) -> bool:
        return self.fx_date_column is not None

    @classmethod
    def declared_by(cls, source: Source) -> SilverEntity:
        silver = source.silver
        assert silver is not None, f"source {source.name} declares no Silver entity"
        return cls(
            table=silver.table,
            source=source.name,
            keys=source.silver_keys,
            renamed=silver.from_bronze,
            derived=dict(silver.derived),
            version_column=silver.version_column,
            date_column=silver.date_column,
            fx_date_column=silver.fx_date_column,
            scd2_tracked=silver.scd2_tracked,
            business_time_column=silver.business_time_column,
        )


def load_entities(settings: LakehouseSettings, contracts: ContractFile | None = None) -> tuple[SilverEntity, ...]:
    """Every declared Silver entity, the tables it reads first (see the module docstring)."""
    contracts = contracts or load_contracts(contracts_path(settings, SILVER))
    declared = [SilverEntity.declared_by(source) for source in load_sources(settings).values()]
    return in_dependency_order(declared, contracts, where=str(sources_path(settings)))


def entity_of(settings: LakehouseSettings, table: str) -> SilverEntity:
    """The entity of one Silver table."""
    for entity in load_entities(settings):
        if entity.table == table:
            return entity
    raise ConfigError(f"no source feeds Silver table '{table}': declare it under a source in {sources_path(settings)}")


def in_dependency_order(entities: list[SilverEntity], contracts: ContractFile, *, where: str) -> tuple[SilverEntity, ...]:
    by_table = {entity.table: entity for entity in entities}
    parents = {}
    for entity in entities:
        parents[entity.table] = referenced_tables(entity, contracts.table(entity.table))
        for parent in parents[entity.table]:
            if parent not in by_table:
                raise ConfigError(
                    f"{where}: Silver table '{entity.table}' reads '{parent}', which no source feeds: declare the source of '{parent}'"
                )
    ordered: list[SilverEntity] = []
    pending = list(entities)
    while pending:
        done = {entity.table for entity in ordered}
        ready = next((entity for entity in pending if set(parents[entity.table]) <= done), None)
        if ready is None:
            cycle = ", ".join(entity.table for entity in pending)
            raise ConfigError(f"{where}: Silver tables {cycle} reference each other in a cycle: break it in their contracts")
        pending.remove(ready)
        ordered.append(ready)
    return tuple(ordered)


def referenced_tables(entity: SilverEntity, contract: TableContract) -> tuple[str, ...]:
    """The other Silver tables a batch of `entity` reads: foreign-key parents, FX rates for USD amounts."""
    parents = [fk.references.table for fk in contract.foreign_keys]
    if entity.converts_to_usd:
        parents.append(FX_RATES_TABLE)
    return tuple(dict.fromkeys(parents))
