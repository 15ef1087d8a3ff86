"""Routing, SLA and escalation event payloads. Owned by the route stage."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.base import Extra, extra_field, record

Tier = Literal["L0", "L1", "L2", "L3"]
SlaMetric = Literal["first-response", "next-response", "resolution", "state-time"]


@record
class Assigned:
    TAG: ClassVar[str] = "assigned"
    agent_id: str
    team: str | None = None
    department: str | None = None
    strategy: str = ""
    reason: str = ""
    extra: Extra = extra_field()


@record
class Unassigned:
    TAG: ClassVar[str] = "unassigned"
    agent_id: str
    reason: str = ""
    extra: Extra = extra_field()


@record
class Queued:
    TAG: ClassVar[str] = "queued"
    team: str
    due_at: datetime | None = None
    reason: str = ""
    extra: Extra = extra_field()


@record
class Escalated:
    TAG: ClassVar[str] = "escalated"
    from_tier: Tier
    to_tier: Tier
    reason: str
    trigger: str = ""  # time / complexity / sentiment / vip / rule / agent
    extra: Extra = extra_field()


@record
class SlaApplied:
    TAG: ClassVar[str] = "sla-applied"
    policy: str
    first_response_due: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None
    extra: Extra = extra_field()


@record
class SlaWarning:
    TAG: ClassVar[str] = "sla-warning"
    policy: str
    metric: SlaMetric
    due_at: datetime
    extra: Extra = extra_field()


@record
class SlaBreached:
    TAG: ClassVar[str] = "sla-breached"
    policy: str
    metric: SlaMetric
    due_at: datetime
    extra: Extra = extra_field()
