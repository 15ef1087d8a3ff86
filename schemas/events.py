"""The ticket event log: one envelope, a tagged union of payloads.

A ticket is the fold of its events (see ``tickets.state``). Events are never rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Union

from schemas.base import Extra, extra_field, record
from schemas.classify_events import Classified, RuleMatch
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

ActorKind = Literal["system", "rule", "model", "agent", "customer", "scheduler"]

EventPayload = Union[  # noqa: UP007 - the codec dispatches on a typing.Union of tagged records
    Created,
    MessageAdded,
    StatusChanged,
    PriorityChanged,
    Merged,
    Linked,
    DeliveryFailed,
    Classified,
    Assigned,
    Unassigned,
    Queued,
    Escalated,
    SlaApplied,
    SlaWarning,
    SlaBreached,
    AckSent,
]

EVENT_KINDS: frozenset[str] = frozenset(
    p.TAG for p in EventPayload.__args__  # type: ignore[attr-defined]
)


@record
class Actor:
    kind: ActorKind
    id: str = ""


SYSTEM = Actor(kind="system", id="helpline")


@record
class TicketEvent:
    """One fact about one ticket. ``event_id`` is deterministic: hash of (ticket, cause, kind)."""

    schema_version: int = 1
    event_id: str
    ticket_id: str
    ticket_number: str
    at: datetime
    actor: Actor
    payload: EventPayload
    causation_id: str | None = None  # message id, command id or event id that caused this
    extra: Extra = extra_field()

    @property
    def kind(self) -> str:
        return self.payload.TAG


__all__ = [
    "EVENT_KINDS",
    "SYSTEM",
    "AckSent",
    "Actor",
    "Assigned",
    "Classified",
    "Created",
    "DeliveryFailed",
    "Escalated",
    "EventPayload",
    "Linked",
    "Merged",
    "MessageAdded",
    "PriorityChanged",
    "Queued",
    "RuleMatch",
    "SlaApplied",
    "SlaBreached",
    "SlaWarning",
    "StatusChanged",
    "TicketEvent",
    "Unassigned",
]
