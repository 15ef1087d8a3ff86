"""The speed tricks (schemas._codegen) equal the plain code beside them, on random records of
every wire type: the generated decoder and the plain field loop decode the same records, keep
the same unknown fields and refuse bad input with the same error; every generated builder
builds what its plain reference builds."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import _codegen
from schemas.codec import KIT, DecodeError, encode
from tests.unit.test_schemas_codec import PAYLOADS, RECORDS, json_scalar  # registers strategies

CLASSES = [*RECORDS, *PAYLOADS]


def _outcome(conv: _codegen.Conv, value: Any) -> tuple[str, Any]:
    try:
        record = conv(value, "$")
    except DecodeError as exc:
        return "error", str(exc)
    extra = getattr(record, "extra", None)
    return "record", (type(record), record, extra)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_decoder_is_the_plain_one(cls: type, data: st.DataObject) -> None:
    fast = _codegen.dataclass_decoder(cls, KIT)
    plain = _codegen.plain_dataclass_decoder(cls, KIT)
    record = data.draw(st.from_type(cls))
    wire: dict[str, Any] = orjson.loads(encode(record))
    assert _outcome(fast, wire) == _outcome(plain, wire) == ("record", (cls, record, {}))
    # unknown keys, then a field removed or given a value of another type
    unknown = data.draw(st.dictionaries(st.text(min_size=1, max_size=8), json_scalar,
                                        max_size=2))
    changed = {**wire, **{k: v for k, v in unknown.items() if k not in wire}}
    assert _outcome(fast, changed) == _outcome(plain, changed)
    if wire:
        key = data.draw(st.sampled_from(sorted(wire)))
        without = {k: v for k, v in wire.items() if k != key}
        assert _outcome(fast, without) == _outcome(plain, without)
        wrong = {**wire, key: data.draw(json_scalar | st.lists(json_scalar, max_size=2))}
        assert _outcome(fast, wrong) == _outcome(plain, wrong)
    assert _outcome(fast, [wire]) == _outcome(plain, [wire])


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)
            if f.name != "extra"}


def _required(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b and getattr(a, "extra", None) == getattr(b, "extra", None)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_generated_builders_are_the_plain_ones(cls: type, data: st.DataObject) -> None:
    record, other = data.draw(st.from_type(cls)), data.draw(st.from_type(cls))
    values = _fields(record)
    assert _same(_codegen.constructor(cls)(**values), _codegen.plain_constructor(cls)(**values))

    names = data.draw(st.permutations(sorted(values)).map(
        lambda ns: ns[: data.draw(st.integers(0, len(ns)))]))
    new = [getattr(other, n) for n in names]
    changes = dict(zip(names, new, strict=True))
    assert _same(_codegen.replacer(cls)(record, changes),
                 _codegen.plain_replacer(cls)(record, changes))
    assert _same(_codegen.fields_replacer(cls, *names)(record, *new),
                 _codegen.plain_fields_replacer(cls, *names)(record, *new))

    chosen = [*_required(cls), *(n for n in names if n not in _required(cls))]
    args = [values[n] for n in chosen]
    assert _same(_codegen.positional(cls, *chosen)(*args),
                 _codegen.plain_positional(cls, *chosen)(*args))
    kwargs = dict(zip(chosen, args, strict=True))
    assert _same(_codegen.keywords(cls, *chosen)(**kwargs),
                 _codegen.plain_keywords(cls, *chosen)(**kwargs))


def test_keywords_takes_exactly_its_names() -> None:
    from schemas.message import Address

    for make in (_codegen.keywords(Address, "address", "name"),
                 _codegen.plain_keywords(Address, "address", "name")):
        assert make(address="a@b.c", name="A") == Address(address="a@b.c", name="A")
        with pytest.raises(TypeError):
            make("a@b.c", "A")  # positionally: refused
        with pytest.raises(TypeError):
            make(address="a@b.c")  # a name left out
    with pytest.raises(ValueError):
        _codegen.keywords(Address, "name")  # a required field not named
