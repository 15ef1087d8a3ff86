"""The ticket fold: every payload kind, idempotency by event id, status timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.classify_events import Classified
from schemas.events import EventPayload, TicketEvent
from schemas.message import Address
from schemas.notification import AckSent
from schemas.route_events import (
    Assigned,
    Escalated,
    Queued,
    SlaApplied,
    SlaBreached,
    SlaWarning,
    Unassigned,
)
from schemas.ticket_events import (
    Created,
    DeliveryFailed,
    Linked,
    Merged,
    MessageAdded,
    PriorityChanged,
    StatusChanged,
)
from tests.support.tickets_builders import T0
from tickets import state
from tickets.eventlog import make_event

TID = "t0123456789abcdef"


def ev(n: int, payload: EventPayload) -> TicketEvent:
    return make_event(TID, "HL-2026-000001", f"cause-{n}", T0 + timedelta(minutes=n), payload)


CREATED = ev(0, Created(
    number="HL-2026-000001", subject="Printer", channel="email", mailbox="support",
    customer_id="c1", requester=Address(name="Alice", address="Alice@Example.com"),
))


def inbound(n: int, message_id: str, author: str = "alice@example.com") -> TicketEvent:
    return ev(n, MessageAdded(
        message_id=message_id, direction="inbound", channel="email",
        author=Address(address=author), received_at=T0, internet_message_id=f"<{message_id}@x>",
        references=("<root@x>",), participants_added=(author,),
    ))


def test_created_starts_a_ticket_with_requester_as_participant() -> None:
    t = state.apply(None, CREATED)
    assert (t.ticket_id, t.number, t.status, t.version) == (TID, "HL-2026-000001", "new", 1)
    assert t.participants == ("alice@example.com",)
    assert t.created_at == t.updated_at == T0


def test_event_before_created_raises() -> None:
    with pytest.raises(state.UnknownTicket):
        state.apply(None, inbound(1, "m1"))


def test_same_event_twice_is_a_no_op() -> None:
    t1 = state.fold([CREATED, inbound(1, "m1")])
    assert t1 is not None
    t2 = state.apply(t1, inbound(1, "m1"))
    assert t2 is t1
    assert t1.inbound_count == 1 and t1.message_ids == ("m1",)


def test_messages_count_and_index_ids() -> None:
    out = ev(3, MessageAdded(
        message_id="m3", direction="outbound", channel="email", author=Address(address="agent"),
        received_at=T0, internet_message_id="<out@x>",
    ))
    note = ev(4, MessageAdded(
        message_id="m4", direction="note", channel="email", author=Address(address="agent"),
        received_at=T0,
    ))
    t = state.fold([CREATED, inbound(1, "m1"), inbound(2, "m2", "bob@example.com"), out, note])
    assert t is not None
    assert (t.inbound_count, t.outbound_count, t.exchanges) == (2, 1, 3)
    assert t.first_response_at == T0 + timedelta(minutes=3)
    assert t.participants == ("alice@example.com", "bob@example.com")
    assert t.internet_message_ids == ("<m1@x>", "<m2@x>", "<out@x>")
    assert t.thread_refs == ("<root@x>",)
    assert t.message_ids == ("m1", "m2", "m3", "m4")


def test_status_changes_stamp_and_reopen_clears() -> None:
    t = state.fold([
        CREATED,
        ev(1, StatusChanged(from_status="new", to_status="solved")),
        ev(2, StatusChanged(from_status="solved", to_status="open")),
        ev(3, StatusChanged(from_status="open", to_status="closed")),
    ])
    assert t is not None
    assert t.status == "closed" and t.reopened_count == 1
    assert t.closed_at == t.solved_at == T0 + timedelta(minutes=3)


# One event per payload kind of the schema, each with its visible effect on the ticket.
EFFECTS: list[tuple[EventPayload, dict[str, object]]] = [
    (PriorityChanged(from_priority="normal", to_priority="urgent"), {"priority": "urgent"}),
    (Merged(into_ticket_id="t2", into_number="HL-2026-000002"), {"merged_into": "t2"}),
    (Linked(other_ticket_id="t3", other_number="N", relation="follow-up-of"),
     {"follow_up_of": "t3"}),
    (Linked(other_ticket_id="t4", other_number="N", relation="child-of"), {"master_id": "t4"}),
    (Linked(other_ticket_id="t5", other_number="N", relation="master-of"), {"children": ("t5",)}),
    (Linked(other_ticket_id="t6", other_number="N", relation="followed-up-by"),
     {"follow_ups": ("t6",)}),
    (Linked(other_ticket_id="t7", other_number="N", relation="merged-from"),
     {"merged_from": ("t7",)}),
    (DeliveryFailed(recipient="alice@example.com"), {"delivery_failures": 1}),
    (Classified(category="billing", type="question", priority="high", tags=("vip", "refund"),
                department="finance", team="billing-l1", sla_policy="gold", sentiment="negative"),
     {"category": "billing", "type": "question", "priority": "high", "tags": ("vip", "refund"),
      "department": "finance", "team": "billing-l1", "sla_policy": "gold",
      "sentiment": "negative"}),
    (Assigned(agent_id="a1", team="t-a", department="d-a"),
     {"assignee": "a1", "team": "t-a", "department": "d-a"}),
    (Queued(team="triage"), {"team": "triage"}),
    (Escalated(from_tier="L1", to_tier="L2", reason="vip"), {"tier": "L2"}),
    (SlaApplied(policy="gold", first_response_due=T0 + timedelta(hours=1),
                resolution_due=T0 + timedelta(hours=8)),
     {"sla_policy": "gold", "first_response_due": T0 + timedelta(hours=1),
      "resolution_due": T0 + timedelta(hours=8)}),
    (SlaWarning(policy="gold", metric="first-response", due_at=T0),
     {"sla_warned": ("first-response",)}),
    (SlaBreached(policy="gold", metric="resolution", due_at=T0),
     {"sla_breached": ("resolution",)}),
    (AckSent(notification_id="n1", channel="email", message_id="<ack@x>"),
     {"acked": True, "internet_message_ids": ("<ack@x>",)}),
]


@pytest.mark.parametrize("payload,expected", EFFECTS, ids=lambda x: getattr(x, "TAG", ""))
def test_every_kind_is_reflected(payload: EventPayload, expected: dict[str, object]) -> None:
    t = state.fold([CREATED, ev(1, payload)])
    assert t is not None
    assert {k: getattr(t, k) for k in expected} == expected
    assert t.version == 2 and t.last_event_id == ev(1, payload).event_id


def test_the_table_covers_every_payload_kind_of_the_schema() -> None:
    kinds = {p for p in EventPayload.__args__}  # type: ignore[attr-defined]
    covered = {type(p) for p, _ in EFFECTS} | {Created, MessageAdded, StatusChanged, Unassigned}
    assert kinds == covered
    assert kinds <= {*state._FOLDS, MessageAdded}  # message-added: its own replacer


def test_unassigned_clears_only_the_same_agent() -> None:
    t = state.fold([CREATED, ev(1, Assigned(agent_id="a1")), ev(2, Unassigned(agent_id="a2"))])
    assert t is not None and t.assignee == "a1"
    t = state.apply(t, ev(3, Unassigned(agent_id="a1")))
    assert t.assignee is None


def test_classified_keeps_existing_values_it_does_not_set() -> None:
    t = state.fold([CREATED, ev(1, Classified(category="billing", tags=("a",))),
                    ev(2, Classified(tags=("b", "a")))])
    assert t is not None and t.category == "billing" and t.tags == ("a", "b")
