"""Settings of the route stage (the ``[route]`` section of the config file).

Routing configuration (departments, teams, agents, calendars, SLA policies, escalation tiers,
supervisor rules, blueprints) may be written inline in ``[route]`` or in a separate TOML file
named by ``config_file`` (see ``route/examples/routing.toml``); both are merged, inline last.
Validated here, then turned into the frozen :class:`route.config.RoutingConfig` once.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from route.blueprint import Blueprint, BlueprintState
from route.calendar import BusinessCalendar, calendar_from_days
from route.config import RoutingConfig
from route.escalation import EscalationPolicy, TierSpec
from route.model import Department, Team
from route.sla import SlaPolicy
from route.supervisor import SupervisorRule
from schemas.directory import Agent, WorkingHours

TierName = Literal["L0", "L1", "L2", "L3"]
Metric = Literal["first-response", "next-response", "resolution"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarModel(_Model):
    timezone: str = "UTC"
    hours: dict[str, list[str] | str] = {}  # "mon" = ["09:00-12:00", "13:00-17:00"]
    holidays: list[date] = []
    holiday_country: str | None = None  # ISO code for the `holidays` package, e.g. "FR"
    holiday_subdiv: str | None = None


class TeamModel(_Model):
    department: str | None = None
    strategy: Literal["round-robin", "least-loaded"] = "least-loaded"
    match_skills: bool = False
    sticky: bool = False
    prefer_language: bool = True
    supervisors: list[str] = []
    webhook: str | None = None


class DepartmentModel(_Model):
    default_team: str
    supervisors: list[str] = []


class SlaPolicyModel(_Model):
    name: str
    first_response_minutes: float | None = Field(default=None, gt=0)
    next_response_minutes: float | None = Field(default=None, gt=0)
    resolution_minutes: float | None = Field(default=None, gt=0)
    calendar: str = "24x7"
    warn_before_minutes: float = Field(default=30, ge=0)
    priorities: list[str] = []
    customer_tiers: list[str] = []
    channels: list[str] = []
    categories: list[str] = []
    pause_statuses: list[str] = ["pending", "on-hold"]


class TierModel(_Model):
    response_minutes: float | None = Field(default=None, gt=0)
    team: str | None = None


class EscalationModel(_Model):
    tiers: dict[TierName, TierModel] = {}
    on_tags: dict[str, TierName] = {}
    on_categories: dict[str, TierName] = {}
    negative_sentiment_tier: TierName | None = None
    vip_customer_tiers: list[str] = ["vip"]
    vip_tier: TierName | None = None


class SupervisorRuleModel(_Model):
    name: str
    action: Literal["alert-supervisor", "escalate"] = "alert-supervisor"
    to_tier: TierName | None = None
    tiers: list[TierName] = []
    priorities: list[str] = []
    teams: list[str] = []
    min_exchanges: int | None = Field(default=None, ge=0)
    overdue: list[Metric] = []
    no_response_minutes: float | None = Field(default=None, gt=0)


class BlueprintStateModel(_Model):
    owner_team: str | None = None
    time_limit_minutes: float | None = Field(default=None, gt=0)
    notify_on_entry: bool = False


class BlueprintModel(_Model):
    ticket_type: str
    states: dict[str, BlueprintStateModel] = {}
    transitions: dict[str, list[str]] = {}


class AgentModel(_Model):
    agent_id: str
    name: str = ""
    email: str | None = None
    teams: list[str] = []
    roles: list[str] = []
    tier: TierName = "L1"
    skills: list[str] = []
    languages: list[str] = []
    capacity: dict[str, int] = {}  # channel (or "*") -> max open tickets
    presence: Literal["online", "away", "offline"] = "offline"
    timezone: str = "UTC"
    hours: dict[str, str] = {}  # "mon" = "09:00-17:00"

    def to_agent(self) -> Agent:
        hours = None
        if self.hours:
            days = {d: tuple(span.split("-", 1)) for d, span in self.hours.items()}
            hours = WorkingHours(timezone=self.timezone, days=days)  # type: ignore[arg-type]
        return Agent(
            agent_id=self.agent_id, name=self.name, email=self.email, teams=tuple(self.teams),
            roles=tuple(self.roles), tier=self.tier, skills=tuple(self.skills),
            languages=tuple(self.languages), capacity=dict(self.capacity),
            presence=self.presence, working_hours=hours,
        )


class RoutingFile(_Model):
    """What a routing TOML file holds (and what may be written inline in ``[route]``)."""

    default_team: str | None = None
    departments: dict[str, DepartmentModel] = {}
    teams: dict[str, TeamModel] = {}
    calendars: dict[str, CalendarModel] = {}
    sla_policies: list[SlaPolicyModel] = []
    escalation: EscalationModel | None = None
    supervisor_rules: list[SupervisorRuleModel] = []
    blueprints: list[BlueprintModel] = []
    agents: list[AgentModel] = []


class RouteSettings(RoutingFile):
    config_file: str | None = None
    tick_interval_s: float = Field(default=1.0, gt=0)
    default_capacity: int = Field(default=5, ge=0)  # per channel, when an agent sets none
    accept_timeout_minutes: float = Field(default=15, ge=0)  # 0: assignments never time out
    classify_wait_seconds: float = Field(default=60, ge=0)  # route unclassified tickets after
    queue_retry_seconds: float = Field(default=60, gt=0)  # re-try queues (shifts start)
    queue_drain_limit: int = Field(default=500, ge=1)  # tickets looked at per queue drain
    seen_events_per_ticket: int = Field(default=64, ge=1)  # redelivery dedupe window
    alert_webhook: str | None = None  # webhook name for alerts when no supervisor address
    cli_timeout_s: float = Field(default=30.0, gt=0)  # CLI reads/writes of topics
    # Catching up (input arriving, but its event time this far behind the clock): timers tick
    # at the input's event time, so a backlog's later replies are seen before its deadlines.
    catchup_lag_s: float = Field(default=60.0, gt=0)
    catchup_idle_s: float = Field(default=5.0, gt=0)  # no input this long: tick on the clock


def _minutes(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=value)


# Used when no SLA policy is configured: common helpdesk defaults by priority, 24x7.
DEFAULT_SLA_POLICIES = (
    SlaPolicy("urgent", timedelta(minutes=30), timedelta(hours=1), timedelta(hours=4),
              priorities=frozenset({"urgent"}), warn_before=timedelta(minutes=10)),
    SlaPolicy("high", timedelta(hours=1), timedelta(hours=2), timedelta(hours=8),
              priorities=frozenset({"high"}), warn_before=timedelta(minutes=15)),
    SlaPolicy("normal", timedelta(hours=4), timedelta(hours=8), timedelta(hours=24)),
)


def read_routing_file(path: str | Path) -> RoutingFile:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return RoutingFile.model_validate(data.get("route", data))


def _merge(base: RoutingFile, top: RoutingFile) -> RoutingFile:
    return RoutingFile(
        default_team=top.default_team or base.default_team,
        departments={**base.departments, **top.departments},
        teams={**base.teams, **top.teams},
        calendars={**base.calendars, **top.calendars},
        sla_policies=[*top.sla_policies, *base.sla_policies],
        escalation=top.escalation or base.escalation,
        supervisor_rules=[*base.supervisor_rules, *top.supervisor_rules],
        blueprints=[*top.blueprints, *base.blueprints],
        agents=[*base.agents, *top.agents],
    )


def _calendar(name: str, c: CalendarModel) -> BusinessCalendar:
    return calendar_from_days(
        name, c.timezone, c.hours, tuple(c.holidays), c.holiday_country, c.holiday_subdiv
    )


def _check_references(f: RoutingFile) -> None:
    """Names that must exist: a typo would silently fall back to 24x7 or the default team."""
    known = {"24x7", *f.calendars}
    for i, p in enumerate(f.sla_policies):
        if p.calendar not in known:
            raise ValueError(f"route.sla_policies[{i}].calendar: unknown calendar {p.calendar!r}")
    for name, d in f.departments.items():
        if f.teams and d.default_team not in f.teams:
            raise ValueError(f"route.departments.{name}.default_team: unknown team "
                             f"{d.default_team!r}")


def routing_config(settings: RouteSettings) -> RoutingConfig:
    """Build the immutable routing configuration (reads ``config_file`` if set)."""
    inline = RoutingFile.model_validate(settings.model_dump(include=set(RoutingFile.model_fields)))
    f = _merge(read_routing_file(settings.config_file), inline) if settings.config_file else inline
    _check_references(f)
    esc = f.escalation or EscalationModel()
    default_team = f.default_team or "support"
    teams = {n: Team(name=n, **{**t.model_dump(), "supervisors": tuple(t.supervisors)})
             for n, t in f.teams.items()}
    teams.setdefault(default_team, Team(name=default_team))
    return RoutingConfig(
        teams=teams,
        departments={n: Department(n, d.default_team, tuple(d.supervisors))
                     for n, d in f.departments.items()},
        default_team=default_team,
        calendars={n: _calendar(n, c) for n, c in f.calendars.items()},
        sla_policies=tuple(
            SlaPolicy(
                name=p.name, first_response=_minutes(p.first_response_minutes),
                next_response=_minutes(p.next_response_minutes),
                resolution=_minutes(p.resolution_minutes), calendar=p.calendar,
                warn_before=timedelta(minutes=p.warn_before_minutes),
                priorities=frozenset(p.priorities), customer_tiers=frozenset(p.customer_tiers),
                channels=frozenset(p.channels), categories=frozenset(p.categories),
                pause_statuses=frozenset(p.pause_statuses),
            )
            for p in f.sla_policies
        ) or DEFAULT_SLA_POLICIES,
        escalation=EscalationPolicy(
            tiers={n: TierSpec(n, _minutes(t.response_minutes), t.team)
                   for n, t in esc.tiers.items()},
            on_tags=dict(esc.on_tags), on_categories=dict(esc.on_categories),
            negative_sentiment_tier=esc.negative_sentiment_tier,
            vip_customer_tiers=frozenset(esc.vip_customer_tiers), vip_tier=esc.vip_tier,
        ),
        supervisor_rules=tuple(
            SupervisorRule(
                name=r.name, action=r.action, to_tier=r.to_tier, tiers=frozenset(r.tiers),
                priorities=frozenset(r.priorities), teams=frozenset(r.teams),
                min_exchanges=r.min_exchanges, overdue=frozenset(r.overdue),
                no_response_for=_minutes(r.no_response_minutes),
            )
            for r in f.supervisor_rules
        ),
        blueprints=tuple(
            Blueprint(
                b.ticket_type,
                states={s: BlueprintState(s, m.owner_team, _minutes(m.time_limit_minutes),
                                          m.notify_on_entry) for s, m in b.states.items()},
                transitions={s: frozenset(t) for s, t in b.transitions.items()},
            )
            for b in f.blueprints
        ),
        agents=tuple(a.to_agent() for a in f.agents),
        default_capacity=settings.default_capacity,
        accept_timeout=_minutes(settings.accept_timeout_minutes or None),
        classify_wait=timedelta(seconds=settings.classify_wait_seconds),
        queue_retry=timedelta(seconds=settings.queue_retry_seconds),
        queue_drain_limit=settings.queue_drain_limit,
        seen_events_per_ticket=settings.seen_events_per_ticket,
        alert_webhook=settings.alert_webhook,
    )
