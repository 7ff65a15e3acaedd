"""Every table's name, for every engine: the namespaces, and `catalog.namespace.table` in each form.

The lakehouse keeps its tables in one Iceberg catalog (`settings.catalog.name`), under
the namespaces declared here and nowhere else. A table is a `TableName` (namespace,
table); each engine gets it from sqlglot, never from strings put together:

- `.sql(settings, dialect)`: quoted `catalog.namespace.table` for Spark SQL (the default)
  or Trino; `.expression(settings)`, the same as a sqlglot table to build statements with;
- `.metadata_sql(settings, "files")`: one of its Iceberg metadata tables, in Spark SQL;
- `.identifier`: the (namespace, table) tuple PyIceberg takes (its catalog is bound to one);
- `.qualified(settings)`: `catalog.namespace.table` as a user types it (messages, lineage's
  Trino name, `BronzeBatch.table`);
- `str(name)`: `namespace.table`, the form records carry (`ops.stage_metrics.table_name`,
  `ops.schema_changes.table_name`, OpenLineage dataset and job names): no catalog, so a
  record reads the same whatever the catalog is called; no quotes unless a name needs them.

dbt names its own relations (`dbt/models/**/_*__sources.yml`, `generate_schema_name`);
the Gold namespace here is the dbt profile's target schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from catalog.settings import LakehouseSettings

BRONZE = "bronze"  # one table per source, as delivered (ingestion/bronze)
SILVER = "silver"  # one table per entity, checked against its contract (ingestion/silver)
GOLD = "gold"  # dbt's marts (dbt/), the only namespace the analyst reads
OPS = "ops"  # the pipeline's run records (ingestion/operations.py)
# Iceberg's Spark procedures (`add_files`, `fast_forward`) live in this namespace of the catalog.
PROCEDURES = "system"
# Names of records and messages are written in Spark's dialect: `from_sql` reads them back.
_RECORD_DIALECT = "spark"


@dataclass(frozen=True)
class TableName:
    namespace: str
    table: str

    def expression(self, settings: LakehouseSettings) -> exp.Table:
        return exp.table_(self.table, db=self.namespace, catalog=settings.catalog.name, quoted=True)

    def sql(self, settings: LakehouseSettings, dialect: str = "spark") -> str:
        """Quoted `catalog.namespace.table`, e.g. `` `iceberg`.`silver`.`orders` `` in Spark SQL."""
        return self.expression(settings).sql(dialect=dialect)

    def metadata_sql(self, settings: LakehouseSettings, metadata: str) -> str:
        """An Iceberg metadata table in Spark SQL, e.g. `` `iceberg`.`bronze`.`events`.`files` ``."""
        return exp.Dot.build([*self.expression(settings).parts, exp.to_identifier(metadata, quoted=True)]).sql(dialect="spark")

    @property
    def identifier(self) -> tuple[str, str]:
        """What PyIceberg's `load_table` and `create_table` take."""
        return (self.namespace, self.table)

    def qualified(self, settings: LakehouseSettings) -> str:
        """`catalog.namespace.table` as typed, e.g. `iceberg.bronze.warehouse_orders`."""
        return exp.table_(self.table, db=self.namespace, catalog=settings.catalog.name).sql(dialect=_RECORD_DIALECT)

    def __str__(self) -> str:
        """`namespace.table`, e.g. `silver.orders`: the form records carry."""
        return exp.table_(self.table, db=self.namespace).sql(dialect=_RECORD_DIALECT)

    @classmethod
    def from_sql(cls, name: str, namespace: str | None = None) -> TableName:
        """The table a Spark SQL name refers to, quoted or not, with or without its catalog.

        A bare table name is in `namespace`; without one, it is an error.
        """
        table = exp.to_table(name, dialect=_RECORD_DIALECT)
        if not (table.db or namespace):
            raise ValueError(f"{name!r} names no namespace")
        return cls(table.db or namespace, table.name)  # type: ignore[arg-type]


QUARANTINE = TableName(SILVER, "quarantine")  # the rows Silver refused, of every entity


def namespace_sql(settings: LakehouseSettings, namespace: str, dialect: str = "spark") -> str:
    """Quoted `catalog.namespace`, for CREATE NAMESPACE (Spark) or CREATE SCHEMA (Trino)."""
    return exp.table_(namespace, db=settings.catalog.name, quoted=True).sql(dialect=dialect)


def namespace_qualified(settings: LakehouseSettings, namespace: str) -> str:
    """`catalog.namespace` as typed, e.g. `iceberg.bronze`."""
    return exp.table_(namespace, db=settings.catalog.name).sql(dialect=_RECORD_DIALECT)


def procedure_sql(settings: LakehouseSettings, procedure: str) -> str:
    """An Iceberg procedure for Spark's CALL, e.g. `` `iceberg`.`system`.`add_files` ``."""
    return TableName(PROCEDURES, procedure).sql(settings)
