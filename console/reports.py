"""Supervisor reports as a pure fold over ticket events.

:class:`ReportFold` takes events one at a time (per-ticket order as in the log; tickets may
interleave freely) and ignores an event id it has seen, so a replayed or redelivered log gives
the same report. Tickets count from their ``created`` event; with ``since``, tickets created
before it are left out with all their events. :meth:`ReportFold.report` reads the figures at
``now`` (ages of the backlog). Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from schemas.classify_events import Classified
from schemas.events import (
    Assigned,
    Created,
    Escalated,
    MessageAdded,
    Queued,
    SlaApplied,
    SlaBreached,
    StatusChanged,
    TicketEvent,
    Unassigned,
)

DONE = frozenset({"solved", "closed"})
NONE = "(none)"
# Backlog ages, upper bounds in hours; the last bucket is everything older.
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1h", 1), ("1-24h", 24), ("1-3d", 72), ("3-7d", 168), (">7d", math.inf))


@dataclass(slots=True)
class _Ticket:
    created_at: datetime
    channel: str
    status: str
    category: str | None = None
    team: str | None = None
    assignee: str | None = None
    first_response_s: float | None = None
    first_responder: str | None = None
    resolution_s: float | None = None
    sla: bool = False
    breached: bool = False
    was_done: bool = False
    reopened: bool = False


@dataclass(slots=True)
class _Agent:
    assigned: int = 0
    replies: int = 0
    first_responses: list[float] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _distribution(values: list[float]) -> dict[str, Any]:
    return {"count": len(values), "p50_s": percentile(values, 50),
            "p90_s": percentile(values, 90)}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


class ReportFold:
    def __init__(self, since: datetime | None = None, tz: tzinfo = UTC) -> None:
        self.since = since
        self.tz = tz
        self._seen: set[str] = set()
        self._tickets: dict[str, _Ticket] = {}
        self._agents: dict[str, _Agent] = {}
        self._escalations: Counter[str] = Counter()
        self._escalation_moves: Counter[str] = Counter()
        self.events = 0  # distinct events folded (of tickets in range)

    def apply_all(self, events: Iterable[TicketEvent]) -> ReportFold:
        for e in events:
            self.apply(e)
        return self

    def _agent(self, agent_id: str) -> _Agent:
        return self._agents.setdefault(agent_id, _Agent())

    def apply(self, e: TicketEvent) -> None:
        if e.event_id in self._seen:
            return
        p = e.payload
        if isinstance(p, Created):
            if self.since is not None and e.at < self.since:
                return
            self._seen.add(e.event_id)
            self.events += 1
            self._tickets.setdefault(e.ticket_id, _Ticket(e.at, p.channel, p.status))
            return
        t = self._tickets.get(e.ticket_id)
        if t is None:
            return  # created before the window (or its creation not seen)
        self._seen.add(e.event_id)
        self.events += 1
        if isinstance(p, MessageAdded):
            if p.direction == "outbound" and p.agent_id:  # a person's reply, not an auto-ack
                self._agent(p.agent_id).replies += 1
                if t.first_response_s is None:
                    t.first_response_s = (e.at - t.created_at).total_seconds()
                    t.first_responder = p.agent_id
                    self._agent(p.agent_id).first_responses.append(t.first_response_s)
        elif isinstance(p, StatusChanged):
            if p.from_status in DONE and p.to_status not in DONE:
                t.reopened = True
            if p.to_status in DONE:
                t.was_done = True
                if t.resolution_s is None:
                    t.resolution_s = (e.at - t.created_at).total_seconds()
            t.status = p.to_status
        elif isinstance(p, Classified):
            t.category = p.category or t.category
            t.team = p.team or t.team
        elif isinstance(p, Queued):
            t.team = p.team
        elif isinstance(p, Assigned):
            t.assignee = p.agent_id
            t.team = p.team or t.team
            self._agent(p.agent_id).assigned += 1
        elif isinstance(p, Unassigned):
            if t.assignee == p.agent_id:
                t.assignee = None
        elif isinstance(p, SlaApplied):
            t.sla = True
        elif isinstance(p, SlaBreached):
            t.breached = True
        elif isinstance(p, Escalated):
            self._escalations[p.trigger or NONE] += 1
            self._escalation_moves[f"{p.from_tier}→{p.to_tier}"] += 1

    def report(self, now: datetime) -> dict[str, Any]:
        ts = list(self._tickets.values())
        by_hour = [0] * 24
        by_day: Counter[str] = Counter()
        for t in ts:
            local = t.created_at.astimezone(self.tz)
            by_hour[local.hour] += 1
            by_day[local.date().isoformat()] += 1
        backlog = [t for t in ts if t.status not in DONE]
        ages: Counter[str] = Counter()
        for t in backlog:
            hours = (now - t.created_at).total_seconds() / 3600
            ages[next(name for name, bound in AGE_BUCKETS if hours < bound)] += 1
        with_sla = [t for t in ts if t.sla]
        done = [t for t in ts if t.was_done]
        open_by_agent = Counter(t.assignee for t in backlog if t.assignee)
        agents = {
            a: {"assigned": s.assigned, "replies": s.replies, "open_now": open_by_agent[a],
                "first_response_p50_s": percentile(s.first_responses, 50)}
            for a, s in sorted(self._agents.items())
        }
        for a in sorted(set(open_by_agent) - set(agents)):
            agents[a] = {"assigned": 0, "replies": 0, "open_now": open_by_agent[a],
                         "first_response_p50_s": None}
        return {
            "since": self.since.isoformat() if self.since else None,
            "at": now.isoformat(), "tickets": len(ts), "events": self.events,
            "volume": {
                "by_channel": dict(sorted(Counter(t.channel for t in ts).items())),
                "by_category": dict(sorted(Counter(t.category or NONE for t in ts).items())),
                "by_team": dict(sorted(Counter(t.team or NONE for t in ts).items())),
                "by_day": dict(sorted(by_day.items())),
            },
            "first_response": _distribution(
                [t.first_response_s for t in ts if t.first_response_s is not None]),
            "resolution": _distribution(
                [t.resolution_s for t in ts if t.resolution_s is not None]),
            "sla": {"tickets": len(with_sla), "breached": sum(t.breached for t in with_sla),
                    "compliance_pct": _pct(sum(not t.breached for t in with_sla),
                                           len(with_sla))},
            "escalations": {"total": sum(self._escalations.values()),
                            "by_trigger": dict(sorted(self._escalations.items())),
                            "by_move": dict(sorted(self._escalation_moves.items()))},
            "backlog": {"total": len(backlog),
                        "by_status": dict(sorted(Counter(t.status for t in backlog).items())),
                        "by_age": {name: ages[name] for name, _ in AGE_BUCKETS}},
            "reopen": {"solved": len(done), "reopened": sum(t.reopened for t in done),
                       "rate_pct": _pct(sum(t.reopened for t in done), len(done))},
            "busiest_hours": by_hour,
            "agents": agents,
        }


def build_report(events: Iterable[TicketEvent], now: datetime,
                 since: datetime | None = None, tz: tzinfo = UTC) -> dict[str, Any]:
    return ReportFold(since, tz).apply_all(events).report(now)
