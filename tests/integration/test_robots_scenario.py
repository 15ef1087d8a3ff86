"""Robots are not tickets, for real: a morning's mail through the real pipeline (normalize,
tickets, route and notify under the real runner, a real Apache Kafka broker, a real SMTP
server receiving our acks).

13 customers write; a mailing-list digest, a no-reply receipt and a mail from our own address
arrive with them. Then the robots answer our acks: two out-of-office replies that quote the
ack's Message-ID, one that only keeps the ticket number in its subject, and a DSN bounce of
one ack. The agents' queue holds exactly the 13 customers' tickets; the three robots are in
the "not a ticket" bin with their reasons, the auto-replies and the bounce are filed on their
tickets (none reopened, nothing acknowledged twice), the bounced address is marked failing,
and ``helpline tickets bin restore`` turns a binned mail into a ticket after all.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest

from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import CUSTOMERS, RAW_EMAIL, TICKET_EVENTS, TICKETS_BIN
from tests.support.chat_kafka import topic_now
from tests.support.chat_pipeline import running_stages
from tests.support.kafka import produce, run
from tests.support.notify_sink import Received, SmtpSink
from tests.support.processes import run_cli

pytestmark = pytest.mark.integration

SUPPORT = "support@acme.test"
KEY = b"robots-scenario-key-0123456789ab"
WAIT_S = 90.0
CUSTOMERS_N = 13
DATE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def customer(i: int) -> str:
    return f"customer{i:02d}@customers.example"


def mail(sender: str, subject: str, body: str, mid: str, **headers: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, SUPPORT, subject
    m["Message-ID"], m["Date"] = mid, format_datetime(DATE)
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return bytes(m)


def dsn(ack: Received) -> bytes:
    """A Postfix-style delivery status notification returning our ack's headers."""
    to = ack.rcpt_tos[0]
    returned = "".join(f"{k}: {ack.message[k]}\n" for k in
                       ("From", "To", "Subject", "Message-ID", "In-Reply-To", "References"))
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customers.example>\n"
        f"To: {SUPPORT}\nSubject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <bounce-1@mx.customers.example>\n"
        f"Date: {format_datetime(DATE)}\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b1\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.customers.example\n\n"
        f"Final-Recipient: rfc822; {to}\nAction: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{to}>: Recipient address rejected\n\n"
        f"--b1\nContent-Type: text/rfc822-headers\n\n{returned}\n--b1--\n"
    ).replace("\n", "\r\n").encode()


def raw(data: bytes, n: int) -> tuple[bytes, RawEmail]:
    # received now: notify never acknowledges tickets older than a day (a replay of history)
    return b"support", RawEmail(source="smtp", mailbox="support", raw=data,
                                received_at=datetime.now(UTC) + timedelta(milliseconds=n))


def wait_until(cond: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def events(conn: KafkaConnection) -> list[Any]:
    return list({e.event_id: e for e in topic_now(conn, TICKET_EVENTS)}.values())


def bin_now(conn: KafkaConnection) -> dict[str, Any]:
    return {b.message_id: b for b in topic_now(conn, TICKETS_BIN)}


def test_robots_are_binned_or_filed_and_the_queue_holds_the_13_customers(
    kafka_conn: KafkaConnection,
) -> None:
    people = [raw(mail(customer(i), f"Order {i} has not arrived",
                       f"Hello, my order {i} is late. Where is it?",
                       f"<order-{i}@customers.example>"), i)
              for i in range(1, CUSTOMERS_N + 1)]
    robots_first = [
        raw(mail("Users list <digest@lists.example.org>", "Users Digest, Vol 12, Issue 3",
                 "Today's topics: ...", "<digest-12-3@lists.example.org>",
                 List_Id="Users <users.lists.example.org>",
                 List_Unsubscribe="<mailto:users-leave@lists.example.org>",
                 Precedence="list"), 20),
        raw(mail("Shop <noreply@shop.example>", "Your receipt for order 991",
                 "Thank you for your purchase.", "<receipt-991@shop.example>"), 21),
        raw(mail(f"ACME Support <{SUPPORT}>", "Test from our own address",
                 "Testing the support mailbox.", "<own-1@acme.test>"), 22),
    ]
    with SmtpSink() as sink:
        env = {"HELPLINE_NOTIFY__SMTP__PORT": str(sink.port),
               "HELPLINE_NOTIFY__SLA_WAIT_S": "1", "HELPLINE_NOTIFY__TICK_INTERVAL_S": "0.2",
               "HELPLINE_NOTIFY__DEFAULT_MAILBOX": json.dumps(
                   {"address": SUPPORT, "display_name": "ACME Support"}),
               # no tickets.own_addresses: the address notify sends from is ours anyway
               "HELPLINE_ROUTE__CLASSIFY_WAIT_SECONDS": "0"}
        with running_stages(kafka_conn, ("normalize", "tickets", "route", "notify"), KEY, env):
            run(produce(kafka_conn, RAW_EMAIL, people + robots_first))
            wait_until(lambda: len({r.rcpt_tos[0] for r in sink.received}) >= CUSTOMERS_N,
                       "an ack for each of the 13 customers")
            acks = {r.rcpt_tos[0]: r for r in sink.received}
            # the robots answer our acks
            a1, a2, a3, a4 = (acks[customer(i)] for i in (1, 2, 3, 4))
            number3 = str(a3.message["Subject"]).rsplit("[", 1)[1].rstrip("]")
            robots_then = [
                raw(mail(customer(1), f"Automatic reply: {a1.message['Subject']}",
                         "I am out of the office until Monday.", "<ooo-1@customers.example>",
                         In_Reply_To=a1.message_id, Auto_Submitted="auto-replied",
                         X_Autoreply="yes"), 30),
                raw(mail(customer(2), f"Réponse automatique : {a2.message['Subject']}",
                         "Je suis absente jusqu'à lundi.", "<ooo-2@customers.example>",
                         In_Reply_To=a2.message_id, References=a2.message_id,
                         Auto_Submitted="auto-replied"), 31),
                raw(mail(customer(3), f"Out of Office: Order 3 [{number3}]",
                         "Away this week.", "<ooo-3@customers.example>"), 32),
                raw(dsn(a4), 33),
            ]
            run(produce(kafka_conn, RAW_EMAIL, robots_then))

            def settled() -> bool:
                evs = events(kafka_conn)
                added = [e for e in evs if e.kind == "message-added"]
                return (sum(e.kind == "delivery-failed" for e in evs) == 1
                        and len(added) == CUSTOMERS_N + 3 and len(bin_now(kafka_conn)) == 3
                        and len({e.ticket_id for e in evs if e.kind in ("queued", "assigned")})
                        == CUSTOMERS_N)

            wait_until(settled, "robots filed and binned, the 13 tickets queued")
            # the binned mail is there for an operator; restored, it becomes a ticket
            listed = run_cli(kafka_conn, "tickets", "bin", "list", "--json")
            assert listed.returncode == 0, listed.stderr
            in_bin = json.loads(listed.stdout)
            receipt = next(b for b in in_bin if b["reason"] == "no-reply-sender")
            restored = run_cli(kafka_conn, "tickets", "bin", "restore", receipt["message_id"])
            assert restored.returncode == 0, restored.stderr
            wait_until(lambda: sum(e.kind == "created" for e in events(kafka_conn))
                       == CUSTOMERS_N + 1, "the restored receipt's ticket")
            final = events(kafka_conn)
            binned = bin_now(kafka_conn)
            customers = topic_now(kafka_conn, CUSTOMERS)
            sent = list(sink.received)

    created = {e.ticket_id: e.payload for e in final if e.kind == "created"}
    by_requester = {p.requester.address: tid for tid, p in created.items()}
    people_tickets = {by_requester[customer(i)] for i in range(1, CUSTOMERS_N + 1)}
    # the agents' queue: the 13 customers' tickets, no robot's
    queued = {e.ticket_id for e in final if e.kind in ("queued", "assigned")}
    assert people_tickets <= queued
    assert queued - people_tickets <= {by_requester["noreply@shop.example"]}  # restored by hand
    assert len(created) == CUSTOMERS_N + 1
    # the bin: each robot with its reason, kept
    reasons = {b.message.sender.address: (b.reason, b.detail) for b in binned.values()}
    assert reasons == {
        "digest@lists.example.org": ("mailing-list", "users.lists.example.org"),
        "noreply@shop.example": ("no-reply-sender", "noreply"),
        SUPPORT: ("own-address", SUPPORT),
    }
    assert [b.restored for b in binned.values()].count(True) == 1
    assert {b["reason"] for b in in_bin} == {"mailing-list", "no-reply-sender", "own-address"}
    # auto-replies filed on their tickets, none reopened or woken
    auto = [e for e in final if e.kind == "message-added" and e.payload.flags.auto_reply]
    assert sorted(e.ticket_id for e in auto) == sorted(
        by_requester[customer(i)] for i in (1, 2, 3))
    assert not [e for e in final if e.kind == "status-changed"
                and e.ticket_id in {by_requester[customer(i)] for i in (1, 2, 3)}]
    # the bounce: on the ticket of the ack it returned, the address marked failing
    (failed,) = [e for e in final if e.kind == "delivery-failed"]
    assert failed.ticket_id == by_requester[customer(4)]
    assert failed.payload.recipient == customer(4) and failed.payload.status == "5.1.1"
    marked = [c for c in customers if f"failing:{customer(4)}" in c.attributes]
    assert marked and customer(4) in marked[-1].emails
    # acks: one per customer, none to a robot, none twice
    assert Counter(r.rcpt_tos[0] for r in sent if r.rcpt_tos[0] != "noreply@shop.example") \
        == Counter({customer(i): 1 for i in range(1, CUSTOMERS_N + 1)})
