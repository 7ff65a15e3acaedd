"""lakehouse.gold without services: the dbt command line and the one-line failure message."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.gold import DBT_PROJECT_DIR, GoldResult, NodeResult, _failure_line, dbt_args

REPO = Path(__file__).resolve().parents[2]


def test_dbt_args_point_at_the_packaged_project_and_the_rendered_profile(test_settings) -> None:
    args = dbt_args(test_settings, ("build",), select=["fct_orders+"], vars={"order_lookback_days": 3}, full_refresh=True)
    assert args[0] == "build"
    assert args[args.index("--project-dir") + 1] == str(DBT_PROJECT_DIR)
    assert (DBT_PROJECT_DIR / "dbt_project.yml").is_file()
    assert args[args.index("--profiles-dir") + 1] == str(test_settings.config_dir / "dbt")
    # Nothing is written into the project: it may be read-only in site-packages.
    for flag in ("--target-path", "--log-path"):
        assert Path(args[args.index(flag) + 1]).is_relative_to(test_settings.home), flag
    assert args[args.index("--select") + 1] == "fct_orders+"
    assert json.loads(args[args.index("--vars") + 1]) == {"order_lookback_days": 3}
    assert "--full-refresh" in args and "--no-use-colors" in args


def test_dbt_debug_gets_no_target_path_which_it_refuses(test_settings) -> None:
    args = dbt_args(test_settings, ("debug",))
    assert "--target-path" not in args and "--log-path" in args


def _node(name: str, status: str, failures: int | None = None, message: str | None = None) -> NodeResult:
    return NodeResult(f"test.lakehouse.{name}", name, "test", status, 0.1, failures, message)


def test_failure_line_names_the_first_failing_node_and_skips_warnings() -> None:
    result = GoldResult(
        command=("build",),
        success=False,
        nodes=(
            _node("assert_fct_orders_matches_silver", "warn", 2),
            _node("stg_orders_customer_id_has_a_customer", "fail", 1),
            _node("unique_fct_orders_order_id", "error", None, "Database Error\n  boom"),
        ),
        elapsed=1.0,
    )
    line = _failure_line(result, None, Path("/home/data/dbt/target"))
    assert "\n" not in line
    assert line.startswith("dbt build failed at test stg_orders_customer_id_has_a_customer: fail, 1 failing rows (and 1 more)")
    assert line.endswith("details in /home/data/dbt/target/run_results.json")


def test_failure_line_without_nodes_gives_dbt_s_reason() -> None:
    result = GoldResult(command=("build",), success=False, nodes=(), elapsed=0.0)
    line = _failure_line(result, RuntimeError("Could not find profile named 'lakehouse'\nmore"), Path("/target"))
    assert line == "dbt build failed before building any node: Could not find profile named 'lakehouse'"


def test_gold_marts_are_the_models_under_marts_each_with_a_contract() -> None:
    import yaml

    from lakehouse.gold import gold_marts

    marts = gold_marts()
    declared = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text())["models"]
    assert "fct_daily_revenue" in marts and "customer_360" in marts
    assert sorted(model["name"] for model in declared) == list(marts)


def test_a_checkout_reads_its_own_dbt_project_through_the_package() -> None:
    """lakehouse/dbt_project links to dbt/ of the same tree (a worktree never reads another's)."""
    assert DBT_PROJECT_DIR.resolve() == REPO / "dbt"
