"""The sent-log's memory: whatever order its records are restored in (the compacted topic
replays, our own writes echo back while running), a final outcome is never undone."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from notify.sentlog import SentLog, bounce_key, record_key
from schemas.notification import NotificationResult
from tests.support.notify_builders import T0, alert


def _rec(phase: str, outcome: str, minute: int, attempts: int = 1) -> NotificationResult:
    return NotificationResult(
        notification_id="n1", ticket_id="t1", outcome=outcome,  # type: ignore[arg-type]
        at=T0 + timedelta(minutes=minute), attempts=attempts, phase=phase,  # type: ignore[arg-type]
        notification=alert("n1"),
    )


HISTORY = [_rec("deferred", "retrying", 0, 0), _rec("intent", "retrying", 1, 1),
           _rec("intent", "retrying", 2, 2), _rec("final", "sent", 3, 2)]


@given(st.permutations(HISTORY))
def test_a_sent_final_wins_in_any_order(order: list[NotificationResult]) -> None:
    log = SentLog()
    for r in order:
        log.apply(r)
    assert log.final("n1") is not None and log.final("n1").outcome == "sent"  # type: ignore[union-attr]
    assert "n1" not in log.open and log.in_doubt() == []


def test_latest_open_record_is_kept() -> None:
    log = SentLog()
    for r in (HISTORY[2], HISTORY[0], HISTORY[1]):  # echoes arrive late
        log.apply(r)
    assert log.open["n1"].attempts == 2 and log.in_doubt() == [HISTORY[2]]


def test_a_failed_final_can_be_retried_by_a_newer_intent_only() -> None:
    log = SentLog()
    log.apply(_rec("final", "failed", 5))
    log.apply(_rec("intent", "retrying", 4))  # stale
    assert log.final("n1") is not None and log.in_doubt() == []
    log.apply(_rec("intent", "retrying", 9))  # put back on the outbox later
    assert log.final("n1") is None and len(log.in_doubt()) == 1


def test_hard_bounces_are_keyed_by_address() -> None:
    log = SentLog()
    r = NotificationResult(notification_id="bounce:e1", ticket_id="t", outcome="suppressed",
                           at=T0, phase="hard-bounce", recipient="Bob+x@Example.com")
    log.apply(r)
    assert "bob@example.com" in log.bounced
    assert record_key(r) == bounce_key("bob@example.com").encode()


def test_slimming_keeps_outcomes_and_drops_old_payloads() -> None:
    log = SentLog()
    log.apply(_rec("final", "sent", 0))
    assert log.slim_before(T0 + timedelta(hours=1)) == 1
    final = log.final("n1")
    assert final is not None and final.outcome == "sent" and final.notification is None
