"""Everything the router decides with, as one immutable value built once at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from route.blueprint import Blueprint
from route.calendar import BusinessCalendar
from route.escalation import EscalationPolicy
from route.model import Department, Team
from route.sla import SlaPolicy
from route.supervisor import SupervisorRule
from schemas.directory import Agent


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    teams: Mapping[str, Team] = field(default_factory=dict)
    departments: Mapping[str, Department] = field(default_factory=dict)
    default_team: str = "support"
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    sla_policies: tuple[SlaPolicy, ...] = ()
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    supervisor_rules: tuple[SupervisorRule, ...] = ()
    blueprints: tuple[Blueprint, ...] = ()
    agents: tuple[Agent, ...] = ()  # seed directory; the agents topic overrides it
    default_capacity: int = 5
    accept_timeout: timedelta | None = timedelta(minutes=15)
    classify_wait: timedelta = timedelta(seconds=60)
    queue_retry: timedelta = timedelta(seconds=60)
    queue_drain_limit: int = 500
    seen_events_per_ticket: int = 64
    alert_webhook: str | None = None  # used when a team has no supervisor address

    def team_for(self, team: str | None, department: str | None) -> str:
        """The team a ticket goes to: its own, its department's default, the default team."""
        if team:
            return team
        if department and department in self.departments:
            return self.departments[department].default_team
        return self.default_team
