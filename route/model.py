"""Departments, teams and agents as the router sees them.

Agents themselves are wire records (:class:`schemas.directory.Agent`, compacted ``agents``
topic); this module adds the configuration around them and the questions asked of them:
is this agent taking work now, and how many tickets of a channel may they hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from route.calendar import BusinessCalendar, calendar_from_days
from schemas.directory import Agent, WorkingHours

Strategy = Literal["round-robin", "least-loaded"]
TIER_RANK: Mapping[str, int] = {"L0": 0, "L1": 1, "L2": 2, "L3": 3}
TIERS = ("L0", "L1", "L2", "L3")


@dataclass(frozen=True, slots=True)
class Team:
    """A group of agents sharing a queue. ``strategy`` picks among the available agents;
    ``sticky`` first tries the customer's previous agent; ``match_skills`` keeps the agents
    covering most of the ticket's skills (tags and category), falling back to partial cover."""

    name: str
    department: str | None = None
    strategy: Strategy = "least-loaded"
    match_skills: bool = False
    sticky: bool = False
    prefer_language: bool = True
    supervisors: tuple[str, ...] = ()  # email addresses alerted for this team
    webhook: str | None = None  # configured webhook name for alerts


@dataclass(frozen=True, slots=True)
class Department:
    name: str
    default_team: str
    supervisors: tuple[str, ...] = ()


def tier_rank(tier: str) -> int:
    return TIER_RANK.get(tier, 1)


def next_tier(tier: str) -> str | None:
    rank = tier_rank(tier)
    return TIERS[rank + 1] if rank + 1 < len(TIERS) else None


def working_calendar(hours: WorkingHours | None) -> BusinessCalendar | None:
    """An agent's shift as a calendar; None means 'whenever they are online'."""
    if hours is None or not hours.days:
        return None
    days = {day: f"{span[0]}-{span[1]}" for day, span in hours.days.items()}
    return calendar_from_days("agent", hours.timezone, days)


def capacity_of(agent: Agent, channel: str, default: int) -> int:
    """Max open tickets of a channel; ``"*"`` in the agent's map is their default."""
    caps = agent.capacity
    if channel in caps:
        return caps[channel]
    return caps.get("*", default)


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent with what routing needs to know about them right now."""

    agent: Agent
    load: Mapping[str, int]  # channel -> open tickets held
    shift: BusinessCalendar | None = None

    @property
    def agent_id(self) -> str:
        return self.agent.agent_id

    def taking_work(self, now: datetime) -> bool:
        if self.agent.deleted or self.agent.presence != "online":
            return False
        return self.shift is None or self.shift.is_open(now)

    def free_slots(self, channel: str, default_capacity: int) -> int:
        return capacity_of(self.agent, channel, default_capacity) - self.load.get(channel, 0)

    def load_ratio(self, channel: str, default_capacity: int) -> float:
        cap = capacity_of(self.agent, channel, default_capacity)
        return self.load.get(channel, 0) / cap if cap > 0 else 1.0
