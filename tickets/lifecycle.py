"""Time-driven ticket changes. Pure: ``now`` is a parameter.

Solved tickets close by themselves after a while, as in every helpdesk: a closed ticket no
longer reopens on a late reply (that opens a follow-up, see :mod:`tickets.threading`). The
event is stamped at the due time (``solved_at + after``) and caused by the solve time, so a
replay or a second replica computes the identical event whenever its timer happens to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from schemas.events import Actor, TicketEvent
from schemas.ticket import Ticket
from schemas.ticket_events import StatusChanged
from tickets.eventlog import make_event

SCHEDULER = Actor(kind="scheduler", id="auto-close")


def due_closures(tickets: Iterable[Ticket], now: datetime, after: timedelta) -> list[TicketEvent]:
    out = []
    for t in tickets:
        if t.status != "solved" or t.solved_at is None or t.solved_at + after > now:
            continue
        days = after.total_seconds() / 86400
        out.append(make_event(
            t.ticket_id, t.number, f"auto-close:{t.solved_at.isoformat()}", t.solved_at + after,
            StatusChanged(from_status="solved", to_status="closed",
                          reason=f"closed automatically {days:g} days after it was solved"),
            SCHEDULER,
        ))
    return out
