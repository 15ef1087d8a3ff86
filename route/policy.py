"""Assignment strategies: pure functions from a ticket's needs and the team's agents to a pick.

Order of decision, like Freshdesk's omniroute and ServiceNow's assignment workbench:
eligibility (member, online, on shift, tier, capacity for the channel) → sticky previous agent →
skills cover (best cover wins, partial cover is the fallback) → language preference →
round-robin or least-loaded among what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from route.model import AgentView, Team, tier_rank


@dataclass(frozen=True, slots=True)
class Need:
    """What a ticket asks of an agent."""

    ticket_id: str
    channel: str
    tier: str = "L1"
    language: str | None = None
    skills: frozenset[str] = frozenset()  # the ticket's tags and category
    previous_agent: str | None = None  # the customer's last agent, for sticky teams
    passed_over: frozenset[str] = frozenset()  # agents who let an assignment time out


@dataclass(frozen=True, slots=True)
class Decision:
    agent_id: str
    strategy: str  # sticky / skills / skills-fallback / round-robin / least-loaded
    reason: str


def eligible(
    team: Team, need: Need, agents: Sequence[AgentView], now: datetime, default_capacity: int
) -> list[AgentView]:
    """Team members who may take this ticket now, within capacity."""
    members = [a for a in agents if team.name in a.agent.teams and not a.agent.deleted]
    # tier is a hard requirement only where the team has someone of that tier at all
    if any(tier_rank(a.agent.tier) >= tier_rank(need.tier) for a in members):
        members = [a for a in members if tier_rank(a.agent.tier) >= tier_rank(need.tier)]
    ready = [
        a
        for a in members
        if a.taking_work(now) and a.free_slots(need.channel, default_capacity) > 0
    ]
    fresh = [a for a in ready if a.agent_id not in need.passed_over]
    return fresh or ready


def _skill_cover(
    pool: list[AgentView], need: Need, vocabulary: set[str]
) -> tuple[list[AgentView], bool]:
    """Agents covering the most of the ticket's skills that anyone in the team has."""
    wanted = need.skills & vocabulary
    if not wanted:
        return pool, True
    scored = [(len(wanted & set(a.agent.skills)), a) for a in pool]
    best = max(score for score, _ in scored)
    return [a for score, a in scored if score == best], best == len(wanted)


def _round_robin(pool: list[AgentView], last: str | None) -> AgentView:
    ordered = sorted(pool, key=lambda a: a.agent_id)
    if last is not None:
        for a in ordered:
            if a.agent_id > last:
                return a
    return ordered[0]


def _least_loaded(pool: list[AgentView], channel: str, default_capacity: int) -> AgentView:
    return min(
        pool,
        key=lambda a: (
            a.load_ratio(channel, default_capacity),
            sum(a.load.values()),
            a.agent_id,
        ),
    )


def choose_agent(
    team: Team,
    need: Need,
    agents: Sequence[AgentView],
    now: datetime,
    *,
    default_capacity: int,
    last_round_robin: str | None = None,
) -> Decision | None:
    """The agent to assign, or None when nobody in the team can take the ticket now."""
    pool = eligible(team, need, agents, now, default_capacity)
    if not pool:
        return None
    if team.sticky and need.previous_agent:
        for a in pool:
            if a.agent_id == need.previous_agent:
                return Decision(a.agent_id, "sticky", "customer's previous agent")
    strategy = team.strategy
    reason = ""
    if team.match_skills:
        vocabulary = {k for a in agents if team.name in a.agent.teams for k in a.agent.skills}
        pool, full = _skill_cover(pool, need, vocabulary)
        reason = "skills match" if full else "partial skills match (fallback)"
        strategy_label = "skills" if full else "skills-fallback"
    else:
        strategy_label = strategy
    if team.prefer_language and need.language:
        speakers = [a for a in pool if need.language in a.agent.languages]
        pool = speakers or pool
    if strategy == "round-robin":
        pick = _round_robin(pool, last_round_robin)
    else:
        pick = _least_loaded(pool, need.channel, default_capacity)
    return Decision(pick.agent_id, strategy_label, reason or strategy)
