"""Roles of console users, read from the agent directory's ``roles``: agent < supervisor <
admin. An agent with no role named there is an ``agent``."""

from __future__ import annotations

from typing import Literal

from schemas.directory import Agent

Role = Literal["agent", "supervisor", "admin"]
RANK: dict[Role, int] = {"agent": 0, "supervisor": 1, "admin": 2}


def role_of(agent: Agent) -> Role:
    roles = {r.strip().lower() for r in agent.roles}
    if "admin" in roles:
        return "admin"
    if "supervisor" in roles:
        return "supervisor"
    return "agent"


def allows(role: Role, needed: Role) -> bool:
    return RANK[role] >= RANK[needed]
