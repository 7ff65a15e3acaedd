"""Generated secrets on disk: created once, mode 0600 from the first byte, never half-written."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, make: Callable[[], str]) -> str:
    """The file's content, creating it (mode 0600 from the first byte) if it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        content = make()
        write_private(path, content)
        return content


def write_private(path: Path, content: str) -> None:
    """Write via a 0600 temporary file and a rename, so no reader sees a partial or open file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(tmp, path)
