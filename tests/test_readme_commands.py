"""The README's two commands are the contract with users and CI: keep them true."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _command_after(heading: str) -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n.*?```(?:bash|sh)\n(.+?)\n```", readme, re.S | re.M)
    assert match, f"README has no fenced command under '{heading}'"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _command_after("Run the tests")
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines, f".ci/run must run the README test command verbatim: {command}"


def test_readme_demo_command_runs_the_demo() -> None:
    command = _command_after("Run the demo")
    assert command.endswith("lakehouse demo")
    assert "pip install -e ." in command
