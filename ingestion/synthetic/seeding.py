"""Independent random streams, one per (seed, source, day, purpose).

Each source draws from its own stream per day, so adding a row to one source, or one
more day to a run, never shifts the data of another source or of an earlier day.
"""

from __future__ import annotations

import hashlib
import random


def rng_for(seed: int, source: str, day_index: int, purpose: str) -> random.Random:
    # Not hash(): str hashing is salted per process. Not a tuple seed: random.seed only
    # accepts int/str/bytes. sha256 of the parts is stable across processes and versions.
    material = f"{seed}/{source}/{day_index}/{purpose}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))
