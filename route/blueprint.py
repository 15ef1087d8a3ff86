"""Blueprint-style processes per ticket type, after Zoho Desk's Blueprints: which states a
ticket of that type may move between, who owns each state, how long it may stay there, and
whom to tell on entry and on expiry.

Events are facts, so a disallowed transition is not undone here: it is reported to the
supervisor. Owners are teams: entering an owned state routes the ticket to that team.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class BlueprintState:
    status: str
    owner_team: str | None = None
    time_limit: timedelta | None = None
    notify_on_entry: bool = False


@dataclass(frozen=True, slots=True)
class Blueprint:
    ticket_type: str
    states: Mapping[str, BlueprintState] = field(default_factory=dict)
    transitions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # from -> to

    def allows(self, from_status: str, to_status: str) -> bool:
        allowed = self.transitions.get(from_status)
        return allowed is None or to_status in allowed

    def step(self, status: str) -> BlueprintState | None:
        return self.states.get(status)

    def deadline(self, status: str, since: datetime | None) -> datetime | None:
        step = self.states.get(status)
        if step is None or step.time_limit is None or since is None:
            return None
        return since + step.time_limit


def blueprint_for(blueprints: Sequence[Blueprint], ticket_type: str | None) -> Blueprint | None:
    if not ticket_type:
        return None
    for bp in blueprints:
        if bp.ticket_type == ticket_type:
            return bp
    return None


def expiry_key(status: str, since: datetime) -> str:
    return f"state-time:{status}:{since.isoformat()}"
