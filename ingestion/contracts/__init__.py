"""Data contracts: engine-neutral pydantic models loaded from one YAML file per layer, and their Spark gate."""
