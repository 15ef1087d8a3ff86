"""Read-only views for the CLI, computed from records (pure): the live queue per team ordered
by due time, and what the escalations say (by tag, category, trigger, tier move)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from route.facts import is_open
from route.sla import earliest_due
from schemas.classify_events import Classified
from schemas.events import TicketEvent
from schemas.route_events import Escalated, RouteTicketState

FAR = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    team: str
    ticket_id: str
    number: str
    priority: str
    tier: str
    due_at: datetime | None
    queued_since: datetime | None


def live_queue(states: Iterable[RouteTicketState]) -> dict[str, list[QueueEntry]]:
    """Unassigned open tickets waiting in each team, earliest due first."""
    queues: dict[str, list[QueueEntry]] = {}
    for s in states:
        if is_open(s) and s.assignee is None and s.queued_since is not None and s.team:
            queues.setdefault(s.team, []).append(QueueEntry(
                s.team, s.ticket_id, s.number, s.priority, s.tier, earliest_due(s.clocks),
                s.queued_since,
            ))
    return {
        team: sorted(entries, key=lambda e: (e.due_at or FAR, e.queued_since or FAR,
                                             e.ticket_id))
        for team, entries in sorted(queues.items())
    }


@dataclass(slots=True)
class EscalationReport:
    total: int = 0
    tickets: int = 0
    by_tag: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_trigger: Counter[str] = field(default_factory=Counter)
    by_move: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "tickets": self.tickets,
            "by_tag": dict(self.by_tag.most_common()),
            "by_category": dict(self.by_category.most_common()),
            "by_trigger": dict(self.by_trigger.most_common()),
            "by_move": dict(self.by_move.most_common()),
        }


def escalation_report(events: Iterable[TicketEvent]) -> EscalationReport:
    """Escalations attributed to their ticket's tags and category (as finally classified).
    Duplicate event ids (redeliveries) count once."""
    tags: dict[str, set[str]] = {}
    category: dict[str, str] = {}
    escalations: dict[str, Escalated] = {}
    ticket_of: dict[str, str] = {}
    for e in events:
        p = e.payload
        if isinstance(p, Classified):
            tags.setdefault(e.ticket_id, set()).update(p.tags)
            if p.category:
                category[e.ticket_id] = p.category
        elif isinstance(p, Escalated):
            escalations[e.event_id] = p
            ticket_of[e.event_id] = e.ticket_id
    report = EscalationReport(total=len(escalations), tickets=len(set(ticket_of.values())))
    for event_id, p in escalations.items():
        ticket = ticket_of[event_id]
        for tag in sorted(tags.get(ticket, ())) or ["(none)"]:
            report.by_tag[tag] += 1
        report.by_category[category.get(ticket, "(none)")] += 1
        report.by_trigger[p.trigger or "(unknown)"] += 1
        report.by_move[f"{p.from_tier}->{p.to_tier}"] += 1
    return report
