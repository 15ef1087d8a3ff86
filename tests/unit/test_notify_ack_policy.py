"""When a new ticket gets its acknowledgement — and when it never does. Pure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from notify.ack_policy import Acknowledge, AckPolicy, Refuse, Wait, decide, on_event
from schemas.events import TicketEvent
from schemas.message import MessageFlags
from tests.support.notify_builders import T0, created, flags_from_headers, message, sla

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "email"
POLICY = AckPolicy(own_addresses=frozenset({"support@acme.test"}), sla_wait=timedelta(seconds=30),
                   max_age=timedelta(hours=24), summary_chars=100)


def fold(events: list[TicketEvent]):  # type: ignore[no-untyped-def]
    draft = None
    for e in events:
        draft = on_event(draft, e)
    assert draft is not None
    return draft


def test_waits_for_the_first_message_then_for_the_sla() -> None:
    assert decide(fold([created("t1")]), T0, POLICY) == Wait(None)
    d = fold([created("t1"), message("t1")])
    assert decide(d, T0, POLICY) == Wait(T0 + timedelta(seconds=30))
    ack = decide(fold([created("t1"), message("t1"), sla("t1", T0 + timedelta(hours=4))]), T0,
                 POLICY)
    assert isinstance(ack, Acknowledge)
    assert ack.notification.context["first_response_due"] == "2026-11-25T13:00:00+00:00"
    assert ack.notification.in_reply_to == "<m1@example.com>"


def test_no_sla_within_the_wait_gives_a_generic_ack() -> None:
    d = fold([created("t1"), message("t1")])
    ack = decide(d, T0 + timedelta(seconds=30), POLICY)
    assert isinstance(ack, Acknowledge) and ack.notification.context["first_response_due"] == ""


def test_the_ack_id_is_one_per_ticket_and_deterministic() -> None:
    a = decide(fold([created("t1"), message("t1"), sla("t1", None)]), T0, POLICY)
    b = decide(fold([created("t1"), message("t1", text="other"), sla("t1", None)]), T0, POLICY)
    assert isinstance(a, Acknowledge) and isinstance(b, Acknowledge)
    assert a.notification.notification_id == b.notification.notification_id
    c = decide(fold([created("t2"), message("t2"), sla("t2", None)]), T0, POLICY)
    assert isinstance(c, Acknowledge)
    assert c.notification.notification_id != a.notification.notification_id


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ([created("t1"), message("t1", flags=MessageFlags(auto_reply=True))], "auto-reply"),
        ([created("t1", requester="noreply@shop.example"),
          message("t1", author="noreply@shop.example")], "machine-sender"),
        ([created("t1", requester="support@acme.test"), message("t1", author="support@acme.test")],
         "own-address"),
        ([created("t1"), message("t1", direction="outbound")], "agent-initiated"),
        ([created("t1"), message("t1"), message("t1", direction="outbound", mid="<r@x>")],
         "already-answered"),
    ],
)
def test_refusals(events: list[TicketEvent], reason: str) -> None:
    assert decide(fold([*events, sla("t1", None)]), T0, POLICY) == Refuse(reason)


def test_a_replay_of_old_history_never_mails() -> None:
    d = fold([created("t1"), message("t1"), sla("t1", None)])
    assert decide(d, T0 + timedelta(days=2), POLICY) == Refuse("too-old")


def test_chat_tickets_ack_into_the_chat() -> None:
    d = fold([created("t1", channel="chat", requester="visitor-1@chat.invalid",
                      conversation_id="conv-9"),
              message("t1", channel="chat"), sla("t1", None)])
    ack = decide(d, T0, POLICY)
    assert isinstance(ack, Acknowledge)
    assert ack.notification.channel == "chat" and ack.notification.conversation_id == "conv-9"


def _corpus(*names: str) -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus not present")
    return [CORPUS / n for n in names]


AUTOMATIC = (
    "chatwoot/auto_reply.eml",
    "chatwoot/auto_reply_with_auto_submitted.eml",
    "chatwoot/non_utf_encoded_mail.eml",
    "chatwoot/bounced_gmail.eml",
    "chatwoot/bounced_with_no_from.eml",
    *(f"sisimai-set-of-emails/maildir/bsd/rfc3834-0{i}.eml" for i in range(1, 6)),
)


@pytest.mark.parametrize("name", AUTOMATIC)
def test_corpus_auto_replies_and_bounces_are_never_acknowledged(name: str) -> None:
    (path,) = _corpus(name)
    flags = flags_from_headers(path.read_bytes())
    d = fold([created("t1"), message("t1", flags=flags), sla("t1", None)])
    decision = decide(d, T0, POLICY)
    assert isinstance(decision, Refuse), (name, flags)


def test_corpus_ordinary_mail_is_acknowledged() -> None:
    (path,) = _corpus("chatwoot/support.eml")
    flags = flags_from_headers(path.read_bytes())
    d = fold([created("t1"), message("t1", flags=flags), sla("t1", None)])
    assert isinstance(decide(d, T0, POLICY), Acknowledge)
