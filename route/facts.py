"""The facts routing keeps about a ticket, folded from its events (pure).

The route stage sees one ticket's events in order on the ticket's partition, so it keeps its own
small fold instead of waiting for the tickets stage's state table. SLA clocks are not touched
here (they need the policy and calendar, see ``route.clocks``).
"""

from __future__ import annotations

import dataclasses
import operator
from datetime import datetime
from typing import Any

from schemas.classify_events import Classified
from schemas.events import TicketEvent
from schemas.notification import AckSent
from schemas.route_events import Assigned, Escalated, RouteTicketState, Unassigned
from schemas.ticket_events import Created, Merged, MessageAdded, PriorityChanged, StatusChanged

OPEN_STATUSES = frozenset({"new", "open", "pending", "on-hold"})
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(RouteTicketState))
_FIELD_SET = frozenset(_STATE_FIELDS)
_ALL_VALUES = operator.attrgetter(*_STATE_FIELDS)
_SLOT_BY_NAME = {name: getattr(RouteTicketState, name) for name in _STATE_FIELDS}  # descriptors
_SLOTS = tuple(_SLOT_BY_NAME[name] for name in _STATE_FIELDS)


def evolve(state: RouteTicketState, **changes: Any) -> RouteTicketState:
    """``dataclasses.replace`` for the route state, without re-running ``__init__``: the record
    has ~45 fields and no ``__post_init__``, and replace was most of the router's CPU time."""
    if not changes.keys() <= _FIELD_SET:
        raise TypeError(f"unknown RouteTicketState fields: {sorted(changes.keys() - _FIELD_SET)}")
    new = object.__new__(RouteTicketState)
    for slot, value in zip(_SLOTS, _ALL_VALUES(state), strict=True):
        slot.__set__(new, value)
    for name, value in changes.items():
        _SLOT_BY_NAME[name].__set__(new, value)
    return new


def is_response(event: TicketEvent) -> bool:
    """An agent's reply to the customer (notes and auto-acks are not responses)."""
    p = event.payload
    return isinstance(p, MessageAdded) and p.direction == "outbound" and not p.flags.auto_reply


def acting_agent(event: TicketEvent) -> str | None:
    p = event.payload
    if isinstance(p, MessageAdded) and p.agent_id:
        return p.agent_id
    return event.actor.id if event.actor.kind == "agent" and event.actor.id else None


def is_robot(message: MessageAdded) -> bool:
    """An auto-reply or a bounce: on the ticket for the record, but nobody waits for an answer
    to it (no next-response clock, no awaiting time)."""
    return message.flags.auto_reply or message.flags.bounce is not None


def new_state(event: TicketEvent, created: Created) -> RouteTicketState:
    return RouteTicketState(
        ticket_id=event.ticket_id,
        number=event.ticket_number,
        channel=created.channel,
        mailbox=created.mailbox,
        customer_id=created.customer_id,
        requester=created.requester,
        subject=created.subject,
        language=created.language,
        priority=created.priority,
        status=created.status,
        state_since=event.at,
        created_at=event.at,
        updated_at=event.at,
    )


def placeholder(event: TicketEvent) -> RouteTicketState:
    """State for a ticket whose ``created`` event this stage never saw (older than its log)."""
    return RouteTicketState(
        ticket_id=event.ticket_id, number=event.ticket_number, state_since=event.at,
        created_at=event.at, updated_at=event.at,
    )


def fold(
    state: RouteTicketState | None, event: TicketEvent, seen_limit: int = 64
) -> RouteTicketState:
    """Apply one event's facts (and remember its id for redelivery dedupe). Accepting an
    assignment, responses and status are tracked; decisions are the engine's."""
    p = event.payload
    if isinstance(p, Created):
        fresh = new_state(event, p)
        # a placeholder made from later events keeps what it learned; creation facts fill in
        s = fresh if state is None else evolve(
            state, channel=fresh.channel, mailbox=fresh.mailbox, customer_id=fresh.customer_id,
            subject=fresh.subject, language=state.language or fresh.language,
            created_at=min(state.created_at, fresh.created_at),
        )
    else:
        s = state or placeholder(event)
    at = event.at
    changes: dict[str, Any] = {
        "updated_at": max(s.updated_at, at),
        "seen": (*s.seen, event.event_id)[-seen_limit:],
    }
    agent = acting_agent(event)
    if agent and agent == s.assignee:
        changes["accepted"] = True
    if isinstance(p, MessageAdded):
        if p.direction == "inbound":
            changes["inbound_count"] = s.inbound_count + 1
            # a robot's answer (out-of-office, bounce) filed on the ticket awaits nothing
            if s.awaiting_since is None and not is_robot(p):
                changes["awaiting_since"] = p.received_at
            if p.language and not s.language:
                changes["language"] = p.language
        elif is_response(event):
            changes["outbound_count"] = s.outbound_count + 1
            changes["awaiting_since"] = None
    elif isinstance(p, StatusChanged):
        changes["status"] = p.to_status
        changes["state_since"] = at
    elif isinstance(p, PriorityChanged):
        changes["priority"] = p.to_priority
    elif isinstance(p, Classified):
        changes.update(
            classified=True,
            category=p.category or s.category,
            type=p.type or s.type,
            tags=tuple(dict.fromkeys((*s.tags, *p.tags))),
            sentiment=p.sentiment or s.sentiment,
            sentiment_score=p.sentiment_score
            if p.sentiment_score is not None
            else s.sentiment_score,
            department=p.department or s.department,
            team=p.team or s.team,
            language=p.language or s.language,
            assign_to=p.assign_to or s.assign_to,
            sla_policy_hint=p.sla_policy or s.sla_policy_hint,
        )
        if p.priority:
            changes["priority"] = p.priority
    elif isinstance(p, Assigned):  # by an agent or supervisor: taken as accepted
        changes.update(
            assignee=p.agent_id, assigned_at=at, accepted=True, queued_since=None,
            team=p.team or s.team,
        )
    elif isinstance(p, Unassigned):  # re-routing avoids handing it straight back
        passed = s.passed_over if p.agent_id in s.passed_over else (*s.passed_over, p.agent_id)
        changes.update(assignee=None, assigned_at=None, accepted=False, passed_over=passed)
    elif isinstance(p, Escalated):
        changes.update(tier=p.to_tier, tier_since=at)
    elif isinstance(p, Merged):
        changes.update(status="closed", state_since=at)
    elif isinstance(p, AckSent):
        pass
    return evolve(s, **changes)


def mark_fired(state: RouteTicketState, key: str) -> RouteTicketState:
    if key in state.fired:
        return state
    return evolve(state, fired=(*state.fired, key))


def is_open(state: RouteTicketState) -> bool:
    return state.status in OPEN_STATUSES


def touch(state: RouteTicketState, at: datetime) -> RouteTicketState:
    return evolve(state, updated_at=max(state.updated_at, at))
