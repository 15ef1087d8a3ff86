"""What the router's reactions (:mod:`route.reactions`) and timers (:mod:`route.timing`) may ask
of the router that calls them, as a port: they are handed the :class:`route.engine.Router` and
call back into it to reroute, escalate or route a ticket, but import only this module, so the
engine imports them and not the other way round."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from route.config import RoutingConfig
from route.escalation import EscalationDecision
from schemas.directory import Agent
from schemas.events import TicketEvent
from schemas.notification import Notification
from schemas.route_events import RouteTicketState

Emission = TicketEvent | Notification  # what a decision emits: an event or a notification


class Decisions(Protocol):
    """The router as its reactions and timers see it."""

    @property
    def cfg(self) -> RoutingConfig: ...

    @property
    def agents(self) -> Mapping[str, Agent]: ...

    def route(
        self, s: RouteTicketState, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        """Assign the ticket in its team, or put it in the team's queue."""
        ...

    def reroute(
        self, s: RouteTicketState, team: str, reason: str, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        """Move the ticket to ``team`` and route it there."""
        ...

    def escalate(
        self, s: RouteTicketState, d: EscalationDecision, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        """Raise the ticket to ``d.to_tier`` (events, notifications, re-routing)."""
        ...
