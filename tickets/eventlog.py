"""Building events for the log: deterministic id from (ticket, cause, kind), time and actor."""

from __future__ import annotations

from datetime import datetime

from schemas.builders import constructor
from schemas.events import SYSTEM, Actor, EventPayload, TicketEvent
from tickets import numbers

_new_event = constructor(TicketEvent)  # one or two per inbound message


def make_event(
    ticket_id: str, number: str, cause: str, at: datetime, payload: EventPayload,
    actor: Actor = SYSTEM,
) -> TicketEvent:
    return _new_event(
        event_id=numbers.event_id(ticket_id, cause, payload.TAG), ticket_id=ticket_id,
        ticket_number=number, at=at, actor=actor, payload=payload, causation_id=cause,
    )
