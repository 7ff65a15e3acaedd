"""Errors a user can act on.

Every `LakehouseError` renders as one line that names the fix; the CLI prints it
without a traceback (tracebacks only with `--debug`).
"""


class LakehouseError(Exception):
    """A known failure whose message already tells the user what to do.

    `details` (for example the tail of a service log) is shown above the
    one-line message, never instead of it.
    """

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class ConfigError(LakehouseError):
    """The settings are invalid or point at something that is not there."""


class ArtifactError(LakehouseError):
    """A JVM artifact could not be fetched into the cache."""


class ServiceError(LakehouseError):
    """A local service did not start, or is in the way of one that should."""


class ServiceUnreachable(LakehouseError):
    """A service the command talks to (the REST catalog, Trino) did not answer (`catalog/faults.py`)."""
