"""Request bodies: what the API accepts, and the clear error it gives for everything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.chat.payloads import Rejection, parse_json, post_message, start_conversation
from tests.support.chat_fakes import chat_settings

S = chat_settings()


def test_a_full_message_is_accepted() -> None:
    msg = post_message({"message_id": "m-1_a", "text": "Hello, my order is late",
                        "name": " Alice ", "email": "alice@example.com", "locale": "fr-FR",
                        "page_url": "https://shop.example/orders",
                        "fields": {"order": "A-17", "vip": True}}, S)
    assert msg.message_id == "m-1_a" and msg.text == "Hello, my order is late"
    assert msg.contact.name == "Alice" and msg.contact.email == "alice@example.com"
    assert msg.fields == {"order": "A-17", "vip": "true"}


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"text": "hi"}, 422, "missing-field", "message_id"),
    ({"message_id": "m1"}, 422, "missing-field", "text"),
    ({"message_id": "m1", "text": "   "}, 422, "empty-message", "text"),
    ({"message_id": "m1", "text": "x" * 501}, 422, "message-too-long", "text"),
    ({"message_id": "bad id!", "text": "hi"}, 422, "invalid-message-id", "message_id"),
    ({"message_id": "m1", "text": 5}, 422, "invalid-field", "text"),
    ({"message_id": "m1", "text": "hi", "email": "not-an-email"}, 422, "invalid-email", "email"),
    ({"message_id": "m1", "text": "hi", "locale": "'; drop"}, 422, "invalid-locale", "locale"),
    ({"message_id": "m1", "text": "hi", "page_url": "javascript:x"}, 422, "invalid-url",
     "page_url"),
    ({"message_id": "m1", "text": "hi", "fields": []}, 422, "invalid-field", "fields"),
    ({"message_id": "m1", "text": "hi", "fields": {"a": {"b": 1}}}, 422, "invalid-field",
     "fields"),
    ({"message_id": "m1", "text": "hi\x00"}, 422, "invalid-field", "text"),
])
def test_bad_messages_are_rejected_with_a_named_field(
    body: dict[str, Any], status: int, code: str, field: str
) -> None:
    with pytest.raises(Rejection) as info:
        post_message(body, S)
    assert (info.value.status, info.value.code, info.value.field) == (status, code, field)
    assert info.value.body().startswith(b'{"error":{"code":"' + code.encode())


def test_bodies_that_are_not_json_objects() -> None:
    with pytest.raises(Rejection) as info:
        parse_json(b"{not json")
    assert info.value.status == 400
    with pytest.raises(Rejection) as info:
        parse_json(b"[1, 2]")
    assert info.value.status == 422
    assert parse_json(b"") == {}


def test_start_needs_an_identifier_with_its_hash() -> None:
    with pytest.raises(Rejection):
        start_conversation({"identifier_hash": "ab"}, S)
    req = start_conversation({"identifier": "u1", "identifier_hash": "ab", "name": "Bo"}, S)
    assert (req.identifier, req.identifier_hash, req.contact.name) == ("u1", "ab", "Bo")


def test_rate_limit_rejections_carry_retry_after() -> None:
    r = Rejection(429, "rate-limited", "slow down", retry_after_s=7)
    assert r.headers() == {"Retry-After": "7"}
    assert b'"retry_after":7' in r.body()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=8,
)
_keys = st.sampled_from(["message_id", "text", "name", "email", "locale", "page_url", "fields",
                         "identifier", "identifier_hash", "visitor_token", "other"])


@given(st.dictionaries(_keys, _json | st.text(max_size=600), max_size=8))
def test_any_json_object_is_accepted_or_rejected_never_crashes(body: dict[str, Any]) -> None:
    for parse in (post_message, start_conversation):
        try:
            parse(body, S)
        except Rejection as exc:
            assert 400 <= exc.status < 500 and exc.message


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_rejected(data: bytes) -> None:
    try:
        parse_json(data)
    except Rejection as exc:
        assert exc.status in (400, 422)
