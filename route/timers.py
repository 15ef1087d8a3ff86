"""Timers derived from a ticket's route state, and the index that finds the due ones.

A ticket's timers are not stored separately: they follow from its state (SLA clocks, pending
assignment, unanswered message, blueprint state) and from what already ``fired``. The state is
persisted in the compacted ``route.state`` table, so a restarted worker rebuilds every timer
from the table and fires what fell due while it was down, once: firing a timer records its key
in the state, and the events it produces have ids derived from that key.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from route import escalation, supervisor
from route.blueprint import blueprint_for, expiry_key
from route.clocks import policy_of
from route.config import RoutingConfig
from route.facts import is_open
from route.sla import warn_at
from schemas.route_events import RouteTicketState


def wakeups(s: RouteTicketState, cfg: RoutingConfig) -> list[datetime]:
    """Every instant at which something may fire for this ticket."""
    if not is_open(s):
        return []
    out: list[datetime] = []
    policy = policy_of(s, cfg)
    if policy is not None:
        for c in s.clocks:
            w = warn_at(c, policy)
            if w is not None:
                out.append(w)
            if c.due_at is not None and not c.breached:
                out.append(c.due_at)
    if s.assignee and not s.accepted and s.assigned_at and cfg.accept_timeout is not None:
        out.append(s.assigned_at + cfg.accept_timeout)
    if not s.classified and s.assignee is None and s.queued_since is None:
        out.append(s.created_at + cfg.classify_wait)
    deadline = escalation.response_deadline(s, cfg.escalation)
    if deadline is not None and escalation.time_firing_key(s) not in s.fired:
        out.append(deadline)
    for rule in cfg.supervisor_rules:
        w = supervisor.wakeup(rule, s)
        if w is not None:
            out.append(w)
    bp = blueprint_for(cfg.blueprints, s.type)
    if bp is not None and s.state_since is not None:
        d = bp.deadline(s.status, s.state_since)
        if d is not None and expiry_key(s.status, s.state_since) not in s.fired:
            out.append(d)
    return out


def next_wakeup(s: RouteTicketState, cfg: RoutingConfig) -> datetime | None:
    times = wakeups(s, cfg)
    return min(times) if times else None


class TimerIndex:
    """Earliest wakeup per ticket, in a heap with lazy deletion."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._when: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._when)

    def set(self, ticket_id: str, when: datetime | None) -> None:
        if when is None:
            self._when.pop(ticket_id, None)
            return
        if self._when.get(ticket_id) == when:
            return
        self._when[ticket_id] = when
        heapq.heappush(self._heap, (when, ticket_id))

    def pop_due(self, now: datetime, limit: int) -> list[str]:
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now and len(due) < limit:
            when, ticket_id = heapq.heappop(self._heap)
            if self._when.get(ticket_id) == when:
                del self._when[ticket_id]
                due.append(ticket_id)
        return due

    def when(self, ticket_id: str) -> datetime | None:
        return self._when.get(ticket_id)

    def peek(self) -> datetime | None:
        while self._heap and self._when.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
