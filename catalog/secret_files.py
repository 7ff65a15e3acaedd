"""Generated secrets on disk: created once, mode 0600 from the first byte, never half-written."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from catalog.errors import ConfigError


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


def configured_or_generated(configured: SecretStr | None, path: Path, *, env_var: str, what: str) -> str:
    """A secret set by `env_var` (the settings refuse it from YAML), else the file `up` generated."""
    if configured is not None:
        return configured.get_secret_value()
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"no {what}: set {env_var}, or run `lakehouse up` (it generates one into {path})"
        ) from None


def ensure_generated(configured: SecretStr | None, path: Path) -> str:
    """The configured secret, else the generated file's, generating it (in a 0700 folder) on first use."""
    if configured is not None:
        return configured.get_secret_value()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    return create_once(path, lambda: secrets.token_urlsafe(24))
