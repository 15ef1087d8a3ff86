"""Ticket ids and numbers, and signed reply tokens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tickets import numbers, reply_token

KEY = b"secret-key"


def test_ids_are_deterministic_and_address_safe() -> None:
    assert numbers.ticket_id_for("m1") == numbers.ticket_id_for("m1")
    assert numbers.ticket_id_for("m1") != numbers.ticket_id_for("m2")
    assert numbers.ticket_id_for("m1").isalnum()
    assert numbers.event_id("t", "c", "created") != numbers.event_id("t", "c", "message-added")


def test_number_format_and_parse_round_trip() -> None:
    text = numbers.format_number("HL", 2026, 123, 6)
    assert text == "HL-2026-000123"
    parsed = numbers.parse(text)
    assert parsed == numbers.TicketNumber(prefix="HL", year=2026, sequence=123)
    assert numbers.parse("hl-2026-000123") == parsed
    assert numbers.parse("HL-26-1") is None


@given(st.integers(1, 64), st.data())
def test_allocation_is_unique_across_partitions(stride: int, data: st.DataObject) -> None:
    slots = data.draw(st.sets(st.tuples(st.integers(0, stride - 1), st.integers(0, 500))))
    allocated = {numbers.allocate(p, i, stride) for p, i in slots}
    assert len(allocated) == len(slots)
    for p, i in slots:
        n = numbers.TicketNumber("HL", 2026, numbers.allocate(p, i, stride))
        assert n.partition_slot(stride) == (p, i)


def test_subject_numbers_only_with_our_prefix_in_brackets() -> None:
    subject = "Re: [HL-2026-000123] printer [XY-2026-000001] HL-2026-000999 [ hl-2026-000777 ]"
    assert numbers.subject_numbers(subject, "HL") == ("HL-2026-000123", "HL-2026-000777")


def test_reply_token_round_trip_and_tamper() -> None:
    token = reply_token.make("t0123456789abcdef", KEY)
    assert reply_token.verify(token, KEY) == "t0123456789abcdef"
    assert reply_token.verify(token.upper(), KEY) == "t0123456789abcdef"  # case-folding MTAs
    assert reply_token.verify(token, b"other-key") is None
    forged = token.replace("t0123456789abcdef", "t0123456789abcdee")
    assert reply_token.verify(forged, KEY) is None
    assert len("support+" + token) <= 64


def test_reply_token_found_in_message_ids_and_plus_addresses() -> None:
    mid = reply_token.message_id("t1", KEY, "abc", "helpdesk.example")
    assert reply_token.find(["<unrelated@x>", mid], KEY) == "t1"
    plus = reply_token.plus_address("support@acme.test", "t1", KEY)
    assert plus.startswith("support+hl-t1-") and plus.endswith("@acme.test")
    assert reply_token.find([plus], KEY) == "t1"
    assert reply_token.find(["<hl-t1-aaaaaaaaaaaaaaaa.x@y>"], KEY) is None


@given(st.text())
def test_verify_never_raises(token: str) -> None:
    assert reply_token.verify(token, KEY) is None or reply_token.TOKEN_PATTERN.fullmatch(
        token.strip().lower()
    )
