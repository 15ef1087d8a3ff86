"""Fast builders of schema records for hot paths: a constructor and a replace that fill a
"draft" of the record's exact slot layout, then make it the record (see :func:`draft_of`).
The codec's generated decoders build records the same way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()

_drafts: dict[type, type | None] = {}


def draft_of(cls: type) -> type | None:
    """A plain class with exactly the slots of the record ``cls``, or None.

    Generated builders fill a record's fields as ``n.field = value`` on an instance of this
    class (a plain slot store, specialised by the interpreter: ~4x faster than calling each
    slot's ``__set__``, and no ``object.__setattr__`` as a frozen dataclass's ``__init__``
    does), then turn it into a ``cls`` by ``__class__`` assignment, which CPython allows
    between classes of identical layout (same slots, same base): the result is an ordinary
    frozen ``cls`` instance. Checked once per class; None when not allowed (no slots of its
    own, another base, ...), and the builders store through the slots' ``__set__`` instead.
    """
    try:
        return _drafts[cls]
    except KeyError:
        pass
    draft: type | None = None
    slots = cls.__dict__.get("__slots__")
    if isinstance(slots, tuple) and cls.__bases__ == (object,):
        candidate = type(f"_{cls.__name__}Draft", (), {"__slots__": slots})
        try:
            probe: Any = object.__new__(candidate)
            probe.__class__ = cls
            draft = candidate
        except TypeError:
            pass
    _drafts[cls] = draft
    return draft


def _plain_draft(cls: type) -> type | None:
    """The draft of ``cls`` when the generated builders may fill it: slots of its own, no
    ``__post_init__`` and no ``init=False`` field (nothing a fill would skip); else None."""
    if hasattr(cls, "__post_init__") or not all(
            f.init for f in dataclasses.fields(cls)):
        return None
    return draft_of(cls)


def _check_names(cls: type, names: tuple[str, ...], required: bool) -> None:
    """``names`` are distinct fields of ``cls`` (and, if ``required``, include every field
    without a default); else ValueError."""
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    missing = {f.name for f in fields if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING} - set(names) if required else set()
    if any(n not in known for n in names) or len(set(names)) != len(names) or missing:
        raise ValueError(f"not distinct fields of {cls.__name__}"
                         f"{' naming every required one' if required else ''}: {names}")


def constructor(cls: type[T]) -> Callable[..., T]:
    """A constructor of ``cls`` for hot paths, called like ``cls`` itself: a frozen dataclass's
    generated ``__init__`` stores every field through ``object.__setattr__``, this one fills a
    draft of the same layout (see :func:`draft_of`; a 20-field record ~3x faster). Only for
    slotted dataclasses without ``__post_init__`` or ``init=False`` fields; for anything else
    it is ``cls``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (not hasattr(cls, "__slots__") or hasattr(cls, "__post_init__")
            or not all(f.init for f in fields)):
        return cls
    draft = draft_of(cls)
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "M": _MISSING, "D": draft}
    params: list[str] = []
    keyword_only: list[str] = []
    body = ["    n = new(D)" if draft else "    n = new(cls)"]
    for i, f in enumerate(fields):
        env[f"s{i}"] = getattr(cls, f.name).__set__
        value = f.name
        if f.default is not dataclasses.MISSING:
            env[f"d{i}"] = f.default
            param = f"{f.name}=d{i}"
        elif f.default_factory is not dataclasses.MISSING:
            env[f"f{i}"] = f.default_factory
            param = f"{f.name}=M"
            value = f"f{i}() if {f.name} is M else {f.name}"
        else:
            param = f.name
        body.append(f"    n.{f.name} = {value}" if draft else f"    s{i}(n, {value})")
        (keyword_only if f.kw_only else params).append(param)
    if draft:
        body.append("    n.__class__ = cls")
    signature = ", ".join(params + (["*", *keyword_only] if keyword_only else []))
    exec(f"def make({signature}):\n" + "\n".join(body) + "\n    return n", env)
    make: Callable[..., T] = env["make"]
    return make


def replacer(cls: type[T]) -> Callable[[T, Mapping[str, Any]], T]:
    """``dataclasses.replace(record, **changes)`` for hot paths (a fold copying a 55-field
    record per event): every field copied into a draft (see :func:`draft_of`), the changes set
    on it, a ``cls`` made of it (~4x faster than ``replace``). A change naming no field raises
    AttributeError. Only for slotted dataclasses without ``__post_init__`` or ``init=False``
    fields (as :func:`constructor`); for anything else it is ``dataclasses.replace``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    draft = _plain_draft(cls)
    if draft is None:
        return lambda record, changes: dataclasses.replace(record, **changes)  # type: ignore
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft, "S": setattr}
    body = ["def replace(o, changes):", "    n = new(D)"]
    body += [f"    n.{f.name} = o.{f.name}" for f in fields]
    body += ["    for k, v in changes.items():", "        S(n, k, v)",
             "    n.__class__ = cls", "    return n"]
    exec("\n".join(body), env)
    replace: Callable[[T, Mapping[str, Any]], T] = env["replace"]
    return replace


def fields_replacer(cls: type[T], *names: str) -> Callable[..., T]:
    """:func:`replacer` specialised to a fixed set of fields, for a fold that always writes
    the same ones: ``replace(record, v1, v2, ...)`` sets ``names`` to the values in that order,
    every other field copied (no changes dict, no ``setattr`` per change: the tickets stage's
    message-added fold 3.44 -> 2.75 us per message). A name that is not a field raises
    ValueError."""
    _check_names(cls, names, required=False)
    draft = _plain_draft(cls)
    params = [f"v{i}" for i in range(len(names))]
    if draft is None:
        def fallback(record: T, *values: Any) -> T:
            return dataclasses.replace(record, **dict(zip(names, values, strict=True)))  # type: ignore[type-var]

        return fallback
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft}
    given = dict(zip(names, params, strict=True))
    body = [f"def replace(o, {', '.join(params)}):", "    n = new(D)"]
    body += [f"    n.{f.name} = {given.get(f.name, 'o.' + f.name)}"
             for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    body += ["    n.__class__ = cls", "    return n"]
    exec("\n".join(body), env)
    replace: Callable[..., T] = env["replace"]
    return replace


def positional(cls: type[T], *names: str) -> Callable[..., T]:
    """A constructor of ``cls`` taking the fields ``names`` positionally, in that order, every
    other field its default (for a hot path building a many-field record: 18 keyword
    arguments cost more than filling the draft, MessageAdded 1.00 -> 0.33 us). Every field
    without a default must be named; a name that is not a field raises ValueError. Same
    conditions as :func:`constructor`; for anything else it calls ``cls`` with keywords."""
    _check_names(cls, names, required=True)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    draft = _plain_draft(cls)
    if draft is None:
        def fallback(*values: Any) -> T:
            return cls(**dict(zip(names, values, strict=True)))

        return fallback
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft}
    params = [f"v{i}" for i in range(len(names))]
    given = dict(zip(names, params, strict=True))
    body = [f"def make({', '.join(params)}):", "    n = new(D)"]
    for i, f in enumerate(fields):
        if f.name in given:
            value = given[f.name]
        elif f.default is not dataclasses.MISSING:
            env[f"d{i}"] = f.default
            value = f"d{i}"
        else:
            env[f"f{i}"] = f.default_factory
            value = f"f{i}()"
        body.append(f"    n.{f.name} = {value}")
    body += ["    n.__class__ = cls", "    return n"]
    exec("\n".join(body), env)
    make: Callable[..., T] = env["make"]
    return make
