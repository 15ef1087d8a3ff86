"""Solved tickets close by themselves; the close is the same event whenever the timer runs."""

from __future__ import annotations

from datetime import timedelta

from schemas.codec import encode
from schemas.message import Address
from tests.support.tickets_builders import T0, action, email, events_of, feed, make_stage, mid


def solved_stage(**settings):
    stage = make_stage(**settings)
    tid = events_of(feed(stage, [email("a1")]))[0].ticket_id
    feed(stage, [action("s1", tid, "set-status", status="solved", minutes=10)])
    return stage, tid


def test_solved_ticket_closes_after_the_configured_days_stamped_at_due_time() -> None:
    stage, tid = solved_stage(auto_close_after_days=4)
    assert stage.tick_interval == 60.0
    solved_at = T0 + timedelta(minutes=10)
    assert stage.tick(solved_at + timedelta(days=3)) == []
    first = stage.tick(solved_at + timedelta(days=5))
    (closed,) = events_of(first)
    assert closed.payload.to_status == "closed" and closed.actor.kind == "scheduler"
    assert closed.at == solved_at + timedelta(days=4)
    assert stage.book.get(tid).status == "closed"  # type: ignore[union-attr]
    assert stage.tick(solved_at + timedelta(days=6)) == []

    other, _ = solved_stage(auto_close_after_days=4)  # a replica whose timer runs later
    (again,) = events_of(other.tick(solved_at + timedelta(days=9)))
    assert encode(again) == encode(closed)


def test_late_reply_after_auto_close_opens_a_follow_up() -> None:
    stage, tid = solved_stage(auto_close_after_days=1, reopen_window_days=7)
    stage.tick(T0 + timedelta(days=2))
    late = feed(stage, [email("a2", references=[mid("a1")], minutes=60 * 24 * 10)])
    assert [e.kind for e in events_of(late)][:2] == ["created", "message-added"]
    assert stage.book.get(tid).follow_ups  # type: ignore[union-attr]


def test_auto_close_can_be_switched_off() -> None:
    stage, _ = solved_stage(auto_close_after_days=0)
    assert stage.tick_interval is None
    assert stage.tick(T0 + timedelta(days=365)) == []


def test_mails_without_sender_address_do_not_share_a_customer() -> None:
    import dataclasses

    stage = make_stage()
    a = dataclasses.replace(email("x1"), sender=Address(address=""))
    b = dataclasses.replace(email("x2", subject="other"), sender=Address(address=""))
    ea, eb = events_of(feed(stage, [a])), events_of(feed(stage, [b]))
    assert ea[0].ticket_id != eb[0].ticket_id
    assert ea[0].payload.customer_id != eb[0].payload.customer_id
