"""The agent's queue: my open tickets and my teams' unassigned ones, earliest SLA due first,
with what is left on the clock. Pure: tickets, the agent and ``now`` are parameters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.directory import Agent
from schemas.ticket import Ticket

CLOSED = frozenset({"solved", "closed"})
Scope = Literal["mine", "all"]
SlaState = Literal["ok", "warning", "breached", "none"]
FILTERS = ("status", "priority", "category", "channel", "tier")


@dataclass(frozen=True, slots=True)
class Due:
    metric: str  # first-response / next-response / resolution
    at: datetime


@dataclass(frozen=True, slots=True)
class QueueRow:
    ticket: Ticket
    due: Due | None
    remaining_s: float | None
    sla: SlaState
    mine: bool


def next_due(t: Ticket) -> Due | None:
    """The earliest SLA target still running on the ticket."""
    if t.status in CLOSED:
        return None
    candidates: list[Due] = []
    if t.first_response_due is not None and t.first_response_at is None:
        candidates.append(Due("first-response", t.first_response_due))
    if t.next_response_due is not None:
        candidates.append(Due("next-response", t.next_response_due))
    if t.resolution_due is not None:
        candidates.append(Due("resolution", t.resolution_due))
    return min(candidates, key=lambda d: d.at) if candidates else None


def sla_state(t: Ticket, due: Due | None, now: datetime, warning_s: float) -> SlaState:
    if due is None:
        return "breached" if t.sla_breached and t.status not in CLOSED else "none"
    left = (due.at - now).total_seconds()
    if left <= 0 or due.metric in t.sla_breached:
        return "breached"
    if left <= warning_s or due.metric in t.sla_warned:
        return "warning"
    return "ok"


def row(t: Ticket, agent_id: str, now: datetime, warning_s: float) -> QueueRow:
    due = next_due(t)
    return QueueRow(t, due, (due.at - now).total_seconds() if due else None,
                    sla_state(t, due, now, warning_s), t.assignee == agent_id)


def visible(t: Ticket, agent: Agent, scope: Scope) -> bool:
    """Mine, or unassigned in one of my teams; ``all`` (supervisors) is every ticket."""
    if scope == "all":
        return True
    return t.assignee == agent.agent_id or (t.assignee is None and t.team in agent.teams)


def matches(t: Ticket, filters: Mapping[str, str]) -> bool:
    for name in FILTERS:
        wanted = filters.get(name)
        if not wanted:
            continue
        if name == "status" and wanted == "active":
            if t.status in CLOSED:
                return False
            continue
        if str(getattr(t, name) or "") != wanted:
            return False
    return True


def build_queue(tickets: Iterable[Ticket], agent: Agent, now: datetime,
                filters: Mapping[str, str], *, scope: Scope = "mine",
                warning_s: float = 3600.0, limit: int = 500) -> list[QueueRow]:
    """Rows ordered by SLA due time (no due time last, then oldest first). ``filters`` maps
    status / priority / category / channel / tier to a value; status ``active`` (the default
    when absent) means anything not solved or closed."""
    wanted = {"status": "active", **{k: v for k, v in filters.items() if v}}
    rows = [row(t, agent.agent_id, now, warning_s) for t in tickets
            if visible(t, agent, scope) and matches(t, wanted)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (r.due.at if r.due else far, r.ticket.created_at,
                             r.ticket.ticket_id))
    return rows[:limit]


def facets(tickets: Iterable[Ticket]) -> dict[str, list[str]]:
    """The values each filter can take among ``tickets`` (for the filter menus)."""
    seen: dict[str, set[str]] = {name: set() for name in FILTERS}
    for t in tickets:
        for name in FILTERS:
            value = getattr(t, name)
            if value:
                seen[name].add(str(value))
    return {name: sorted(values) for name, values in seen.items()}
