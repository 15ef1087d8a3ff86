"""Threading, dedupe, bounces, reopen and follow-ups, through the stage with plain records."""

from __future__ import annotations

from datetime import timedelta

from schemas.message import Bounce
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
    states_of,
)
from tickets import reply_token


def kinds(outs):
    return [(e.ticket_id, e.kind) for e in events_of(outs)]


def test_first_message_opens_a_ticket_with_a_readable_number() -> None:
    stage = make_stage()
    outs = feed(stage, [email("a1")])
    created, added = events_of(outs)
    assert (created.kind, added.kind) == ("created", "message-added")
    assert created.ticket_number == "HL-2026-000001"
    assert created.at == added.at == email("a1").received_at
    (ticket,) = states_of(outs).values()
    assert ticket.status == "new" and ticket.requester.address == "alice@example.com"
    assert [o for o in outs if o.topic is CUSTOMERS] == []  # derived from the address


def test_numbers_interleave_by_partition_and_use_the_prefix() -> None:
    stage = make_stage(stride=4, number_prefix="ACME")
    a = events_of(feed(stage, [email("a1")], partition=2))[0]
    b = events_of(feed(stage, [email("b1", "bob@x.org")], partition=2))[0]
    c = events_of(feed(stage, [email("c1", "carol@x.org")], partition=0))[0]
    assert [e.ticket_number for e in (a, b, c)] == [
        "ACME-2026-000003", "ACME-2026-000007", "ACME-2026-000001"]


def test_same_message_twice_is_added_once() -> None:
    stage = make_stage()
    first = feed(stage, [email("a1")])
    assert feed(stage, [email("a1")]) == []
    assert len(events_of(first)) == 2


def test_reply_with_references_joins_the_ticket_and_wakes_pending() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    feed(stage, [action("c1", tid, "set-status", status="pending")])
    outs = feed(stage, [email("a2", in_reply_to=[mid("a1")], references=[mid("a1")], minutes=9)])
    assert kinds(outs) == [(tid, "message-added"), (tid, "status-changed")]
    assert states_of(outs)[tid].status == "open"


def test_reply_from_a_cc_participant_threads_but_a_stranger_does_not() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1", cc=["bob@example.com"])]))
    bob = feed(stage, [email("b1", "bob@example.com", references=[mid("a1")], minutes=1)])
    assert kinds(bob) == [(tid, "message-added")]
    eve = feed(stage, [email("e1", "eve@evil.test", references=[mid("a1")], minutes=2)])
    assert kinds(eve)[0] == (kinds(eve)[0][0], "created") and kinds(eve)[0][0] != tid


def test_subject_number_threads_only_for_participants() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    number = stage.book.get(tid).number  # type: ignore[union-attr]
    own = feed(stage, [email("a2", subject=f"Re: [{number}] again", minutes=1)])
    assert kinds(own) == [(tid, "message-added")]
    spoof = feed(stage, [email("x1", "eve@evil.test", subject=f"[{number}] gimme", minutes=2)])
    assert [k for _, k in kinds(spoof)][:1] == ["created"]
    assert stage.book.get(tid).inbound_count == 2  # type: ignore[union-attr]


def test_signed_reply_token_threads_from_anyone_forged_does_not() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    ours = reply_token.message_id(tid, KEY, "r1", "acme.test")
    fwd = feed(stage, [email("f1", "colleague@other.test", in_reply_to=[ours], minutes=1)])
    assert kinds(fwd) == [(tid, "message-added")]
    plus = reply_token.plus_address("support@acme.test", tid, KEY)
    via_addr = feed(stage, [email("f2", "someone@else.test", to=[plus], minutes=2)])
    assert kinds(via_addr) == [(tid, "message-added")]
    forged = reply_token.message_id(tid, b"wrong key", "r2", "acme.test")
    new = feed(stage, [email("f3", "eve@evil.test", in_reply_to=[forged], minutes=3)])
    assert kinds(new)[0][1] == "created"


def test_arrival_order_does_not_matter_for_a_reply_before_its_parent() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a2", in_reply_to=[mid("a1")], references=[mid("a1")])]))
    outs = feed(stage, [email("a1", minutes=-5)])
    assert kinds(outs) == [(tid, "message-added")]


def test_chat_conversation_threads_by_conversation_id() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [chat("hi", "conv1")]))
    assert kinds(feed(stage, [chat("still there?", "conv1", minutes=1)])) == [
        (tid, "message-added")]
    assert kinds(feed(stage, [chat("other", "conv2", minutes=2)]))[0][1] == "created"


def test_reply_to_closed_ticket_reopens_within_window_else_follow_up() -> None:
    stage = make_stage(reopen_window_days=7)
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    feed(stage, [action("c1", tid, "set-status", status="solved", minutes=10)])
    day = 24 * 60
    back = feed(stage, [email("a2", references=[mid("a1")], minutes=3 * day)])
    assert kinds(back) == [(tid, "message-added"), (tid, "status-changed")]
    assert states_of(back)[tid].status == "open" and states_of(back)[tid].reopened_count == 1
    feed(stage, [action("c2", tid, "set-status", status="closed", minutes=3 * day + 10)])
    late = feed(stage, [email("a3", references=[mid("a1")], minutes=30 * day)])
    new_id = next(t for t, k in kinds(late) if k == "created")
    assert (tid, "linked") in kinds(late) and (new_id, "linked") in kinds(late)
    assert stage.book.get(new_id).follow_up_of == tid  # type: ignore[union-attr]
    assert stage.book.get(tid).follow_ups == (new_id,)  # type: ignore[union-attr]
    assert stage.book.get(tid).status == "closed"  # type: ignore[union-attr]


def test_auto_reply_is_filed_but_does_not_reopen() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    feed(stage, [action("c1", tid, "set-status", status="solved")])
    ooo = feed(stage, [email("o1", references=[mid("a1")], auto_reply=True, minutes=60)])
    assert kinds(ooo) == [(tid, "message-added")]
    assert stage.book.get(tid).status == "solved"  # type: ignore[union-attr]


def test_bounce_of_our_mail_is_a_delivery_failure_not_a_ticket() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    ours = reply_token.message_id(tid, KEY, "r1", "acme.test")
    dsn = email("b1", "mailer-daemon@mx.example.com", subject="Undelivered", bounce=Bounce(
        original_recipient="alice@example.com", status="5.1.1", original_message_id=ours))
    outs = feed(stage, [dsn])
    assert kinds(outs) == [(tid, "delivery-failed")]
    assert events_of(outs)[0].payload.status == "5.1.1"
    assert feed(stage, [dsn]) == []  # redelivered bounce: recorded once
    assert stage.book.get(tid).delivery_failures == 1  # type: ignore[union-attr]


def binned(outs):
    return [(o.value.reason, o.value.message.message_id) for o in outs
            if o.topic.name == TICKETS_BIN.name]


def test_unknown_bounce_is_not_dropped_it_is_binned() -> None:
    stage = make_stage()
    dsn = email("b1", "mailer-daemon@mx.example.com", bounce=Bounce(
        original_message_id="<not-ours@x>"))
    outs = feed(stage, [dsn])
    assert kinds(outs) == []  # no ticket for an agent
    assert binned(outs) == [("bounce", dsn.message_id)]  # kept, with the reason


def test_reply_to_a_merged_ticket_lands_on_the_target() -> None:
    stage = make_stage()
    (t1, _), _ = kinds(feed(stage, [email("a1")]))
    (t2, _), _ = kinds(feed(stage, [email("b1", subject="also", minutes=1)]))
    feed(stage, [action("m1", t1, "merge", target_ticket_id=t2)])
    outs = feed(stage, [email("a2", references=[mid("a1")], minutes=20)])
    assert kinds(outs) == [(t2, "message-added")]


def test_own_events_read_back_change_nothing() -> None:
    stage = make_stage()
    outs = feed(stage, [email("a1"), email("a2", references=[mid("a1")], minutes=1)])
    assert feed(stage, events_of(outs)) == []


def test_other_stages_events_are_folded_and_state_republished() -> None:
    from schemas.classify_events import Classified
    from tickets.eventlog import make_event

    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    t = stage.book.get(tid)
    assert t is not None
    classified = make_event(tid, t.number, "x", t.created_at + timedelta(seconds=1),
                            Classified(category="billing"))
    outs = feed(stage, [classified])
    assert [o.topic.name for o in outs] == ["ticket.state"]
    assert states_of(outs)[tid].category == "billing"


def test_events_read_back_as_json_own_skipped_others_folded_bad_raises() -> None:
    import orjson
    import pytest

    from schemas.classify_events import Classified
    from schemas.codec import DecodeError, encode
    from schemas.stage import In
    from tickets.eventlog import make_event
    from tickets.stage import EVENTS_AS_JSON

    def wire(e):
        return In(EVENTS_AS_JSON, None, orjson.loads(encode(e)))

    stage = make_stage()
    outs = feed(stage, [email("a1")])
    assert stage.process([wire(e) for e in events_of(outs)], events_of(outs)[0].at) == []
    tid = events_of(outs)[0].ticket_id
    t = stage.book.get(tid)
    assert t is not None
    other = make_event(tid, t.number, "x", t.created_at, Classified(category="billing"))
    folded = stage.process([wire(other)], t.created_at)
    assert states_of(folded)[tid].category == "billing"
    with pytest.raises(DecodeError):
        stage.process([In(EVENTS_AS_JSON, None, {"ticket_id": tid, "event_id": "zz"})],
                      t.created_at)
    assert stage.book.get(tid).category == "billing"  # type: ignore[union-attr]


def test_our_own_mail_coming_back_in_is_not_filed_again() -> None:
    import dataclasses

    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    ours = reply_token.message_id(tid, KEY, "r1", "acme.test")
    echo = dataclasses.replace(email("x", "support@acme.test", minutes=5),
                               internet_message_id=ours)
    assert feed(stage, [echo]) == []


def test_bounce_quoting_a_customer_message_id_is_not_our_delivery_failure() -> None:
    stage = make_stage()
    (tid, _), _ = kinds(feed(stage, [email("a1")]))
    dsn = email("b2", "mailer-daemon@mx.example.com", bounce=Bounce(
        original_recipient="someone@else.test", original_message_id=mid("a1")), minutes=3)
    outs = feed(stage, [dsn])
    assert kinds(outs) == [] and binned(outs) == [("bounce", dsn.message_id)]
    assert stage.book.get(tid).delivery_failures == 0  # type: ignore[union-attr]
