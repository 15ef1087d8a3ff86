"""Where replies go: pushed to an open widget, kept for a reconnecting one, emailed once the
visitor left (and only then, and only once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.chat.continuity import ConversationBook, fallback_notification_id
from schemas.notification import ChatReply
from tests.support.chat_fakes import chat_settings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEY = ("acme", "c_1")


def reply(n: int = 1, kind: str = "agent-reply", fallback: str | None = None) -> ChatReply:
    return ChatReply(notification_id=f"n{n}", site_id="acme", conversation_id="c_1",
                     ticket_id="t1", ticket_number="1001", kind=kind,  # type: ignore[arg-type]
                     text=f"answer {n}", at=T0, fallback_email=fallback)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_open_stream_gets_the_reply_live_and_nothing_is_emailed() -> None:
    book = ConversationBook(chat_settings())
    book.visitor_wrote(KEY, T0, "alice@example.com", "Alice")
    book.stream_opened(KEY, T0)
    assert book.reply_arrived(reply(), at(1)) is True
    assert book.due_for_email(at(3600)) == []


def test_a_reconnecting_widget_gets_the_backlog_and_no_email_follows() -> None:
    book = ConversationBook(chat_settings())
    book.visitor_wrote(KEY, T0, "alice@example.com", None)
    assert book.reply_arrived(reply(), at(1)) is False
    assert [r.notification_id for r in book.stream_opened(KEY, at(30))] == ["n1"]
    book.stream_closed(KEY, at(31))
    assert book.due_for_email(at(3600)) == []


def test_the_reply_is_emailed_once_the_visitor_left() -> None:
    book = ConversationBook(chat_settings(left_after_s=60))
    book.visitor_wrote(KEY, T0, "alice@example.com", "Alice")
    book.stream_opened(KEY, T0)
    book.stream_closed(KEY, at(5))
    book.reply_arrived(reply(), at(10))
    assert book.due_for_email(at(69)) == []  # still within the grace period
    due = book.due_for_email(at(70))
    assert len(due) == 1
    note = due[0]
    assert note.channel == "email" and note.kind == "agent-reply"
    assert note.recipient is not None and note.recipient.address == "alice@example.com"
    assert note.ticket_id == "t1" and note.context["text"] == "answer 1"
    assert note.notification_id == fallback_notification_id(reply())
    again = book.due_for_email(at(80))  # not handed over yet: still due, under the same id
    assert [n.notification_id for n in again] == [note.notification_id]
    book.email_handed_over(note)
    assert book.due_for_email(at(90)) == []


def test_no_email_without_an_address_or_for_replayed_or_other_kinds() -> None:
    book = ConversationBook(chat_settings(email_fallback_kinds=("agent-reply",)))
    book.reply_arrived(reply(1), T0)  # no email known
    book.reply_arrived(reply(2, kind="auto-ack", fallback="a@example.com"), T0)
    book.reply_arrived(reply(3, fallback="a@example.com"), T0, replayed=True)
    assert book.due_for_email(at(3600)) == []
    book.reply_arrived(reply(4, fallback="a@example.com"), at(3600))
    assert [n.context["chat_notification_id"] for n in book.due_for_email(at(7200))] == ["n4"]


def test_a_redelivered_reply_is_kept_once() -> None:
    book = ConversationBook(chat_settings())
    book.stream_opened(KEY, T0)
    assert book.reply_arrived(reply(), T0) is True
    assert book.reply_arrived(reply(), T0) is False
    assert len(book.backlog(KEY)) == 1


def test_idle_conversations_are_forgotten() -> None:
    book = ConversationBook(chat_settings(conversation_idle_s=600))
    book.visitor_wrote(KEY, T0, None, None)
    book.visitor_wrote(("acme", "c_2"), at(500), None, None)
    assert book.forget_idle(at(700)) == 1
    assert len(book) == 1


def test_two_replicas_the_one_holding_the_stream_hands_over_a_receipt_under_the_email_id(
) -> None:
    # issue #17 item 7: both replicas read chat.outbound; only A holds the visitor's stream
    a, b = ConversationBook(chat_settings(left_after_s=60)), ConversationBook(
        chat_settings(left_after_s=60))
    for book in (a, b):
        book.visitor_wrote(KEY, T0, "alice@example.com", "Alice")
    a.stream_opened(KEY, T0)
    assert a.reply_arrived(reply(), at(1)) is True
    assert b.reply_arrived(reply(), at(1)) is False
    (receipt,) = a.receipts(at(2))
    (fallback,) = b.due_for_email(at(70))  # B cannot know the visitor saw it ...
    # ... but its email has the receipt's id, which notify has recorded as suppressed
    assert receipt.notification_id == fallback.notification_id
    assert receipt.context["via"] == "chat-delivered" and receipt.recipient is None
    a.receipt_handed_over(receipt)
    assert a.receipts(at(3)) == [] and a.due_for_email(at(3600)) == []


def test_a_reconnecting_widget_also_hands_over_receipts_for_its_backlog() -> None:
    book = ConversationBook(chat_settings())
    book.reply_arrived(reply(1), T0)
    book.reply_arrived(reply(2, kind="sla-warning"), T0)  # never emailed: no receipt needed
    assert book.receipts(at(1)) == []
    book.stream_opened(KEY, at(5))
    assert [r.context["chat_notification_id"] for r in book.receipts(at(6))] == ["n1"]
