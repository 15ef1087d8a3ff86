"""Escalation tiers L0 (self-service) → L1 → L2 → L3 and the reasons to climb them.

Like Zendesk's tiers: each tier has a response target; a ticket left unanswered past its tier's
target climbs one tier (trigger ``time``). Classification can send it higher at once: a tag or
category known to be hard (``complexity``), negative sentiment (``sentiment``), a VIP customer
(``vip``). Only upward moves are made here; agents may move tickets anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from route.model import next_tier, tier_rank
from schemas.route_events import RouteTicketState, Tier


@dataclass(frozen=True, slots=True)
class TierSpec:
    name: Tier
    response_target: timedelta | None = None  # unanswered this long on this tier → next tier
    team: str | None = None  # tickets on this tier are routed to this team


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    tiers: Mapping[str, TierSpec] = field(default_factory=dict)
    on_tags: Mapping[str, Tier] = field(default_factory=dict)
    on_categories: Mapping[str, Tier] = field(default_factory=dict)
    negative_sentiment_tier: Tier | None = None
    vip_customer_tiers: frozenset[str] = frozenset()
    vip_tier: Tier | None = None


@dataclass(frozen=True, slots=True)
class EscalationDecision:
    to_tier: Tier
    reason: str
    trigger: str  # time / complexity / sentiment / vip / rule / agent


def on_classification(
    state: RouteTicketState, policy: EscalationPolicy
) -> EscalationDecision | None:
    """The highest tier the ticket's classification and customer call for, if above its own."""
    wants: list[EscalationDecision] = []
    for tag in state.tags:
        if tag in policy.on_tags:
            wants.append(EscalationDecision(policy.on_tags[tag], f"tag {tag}", "complexity"))
    if state.category and state.category in policy.on_categories:
        tier = policy.on_categories[state.category]
        wants.append(EscalationDecision(tier, f"category {state.category}", "complexity"))
    if state.sentiment == "negative" and policy.negative_sentiment_tier:
        wants.append(
            EscalationDecision(policy.negative_sentiment_tier, "negative sentiment", "sentiment")
        )
    if state.customer_tier in policy.vip_customer_tiers and policy.vip_tier:
        wants.append(
            EscalationDecision(policy.vip_tier, f"customer tier {state.customer_tier}", "vip")
        )
    above = [w for w in wants if tier_rank(w.to_tier) > tier_rank(state.tier)]
    if not above:
        return None
    return max(above, key=lambda w: tier_rank(w.to_tier))


def response_deadline(state: RouteTicketState, policy: EscalationPolicy) -> datetime | None:
    """When the ticket climbs a tier for lack of a response, if it is waiting for one."""
    spec = policy.tiers.get(state.tier)
    if (
        spec is None
        or spec.response_target is None
        or state.awaiting_since is None
        or next_tier(state.tier) is None
        or state.status in ("solved", "closed")
    ):
        return None
    start = max(state.awaiting_since, state.tier_since or state.awaiting_since)
    return start + spec.response_target


def time_firing_key(state: RouteTicketState) -> str:
    since = state.awaiting_since.isoformat() if state.awaiting_since else "-"
    return f"tier-time:{state.tier}:{since}"


def on_time(
    state: RouteTicketState, policy: EscalationPolicy, now: datetime
) -> EscalationDecision | None:
    deadline = response_deadline(state, policy)
    if deadline is None or now < deadline or time_firing_key(state) in state.fired:
        return None
    up = next_tier(state.tier)
    if up is None:
        return None
    spec = policy.tiers[state.tier]
    minutes = int((spec.response_target or timedelta()).total_seconds() // 60)
    return EscalationDecision(up, f"no response within {minutes} min on {state.tier}", "time")  # type: ignore[arg-type]


def tier_team(policy: EscalationPolicy, tier: str) -> str | None:
    spec = policy.tiers.get(tier)
    return spec.team if spec else None
