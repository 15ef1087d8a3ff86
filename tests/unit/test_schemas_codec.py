"""The wire codec: every record type round-trips, unknown fields survive a re-emit, and bytes
that are not a record raise DecodeError naming the bad field — never anything else."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import builders, codec
from schemas.base import Extra, extra_field
from schemas.codec import DecodeError, decode, encode
from schemas.deadletter import DeadLetter
from schemas.events import EventPayload, TicketEvent
from schemas.message import InboundMessage
from schemas.raw import RawChatMessage, RawEmail
from schemas.topics import ALL

aware = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.sampled_from([UTC, None]).map(
                         lambda tz: tz or __import__("datetime").timezone(timedelta(hours=2))))
st.register_type_strategy(datetime, aware)
text = st.text(max_size=40)
st.register_type_strategy(str, text)

json_scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | text
json_map = st.dictionaries(text, json_scalar, max_size=3)


def _register_records() -> None:
    """Every wire dataclass gets a strategy: ``extra`` empty (it is what the wire adds), and
    free-form ``Mapping[str, Any]`` fields filled with JSON values."""
    import schemas.bin
    import schemas.classify_events
    import schemas.commands
    import schemas.directory
    import schemas.message
    import schemas.notification
    import schemas.route_events
    import schemas.ticket
    import schemas.ticket_events

    modules = [schemas.bin, schemas.classify_events, schemas.commands, schemas.directory,
               schemas.message, schemas.notification, schemas.route_events, schemas.ticket,
               schemas.ticket_events, __import__("schemas.raw").raw,
               __import__("schemas.deadletter").deadletter, __import__("schemas.events").events]
    from typing import get_type_hints

    for module in modules:
        for obj in vars(module).values():
            if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
                continue
            if obj.__module__ != module.__name__:
                continue
            hints = get_type_hints(obj)
            overrides: dict[str, st.SearchStrategy[object]] = {}
            for f in dataclasses.fields(obj):
                if f.name == "extra":
                    overrides[f.name] = st.just({})
                elif "Any" in str(hints[f.name]):
                    overrides[f.name] = json_map
            st.register_type_strategy(obj, st.builds(obj, **overrides))


_register_records()

RECORDS = sorted({spec.value_type for spec in ALL}, key=lambda t: t.__name__)
PAYLOADS = list(EventPayload.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_topic_record_round_trips(cls: type, data: st.DataObject) -> None:
    record = data.draw(st.from_type(cls))
    assert decode(cls, encode(record)) == record


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda c: c.TAG)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_event_kind_round_trips_with_its_tag(payload: type, data: st.DataObject) -> None:
    event = data.draw(st.builds(TicketEvent, payload=st.from_type(payload), extra=st.just({})))
    wire = orjson.loads(encode(event))
    assert wire["payload"]["kind"] == payload.TAG
    back = decode(TicketEvent, encode(event))
    assert back == event and back.kind == payload.TAG


def test_unknown_fields_are_kept_when_re_emitted() -> None:
    raw = RawEmail(source="imap", mailbox="support", raw=b"\x00\xff",
                   received_at=datetime(2026, 1, 1, tzinfo=UTC), uid=7)
    newer = orjson.loads(encode(raw)) | {"spam_score": 0.3, "schema_version": 2}
    read = decode(RawEmail, orjson.dumps(newer))
    assert read.uid == 7 and read.schema_version == 2
    assert orjson.loads(encode(read))["spam_score"] == 0.3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(blob: bytes) -> None:
    for cls in (RawEmail, InboundMessage, TicketEvent, DeadLetter):
        try:
            decode(cls, blob)
        except DecodeError:
            pass


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"source": "imap"}, "$"),
        ({"source": "pigeon", "mailbox": "m", "raw": "", "received_at": "2026-01-01T00:00:00Z"},
         "$.source"),
        ({"source": "imap", "mailbox": "m", "raw": "!!", "received_at": "2026-01-01T00:00:00Z"},
         "$.raw"),
        ({"source": "imap", "mailbox": "m", "raw": "", "received_at": "2026-01-01T00:00:00"},
         "$.received_at"),
        ({"source": "imap", "mailbox": 3, "raw": "", "received_at": "2026-01-01T00:00:00Z"},
         "$.mailbox"),
    ],
)
def test_decode_errors_name_the_field(doc: dict[str, object], path: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode(RawEmail, orjson.dumps(doc))
    assert err.value.path == path


def test_unknown_event_kind_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown kind"):
        codec.from_primitive(TicketEvent, {
            "event_id": "e", "ticket_id": "t", "ticket_number": "HL-1",
            "at": "2026-01-01T00:00:00Z", "actor": {"kind": "system"},
            "payload": {"kind": "teleported"}})


def test_records_are_frozen() -> None:
    chat = RawChatMessage(site_id="s", conversation_id="c", message_id="m", visitor_id="v",
                          text="hi", received_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        chat.text = "changed"  # type: ignore[misc]


def _message_doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "message_id": "m1", "channel": "email", "mailbox": "support",
        "received_at": "2026-01-01T00:00:00Z",
        "sender": {"name": "Ada", "address": "ada@example.org"},
        "to": [{"address": "a@example.org"}, {"address": "b@example.org"}],
        "references": ["<a@x>", "<b@x>", "<c@x>"],
        "flags": {"bounce": {"status": "5.1.1"}},
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"to": [{"address": "a@example.org"}, {"address": 7}]}, "$.to[1].address"),
        ({"to": [{"address": "a@example.org"}, "b@example.org"]}, "$.to[1]"),
        ({"references": ["<a@x>", "<b@x>", 3]}, "$.references[2]"),
        ({"references": "<a@x>"}, "$.references"),
        ({"flags": {"bounce": {"permanent": "yes"}}}, "$.flags.bounce.permanent"),
        ({"sender": {"name": "Ada"}}, "$.sender"),
        ({"date": "yesterday"}, "$.date"),
        ({"channel": "pigeon"}, "$.channel"),
        ({"attachments": [{"filename": "f"}]}, "$.attachments[0]"),
    ],
)
def test_decode_errors_name_nested_fields(changes: dict[str, object], path: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode(InboundMessage, orjson.dumps(_message_doc(**changes)))
    assert err.value.path == path


def test_unknown_fields_are_kept_when_declared_ones_are_absent() -> None:
    # as many unknown keys as absent declared ones: still recognised as unknown
    doc = _message_doc(x_new="1", x_newer=2)
    del doc["to"], doc["references"]
    msg = decode(InboundMessage, orjson.dumps(doc))
    assert msg.extra == {"x_new": "1", "x_newer": 2}
    assert msg.to == () and msg.references == ()
    assert decode(InboundMessage, orjson.dumps(_message_doc())).extra == {}
    event = {"event_id": "e", "ticket_id": "t", "ticket_number": "HL-1",
             "at": "2026-01-01T00:00:00Z", "actor": {"kind": "system"},
             "payload": {"kind": "merged", "into_ticket_id": "t2", "into_number": "HL-2",
                         "note": "n"}}
    decoded = codec.from_primitive(TicketEvent, event)
    assert decoded.payload.extra == {"note": "n"}
    assert orjson.loads(encode(decoded)) == {**event, "schema_version": 1,
                                              "at": "2026-01-01T00:00:00+00:00",
                                              "causation_id": None,
                                              "actor": {"kind": "system", "id": ""}}


@pytest.mark.parametrize("cls", [*RECORDS, *PAYLOADS], ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_constructor_builds_what_the_class_builds(cls: type, data: st.DataObject) -> None:
    record = data.draw(st.from_type(cls))
    make = codec.constructor(cls)
    assert make is not cls  # every wire record is slotted, without __post_init__
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    built = make(**values)
    assert type(built) is cls and built == record and built.extra == record.extra
    required = {f.name: values[f.name] for f in dataclasses.fields(record)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert make(**required) == cls(**required)
    assert make(**required).extra is not make(**required).extra  # a factory per record
    with pytest.raises(TypeError):
        make(**required, not_a_field=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.extra = {}


@pytest.mark.parametrize("cls", [*RECORDS, *PAYLOADS], ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_replacer_is_dataclasses_replace(cls: type, data: st.DataObject) -> None:
    record, other = data.draw(st.from_type(cls)), data.draw(st.from_type(cls))
    replace = codec.replacer(cls)
    names = [f.name for f in dataclasses.fields(record)]
    half = {n: getattr(other, n) for n in names[::2]}
    copied = replace(record, half)
    assert type(copied) is cls and copied == dataclasses.replace(record, **half)
    assert replace(record, {}) == record and replace(record, {}) is not record
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(copied, names[0], None)
    with pytest.raises(AttributeError):
        replace(record, {"not_a_field": 1})


@pytest.mark.parametrize("cls", [*RECORDS, *PAYLOADS], ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_fields_replacer_is_dataclasses_replace(cls: type, data: st.DataObject) -> None:
    record, other = data.draw(st.from_type(cls)), data.draw(st.from_type(cls))
    names = [f.name for f in dataclasses.fields(record)][1::2]
    replace = builders.fields_replacer(cls, *names)
    copied = replace(record, *(getattr(other, n) for n in names))
    half = {n: getattr(other, n) for n in names}
    assert type(copied) is cls and copied == dataclasses.replace(record, **half)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(copied, names[0] if names else "extra", None)
    with pytest.raises(ValueError):
        builders.fields_replacer(cls, "not_a_field")


@pytest.mark.parametrize("cls", [*RECORDS, *PAYLOADS], ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_positional_builds_what_the_class_builds(cls: type, data: st.DataObject) -> None:
    record = data.draw(st.from_type(cls))
    fields = dataclasses.fields(record)
    names = [f.name for f in fields if f.name != "extra"]
    values = {n: getattr(record, n) for n in names}
    built = builders.positional(cls, *reversed(names))(*reversed(values.values()))
    assert type(built) is cls and built == record
    required = [f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    make = builders.positional(cls, *required)
    assert make(*(values[n] for n in required)) == cls(**{n: values[n] for n in required})
    if "extra" in {f.name for f in fields}:  # a factory per record
        assert make(*(values[n] for n in required)).extra is not \
            make(*(values[n] for n in required)).extra
    with pytest.raises(ValueError):
        builders.positional(cls, *required, "not_a_field")
    if required:
        with pytest.raises(ValueError):  # a required field left out
            builders.positional(cls, *required[1:])


def test_builders_without_a_draft_fall_back_to_the_slot_setters() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Base:
        a: str = ""

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Derived(Base):  # slots of its own on top of a base's: no draft of that layout
        b: int = 0
        extra: Extra = extra_field()  # noqa: RUF009 - as schemas.base records do

    assert builders.draft_of(Derived) is None
    built = codec.constructor(Derived)(a="x", b=2)
    assert type(built) is Derived and built == Derived(a="x", b=2)
    decoded = codec.from_primitive(Derived, {"a": "y", "b": 3, "c": True})
    assert decoded == Derived(a="y", b=3) and decoded.extra == {"c": True}
    assert codec.replacer(Derived)(built, {"b": 5}) == Derived(a="x", b=5)
    assert builders.fields_replacer(Derived, "b")(built, 5) == Derived(a="x", b=5)
    assert builders.positional(Derived, "b", "a")(6, "y") == Derived(a="y", b=6)


def test_an_all_defaults_record_decodes_to_one_shared_instance() -> None:
    from schemas.message import Address, MessageFlags

    wire = orjson.loads(encode(MessageFlags()))
    first, second = (codec.from_primitive(MessageFlags, dict(wire)) for _ in range(2))
    assert first == MessageFlags() and first is second  # frozen, nothing mutable inside
    assert codec.from_primitive(MessageFlags, {**wire, "auto_reply": True}) is not first
    assert codec.from_primitive(MessageFlags, {**wire, "x": 1}).auto_reply is False
    for bad in ({**wire, "auto_reply": 0}, {**wire, "mailing_list": 0.0}):  # 0 == False
        with pytest.raises(DecodeError):
            codec.from_primitive(MessageFlags, bad)
    msg = decode(InboundMessage, encode(InboundMessage(
        message_id="m1", channel="email", mailbox="support",
        received_at=datetime(2026, 1, 1, tzinfo=UTC), sender=Address(address="a@example.org"))))
    assert msg.flags is first
