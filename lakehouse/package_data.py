"""The files the package ships beside its code: the dbt project and the analyst SQL pack.

They live in the repository's top-level `dbt/` and `sql/`. `lakehouse/dbt_project` and
`lakehouse/sql` are symlinks to those folders, and pyproject.toml declares their files
as package data of `lakehouse`: a wheel holds copies, while an editable install or a
checkout on PYTHONPATH reads the folders through the links. So every kind of install finds
them inside the `lakehouse` package, and a git worktree finds its own copy, never the
one of the checkout the venv was installed from.

Rejected: mapping `lakehouse.dbt_project` to `dbt/` with setuptools' `package-dir`. The
editable install's import hook then resolves that name to the installed checkout's
`dbt/`, whichever tree's `lakehouse` was imported.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _shipped(name: str) -> Path:
    folder = resources.files(__package__) / name
    # dbt reads a folder on disk. pip installs a wheel unpacked, so this is a plain path.
    if not isinstance(folder, Path) or not folder.is_dir():
        raise FileNotFoundError(f"{name}/ is missing from the installed lakehouse package at {folder}: reinstall it")
    return folder


# dbt's --project-dir. Read-only: dbt writes its target/ and logs/ under the home (lakehouse.gold).
DBT_PROJECT_DIR = _shipped("dbt_project")
# Trino queries an analyst runs on Gold and Silver (sql/README.md).
SQL_DIR = _shipped("sql")
