"""Threading headers: deterministic Message-ID with the reply token, subject tag, references."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from notify import headers
from tickets import reply_token

KEY = b"s" * 32


def test_message_id_carries_a_verifiable_token_and_is_deterministic() -> None:
    token = reply_token.make("t42", KEY)
    a = headers.message_id("ack-0123", token, "acme.test")
    assert a == headers.message_id("ack-0123", token, "acme.test")
    assert a != headers.message_id("ack-0124", token, "acme.test")
    assert a.startswith("<") and a.endswith("@acme.test>")
    assert reply_token.find([a], KEY) == "t42"


def test_plus_address_carries_the_token() -> None:
    token = reply_token.make("t42", KEY)
    addr = headers.plus_address("support+old@acme.test", token)
    assert addr == f"support+{token}@acme.test"
    assert reply_token.find([addr], KEY) == "t42"


def test_subject_gets_the_number_once() -> None:
    assert headers.subject_with_number("Help", "HL-2026-000001") == "Help [HL-2026-000001]"
    tagged = "Re: Help [hl-2026-000001]"
    assert headers.subject_with_number(tagged, "HL-2026-000001") == tagged
    assert headers.subject_with_number("", "HL-1") == "[HL-1]"


@given(st.text())
def test_header_text_is_one_line(value: str) -> None:
    cleaned = headers.clean_header_text(value)
    assert "\n" not in cleaned and "\r" not in cleaned and len(cleaned) <= 200


def test_references_keep_root_and_are_bounded() -> None:
    refs = [f"<r{i}@x>" for i in range(50)]
    out = headers.references_for("<last@x>", refs)
    assert out[0] == "<r0@x>" and out[-1] == "<last@x>"
    assert len(out) == headers.MAX_REFERENCES
    assert headers.references_for("bare@x", ()) == ("<bare@x>",)
