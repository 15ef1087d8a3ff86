"""Agent actions: replies, notes, status, priority, assignment, merge, master tickets."""

from __future__ import annotations

import pytest

from schemas.topics import NOTIFY_OUTBOX
from tests.support.tickets_builders import (
    action,
    chat,
    email,
    events_of,
    feed,
    make_stage,
    mid,
    records,
)
from tickets.commands import InvalidCommand


def opened(stage, name="a1", sender="alice@example.com"):
    return events_of(feed(stage, [email(name, sender)]))[0].ticket_id


def notes(outs):
    return [o.value for o in outs if o.topic is NOTIFY_OUTBOX]


def test_reply_adds_outbound_message_and_notifies_requester_by_email() -> None:
    stage = make_stage()
    tid = opened(stage)
    outs = feed(stage, [action("c1", tid, "reply", text="Have you tried turning it off?")])
    added, status = events_of(outs)
    assert added.payload.direction == "outbound" and added.actor.kind == "agent"
    assert status.payload.to_status == "open"
    (n,) = notes(outs)
    assert (n.kind, n.channel, n.recipient.address) == ("agent-reply", "email", "alice@example.com")
    assert n.in_reply_to == mid("a1") and n.subject.startswith("Re: [HL-2026-000001]")
    assert n.context["text"] == "Have you tried turning it off?"
    ticket = stage.book.get(tid)
    assert ticket is not None and ticket.outbound_count == 1 and ticket.first_response_at


def test_reply_is_idempotent_per_command_id() -> None:
    stage = make_stage()
    tid = opened(stage)
    first = feed(stage, [action("c1", tid, "reply", text="hi", status="pending")])
    again = feed(stage, [action("c1", tid, "reply", text="hi", status="pending")])
    assert len(events_of(first)) == 2
    assert events_of(again) == []
    assert notes(again) == notes(first)  # same notification id: the sent-log stops a resend


def test_chat_reply_goes_to_chat() -> None:
    stage = make_stage()
    tid = events_of(feed(stage, [chat("hi", "conv1")]))[0].ticket_id
    (n,) = notes(feed(stage, [action("c1", tid, "reply", text="hello")]))
    assert n.channel == "chat" and n.conversation_id == "conv1"


def test_note_is_internal() -> None:
    stage = make_stage()
    tid = opened(stage)
    outs = feed(stage, [action("c1", tid, "note", text="customer is grumpy")])
    assert [e.payload.direction for e in events_of(outs)] == ["note"]
    assert notes(outs) == []


def test_status_priority_assign_escalate_by_number() -> None:
    stage = make_stage()
    tid = opened(stage)
    outs = feed(stage, [
        action("c1", "HL-2026-000001", "set-priority", priority="urgent"),
        action("c2", tid, "assign", assignee="agent-7"),
        action("c3", tid, "escalate", reason="needs L2"),
        action("c4", tid, "set-status", status="on-hold"),
        action("c5", tid, "set-status", status="on-hold"),
        action("c6", tid, "assign", assignee=None),
    ])
    assert [e.kind for e in events_of(outs)] == [
        "priority-changed", "assigned", "escalated", "status-changed", "unassigned"]
    t = stage.book.get(tid)
    assert t is not None
    assert (t.priority, t.assignee, t.tier, t.status) == ("urgent", None, "L2", "on-hold")


def test_merge_closes_source_and_links_target() -> None:
    stage = make_stage()
    t1, t2 = opened(stage), opened(stage, "b1", "bob@example.com")
    outs = feed(stage, [action("c1", t1, "merge", target_ticket_id=t2)])
    assert [(e.ticket_id, e.kind) for e in events_of(outs)] == [
        (t1, "merged"), (t1, "status-changed"), (t2, "linked")]
    s, t = stage.book.get(t1), stage.book.get(t2)
    assert s is not None and t is not None
    assert s.merged_into == t2 and s.status == "closed" and t.merged_from == (t1,)


def test_solving_the_master_solves_and_notifies_children() -> None:
    stage = make_stage()
    master = opened(stage, "m1", "ops@acme.test")
    kids = [opened(stage, f"k{i}", f"user{i}@example.com") for i in range(3)]
    for i, kid in enumerate(kids):
        feed(stage, [action(f"link{i}", kid, "link-master", target_ticket_id=master)])
    feed(stage, [action("done0", kids[0], "set-status", status="solved")])
    outs = feed(stage, [action("solve", master, "set-status", status="solved",
                               text="The outage is over.")])
    solved = [(e.ticket_id, e.payload.to_status) for e in events_of(outs)]
    assert solved == [(master, "solved"), (kids[1], "solved"), (kids[2], "solved")]
    sent = notes(outs)
    assert [n.recipient.address for n in sent] == ["user1@example.com", "user2@example.com"]
    assert {n.template for n in sent} == {"master-solved"}
    assert sent[0].context["text"] == "The outage is over."
    m = stage.book.get(master)
    assert m is not None and m.children == tuple(kids)


@pytest.mark.parametrize("bad", [
    action("x1", "t-unknown", "reply", text="hi"),
    action("x2", "HL-2026-000001", "reply", text="  "),
    action("x3", "HL-2026-000001", "merge", target_ticket_id="HL-2026-000001"),
    action("x4", "HL-2026-000001", "set-status"),
    action("x5", "HL-2026-000001", "link-master", target_ticket_id="nope"),
])
def test_invalid_commands_raise_for_the_dead_letter_topic(bad) -> None:
    stage = make_stage()
    opened(stage)
    with pytest.raises(InvalidCommand):
        feed(stage, [bad])


def test_a_batch_that_raises_leaves_state_untouched() -> None:
    stage = make_stage()
    tid = opened(stage)
    before, customers = stage.book.get(tid), len(stage.directory)
    batch = records([
        email("a2", references=[mid("a1")], minutes=1),
        chat("hi, it's Ann", "conv9", visitor="v9", verified="ann@example.com"),
        action("bad", "t-unknown", "reply", text="x"),
    ])
    with pytest.raises(InvalidCommand):
        stage.process(batch, batch[0].value.received_at)
    assert stage.book.get(tid) == before and len(stage.book) == 1
    assert len(stage.directory) == customers
    # nor the indexes: what the failed batch indexed is gone
    for msg in (batch[0].value, batch[1].value):
        assert stage.book.by_message(msg.message_id) is None
    assert stage.book.by_internet_id(mid("a2")) is None
    assert stage.book.by_conversation("site1", "conv9") is None
    assert stage.book.by_number("HL-2026-000002") is None
    # record by record, as the runner retries: the good ones go through exactly once
    good = [o for rec in batch[:2] for o in stage.process([rec], rec.value.received_at)]
    assert [e.kind for e in events_of(good)] == ["message-added", "created", "message-added"]
