"""Supervisor rules in the manner of Zoho Desk's: conditions on a ticket that, once true, alert
the supervisor or escalate. "More than 10 exchanges and resolution overdue → alert the
supervisor"; "no response in 20 minutes on L1 → escalate to L2".

Each rule fires at most once per ticket, or once per unanswered customer message when it has a
``no_response_for`` condition; the firing key is recorded in the ticket's route state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from route.sla import clock_for
from schemas.route_events import RouteTicketState, SlaMetric, Tier

RuleAction = Literal["alert-supervisor", "escalate"]


@dataclass(frozen=True, slots=True)
class SupervisorRule:
    name: str
    action: RuleAction = "alert-supervisor"
    to_tier: Tier | None = None  # escalate: this tier, or the next one
    tiers: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    min_exchanges: int | None = None  # more than this many messages both ways
    overdue: frozenset[SlaMetric] = frozenset()  # any of these breached
    no_response_for: timedelta | None = None


def _static_conditions(rule: SupervisorRule, state: RouteTicketState) -> bool:
    if state.status in ("solved", "closed"):
        return False
    if rule.tiers and state.tier not in rule.tiers:
        return False
    if rule.priorities and state.priority not in rule.priorities:
        return False
    if rule.teams and state.team not in rule.teams:
        return False
    if rule.min_exchanges is not None and state.exchanges <= rule.min_exchanges:
        return False
    if rule.overdue:
        breached = False
        for metric in rule.overdue:
            clock = clock_for(state.clocks, metric)
            if clock is not None and clock.breached and clock.met_at is None:
                breached = True
        if not breached:
            return False
    return True


def wakeup(rule: SupervisorRule, state: RouteTicketState) -> datetime | None:
    """When the rule's time condition becomes true (None: no time condition pending)."""
    if rule.no_response_for is None or state.awaiting_since is None:
        return None
    if firing_key(rule, state) in state.fired or not _static_conditions(rule, state):
        return None  # the conditions change only with an event, which recomputes wakeups
    start = state.awaiting_since
    if rule.tiers and state.tier_since is not None:
        start = max(start, state.tier_since)  # time on the tier counts from reaching it
    return start + rule.no_response_for


def holds(rule: SupervisorRule, state: RouteTicketState, now: datetime) -> bool:
    if not _static_conditions(rule, state):
        return False
    if rule.no_response_for is not None:
        due = wakeup(rule, state)
        return due is not None and now >= due
    return True


def firing_key(rule: SupervisorRule, state: RouteTicketState) -> str:
    if rule.no_response_for is not None and state.awaiting_since is not None:
        return f"rule:{rule.name}:{state.tier}:{state.awaiting_since.isoformat()}"
    return f"rule:{rule.name}"


def due_rules(
    rules: tuple[SupervisorRule, ...], state: RouteTicketState, now: datetime
) -> list[SupervisorRule]:
    """Rules that hold now and have not fired for this ticket (or this unanswered message)."""
    return [r for r in rules if firing_key(r, state) not in state.fired and holds(r, state, now)]
