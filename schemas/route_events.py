"""Routing, SLA and escalation event payloads. Owned by the route stage."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.base import Extra, extra_field, record
from schemas.message import Address

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
class OpeningSpan:
    """One working interval of a weekday, in the calendar's own time zone."""

    weekday: int  # 0 = Monday
    start_minute: int  # minutes from local midnight
    end_minute: int  # exclusive; 1440 is the end of the day
    extra: Extra = extra_field()


@record
class OpeningHours:
    """The business-hours calendar that computed an SLA's due times, as the customer is told
    it: weekly hours and the closed days (public holidays, office closures) ahead."""

    calendar: str
    timezone: str
    always_open: bool = False
    weekly: tuple[OpeningSpan, ...] = ()
    closed_days: tuple[str, ...] = ()  # ISO dates, from the SLA's start to its first due date
    extra: Extra = extra_field()


@record
class SlaApplied:
    TAG: ClassVar[str] = "sla-applied"
    policy: str
    first_response_due: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None
    # the calendar behind the due times: the ack quotes these hours, so promise and hours agree
    hours: OpeningHours | None = None
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


# ---------------------------------------------------------------------------------------------
# The route stage's own per-ticket state (compacted ``route.state`` table, key ticket id).
# Not an event: the facts routing needs, the SLA clocks and the record of timers that fired,
# so that a restarted worker neither loses a timer nor fires it twice.


@record
class SlaClock:
    """One SLA metric's clock. Business time consumed before the current running segment is
    ``elapsed_s``; while running, the due time is ``running_since`` + the remaining target in
    the policy's calendar. A paused clock has ``running_since=None``; a met one ``met_at``."""

    metric: SlaMetric
    target_s: float
    cycle: int = 0  # next-response restarts with every unanswered customer message
    elapsed_s: float = 0.0
    running_since: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    warned: bool = False
    breached: bool = False
    extra: Extra = extra_field()


@record
class RouteTicketState:
    schema_version: int = 1
    ticket_id: str
    number: str
    channel: str = "email"
    mailbox: str = ""
    customer_id: str = ""
    requester: Address | None = None  # who wrote in: agent notices name them
    subject: str = ""
    language: str | None = None
    priority: str = "normal"
    status: str = "new"
    type: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    sentiment: str | None = None
    sentiment_score: float | None = None
    customer_tier: str | None = None
    classified: bool = False
    assign_to: str | None = None  # requested by rules (agent id)
    sla_policy_hint: str | None = None  # requested by rules
    department: str | None = None
    team: str | None = None
    tier: Tier = "L1"
    tier_since: datetime | None = None
    assignee: str | None = None
    assigned_at: datetime | None = None
    accepted: bool = False
    passed_over: tuple[str, ...] = ()  # agents whose assignment timed out on this ticket
    queued_since: datetime | None = None
    sla_policy: str | None = None
    clocks: tuple[SlaClock, ...] = ()
    # the policy and due times last announced in ``sla-applied``: the same SLA is not
    # announced twice (a classify-wait announcement, then a classification that changed nothing)
    sla_announced: str | None = None
    awaiting_since: datetime | None = None  # oldest unanswered customer message
    inbound_count: int = 0
    outbound_count: int = 0
    state_since: datetime | None = None
    fired: tuple[str, ...] = ()  # timer / rule firings already emitted
    seen: tuple[str, ...] = ()  # recent input event ids, for redelivery dedupe
    created_at: datetime
    updated_at: datetime
    extra: Extra = extra_field()

    @property
    def exchanges(self) -> int:
        return self.inbound_count + self.outbound_count
