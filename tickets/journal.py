"""Undo for in-memory state: a stage must leave its state untouched for a batch it raises on
(the runner then retries record by record), so every write made during a batch is journaled
and rolled back on failure."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()


class Journal:
    def __init__(self) -> None:
        # (mapping, key, previous value or _MISSING), newest last
        self._undo: list[tuple[MutableMapping[Any, Any], Any, Any]] | None = None

    def begin(self) -> None:
        self._undo = []

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo, None
        for mapping, key, old in reversed(undo or []):
            if old is _MISSING:
                mapping.pop(key, None)
            else:
                mapping[key] = old

    def set(self, mapping: MutableMapping[K, V], key: K, value: V) -> None:
        if self._undo is not None:
            self._undo.append((mapping, key, mapping.get(key, _MISSING)))
        mapping[key] = value

    def setdefault(self, mapping: MutableMapping[K, V], key: K, value: V) -> None:
        if key not in mapping:
            self.set(mapping, key, value)

    def setdefaults(self, mapping: MutableMapping[K, V], keys: Iterable[K], value: V) -> None:
        """``setdefault(mapping, key, value)`` for each of ``keys`` (one call for an index's
        new entries)."""
        undo = self._undo
        for key in keys:
            if key not in mapping:
                if undo is not None:
                    undo.append((mapping, key, _MISSING))
                mapping[key] = value

    def pop(self, mapping: MutableMapping[K, V], key: K) -> None:
        if key in mapping:
            if self._undo is not None:
                self._undo.append((mapping, key, mapping[key]))
            del mapping[key]
