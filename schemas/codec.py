"""The one wire codec: frozen dataclasses <-> orjson bytes.

Conversion is driven by the dataclasses' type hints and compiled once per class, so decoding a
record costs a dict walk, not reflection. Rules:

* unknown keys are tolerated when reading and kept in the record's ``extra`` mapping, so a
  stage that re-emits a record written by a newer version does not drop what it did not know;
* ``bytes`` travel as base64 text, ``datetime`` as RFC 3339 text and must be timezone-aware;
* a union of payload dataclasses is tagged: each member has a ``TAG`` class variable and its
  encoded form carries ``"kind": TAG``;
* anything that does not fit raises :class:`DecodeError` naming the path of the bad field.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, Union, get_args, get_origin

import orjson

from schemas import _codegen
from schemas.builders import constructor, replacer
from schemas.encoding import encode, encode_pretty, to_primitive
from schemas.errors import HelplineError
from schemas.wire import EXTRA_FIELD, TAG_KEY

T = TypeVar("T")

_Conv = Callable[[Any, str], Any]


class DecodeError(HelplineError, ValueError):
    """Bytes that are not a valid record of the expected schema. ``path`` names the bad field."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


# ---------------------------------------------------------------------------------------------
# decoding: compiled converters from JSON values to typed values


def _fail(expected: str, value: Any, path: str) -> DecodeError:
    return DecodeError(f"expected {expected}, got {type(value).__name__}", path)


def _conv_str(v: Any, path: str) -> str:
    if type(v) is str:
        return v
    raise _fail("string", v, path)


def _conv_int(v: Any, path: str) -> int:
    if type(v) is int:
        return v
    raise _fail("integer", v, path)


def _conv_float(v: Any, path: str) -> float:
    if type(v) is float or type(v) is int:
        return float(v)
    raise _fail("number", v, path)


def _conv_bool(v: Any, path: str) -> bool:
    if type(v) is bool:
        return v
    raise _fail("boolean", v, path)


def _conv_any(v: Any, path: str) -> Any:
    return v


def _conv_bytes(v: Any, path: str) -> bytes:
    if type(v) is not str:
        raise _fail("base64 string", v, path)
    try:
        return base64.b64decode(v, validate=True)
    except ValueError as exc:
        raise DecodeError(f"invalid base64: {exc}", path) from None


def _conv_datetime(v: Any, path: str) -> datetime:
    if type(v) is not str:
        raise _fail("RFC 3339 timestamp", v, path)
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise DecodeError(f"invalid timestamp {v[:40]!r}", path) from None
    if dt.tzinfo is None:
        raise DecodeError("timestamp without timezone", path)
    return dt


_converters: dict[Any, _Conv] = {}


def _converter(tp: Any) -> _Conv:
    try:
        return _converters[tp]
    except (KeyError, TypeError):
        pass
    conv = _build_converter(tp)
    try:
        _converters[tp] = conv
    except TypeError:  # unhashable annotation; just do not cache
        pass
    return conv


def _build_converter(tp: Any) -> _Conv:
    if tp is str:
        return _conv_str
    if tp is int:
        return _conv_int
    if tp is float:
        return _conv_float
    if tp is bool:
        return _conv_bool
    if tp is bytes:
        return _conv_bytes
    if tp is datetime:
        return _conv_datetime
    if tp is Any or tp is object:
        return _conv_any
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_converter(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_converter(tp)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Literal:
        allowed = frozenset(args)

        def conv_literal(v: Any, path: str) -> Any:
            if type(v) in (str, int, bool) and v in allowed:  # (a list is unhashable)
                return v
            raise DecodeError(f"expected one of {sorted(map(str, allowed))}, got {v!r}", path)

        return conv_literal
    if origin is Union or origin is types.UnionType:
        return _union_converter(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])

            def conv_tuple(v: Any, path: str) -> tuple[Any, ...]:
                if type(v) is not list:
                    raise _fail("array", v, path)
                try:  # paths are built only when an item is bad (converters are pure)
                    return tuple([item(x, path) for x in v])
                except DecodeError:
                    return tuple([item(x, f"{path}[{i}]") for i, x in enumerate(v)])

            if item is not _conv_str:
                return conv_tuple

            def conv_str_tuple(v: Any, path: str) -> tuple[Any, ...]:
                if type(v) is list:
                    for x in v:
                        if type(x) is not str:
                            break
                    else:
                        return tuple(v)
                return conv_tuple(v, path)

            return conv_str_tuple
        items = [_converter(a) for a in args]

        def conv_fixed_tuple(v: Any, path: str) -> tuple[Any, ...]:
            if type(v) is not list or len(v) != len(items):
                raise _fail(f"array of {len(items)}", v, path)
            pairs = enumerate(zip(items, v, strict=True))
            return tuple(c(x, f"{path}[{i}]") for i, (c, x) in pairs)

        return conv_fixed_tuple
    if origin is dict or origin is Mapping:
        key_t, val_t = args if args else (str, Any)
        if key_t is not str:
            raise TypeError(f"mapping keys must be str on the wire, not {key_t!r}")
        val = _converter(val_t)

        def conv_map(v: Any, path: str) -> dict[str, Any]:
            if type(v) is not dict:
                raise _fail("object", v, path)
            return {k: val(x, f"{path}.{k}") for k, x in v.items()}

        return conv_map
    raise TypeError(f"type {tp!r} is not supported on the wire")


def _enum_converter(tp: type[enum.Enum]) -> _Conv:
    by_value = {m.value: m for m in tp}

    def conv_enum(v: Any, path: str) -> Any:
        try:
            return by_value[v]
        except (KeyError, TypeError):
            raise DecodeError(
                f"expected one of {sorted(map(str, by_value))}, got {v!r}", path
            ) from None

    return conv_enum


def _union_converter(args: tuple[Any, ...]) -> _Conv:
    non_none = [a for a in args if a is not type(None)]
    optional = len(non_none) != len(args)
    tagged = [a for a in non_none if dataclasses.is_dataclass(a) and hasattr(a, "TAG")]
    if tagged and len(tagged) == len(non_none):
        by_tag = {a.TAG: _converter(a) for a in tagged}

        def conv_tagged(v: Any, path: str) -> Any:
            if v is None and optional:
                return None
            if type(v) is not dict:
                raise _fail("object", v, path)
            tag = v.get(TAG_KEY)
            conv = by_tag.get(tag)
            if conv is None:
                raise DecodeError(f"unknown {TAG_KEY} {tag!r}", path)
            return conv(v, path)

        return conv_tagged
    if len(non_none) == 1:
        inner = _converter(non_none[0])

        def conv_optional(v: Any, path: str) -> Any:
            return None if v is None else inner(v, path)

        return conv_optional
    convs = [_converter(a) for a in non_none]

    def conv_union(v: Any, path: str) -> Any:
        if v is None and optional:
            return None
        for c in convs:
            try:
                return c(v, path)
            except DecodeError:
                continue
        raise DecodeError(f"value {str(v)[:40]!r} fits none of {non_none}", path)

    return conv_union


def _dataclass_converter(cls: type[Any]) -> _Conv:
    """The decoder of one dataclass: generated once (:mod:`schemas._codegen`), the hot path of
    every stage. A trampoline is registered first, so self-referencing dataclasses resolve."""
    holder: list[_Conv] = []

    def trampoline(v: Any, path: str) -> Any:
        return holder[0](v, path)

    _converters[cls] = trampoline
    conv = _codegen.dataclass_decoder(cls, KIT)
    holder.append(conv)
    _converters[cls] = conv
    return conv


# what the generated decoders (and their plain reference) take from this module
KIT = _codegen.DecoderKit(converter=_converter, fail=_fail, error=DecodeError,
                          to_primitive=to_primitive)


def from_primitive(cls: type[T], value: Any) -> T:
    """Build a record of ``cls`` from its JSON-ready form."""
    result: T = _converter(cls)(value, "$")
    return result


def decode(cls: type[T], data: bytes | bytearray | memoryview | str) -> T:
    """Parse bytes as a record of ``cls``. Raises :class:`DecodeError` for anything else."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    return from_primitive(cls, value)


def decoder(cls: type[T]) -> Callable[[bytes], T]:
    """A decode function bound to one schema (for stream value deserializers)."""
    conv = _converter(cls)

    def _decode(data: bytes) -> T:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc}") from None
        result: T = conv(value, "$")
        return result

    return _decode


__all__ = [  # the codec's whole surface; encoding and builders live in their own modules
    "EXTRA_FIELD",
    "TAG_KEY",
    "DecodeError",
    "constructor",
    "decode",
    "decoder",
    "encode",
    "encode_pretty",
    "from_primitive",
    "replacer",
    "to_primitive",
]
