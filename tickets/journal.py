"""Undo for in-memory state: a stage must leave its state untouched for a batch it raises on
(the runner then retries record by record), so every write made during a batch is journaled
and rolled back on failure."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()


class Journal:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] | None = None

    def begin(self) -> None:
        self._undo = []

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo, None
        for step in reversed(undo or []):
            step()

    def set(self, mapping: MutableMapping[K, V], key: K, value: V) -> None:
        if self._undo is not None:
            old = mapping.get(key, _MISSING)

            def restore() -> None:
                if old is _MISSING:
                    mapping.pop(key, None)
                else:
                    mapping[key] = old

            self._undo.append(restore)
        mapping[key] = value

    def setdefault(self, mapping: MutableMapping[K, V], key: K, value: V) -> None:
        if key not in mapping:
            self.set(mapping, key, value)

    def pop(self, mapping: MutableMapping[K, V], key: K) -> None:
        if key in mapping:
            old = mapping[key]
            if self._undo is not None:
                self._undo.append(lambda: mapping.__setitem__(key, old))
            del mapping[key]
