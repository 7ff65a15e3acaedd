"""Imports point one way: `lakehouse` -> `ingestion` -> `catalog`.

`catalog` is the platform (settings, errors, services, engine connections, lineage,
run lock), `ingestion` the pipeline on top of it, and `lakehouse` the console script and
user-facing tools on top of both. A lower package never imports a higher one, not even
inside a function or under TYPE_CHECKING. Modules are parsed with `ast`, never imported,
so the check is fast and cannot be fooled by import side effects.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Lowest first: a package may import the packages before it, never those after it.
LAYERS = ("catalog", "ingestion", "lakehouse")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, wherever it sits."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from catalog import x` may name a module: report `catalog.x`, as written.
            found += [(node.lineno, f"{target}.{alias.name}" if alias.name != "*" else target) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def layer_violations() -> list[str]:
    violations = []
    for rank, layer in enumerate(LAYERS):
        forbidden = LAYERS[rank + 1 :]
        for path in sorted((REPO / layer).rglob("*.py")):
            module = module_name(path)
            for line, target in imported_modules(path.read_text(), module, is_package=path.name == "__init__.py"):
                top = target.split(".")[0]
                if top in forbidden:
                    violations.append(f"{path.relative_to(REPO)}:{line}: {module} imports {target}")
    return violations


def test_lower_packages_never_import_higher_ones() -> None:
    violations = layer_violations()
    assert not violations, (
        f"imports must point {' <- '.join(LAYERS)} (a package imports only those to its left):\n" + "\n".join(violations)
    )


def test_every_layer_is_scanned() -> None:
    for layer in LAYERS:
        assert (REPO / layer / "__init__.py").is_file(), f"{layer}/ is not a package any more: update LAYERS"
        assert len(list((REPO / layer).rglob("*.py"))) > 1


def test_the_scan_sees_every_kind_of_import() -> None:
    source = (
        "import ingestion.pipeline\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from lakehouse.cli import app\n"
        "def later():\n"
        "    from lakehouse import demo\n"
        "    importlib.import_module('ingestion.lateness')\n"
        "from . import errors\n"
        "from ..ingestion import pipeline\n"
    )
    assert imported_modules(source, "catalog.settings") == [
        (1, "ingestion.pipeline"),
        (2, "typing.TYPE_CHECKING"),
        (4, "lakehouse.cli.app"),
        (6, "lakehouse.demo"),
        (7, "ingestion.lateness"),
        (8, "catalog.errors"),
        (9, "ingestion.pipeline"),
    ]
