"""A chat ticket's subject comes from the visitor's first message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.chat.normalize import SUBJECT_CHARS, subject_from_text, to_inbound
from schemas.raw import RawChatMessage


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Hi! My order #1234 has not arrived.", "My order #1234 has not arrived."),
        ("Bonjour, ma commande n'est pas arrivée", "Ma commande n'est pas arrivée"),
        ("hello there,   my   login\tfails", "My login fails"),
        ("\n\n  Refund please\nI paid twice", "Refund please"),
        ("Hello", "Hello"),  # only a greeting: kept, better than nothing
        ("Dear support team, invoice 7 is wrong", "Invoice 7 is wrong"),
        ("", ""),
        ("Hi!!! 😕", "Hi!!! 😕"),
    ],
)
def test_subject_from_the_first_words(text: str, subject: str) -> None:
    assert subject_from_text(text) == subject


def test_long_first_messages_are_cut_on_a_word() -> None:
    text = "My printer " + "keeps jamming whenever I print double sided pages " * 5
    s = subject_from_text(text)
    assert len(s) <= SUBJECT_CHARS and s.endswith("…") and not s[:-1].endswith(" ")
    assert text.startswith(s[:-1])
    assert len(subject_from_text("x" * 500)) == SUBJECT_CHARS  # one endless word


def test_the_chat_message_carries_it() -> None:
    raw = RawChatMessage(site_id="demo", conversation_id="c1", message_id="m1", visitor_id="v1",
                         text="Hi! My order #1234 has not arrived.",
                         received_at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    msg = to_inbound(raw)
    assert msg.subject == msg.subject_normalized == "My order #1234 has not arrived."
