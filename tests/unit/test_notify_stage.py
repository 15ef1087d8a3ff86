"""The notify stage with in-memory ports: acks, exactly-once across restarts, retries, DLQ,
bounces, caps, digests, chat. (Against a real SMTP server: tests/integration.)"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from notify.ack_policy import ack_notification_id
from notify.dispatch import ack_event_id
from notify.transport import DeliveryError
from schemas.message import MessageFlags
from tests.support.notify_builders import (
    T0,
    alert,
    hard_bounce,
    later,
    make_stage,
    new_ticket,
    of_topic,
    records,
    restored,
    sla,
)


class Killed(BaseException):
    """The worker dies (kill -9) right after the relay accepted the mail."""


class KillAfterAccept:
    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, mail):  # type: ignore[no-untyped-def]
        self.sent.append(mail)
        raise Killed

    async def close(self) -> None:
        return None


async def test_ack_waits_for_sla_then_goes_out_with_threading_headers() -> None:
    stage, transport, journal = make_stage()
    outs = await stage.process(records(new_ticket("t000001")), T0)
    assert transport.sent == [] and of_topic(outs, "notify.results") == []
    assert [r.phase for r in journal.records] == ["deferred"]
    outs = await stage.process(records([sla("t000001", T0 + timedelta(hours=4))]), later(5))
    (mail,) = transport.sent
    msg = mail.parsed()
    assert msg["In-Reply-To"] == "<m1@example.com>"
    assert "<root@example.com>" in msg["References"]
    assert "[HL-2026-000001]" in msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Reply-To"].startswith("support+hl-t000001-")
    assert "2 pm (CET)" in msg.get_body(("plain",)).get_content()
    assert [r.phase for r in journal.records] == ["deferred", "intent", "final"]
    # a sent ack's follow-ups are published before its final record, not left to the runner
    assert of_topic(outs, "ticket.events") == []
    (event,) = of_topic(journal.published, "ticket.events")
    assert event.kind == "ack-sent" and event.payload.message_id == mail.message_id
    assert event.payload.resent is False
    (result,) = of_topic(journal.published, "notify.results")
    assert result.outcome == "sent" and result.notification is None


async def test_no_sla_in_time_means_a_generic_ack_from_the_timer() -> None:
    stage, transport, journal = make_stage()
    await stage.process(records(new_ticket("t000001")), T0)
    assert await stage.run_timers(later(10)) == [] and transport.sent == []
    await stage.run_timers(later(31))
    (mail,) = transport.sent
    assert "within 24 hours" in mail.parsed().get_body(("plain",)).get_content()
    kinds = Counter(o.topic.name for o in journal.published)
    assert kinds == {"ticket.events": 1, "notify.results": 1}  # published by the timer itself


async def test_redelivered_events_never_send_twice_and_re_emit_the_same_records() -> None:
    stage, transport, journal = make_stage()
    batch = records([*new_ticket("t000001"), sla("t000001", None)])
    first = await stage.process(batch, T0)
    again = await stage.process(batch, later(1))  # same worker, redelivery
    worker2, transport2, journal2 = restored(journal)  # a new worker after a crash
    third = await worker2.process(batch, later(2))
    assert len(transport.sent) == 1 and transport2.sent == []
    # the ack-sent event is in the log once, not once per redelivery (issue #17 item 5)
    assert [e.kind for e in of_topic(journal.published, "ticket.events")] == ["ack-sent"]
    assert of_topic(journal2.published, "ticket.events") == []
    assert of_topic(first + again + third, "ticket.events") == []


async def test_killed_between_send_and_final_resends_with_the_same_message_id() -> None:
    killer = KillAfterAccept()
    stage, _, journal = make_stage(transport=killer)  # type: ignore[arg-type]
    try:
        await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    except Killed:
        pass
    assert [r.phase for r in journal.records] == ["intent"]  # in doubt
    worker2, transport2, journal2 = restored(journal)
    await worker2.run_timers(later(1))
    (first,), (second,) = killer.sent, transport2.sent
    assert first.message_id == second.message_id  # the receiver collapses the two
    assert journal2.records[-1].phase == "final" and journal2.records[-1].outcome == "sent"
    # and the follow-ups were published by the recovery itself, the resend marked and
    # counted under an event id of its own
    (event,) = of_topic(journal2.published, "ticket.events")
    assert event.kind == "ack-sent" and event.payload.resent is True
    assert event.event_id == ack_event_id("t000001", ack_notification_id("t000001"), True)
    assert event.event_id != ack_event_id("t000001", ack_notification_id("t000001"))


async def test_in_doubt_skip_rule_gives_up_instead() -> None:
    killer = KillAfterAccept()
    stage, _, journal = make_stage(transport=killer)  # type: ignore[arg-type]
    try:
        await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    except Killed:
        pass
    worker2, transport2, journal2 = restored(journal, in_doubt="skip")
    await worker2.run_timers(later(1))
    assert transport2.sent == []
    assert journal2.records[-1].outcome == "failed" and "in-doubt" in journal2.records[-1].detail


async def test_restart_while_waiting_for_the_sla_still_acks() -> None:
    stage, transport, journal = make_stage()
    await stage.process(records(new_ticket("t000001")), T0)  # committed, then the worker dies
    worker2, transport2, _ = restored(journal)
    await worker2.run_timers(later(5))
    assert transport2.sent == []
    await worker2.run_timers(later(31))
    assert len(transport2.sent) == 1 and transport.sent == []


async def test_4xx_retries_with_backoff_then_succeeds() -> None:
    stage, transport, journal = make_stage(retry_backoff_s=10)
    transport.fail_with = [DeliveryError("busy", retriable=True, server_reply="451 4.3.0 later")]
    outs = await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    (r,) = of_topic(outs, "notify.results")
    assert r.outcome == "retrying" and r.server_reply == "451 4.3.0 later"
    await stage.run_timers(later(5))
    assert transport.sent == []  # backoff not over
    await stage.run_timers(later(11))
    assert len(transport.sent) == 1
    assert journal.records[-1].outcome == "sent" and journal.records[-1].attempts == 2


async def test_retriable_failures_give_up_after_max_attempts() -> None:
    stage, transport, journal = make_stage(retry_backoff_s=1, max_attempts=2)
    transport.fail_with = [DeliveryError("t", retriable=True)] * 2
    await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    await stage.run_timers(later(2))
    assert journal.records[-1].outcome == "failed"
    assert "gave up after 2 attempts" in journal.records[-1].detail


async def test_5xx_fails_with_the_server_reply_and_a_dead_letter() -> None:
    stage, transport, _ = make_stage()
    reply = "550 5.1.1 <alice@example.com>: Recipient address rejected"
    transport.fail_with = [DeliveryError("no", retriable=False, server_reply=reply, code=550)]
    outs = await stage.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    (r,) = of_topic(outs, "notify.results")
    assert (r.outcome, r.server_reply) == ("failed", reply)
    (letter,) = of_topic(outs, "dlq.notify")
    assert letter.error == reply and b"auto-ack" in letter.value
    assert of_topic(outs, "ticket.events") == []


async def test_auto_reply_is_suppressed_with_a_reason() -> None:
    stage, transport, _ = make_stage()
    events = [*new_ticket("t000001", flags=MessageFlags(auto_reply=True)), sla("t000001", None)]
    outs = await stage.process(records(events), T0)
    (r,) = of_topic(outs, "notify.results")
    assert transport.sent == [] and (r.outcome, r.detail) == ("suppressed", "auto-reply")


async def test_hard_bounce_suppresses_later_acks_even_after_restart() -> None:
    stage, _transport, journal = make_stage()
    await stage.process(records([hard_bounce("t000009", "alice@example.com")]), T0)
    worker2, transport2, _ = restored(journal)
    outs = await worker2.process(records([*new_ticket("t000001"), sla("t000001", None)]), T0)
    (r,) = of_topic(outs, "notify.results")
    assert transport2.sent == [] and r.detail == "hard-bounced"


async def test_per_recipient_cap() -> None:
    stage, transport, _ = make_stage(recipient_cap=2, recipient_window_s=3600)
    for i in range(1, 4):
        tid = f"t00000{i}"
        outs = await stage.process(records([*new_ticket(tid, mid=f"<m{i}@x>"), sla(tid, None)]),
                                   later(i))
    assert len(transport.sent) == 2
    (r,) = of_topic(outs, "notify.results")
    assert r.detail == "recipient-cap"


async def test_alert_storm_becomes_one_digest() -> None:
    stage, transport, journal = make_stage(alert_burst=2, alert_window_s=300)
    outs = await stage.process(records([alert(f"a{i}") for i in range(6)]), T0)
    assert len(transport.sent) == 2
    assert [r.outcome for r in of_topic(outs, "notify.results")] == ["sent", "sent"]
    await stage.run_timers(later(100))
    assert len(transport.sent) == 2
    await stage.run_timers(later(301))
    assert len(transport.sent) == 3
    digest = transport.sent[-1].parsed().get_body(("plain",)).get_content()
    assert "4 alerts" in digest and digest.count("[HL-2026-000001]") == 4
    finals = {r.notification_id: r for r in journal.records if r.phase == "final"}
    assert all(finals[f"a{i}"].outcome == "sent" for i in range(6))


async def test_chat_ticket_is_acknowledged_in_the_chat() -> None:
    stage, transport, _journal = make_stage()
    events = [*new_ticket("t000001", channel="chat", requester="visitor@example.com",
                          conversation_id="conv-1"), sla("t000001", None)]
    outs = await stage.process(records(events), T0)
    assert transport.sent == []
    assert outs == []  # the chat ack's records are published before its final record
    (reply,) = of_topic(_journal.published, "chat.outbound")
    assert reply.conversation_id == "conv-1" and "HL-2026-000001" in reply.text
    assert reply.notification_id == ack_notification_id("t000001")
    assert [e.kind for e in of_topic(_journal.published, "ticket.events")] == ["ack-sent"]
    assert [(r.phase, r.outcome) for r in _journal.records] == [("final", "sent")]


async def test_french_customer_gets_french() -> None:
    stage, transport, _ = make_stage()
    await stage.process(records([*new_ticket("t000001", language="fr"), sla("t000001", None)]),
                        T0)
    (mail,) = transport.sent
    assert mail.parsed()["Content-Language"] == "fr"
    assert "Bonjour Alice" in mail.parsed().get_body(("plain",)).get_content()


async def test_redelivery_of_only_the_last_event_emits_no_second_ack_sent_event() -> None:
    # batch A (created, message) was committed; the worker died after sending the ack for
    # batch B (sla-applied) but before the runner committed B: the ack-sent event was
    # published before the ack's final record, so the redelivery of B adds nothing
    stage, _, journal = make_stage()
    await stage.process(records(new_ticket("t000001")), T0)
    first = await stage.process(records([sla("t000001", None)]), later(1))
    worker2, transport2, journal2 = restored(journal)
    again = await worker2.process(records([sla("t000001", None)]), later(2))
    assert transport2.sent == []
    assert of_topic(first + again, "ticket.events") == []
    assert len(of_topic(journal.published, "ticket.events")) == 1
    assert of_topic(journal2.published, "ticket.events") == []
    # a later event on the ticket (a customer's reply) does not re-emit anything
    later_reply = await worker2.process(records([sla("t000001", None, at=later(60))]), later(61))
    assert of_topic(later_reply, "ticket.events") == []


def _outbox(**kw):  # type: ignore[no-untyped-def]
    from schemas.message import Address
    from schemas.notification import Notification

    base = dict(notification_id="n1", kind="agent-reply", channel="email", ticket_id="t000001",
                ticket_number="HL-2026-000001", created_at=T0, mailbox="acme",
                recipient=Address(name="Alice", address="alice@example.com"))
    base.update(kw)
    return Notification(**base)  # type: ignore[arg-type]


async def test_route_alert_shape_with_a_per_kind_template_name_is_sent() -> None:
    stage, transport, _ = make_stage()
    from schemas.message import Address

    n = _outbox(kind="sla-breach", template="sla-breach", subject="[#HL-2026-000001] Printer",
                recipient=Address(address="sup@acme.test"),
                context={"reason": "resolution overdue", "team": "l1"})
    outs = await stage.process(records([n]), T0)
    (mail,) = transport.sent
    msg = mail.parsed()
    assert str(msg["Subject"]).count("HL-2026-000001") == 1
    assert "resolution overdue" in msg.get_body(("plain",)).get_content()
    assert msg["Auto-Submitted"] == "auto-generated"
    assert [r.outcome for r in of_topic(outs, "notify.results")] == ["sent"]


async def test_agent_reply_shapes_keep_the_agents_words_and_are_not_automatic() -> None:
    stage, transport, _ = make_stage()
    text = "Hello Alice,\n\nThe technician comes tomorrow.\n\nGrace"
    email_reply = _outbox(template="master-solved", subject="Re: [HL-2026-000001] Printer",
                          context={"text": text, "agent_id": "a1"}, in_reply_to="<m1@x>")
    chat_reply = _outbox(notification_id="n2", channel="chat", conversation_id="conv-1",
                         template="agent-reply", context={"text": text, "agent_id": "a1"})
    outs = await stage.process(records([email_reply, chat_reply]), T0)
    (mail,) = transport.sent
    msg = mail.parsed()
    assert msg["Auto-Submitted"] is None and msg["In-Reply-To"] == "<m1@x>"
    assert text in msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    (reply,) = of_topic(outs, "chat.outbound")
    assert reply.text == text


async def test_a_dead_lettered_notification_put_back_on_the_outbox_is_tried_again() -> None:
    stage, transport, _ = make_stage()
    n = alert("a1")
    transport.fail_with = [DeliveryError("no", retriable=False, server_reply="550 5.1.1 no")]
    first = await stage.process(records([n]), T0)
    (letter,) = of_topic(first, "dlq.notify")
    from schemas.codec import decode
    from schemas.notification import Notification

    replayed = decode(Notification, letter.value)  # what `helpline replay` puts back
    again = await stage.process(records([replayed]), later(60))
    assert len(transport.sent) == 1
    assert [r.outcome for r in of_topic(again, "notify.results")] == ["sent"]


async def test_a_worker_catching_up_on_a_backlog_still_waits_for_the_sla() -> None:
    stage, transport, _ = make_stage(sla_wait_s=30)
    # the ticket's events are an hour old when this worker reads them
    await stage.process(records(new_ticket("t000001")), later(3600))
    assert transport.sent == []
    await stage.process(records([sla("t000001", T0 + timedelta(hours=4))]), later(3605))
    (mail,) = transport.sent
    assert "2 pm (CET)" in mail.parsed().get_body(("plain",)).get_content()


async def test_a_burst_of_assignments_to_one_agent_becomes_one_digest() -> None:
    from dataclasses import replace as _replace

    stage, transport, journal = make_stage(assignment_burst=1, assignment_window_s=120,
                                           console_url="https://console.acme.test")
    notes = [_replace(alert(f"as{i}", kind="assignment", to="bob@acme.test",
                            tid=f"t00000{i}"), ticket_number=f"HL-2026-00000{i}",
                      context={"ticket_subject": f"Order {i}", "priority": "high",
                               "customer_address": f"c{i}@example.com"})
             for i in range(1, 5)]
    other = alert("sla1", to="bob@acme.test")  # an alert is not held with the assignments
    await stage.process(records([*notes, other]), T0)
    assert len(transport.sent) == 2  # the first assignment and the alert, at once
    first = transport.sent[0].parsed()
    assert "Order 1" in str(first["Subject"])
    assert "https://console.acme.test/tickets/HL-2026-000001" in first.get_body(
        ("plain",)).get_content()
    await stage.run_timers(later(60))
    assert len(transport.sent) == 2
    await stage.run_timers(later(121))
    assert len(transport.sent) == 3
    digest = transport.sent[-1].parsed()
    text = digest.get_body(("plain",)).get_content()
    assert str(digest["Subject"]) == "3 tickets assigned to you"
    assert all(f"[HL-2026-00000{i}] Order {i}" in text for i in (2, 3, 4))
    finals = {r.notification_id: r for r in journal.records if r.phase == "final"}
    assert all(finals[f"as{i}"].outcome == "sent" for i in range(1, 5))


async def test_a_chat_receipt_suppresses_the_fallback_email_another_replica_decides() -> None:
    # issue #17 item 7: replica A pushed the reply to the widget and hands over its receipt;
    # replica B, without the stream, decides 2 minutes later that the visitor left
    from ingest.chat.continuity import delivered_in_chat, email_fallback
    from schemas.notification import ChatReply

    chat = ChatReply(notification_id="n1", site_id="acme", conversation_id="c_1",
                     ticket_id="t000001", ticket_number="HL-2026-000001", kind="agent-reply",
                     text="Here is your answer", at=T0)
    stage, transport, journal = make_stage()
    await stage.process(records([delivered_in_chat(chat, T0)]), T0)
    await stage.process(records([email_fallback(chat, "alice@example.com", "Alice",
                                                later(120))]), later(120))
    assert transport.sent == []
    (final,) = [r for r in journal.records if r.phase == "final"]
    assert (final.outcome, final.detail) == ("suppressed", "delivered-in-chat")
    # with no receipt (the visitor really left), the same fallback is emailed
    stage2, transport2, _ = make_stage()
    await stage2.process(records([email_fallback(chat, "alice@example.com", "Alice",
                                                 later(120))]), later(120))
    assert len(transport2.sent) == 1
