"""Robots are not tickets: each class of robot mail, where it goes and with what reason."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.bin import BinnedMessage
from schemas.message import Address, Bounce, MessageFlags
from schemas.topics import CUSTOMERS, TICKETS_BIN
from tests.support.tickets_builders import (
    KEY,
    action,
    chat,
    email,
    events_of,
    feed,
    make_stage,
    mid,
)
from tickets import reply_token
from tickets.intake import FAILING_PREFIX
from tickets.robots import BinRules, verdict

OWN = "support@acme.test"


def stage(**kw):
    return make_stage(own_addresses=(OWN,), **kw)


def binned(outs) -> list[BinnedMessage]:
    return [o.value for o in outs if o.topic.name == TICKETS_BIN.name]


def kinds(outs) -> list[str]:
    return [e.kind for e in events_of(outs)]


def listed(name: str, sender: str = "digest@lists.example.org"):
    return dataclasses.replace(email(name, sender, subject="Weekly digest"), flags=MessageFlags(
        mailing_list=True, list_id="users.lists.example.org"))


def flagged(name: str, sender: str, reason: str, **kw):
    return dataclasses.replace(email(name, sender, **kw), flags=MessageFlags(
        auto_reply=True, auto_reply_reason=reason))


def ack_id(tid: str) -> str:
    """The Message-ID our ack carried (notify builds it with the ticket's reply token)."""
    return reply_token.message_id(tid, KEY, "ack1", "acme.test")


@pytest.mark.parametrize(
    ("msg", "reason", "detail"),
    [
        (listed("l1"), "mailing-list", "users.lists.example.org"),
        (email("n1", "noreply@shop.example", subject="Your receipt"), "no-reply-sender",
         "noreply"),
        (email("n2", "do-not-reply+x@bank.example"), "no-reply-sender", "do-not-reply"),
        (email("n3", "Notifications@github.example"), "no-reply-sender", "notifications"),
        (email("o1", OWN, subject="Test from the support address"), "own-address", OWN),
        (flagged("a1", "bob@example.com", "auto-submitted: auto-replied"), "auto-reply",
         "auto-submitted: auto-replied"),
        (flagged("b1", "news@brand.example", "precedence: bulk"), "bulk", "precedence: bulk"),
        (flagged("a2", "eve@example.com", "out-of-office subject",
                 subject="Automatic reply: Your ticket"), "auto-reply", "out-of-office subject"),
        (flagged("a3", "eve@example.com", "out-of-office subject",
                 subject="Réponse automatique : absente"), "auto-reply", "out-of-office subject"),
        (email("d1", "mailer-daemon@mx.example", bounce=Bounce(
            original_recipient="gone@x.example", status="5.1.1",
            original_message_id="<not-ours@x>")), "bounce", "5.1.1 gone@x.example"),
    ],
)
def test_each_kind_of_robot_goes_to_the_bin_with_its_reason(msg, reason, detail) -> None:
    s = stage()
    outs = feed(s, [msg])
    assert kinds(outs) == []  # nothing for an agent's queue
    (b,) = binned(outs)
    assert (b.reason, b.detail, b.message) == (reason, detail, msg)
    assert b.at == msg.received_at and not b.restored


def test_people_are_tickets() -> None:
    s = stage()
    # a subject that only reads like an out-of-office is not enough to bin a person's mail
    ooo_subject = flagged("p2", "carla@example.com", "out-of-office subject",
                          subject="Absence de facture")
    for m in (email("p1", "dana@example.com"), ooo_subject,
              email("p3", "replyto@example.com", subject="reply")):
        outs = feed(s, [m])
        assert kinds(outs) == ["created", "message-added"] and binned(outs) == []


def test_chat_is_never_binned() -> None:
    msg = dataclasses.replace(chat("hello", "conv1", sender_email="noreply@x.example"))
    assert verdict(msg, BinRules()) is None


def test_each_class_can_be_switched_off_and_senders_allowed() -> None:
    s = stage(bin={"mailing_lists": False, "always_ticket": ["@shop.example"]})
    assert kinds(feed(s, [listed("l1")])) == ["created", "message-added"]
    assert kinds(feed(s, [email("n1", "noreply@shop.example")])) == ["created", "message-added"]
    assert binned(feed(s, [email("n2", "noreply@other.example")]))[0].reason == "no-reply-sender"


def test_bad_no_reply_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bad no-reply pattern"):
        stage(bin={"no_reply_patterns": ["(unclosed"]})


def test_out_of_office_answer_to_our_ack_is_filed_on_its_ticket_without_waking_it() -> None:
    s = stage()
    first = feed(s, [email("c1", "carla@example.com")])
    tid = events_of(first)[0].ticket_id
    feed(s, [action("p", tid, "set-status", status="pending")])
    ooo = flagged("c1-ooo", "carla@example.com", "auto-submitted: auto-replied",
                  subject="Réponse automatique : Nous avons bien reçu votre demande",
                  in_reply_to=[ack_id(tid)], minutes=1)
    outs = feed(s, [ooo])
    assert kinds(outs) == ["message-added"] and binned(outs) == []
    assert events_of(outs)[0].ticket_id == tid
    assert s.book.get(tid).status == "pending"  # not woken, not reopened


def test_out_of_office_on_a_solved_ticket_does_not_reopen_it() -> None:
    s = stage()
    tid = events_of(feed(s, [email("c1", "carla@example.com")]))[0].ticket_id
    feed(s, [action("s", tid, "set-status", status="solved")])
    ooo = flagged("c1-ooo", "carla@example.com", "x-autoreply", in_reply_to=[ack_id(tid)],
                  minutes=10)
    assert kinds(feed(s, [ooo])) == ["message-added"]
    assert s.book.get(tid).status == "solved"


def test_own_address_is_binned_even_when_it_names_a_ticket() -> None:
    s = stage()
    tid = events_of(feed(s, [email("c1", "carla@example.com")]))[0].ticket_id
    number = s.book.get(tid).number
    loop = email("own1", OWN, subject=f"Re: [{number}] Printer", to=("carla@example.com",),
                 minutes=2)
    outs = feed(s, [loop])
    assert kinds(outs) == [] and binned(outs)[0].reason == "own-address"


def test_bounce_of_our_ack_attaches_and_marks_the_address_failing() -> None:
    s = stage()
    tid = events_of(feed(s, [email("c1", "carla@example.com")]))[0].ticket_id
    dsn = email("dsn1", "mailer-daemon@mx.example", subject="Undelivered Mail", minutes=1,
                bounce=Bounce(original_recipient="carla@example.com", status="5.1.1",
                              diagnostic="550 5.1.1 user unknown",
                              original_message_id=ack_id(tid)))
    outs = feed(s, [dsn])
    assert kinds(outs) == ["delivery-failed"] and binned(outs) == []
    assert events_of(outs)[0].ticket_id == tid
    (customer,) = [o.value for o in outs if o.topic.name == CUSTOMERS.name]
    assert customer.attributes[f"{FAILING_PREFIX}carla@example.com"].startswith("5.1.1")
    assert "carla@example.com" in customer.emails
    # later mail from that customer is still hers: the same customer id
    later = feed(s, [email("c2", "carla@example.com", subject="other", minutes=5)])
    assert events_of(later)[0].payload.customer_id == customer.customer_id


def test_bounce_found_by_the_returned_mails_references_when_its_id_has_no_token() -> None:
    s = stage()
    tid = events_of(feed(s, [email("c1", "carla@example.com")]))[0].ticket_id
    dsn = email("dsn2", "postmaster@relay.example", minutes=1, bounce=Bounce(
        original_recipient="carla@example.com", status="5.2.2",
        original_message_id="<rewritten@relay.example>", original_references=(mid("c1"),)))
    outs = feed(s, [dsn])
    assert kinds(outs) == ["delivery-failed"] and events_of(outs)[0].ticket_id == tid
    # the same references from a stranger's bounce are not ours to file
    other = email("dsn3", "postmaster@relay.example", minutes=2, bounce=Bounce(
        original_recipient="someone@else.example", original_message_id="<r2@relay.example>",
        original_references=(mid("c1"),)))
    assert binned(feed(s, [other]))[0].reason == "bounce"


def test_restored_from_the_bin_becomes_a_ticket_once() -> None:
    s = stage()
    msg = listed("l1", "alice@lists.example.org")
    (b,) = binned(feed(s, [msg]))
    assert binned(feed(s, [b])) == [] and kinds(feed(s, [b])) == []  # our own write: ignored
    restored = dataclasses.replace(b, restored=True, restored_by="cli")
    outs = feed(s, [restored])
    assert kinds(outs) == ["created", "message-added"] and binned(outs) == []
    assert kinds(feed(s, [restored])) == []  # restored twice: one ticket
    assert events_of(outs)[0].payload.requester == Address(name="Alice",
                                                           address="alice@lists.example.org")


def test_a_dsn_names_the_thread_of_the_mail_it_returns() -> None:
    from ingest.mime.parse import parse_email
    from tests.support.tickets_builders import T0

    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        b"To: support@acme.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-9@mx.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n"
        b"\r\nFinal-Recipient: rfc822; carla@example.com\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: support@acme.test\r\nTo: carla@example.com\r\n"
        b"Message-ID: <relay-rewritten@relay.example>\r\n"
        b"In-Reply-To: <c1@mail.example>\r\nReferences: <root@mail.example>\r\n"
        b" <c1@mail.example>\r\n\r\n--B--\r\n"
    )
    msg = parse_email(raw, mailbox="support", received_at=T0)
    b = msg.flags.bounce
    assert b is not None and b.original_recipient == "carla@example.com"
    assert b.original_references == ("c1@mail.example", "root@mail.example")


def test_mail_from_the_address_notify_sends_from_is_ours() -> None:
    from notify.settings import MailboxIdentity, NotifySettings
    from tickets.stage import sending_addresses

    notify = NotifySettings(default_mailbox=MailboxIdentity(address="Help@Acme.test"),
                            mailboxes={"b": MailboxIdentity(address="billing@acme.test")},
                            own_addresses=("alias@acme.test",))
    assert sending_addresses(notify) == ("help@acme.test", "billing@acme.test",
                                         "alias@acme.test")
    assert sending_addresses(None) == ()


def test_the_bin_is_visible_and_recoverable_over_the_api() -> None:
    from starlette.testclient import TestClient

    from tests.support.tickets_builders import view_of
    from tickets.api import build_app

    s = stage()
    outs = feed(s, [listed("l1"), email("p1", "dana@example.com")])
    view = view_of(outs)
    for b in binned(outs):
        view.apply_binned(b)
    restored: list[BinnedMessage] = []

    async def restore(b: BinnedMessage) -> None:
        restored.append(b)

    client = TestClient(build_app(view, token="t0k", restore=restore),
                        base_url="http://localhost:8086")
    auth = {"Authorization": "Bearer t0k"}
    assert client.get("/bin").status_code == 401  # reads need the token once one is set
    listed_now = client.get("/bin", headers=auth).json()
    assert listed_now["count"] == 1
    (entry,) = listed_now["binned"]
    assert (entry["reason"], entry["detail"]) == ("mailing-list", "users.lists.example.org")
    mid = entry["message_id"]
    assert client.post(f"/bin/{mid}/restore").status_code == 401
    r = client.post(f"/bin/{mid}/restore", headers=auth)
    assert r.status_code == 202 and r.json()["restored"] is True
    (b,) = restored
    assert b.restored and b.restored_by == "api"
    # what the API queued is what the stage takes in as a ticket
    assert kinds(feed(s, [b])) == ["created", "message-added"]
    assert client.post("/bin/nope/restore", headers=auth).status_code == 404
