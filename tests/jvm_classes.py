"""What a JVM jar defines, read from its class files: property names a test can check rendered
configs against, from the very jars the engines run (JVM spec, chapter 4: The class File Format).

- `string_constants`: the values of `static final String` fields (Iceberg's `CatalogProperties.URI`...);
- `string_literals`: every string literal a class uses (a superset: also those only in method code);
- `config_names`: the names of airlift `@Config("...")` setters, which is how Trino declares
  every catalog and server property it accepts.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_CONFIG_ANNOTATION = "Lio/airlift/configuration/Config;"
# Constant pool tags (JVM spec 4.4) and the bytes each entry takes after its tag.
_UTF8, _STRING = 1, 8
_SIZES = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}


@dataclass
class ClassStrings:
    constants: set[str] = field(default_factory=set)
    literals: set[str] = field(default_factory=set)
    config_names: set[str] = field(default_factory=set)

    def update(self, other: ClassStrings) -> None:
        self.constants |= other.constants
        self.literals |= other.literals
        self.config_names |= other.config_names


def read_class(data: bytes) -> ClassStrings:
    reader = _Reader(data)
    found = ClassStrings(literals={reader.utf8(index) for index in reader.strings})
    found.constants, found.config_names = reader.members()
    return found


def read_jars(jars: list[Path], *, packages: tuple[str, ...] | None = None) -> ClassStrings:
    """Every class of the jars, or only those of `packages` (e.g. "org/apache/iceberg/aws",
    not its subpackages): a 40 MB runtime jar takes seconds to read whole."""
    found = ClassStrings()
    for jar in jars:
        for data in _classes(jar, packages):
            found.update(read_class(data))
    return found


def _classes(jar: Path, packages: tuple[str, ...] | None) -> Iterator[bytes]:
    with zipfile.ZipFile(jar) as archive:
        for name in archive.namelist():
            if name.endswith(".class") and (packages is None or name.rpartition("/")[0] in packages):
                yield archive.read(name)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        count = self._u2(8)
        self.pool: dict[int, tuple[int, object]] = {}
        self.strings: list[int] = []
        index, pos = 1, 10
        while index < count:
            tag = data[pos]
            if tag == _UTF8:
                length = self._u2(pos + 1)
                self.pool[index] = (tag, data[pos + 3 : pos + 3 + length].decode("utf-8", "replace"))
                pos += 3 + length
            else:
                self.pool[index] = (tag, self._u2(pos + 1))
                if tag == _STRING:
                    self.strings.append(index)
                pos += 1 + _SIZES[tag]
                index += tag in (5, 6)  # longs and doubles take two slots
            index += 1
        self.end_of_pool = pos

    def utf8(self, index: int) -> str:
        tag, value = self.pool[index]
        if tag == _STRING:
            return self.utf8(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def members(self) -> tuple[set[str], set[str]]:
        """(string constants of the fields, @Config names on the methods)."""
        constants: set[str] = set()
        configs: set[str] = set()
        pos = self.end_of_pool + 6  # access flags, this class, super class
        pos += 2 + 2 * self._u2(pos)  # interfaces
        for is_field in (True, False):
            members = self._u2(pos)
            pos += 2
            for _ in range(members):
                pos += 6  # access flags, name, descriptor
                attributes = self._u2(pos)
                pos += 2
                for _ in range(attributes):
                    name, length = struct.unpack_from(">HI", self.data, pos)
                    body = pos + 6
                    kind = self.utf8(name)
                    if kind == "ConstantValue" and is_field and self.pool[self._u2(body)][0] == _STRING:
                        constants.add(self.utf8(self._u2(body)))
                    elif kind == "RuntimeVisibleAnnotations":
                        at = body + 2
                        for _ in range(self._u2(body)):
                            at = self._annotation(at, configs)
                    pos = body + length
        return constants, configs

    def _annotation(self, pos: int, configs: set[str]) -> int:
        kind, pairs = struct.unpack_from(">HH", self.data, pos)
        pos += 4
        for _ in range(pairs):
            name = self._u2(pos)
            pos += 2
            if self.utf8(kind) == _CONFIG_ANNOTATION and self.utf8(name) == "value" and chr(self.data[pos]) == "s":
                configs.add(self.utf8(self._u2(pos + 1)))
            pos = self._element(pos, configs)
        return pos

    def _element(self, pos: int, configs: set[str]) -> int:
        tag = chr(self.data[pos])
        pos += 1
        if tag == "e":  # enum: type and constant name
            return pos + 4
        if tag == "@":
            return self._annotation(pos, configs)
        if tag == "[":
            count = self._u2(pos)
            pos += 2
            for _ in range(count):
                pos = self._element(pos, configs)
            return pos
        return pos + 2  # a constant or a class: one pool index

    def _u2(self, pos: int) -> int:
        return struct.unpack_from(">H", self.data, pos)[0]
