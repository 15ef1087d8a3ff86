"""Shared building blocks of wire records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, kw_only_default=True)
def record(cls: type[T]) -> type[T]:
    """A wire record: frozen, slotted, keyword-only dataclass."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


def extra_field() -> Any:
    """Unknown keys read from the wire, re-emitted unchanged. Not part of equality."""
    return dataclasses.field(default_factory=dict, compare=False, hash=False, repr=False)


def empty_map() -> Any:
    """A mapping field that defaults to empty and takes part in equality."""
    return dataclasses.field(default_factory=dict)


Extra = Mapping[str, Any]

__all__ = ["Callable", "Extra", "empty_map", "extra_field", "record"]
