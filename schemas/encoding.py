"""Encoding: schema records to orjson bytes (the other half of :mod:`schemas.codec`).

An encoder is generated once per record class: one dict display of its fields, nested records
through their own encoders, values orjson writes natively handed over as they are.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Union, get_args, get_origin, get_type_hints

import orjson

from schemas.wire import EXTRA_FIELD, TAG_KEY, optional_of

_encoders: dict[type, Callable[[Any], dict[str, Any]]] = {}

# Values orjson serializes natively and exactly as the decoder reads them back.
_NATIVE = (str, int, float, bool, type(None))


def _native(tp: Any) -> bool:
    """True when values of ``tp`` can be handed to orjson as they are."""
    if tp in _NATIVE or tp is datetime:
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return True
    origin = get_origin(tp)
    if origin is typing.Literal:
        return True
    if origin in (Union, types.UnionType, tuple):
        return all(_native(a) for a in get_args(tp) if a is not Ellipsis)
    if origin is dict or origin is Mapping:
        args = get_args(tp)
        return bool(args) and _native(args[1])
    return False


_DISPLAY_MAX = 15


def _encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    try:
        return _encoders[cls]
    except KeyError:
        pass
    hints = get_type_hints(cls)
    env: dict[str, Any] = {"P": to_primitive}
    # One dict display (a single BUILD_CONST_KEY_MAP, faster than a store per key).
    items: list[str] = []
    tag = getattr(cls, "TAG", None)
    if tag is not None:
        items.append(f"{TAG_KEY!r}: {tag!r}")
    has_extra = False
    for i, f in enumerate(dataclasses.fields(cls)):
        if f.name == EXTRA_FIELD:
            has_extra = True
            continue
        tp = hints[f.name]
        inner = optional_of(tp)
        value = f"o.{f.name}"
        if _native(tp):
            expr = value
        elif _plain_record(tp):  # a nested record: its own encoder, no dispatch
            env[f"E{i}"] = _lazy_encoder(tp)
            expr = f"E{i}({value})"
        elif inner is not None and _plain_record(inner):
            env[f"E{i}"] = _lazy_encoder(inner)
            expr = f"(None if {value} is None else E{i}({value}))"
        elif get_origin(tp) is tuple and len(get_args(tp)) == 2 and get_args(tp)[1] is Ellipsis \
                and _plain_record(get_args(tp)[0]):
            env[f"E{i}"] = _lazy_encoder(get_args(tp)[0])
            expr = f"([E{i}(x) for x in {value}] if {value} else [])"
        else:
            expr = f"P({value})"
        items.append(f"{f.name!r}: {expr}")
    # (CPython compiles a display of more than ~15 pairs into merged chunks: slower, so the
    # rest are stored one by one.)
    lines = ["def enc(o):", "    d = {" + ", ".join(items[:_DISPLAY_MAX]) + "}"]
    lines += [f"    d[{item.replace(': ', '] = ', 1)}" for item in items[_DISPLAY_MAX:]]
    if has_extra:
        lines.append(f"    if o.{EXTRA_FIELD}:")
        lines.append(f"        for k, x in o.{EXTRA_FIELD}.items():")
        lines.append("            d.setdefault(k, x)")
    lines.append("    return d")
    exec("\n".join(lines), env)
    enc: Callable[[Any], dict[str, Any]] = env["enc"]
    _encoders[cls] = enc
    return enc


def _plain_record(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _lazy_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The encoder of ``cls``, built on first use (records may refer to each other)."""

    def enc(o: Any) -> dict[str, Any]:
        return _encoder(cls)(o)

    return enc if cls not in _encoders else _encoders[cls]


def to_primitive(obj: Any) -> Any:
    """The JSON-ready form of a record (dicts, lists, strings, numbers; datetimes, tuples and
    enums are left for orjson, which writes them as RFC 3339 text, arrays and values)."""
    enc = _encoders.get(type(obj))
    if enc is not None:
        return enc(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _encoder(type(obj))(obj)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, tuple | list):
        return [to_primitive(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_primitive(x) for k, x in obj.items()}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            raise ValueError("naive datetime cannot go on the wire")
        return obj
    return obj


def encode(obj: Any) -> bytes:
    """Serialize a schema record to compact JSON bytes."""
    return orjson.dumps(to_primitive(obj))


def encode_pretty(obj: Any) -> bytes:
    """Serialize for humans (CLI output, golden files): indented, keys sorted."""
    return orjson.dumps(to_primitive(obj), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
