"""A small orders contract shared by the Spark gate and Polars validator tests."""

from ingestion.contracts.contract import TableContract

ORDERS = TableContract.model_validate(
    {
        "name": "orders",
        "primary_key": ["order_id"],
        "columns": [
            {"name": "order_id", "type": "bigint", "nullable": False},
            {"name": "customer_id", "type": "bigint"},
            {"name": "amount", "type": "decimal(18,2)", "min": 0, "max": 1000000},
            {"name": "currency", "type": "string", "nullable": False, "accepted_values": ["USD", "EUR"]},
        ],
        "foreign_keys": [{"columns": ["customer_id"], "references": {"table": "customers", "columns": ["customer_id"]}}],
        "quality": {"min_score": 0.9, "severity": "warn"},
    }
)
