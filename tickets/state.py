"""The ticket fold: ``apply(ticket, event) -> ticket``. Pure; the one definition of ticket state.

Stable public API (route, notify and classify import it):

* :func:`apply` folds one :class:`schemas.TicketEvent` into a :class:`schemas.Ticket`;
  ``apply(None, created_event)`` starts a ticket. Every payload kind in
  ``schemas.events.EventPayload`` is handled. An event already folded (same ``event_id``) returns
  the ticket unchanged, so redeliveries and a stage reading back its own events are harmless.
  A non-``created`` event for an unknown ticket raises :class:`UnknownTicket`.
* :func:`fold` folds a sequence of events (``None`` if the sequence opens no ticket).
* :data:`ACTIVE_STATUSES` / :data:`DONE_STATUSES` name the status groups.

The fold never reads a clock: ``updated_at`` etc. come from the event's ``at``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from schemas.builders import fields_replacer, keywords, replacer
from schemas.classify_events import Classified
from schemas.errors import HelplineError
from schemas.events import TicketEvent
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
from schemas.ticket import Ticket
from schemas.ticket_events import (
    Created,
    DeliveryFailed,
    Linked,
    Merged,
    MessageAdded,
    PriorityChanged,
    Status,
    StatusChanged,
)

ACTIVE_STATUSES: frozenset[Status] = frozenset({"new", "open", "pending", "on-hold"})
DONE_STATUSES: frozenset[Status] = frozenset({"solved", "closed"})


class UnknownTicket(HelplineError, ValueError):
    """An event other than ``created`` for a ticket that has not been created."""


def _add(items: tuple[str, ...], *new: str | None) -> tuple[str, ...]:
    """``items`` with those of ``new`` not yet in it (nor empty) appended, in order; ``items``
    itself when nothing is new (the common case: no copy)."""
    if len(new) == 1:
        x = new[0]
        return items if not x or x in items else (*items, x)
    out: list[str] | None = None
    for x in new:
        if x and x not in (items if out is None else out):
            if out is None:
                out = [*items]
            out.append(x)
    return items if out is None else tuple(out)


# A created event starts a ticket from these fields, named so that two adjacent text fields
# cannot be swapped unnoticed; a generated builder fills them (what that saves over
# ``Ticket(...)``, and what keywords cost over positional arguments: benchmarks/README.md).
_new_ticket = keywords(
    Ticket, "ticket_id", "number", "status", "priority", "subject", "channel", "mailbox",
    "customer_id", "requester", "participants", "language", "conversation_id", "created_at",
    "updated_at", "version", "last_event_id", "event_ids",
)


def _created(ev: TicketEvent, p: Created) -> Ticket:
    return _new_ticket(
        ticket_id=ev.ticket_id, number=p.number, status=p.status, priority=p.priority,
        subject=p.subject, channel=p.channel, mailbox=p.mailbox, customer_id=p.customer_id,
        requester=p.requester,
        participants=_add((), p.requester.address.lower()),  # anonymous chat: none
        language=p.language, conversation_id=p.conversation_id, created_at=ev.at,
        updated_at=ev.at, version=1, last_event_id=ev.event_id, event_ids=(ev.event_id,),
    )


# A message-added fold (one per inbound message) always writes the same fields: a replacer
# specialised to them, with the unchanged ones passed as they are (no changes dict, no setattr
# per change; the gain, same-run A/B: benchmarks/README.md).
_replace_message_added = fields_replacer(
    Ticket, "message_ids", "internet_message_ids", "thread_refs", "participants",
    "inbound_count", "outbound_count", "language", "first_response_at",
    "updated_at", "version", "last_event_id", "event_ids",
)


def _message_added(t: Ticket, ev: TicketEvent, p: MessageAdded) -> Ticket:
    inbound, outbound = t.inbound_count, t.outbound_count
    language, first_response_at = t.language, t.first_response_at
    if p.direction == "inbound":
        inbound += 1
        if language is None and p.language:
            language = p.language
    elif p.direction == "outbound":
        outbound += 1
        if first_response_at is None:
            first_response_at = ev.at
    return _replace_message_added(
        t,
        _add(t.message_ids, p.message_id),
        _add(t.internet_message_ids, p.internet_message_id),
        _add(t.thread_refs, *p.in_reply_to, *p.references),
        _add(t.participants, *p.participants_added),
        inbound, outbound, language, first_response_at,
        max(t.updated_at, ev.at), t.version + 1, ev.event_id, (*t.event_ids, ev.event_id),
    )


def _status_changed(t: Ticket, ev: TicketEvent, p: StatusChanged) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": p.to_status}
    if p.to_status == "solved":
        changes["solved_at"] = ev.at
    elif p.to_status == "closed":
        changes["closed_at"] = ev.at
        if t.solved_at is None:
            changes["solved_at"] = ev.at
    elif p.from_status in DONE_STATUSES:  # reopened
        changes.update(solved_at=None, closed_at=None, reopened_count=t.reopened_count + 1)
    return changes


def _linked(t: Ticket, p: Linked) -> dict[str, Any]:
    other = p.other_ticket_id
    if p.relation == "follow-up-of":
        return {"follow_up_of": other}
    if p.relation == "followed-up-by":
        return {"follow_ups": _add(t.follow_ups, other)}
    if p.relation == "child-of":
        return {"master_id": other}
    if p.relation == "master-of":
        return {"children": _add(t.children, other)}
    if p.relation == "merged-from":
        return {"merged_from": _add(t.merged_from, other)}
    return {"merged_into": t.merged_into or other}  # duplicate-of


def _classified(t: Ticket, p: Classified) -> dict[str, Any]:
    changes: dict[str, Any] = {"tags": _add(t.tags, *p.tags)}
    for name in ("category", "type", "priority", "department", "team", "sla_policy", "sentiment"):
        value = getattr(p, name)
        if value is not None:
            changes[name] = value
    if p.language and t.language is None:
        changes["language"] = p.language
    return changes


def _assigned(t: Ticket, p: Assigned) -> dict[str, Any]:
    changes: dict[str, Any] = {"assignee": p.agent_id}
    if p.team is not None:
        changes["team"] = p.team
    if p.department is not None:
        changes["department"] = p.department
    return changes


def _sla_applied(p: SlaApplied) -> dict[str, Any]:
    return {
        "sla_policy": p.policy,
        "first_response_due": p.first_response_due,
        "next_response_due": p.next_response_due,
        "resolution_due": p.resolution_due,
    }


_Fold = Callable[[Ticket, TicketEvent, Any], dict[str, Any]]

_FOLDS: dict[type, _Fold] = {
    StatusChanged: _status_changed,
    PriorityChanged: lambda t, ev, p: {"priority": p.to_priority},
    Merged: lambda t, ev, p: {"merged_into": p.into_ticket_id},
    Linked: lambda t, ev, p: _linked(t, p),
    DeliveryFailed: lambda t, ev, p: {"delivery_failures": t.delivery_failures + 1},
    Classified: lambda t, ev, p: _classified(t, p),
    Assigned: lambda t, ev, p: _assigned(t, p),
    Unassigned: lambda t, ev, p: {"assignee": None} if t.assignee == p.agent_id else {},
    Queued: lambda t, ev, p: {"team": p.team},
    Escalated: lambda t, ev, p: {"tier": p.to_tier},
    SlaApplied: lambda t, ev, p: _sla_applied(p),
    SlaWarning: lambda t, ev, p: {"sla_warned": _add(t.sla_warned, p.metric)},
    SlaBreached: lambda t, ev, p: {"sla_breached": _add(t.sla_breached, p.metric)},
    AckSent: lambda t, ev, p: {
        "acked": True,
        "internet_message_ids": _add(t.internet_message_ids, p.message_id),
    },
    # Created on an existing ticket: already folded under another id; keep the first.
    Created: lambda t, ev, p: {},
}


# The fold's hot path: a ticket has ~50 fields and every event copies it (codec's generated
# builders: faster than ``dataclasses.replace``, and generated from the dataclass fields,
# so a field added to the schema is copied).
_replace = replacer(Ticket)


def apply(ticket: Ticket | None, event: TicketEvent) -> Ticket:
    """Fold one event into a ticket (see the module docstring for the contract)."""
    payload = event.payload
    if ticket is None:
        if not isinstance(payload, Created):
            raise UnknownTicket(f"{event.kind} event {event.event_id} before the ticket's creation")
        return _created(event, payload)
    if event.event_id in ticket.event_ids:
        return ticket
    if type(payload) is MessageAdded:
        return _message_added(ticket, event, payload)
    fold_one = _FOLDS.get(type(payload))
    # a kind added to the schema but not yet here: counted, no change
    changes = {} if fold_one is None else fold_one(ticket, event, payload)
    changes["updated_at"] = max(ticket.updated_at, event.at)
    changes["version"] = ticket.version + 1
    changes["last_event_id"] = event.event_id
    changes["event_ids"] = (*ticket.event_ids, event.event_id)
    return _replace(ticket, changes)


def fold(events: Iterable[TicketEvent], ticket: Ticket | None = None) -> Ticket | None:
    """Fold events in order, starting from ``ticket``."""
    for event in events:
        ticket = apply(ticket, event)
    return ticket
