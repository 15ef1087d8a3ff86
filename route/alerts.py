"""Building the route stage's outputs: ticket events with deterministic ids, and
notification commands for supervisors, agents and webhooks (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from route.config import RoutingConfig
from route.sla import clock_for, earliest_due
from schemas.directory import Agent
from schemas.events import Actor, EventPayload, TicketEvent
from schemas.message import Address
from schemas.notification import Notification, NotificationKind
from schemas.route_events import RouteTicketState

ROUTE_ACTOR_ID = "route"
ROUTE = Actor(kind="system", id=ROUTE_ACTOR_ID)
SCHEDULER = Actor(kind="scheduler", id=ROUTE_ACTOR_ID)


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def ticket_event(
    s: RouteTicketState, payload: EventPayload, at: datetime, cause: str, actor: Actor = ROUTE
) -> TicketEvent:
    """An event whose id is a hash of (ticket, cause, kind): a replay produces the same id."""
    return TicketEvent(
        event_id=stable_id(s.ticket_id, cause, payload.TAG),
        ticket_id=s.ticket_id,
        ticket_number=s.number,
        at=at,
        actor=actor,
        payload=payload,
        causation_id=cause,
    )


def supervisors_of(
    cfg: RoutingConfig, agents: Mapping[str, Agent], team: str | None, department: str | None
) -> list[Address]:
    emails: list[str] = []
    t = cfg.teams.get(team or "")
    if t is not None:
        emails.extend(t.supervisors)
    dept = department or (t.department if t else None)
    if dept and dept in cfg.departments:
        emails.extend(cfg.departments[dept].supervisors)
    for a in sorted(agents.values(), key=lambda a: a.agent_id):
        if "supervisor" in a.roles and a.email and not a.deleted and (team in a.teams):
            emails.append(a.email)
    return [Address(address=e) for e in dict.fromkeys(e.lower() for e in emails)]


def notifications(
    cfg: RoutingConfig,
    s: RouteTicketState,
    kind: NotificationKind,
    cause: str,
    at: datetime,
    recipients: Iterable[Address],
    context: Mapping[str, Any],
    subject: str,
    reader: Agent | None = None,
) -> list[Notification]:
    """One notification per recipient; the team's (or default) webhook when there is none.
    The context says what an agent needs to act without opening anything: the customer, the
    ticket's subject, its priority and SLA due time; ``reader`` (an agent) gives the language
    and time zone it is written in."""
    due = earliest_due(s.clocks)
    first = clock_for(s.clocks, "first-response")
    facts: dict[str, Any] = {
        "team": s.team, "tier": s.tier, "priority": s.priority, "ticket_subject": s.subject,
        "channel": s.channel,
        "customer_name": s.requester.name if s.requester else "",
        "customer_address": s.requester.address if s.requester else "",
        "sla_due": due.isoformat() if due else "",
        "sla_metric": next((c.metric for c in s.clocks if c.due_at == due), "") if due else "",
        "first_response_due": first.due_at.isoformat() if first and first.due_at else "",
    }
    if reader is not None and reader.working_hours is not None:
        facts["reader_timezone"] = reader.working_hours.timezone
    common: dict[str, Any] = dict(
        kind=kind, ticket_id=s.ticket_id, ticket_number=s.number, created_at=at,
        mailbox=s.mailbox or None, subject=f"[#{s.number}] {subject}",
        language=reader.languages[0] if reader is not None and reader.languages else None,
        template=kind, context={**facts, **context},
    )
    out = [
        Notification(notification_id=stable_id(cause, kind, r.address), channel="email",
                     recipient=r, **common)
        for r in recipients
    ]
    if out:
        return out
    team = cfg.teams.get(s.team or "")
    webhook = (team.webhook if team else None) or cfg.alert_webhook
    if webhook is None:
        return []
    return [Notification(notification_id=stable_id(cause, kind, "webhook:" + webhook),
                         channel="webhook", webhook=webhook, **common)]
