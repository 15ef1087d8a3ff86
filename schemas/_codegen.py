"""The speed tricks of the wire records, in one private place, each beside the plain code it
must equal (``tests/unit/test_codegen.py`` checks fast == plain on random records).

Two tricks, both CPython-specific and both invisible from outside:

* **generated code**: builders and decoders are written as Python source for one record class
  and compiled once with ``exec`` (no loop over fields, no per-field call at run time);
* **drafts**: a record is filled as a plain slotted object of the same layout and then turned
  into the frozen record by ``__class__`` assignment (see :func:`draft_of`), which skips the
  ``object.__setattr__`` a frozen dataclass's ``__init__`` pays per field.

Public code uses :mod:`schemas.builders` and :mod:`schemas.codec`; what each trick buys is
measured in ``benchmarks/`` (see ``benchmarks/README.md``), not quoted here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_origin, get_type_hints

from schemas.wire import EXTRA_FIELD, TAG_KEY, optional_of

T = TypeVar("T")
_MISSING = object()  # a default_factory field not given

_drafts: dict[type, type | None] = {}


def draft_of(cls: type) -> type | None:
    """A plain class with exactly the slots of the record ``cls``, or None.

    Generated builders fill a record's fields as ``n.field = value`` on an instance of this
    class (a plain slot store, specialised by the interpreter: faster than calling each
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


def plain_constructor(cls: type[T]) -> Callable[..., T]:
    """The reference :func:`constructor` equals: the class itself."""
    return cls


def constructor(cls: type[T]) -> Callable[..., T]:
    """A constructor of ``cls`` for hot paths, called like ``cls`` itself: a frozen dataclass's
    generated ``__init__`` stores every field through ``object.__setattr__``, this one fills a
    draft of the same layout (see :func:`draft_of`). Only for
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


def plain_replacer(cls: type[T]) -> Callable[[T, Mapping[str, Any]], T]:
    """The reference :func:`replacer` equals: ``dataclasses.replace``."""
    def replace(record: T, changes: Mapping[str, Any]) -> T:
        return dataclasses.replace(record, **changes)  # type: ignore[type-var]

    return replace


def replacer(cls: type[T]) -> Callable[[T, Mapping[str, Any]], T]:
    """``dataclasses.replace(record, **changes)`` for hot paths (a fold copying a 55-field
    record per event): every field copied into a draft (see :func:`draft_of`), the changes set
    on it, a ``cls`` made of it. A change naming no field raises
    AttributeError. Only for slotted dataclasses without ``__post_init__`` or ``init=False``
    fields (as :func:`constructor`); for anything else it is ``dataclasses.replace``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    draft = _plain_draft(cls)
    if draft is None:
        return plain_replacer(cls)
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft, "S": setattr}
    body = ["def replace(o, changes):", "    n = new(D)"]
    body += [f"    n.{f.name} = o.{f.name}" for f in fields]
    body += ["    for k, v in changes.items():", "        S(n, k, v)",
             "    n.__class__ = cls", "    return n"]
    exec("\n".join(body), env)
    replace: Callable[[T, Mapping[str, Any]], T] = env["replace"]
    return replace


def plain_fields_replacer(cls: type[T], *names: str) -> Callable[..., T]:
    """The reference :func:`fields_replacer` equals: ``dataclasses.replace`` with keywords."""
    _check_names(cls, names, required=False)

    def replace(record: T, *values: Any) -> T:
        return dataclasses.replace(record, **dict(zip(names, values, strict=True)))  # type: ignore[type-var]

    return replace


def fields_replacer(cls: type[T], *names: str) -> Callable[..., T]:
    """:func:`replacer` specialised to a fixed set of fields, for a fold that always writes
    the same ones: ``replace(record, v1, v2, ...)`` sets ``names`` to the values in that order,
    every other field copied (no changes dict, no ``setattr`` per change: the tickets stage's
    message-added fold). A name that is not a field raises
    ValueError."""
    _check_names(cls, names, required=False)
    draft = _plain_draft(cls)
    params = [f"v{i}" for i in range(len(names))]
    if draft is None:
        return plain_fields_replacer(cls, *names)
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft}
    given = dict(zip(names, params, strict=True))
    body = [f"def replace(o, {', '.join(params)}):", "    n = new(D)"]
    body += [f"    n.{f.name} = {given.get(f.name, 'o.' + f.name)}"
             for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    body += ["    n.__class__ = cls", "    return n"]
    exec("\n".join(body), env)
    replace: Callable[..., T] = env["replace"]
    return replace


def plain_positional(cls: type[T], *names: str) -> Callable[..., T]:
    """The reference :func:`positional` equals: ``cls`` called with keywords."""
    _check_names(cls, names, required=True)

    def make(*values: Any) -> T:
        return cls(**dict(zip(names, values, strict=True)))

    return make


def positional(cls: type[T], *names: str) -> Callable[..., T]:
    """A constructor of ``cls`` taking the fields ``names`` positionally, in that order, every
    other field its default (for a hot path building a many-field record: 18 keyword
    arguments cost more than filling the draft: MessageAdded). Every field
    without a default must be named; a name that is not a field raises ValueError. Same
    conditions as :func:`constructor`; for anything else it calls ``cls`` with keywords."""
    _check_names(cls, names, required=True)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    draft = _plain_draft(cls)
    if draft is None:
        return plain_positional(cls, *names)
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



def plain_keywords(cls: type[T], *names: str) -> Callable[..., T]:
    """The reference :func:`keywords` equals: ``cls`` itself, limited to ``names``."""
    _check_names(cls, names, required=True)

    def make(**values: Any) -> T:
        if set(values) != set(names):
            raise TypeError(f"expected exactly the keywords {names}, got {tuple(values)}")
        return cls(**values)

    return make


def keywords(cls: type[T], *names: str) -> Callable[..., T]:
    """A constructor of ``cls`` taking exactly the fields ``names`` as keyword-only arguments
    (every other field its default): as fast as :func:`positional` to fill, but two fields of
    one type cannot be swapped unnoticed. Every field without a default must be named; a name
    that is not a field raises ValueError. Same conditions as :func:`constructor`; for anything
    else it calls ``cls``."""
    _check_names(cls, names, required=True)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    draft = _plain_draft(cls)
    if draft is None:
        return plain_keywords(cls, *names)
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "D": draft}
    body = [f"def make({'*, ' + ', '.join(names) if names else ''}):", "    n = new(D)"]
    for i, f in enumerate(fields):
        if f.name in names:
            value = f.name
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

# -- decoders ------------------------------------------------------------------------------------

Conv = Callable[[Any, str], Any]  # a JSON value and its path -> a typed value, or DecodeError


@dataclass(frozen=True, slots=True)
class DecoderKit:
    """What a generated decoder takes from the codec (which imports this module)."""

    converter: Callable[[Any], Conv]  # the converter of a type hint
    fail: Callable[[str, Any, str], Exception]  # "expected X, got Y" at a path
    error: Callable[[str, str], Exception]  # DecodeError(message, path)
    to_primitive: Callable[[Any], Any]  # a record's JSON-ready form


_PRIMITIVE_CHECKS: dict[Any, tuple[str, str]] = {
    str: ("type(x) is not str", "string"),
    int: ("type(x) is not int", "integer"),
    bool: ("type(x) is not bool", "boolean"),
}


_SHARED_DEFAULTS = (type(None), bool, int, str)


def _all_defaults(cls: type[Any], fields: tuple[dataclasses.Field[Any], ...]) -> str | None:
    """The test, in generated code, that a JSON object is exactly ``cls()``'s encoded form, for
    a record whose every field has a plain immutable default (None, bool, int, str); else None.

    Such an object decodes to one shared ``cls()`` (frozen, nothing mutable inside: safe), as
    ``MessageFlags()`` on nearly every message. Equality alone
    would take 0 for False (``0 == False``), so bool and int values are checked by identity
    and type too: only what the full converter accepts takes the shortcut."""
    if not fields or not all(
        f.default is not dataclasses.MISSING and type(f.default) in _SHARED_DEFAULTS
        for f in fields
    ):
        return None
    tests = ["v == DEFAULTS"]
    for f in fields:
        if type(f.default) is bool:
            tests.append(f"v[{f.name!r}] is {f.default!r}")
        elif type(f.default) is int:
            tests.append(f"type(v[{f.name!r}]) is int")
    return " and ".join(tests)


def dataclass_decoder(cls: type[Any], kit: DecoderKit) -> Conv:
    """Generate a decode function for one dataclass (compiled once; hot path of every stage).

    Plain ``str``/``int``/``bool`` fields (optional or not) are checked inline; everything
    else goes through its own converter, called with an empty path: the path of a bad field
    is built only when a converter raised, by converting that field again with its path
    (converters are pure, so the second call raises the same error, now naming the field).
    """
    hints = get_type_hints(cls)
    env: dict[str, Any] = {"cls": cls, "M": _MISSING, "DecodeError": kit.error,
                           "_fail": kit.fail, "new": object.__new__}
    fields = dataclasses.fields(cls)
    # Slotted records without __post_init__ are built by storing each field through its slot
    # (what the generated __init__ does, minus the keyword dict and call); anything else
    # goes through cls(**kw).
    direct = (hasattr(cls, "__slots__") and not hasattr(cls, "__post_init__")
              and all(f.init for f in fields))
    has_extra = any(f.name == EXTRA_FIELD for f in fields)
    draft = draft_of(cls) if direct else None
    env["D"] = draft
    lines = [
        "def conv_dc(v, path):",
        "    if type(v) is not dict:",
        f"        raise _fail({cls.__name__ + ' object'!r}, v, path)",
    ]
    shortcut = _all_defaults(cls, fields) if direct else None
    if shortcut is not None:
        env["DEFAULTS"], env["SHARED"] = kit.to_primitive(cls()), cls()
        lines += [f"    if {shortcut}:", "        return SHARED"]
    lines += [
        ("    n = new(D)" if draft else "    n = new(cls)") if direct else "    kw = {}",
        "    g = v.get",
    ]
    if has_extra:
        lines.append("    miss = 0")  # absent fields: unknown keys exist iff len(v) says so
    known: set[str] = set()
    extra_store = ""
    for i, f in enumerate(fields):
        if draft is not None:
            store = f"n.{f.name} = {{}}"
        elif direct:
            store = f"s{i}(n, {{}})"
            env[f"s{i}"] = getattr(cls, f.name).__set__
        else:
            store = f"kw[{f.name!r}] = {{}}"
        if f.name == EXTRA_FIELD:
            extra_store = store
            if direct:
                env["extra_default"] = f.default_factory
            continue
        known.add(f.name)
        tp = hints[f.name]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        name = f.name
        lines.append(f"    x = g({name!r}, M)")
        lines.append("    if x is not M:")
        inner = optional_of(tp)
        check = _PRIMITIVE_CHECKS.get(tp) or _PRIMITIVE_CHECKS.get(inner)
        if check is not None:
            cond, what = check
            if inner is not None:
                cond = f"x is not None and {cond}"
            lines.append(f"        if {cond}:")
            lines.append(f"            raise _fail({what!r}, x, path + '.{name}')")
            lines.append("        " + store.format("x"))
        else:
            conv = kit.converter(tp)
            if inner is not None:  # X | None: None inline, X by its own converter
                conv = kit.converter(inner)
                lines.append("        if x is None:")
                lines.append("            " + store.format("None"))
                lines.append("        else:")
                pad = "            "
            else:
                pad = "        "
            if get_origin(tp) is tuple:  # most are empty: no call
                lines.append(pad + "if type(x) is list and not x:")
                lines.append(pad + "    " + store.format("()"))
                lines.append(pad + "    x = M")
            env[f"c{i}"] = conv
            if get_origin(tp) is tuple:
                lines.append(pad + "if x is not M:")
                pad += "    "
            lines.append(pad + "try:")
            lines.append(pad + "    " + store.format(f"c{i}(x, '')"))
            lines.append(pad + "except DecodeError:")
            lines.append(pad + f"    c{i}(x, path + '.{name}')")
            lines.append(pad + "    raise")
        if required:
            lines.append("    else:")
            msg = f"missing field {name!r} of {cls.__name__}"
            lines.append(f"        raise DecodeError({msg!r}, path)")
        else:
            lines.append("    else:")
            if has_extra:
                lines.append("        miss += 1")
            if direct and f.default is not dataclasses.MISSING:
                env[f"d{i}"] = f.default
                lines.append("        " + store.format(f"d{i}"))
            elif direct:
                env[f"f{i}"] = f.default_factory
                lines.append("        " + store.format(f"f{i}()"))
            elif not has_extra:
                lines.append("        pass")
    if hasattr(cls, "TAG"):
        known.add(TAG_KEY)
    env["KNOWN"] = frozenset(known)
    if has_extra:
        declared = len(known - {TAG_KEY})
        cond = f"len(v) + miss > {declared}"
        if hasattr(cls, "TAG"):
            cond = f"len(v) + miss - {declared} > ({TAG_KEY!r} in v)"
        lines.append(f"    if {cond}:")
        lines.append("        " + extra_store.format(
            "{k: y for k, y in v.items() if k not in KNOWN}"))
        if direct:
            lines.append("    else:")
            lines.append("        " + extra_store.format("extra_default()"))
    if direct:
        if draft is not None:
            lines.append("    n.__class__ = cls")
        lines.append("    return n")
    else:
        lines += [
            "    try:",
            "        return cls(**kw)",
            "    except (TypeError, ValueError) as exc:",
            f"        raise DecodeError({'invalid ' + cls.__name__ + ': '!r} + str(exc), path) "
            "from None",
        ]
    exec("\n".join(lines), env)
    conv_dc: Conv = env["conv_dc"]
    return conv_dc


def plain_dataclass_decoder(cls: type[Any], kit: DecoderKit) -> Conv:
    """The reference :func:`dataclass_decoder` equals: a loop over the fields, each value
    through its converter with its path, the record built by ``cls(**kw)``."""
    hints = get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name != EXTRA_FIELD]
    has_extra = len(fields) != len(dataclasses.fields(cls))
    convs = {f.name: kit.converter(hints[f.name]) for f in fields}
    known = {f.name for f in fields} | ({TAG_KEY} if hasattr(cls, "TAG") else set())
    required = {f.name for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}

    def conv(v: Any, path: str) -> Any:
        if type(v) is not dict:
            raise kit.fail(f"{cls.__name__} object", v, path)
        kw: dict[str, Any] = {}
        for f in fields:
            if f.name in v:
                kw[f.name] = convs[f.name](v[f.name], f"{path}.{f.name}")
            elif f.name in required:
                raise kit.error(f"missing field {f.name!r} of {cls.__name__}", path)
        if has_extra:
            unknown = {k: y for k, y in v.items() if k not in known}
            if unknown:
                kw[EXTRA_FIELD] = unknown
        try:
            return cls(**kw)
        except (TypeError, ValueError) as exc:
            raise kit.error(f"invalid {cls.__name__}: {exc}", path) from None

    return conv
