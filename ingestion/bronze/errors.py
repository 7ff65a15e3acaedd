"""Bronze's error type: a landing day that cannot be ingested as asked, with the fix in the message."""

from __future__ import annotations

from catalog.errors import LakehouseError


class BronzeError(LakehouseError):
    """An unknown source, a missing delivery, or a batch that would lose lines."""
