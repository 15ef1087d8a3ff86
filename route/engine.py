"""The router: ticket events and timers in, routing/SLA/escalation events and alerts out.

Deterministic and clock-free (time is a parameter); the stage shell only decodes, encodes and
persists. It keeps the per-ticket route state, the agent directory, and two indexes derived
from them: open tickets per agent and channel (load) and unassigned tickets per team (queue).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from route import clocks, escalation, facts, reactions
from route.alerts import ROUTE_ACTOR_ID, notifications, supervisors_of, ticket_event
from route.calendar import BusinessCalendar
from route.config import RoutingConfig
from route.decisions import Emission
from route.escalation import EscalationDecision
from route.facts import evolve
from route.model import AgentView, Team, working_calendar
from route.policy import Decision, Need, choose_agent
from route.sla import earliest_due
from route.timers import TimerIndex, next_wakeup
from route.timing import fire_timers
from schemas.classify_events import Classified
from schemas.directory import Agent, CustomerRecord
from schemas.events import TicketEvent
from schemas.message import Address
from schemas.route_events import Assigned, Escalated, Queued, RouteTicketState, Unassigned
from schemas.ticket_events import Created, MessageAdded, PriorityChanged, StatusChanged

FAR = datetime.max.replace(tzinfo=UTC)
NO_LOAD: Counter[str] = Counter()
_JUST_BEFORE = timedelta(microseconds=1)


class Router:
    def __init__(self, cfg: RoutingConfig) -> None:
        self.cfg = cfg
        self.tickets: dict[str, RouteTicketState] = {}
        self.agents: dict[str, Agent] = {}
        self.customer_tiers: dict[str, str] = {}
        self.last_agent: dict[str, str] = {}  # customer id -> agent id, for sticky teams
        self.loads: dict[str, Counter[str]] = {}  # agent -> channel -> open tickets
        self.queues: dict[str, set[str]] = {}  # team -> unassigned ticket ids
        self.round_robin: dict[str, str] = {}  # team -> the agent it last assigned
        self._round_robin_at: dict[str, datetime] = {}  # (when: rebuilt on restore)
        self.timers = TimerIndex()
        self.changed: dict[str, RouteTicketState | None] = {}  # None: forget (tombstone)
        self.dirty_teams: set[str] = set()
        self.next_queue_retry: datetime | None = None
        self._shifts: dict[str, BusinessCalendar | None] = {}
        # Outputs decided but not yet handed out because a later record of the same batch
        # failed: the runner retries record by record, and a retried event gets its outputs
        # back here instead of being dropped as a redelivery.
        self.unsent: dict[str, list[Emission]] = {}
        self.carry: list[Emission] = []  # decided outside an event (timers), not yet handed out
        for agent in cfg.agents:
            self.set_agent(agent.agent_id, agent)

    # ------------------------------------------------------------------ reference data / state
    def set_agent(self, agent_id: str, agent: Agent | None) -> None:
        old = self.agents.pop(agent_id, None)
        if old is not None:
            self.dirty_teams.update(old.teams)
        if agent is not None and not agent.deleted:
            self.agents[agent_id] = agent
            self._shifts[agent_id] = working_calendar(agent.working_hours)
            self.dirty_teams.update(agent.teams)

    def set_customer(self, customer_id: str, record: CustomerRecord | None) -> None:
        if record is None or record.deleted or not record.tier:
            self.customer_tiers.pop(customer_id, None)
        else:
            self.customer_tiers[customer_id] = record.tier.lower()

    def restore(self, state: RouteTicketState | None, ticket_id: str) -> None:
        self._attach(state, self._detach(ticket_id), ticket_id, persist=False)
        # a round-robin team goes on after the agent it assigned last (by the open tickets'
        # assignment times), not from its first agent again after a restart or a takeover
        if state is not None and state.assignee and state.team and state.assigned_at and (
                state.assigned_at >= self._round_robin_at.get(state.team, state.assigned_at)):
            self.round_robin[state.team] = state.assignee
            self._round_robin_at[state.team] = state.assigned_at

    def _detach(self, ticket_id: str) -> RouteTicketState | None:
        """Take a ticket out of the indexes while it is being decided (its own load too)."""
        old = self.tickets.pop(ticket_id, None)
        if old is not None:
            self._unindex(old)
        return old

    def _attach(
        self, s: RouteTicketState | None, old: RouteTicketState | None, ticket_id: str,
        persist: bool = True,
    ) -> None:
        if (
            old is not None and old.assignee and facts.is_open(old)
            and (s is None or s.assignee != old.assignee or not facts.is_open(s))
        ):
            self.dirty_teams.add(old.team or "")  # capacity freed: look at the queue
        if s is not None and s.status == "closed":
            # closed is final: keep the table (and memory) to live tickets; the customer's
            # last agent is remembered for sticky routing
            if s.assignee:
                self.last_agent[s.customer_id] = s.assignee
            s = None
            if persist:
                self.changed[ticket_id] = None
        if s is not None:
            self.tickets[ticket_id] = s
            self._index(s)
            self.timers.set(ticket_id, next_wakeup(s, self.cfg))
            if persist:
                self.changed[ticket_id] = s
        else:
            self.timers.set(ticket_id, None)

    def _index(self, s: RouteTicketState) -> None:
        if not facts.is_open(s):
            return
        if s.assignee:
            self.loads.setdefault(s.assignee, Counter())[s.channel] += 1
            self.last_agent[s.customer_id] = s.assignee
        elif s.queued_since is not None and s.team:
            self.queues.setdefault(s.team, set()).add(s.ticket_id)

    def _unindex(self, s: RouteTicketState) -> None:
        if not facts.is_open(s):
            return
        if s.assignee:
            self.loads.get(s.assignee, Counter())[s.channel] -= 1
        elif s.team and s.ticket_id in self.queues.get(s.team, set()):
            self.queues[s.team].discard(s.ticket_id)

    def take_carry(self) -> list[Emission]:
        out, self.carry = self.carry, []
        return out

    def take_changed(self) -> list[tuple[str, RouteTicketState | None]]:
        """Route states to persist since the last call (None: delete the ticket's record)."""
        out = list(self.changed.items())
        self.changed.clear()
        return out

    # ------------------------------------------------------------------ input events
    def handle(self, event: TicketEvent, now: datetime) -> list[Emission]:
        if event.actor.id == ROUTE_ACTOR_ID and event.actor.kind in ("system", "scheduler"):
            return []  # our own output, already applied when it was decided
        known = self.tickets.get(event.ticket_id)
        if known is not None and event.event_id in known.seen:
            return self.unsent.pop(event.event_id, [])  # redelivery
        # Event time: what fell due on this ticket before this event happened fires first, so
        # a replay or a catch-up gives the same answer as live processing.
        earlier: list[Emission] = []
        due = self.timers.when(event.ticket_id)
        if due is not None and due < event.at:
            earlier = self._fire(event.ticket_id, event.at - _JUST_BEFORE)
        before = self._detach(event.ticket_id)
        try:
            s, out = self._decide_event(before, event)
        except Exception:
            self._attach(before, None, event.ticket_id, persist=False)  # untouched on failure
            self.carry += earlier  # the timers that fired before it stand
            raise
        self._attach(s, before, s.ticket_id)
        return earlier + out + self.drain(event.at, event.event_id)

    def _decide_event(
        self, before: RouteTicketState | None, event: TicketEvent
    ) -> tuple[RouteTicketState, list[Emission]]:
        p, at, cause = event.payload, event.at, event.event_id
        s = facts.fold(before, event, self.cfg.seen_events_per_ticket)
        tier = self.customer_tiers.get(s.customer_id)
        if tier is not None and tier != s.customer_tier:
            s = evolve(s, customer_tier=tier)
        out: list[Emission] = []
        if isinstance(p, Created | Classified | PriorityChanged):
            s = clocks.apply_policy(s, self.cfg, at)
        if isinstance(p, MessageAdded):
            if p.direction == "inbound" and not facts.is_robot(p):
                s = clocks.on_customer_message(s, self.cfg, p.received_at)
            elif facts.is_response(event):
                s = clocks.on_response(s, at)
        if isinstance(p, StatusChanged) and before is not None:
            s = clocks.on_status(before, s, self.cfg, at)
            s, more = reactions.on_transition(self, before, s, at, cause)
            out += more
        if isinstance(p, Classified) and before is not None and before.team != s.team \
                and before.team is not None:
            s, more = self._team_changed(before, s, at, cause)
            out += more
        if isinstance(p, Classified):
            decision = escalation.on_classification(s, self.cfg.escalation)
            if decision is not None:
                s, more = self.escalate(s, decision, at, cause)
                out += more
        # The SLA promised to the customer (the auto-ack quotes it) depends on the priority
        # that classification sets: announce it once the classification is known, or when the
        # classify-wait timer stops waiting for one (route.timing), not at creation.
        waiting = not s.classified and self.cfg.classify_wait.total_seconds() > 0
        first_classified = isinstance(p, Classified) and not (before and before.classified)
        if not waiting and (clocks.new_deadlines(before, s) or first_classified):
            s, applied = clocks.announcement(s, self.cfg, at)
            if applied is not None:
                out.append(ticket_event(s, applied, at, cause))
        if isinstance(p, Escalated):  # by an agent: the tier's team takes over, if it has one
            team = escalation.tier_team(self.cfg.escalation, p.to_tier)
            if team and team != s.team:
                s, more = self.reroute(s, team, f"escalated to {p.to_tier}", at, cause)
                out += more
        wants_route = isinstance(p, Classified | Unassigned) or (
            isinstance(p, Created) and self.cfg.classify_wait.total_seconds() == 0
        )
        if wants_route and s.assignee is None and facts.is_open(s):
            s, more = self.route(s, at, cause)
            out += more
        s, more = reactions.apply_rules(self, s, at, cause)
        return s, out + more

    def _team_changed(
        self, before: RouteTicketState, s: RouteTicketState, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        """A (late) classification names another team."""
        if s.assignee and s.accepted:
            return evolve(s, team=before.team), []  # the agent working on it keeps it
        if s.assignee:
            return self.reroute(s, s.team or "", f"classified for team {s.team}", at, cause)
        return evolve(s, queued_since=None), []  # queued again, in the new team

    # ------------------------------------------------------------------ decisions
    def escalate(
        self, s: RouteTicketState, d: EscalationDecision, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        payload = Escalated(from_tier=s.tier, to_tier=d.to_tier, reason=d.reason,
                            trigger=d.trigger)
        out: list[Emission] = [ticket_event(s, payload, at, cause)]
        sups = supervisors_of(self.cfg, self.agents, s.team, s.department)
        s = evolve(s, tier=d.to_tier, tier_since=at)
        team = escalation.tier_team(self.cfg.escalation, d.to_tier)
        if team and team != s.team:
            s, more = self.reroute(s, team, f"escalated to {d.to_tier}", at, cause)
            out += more
            new = supervisors_of(self.cfg, self.agents, s.team, s.department)
            sups = list({x.address: x for x in (*sups, *new)}.values())
        out += notifications(
            self.cfg, s, "escalation-alert", f"{s.ticket_id}:{cause}:escalated", at, sups,
            {"from_tier": payload.from_tier, "to_tier": d.to_tier, "reason": d.reason,
             "trigger": d.trigger}, f"Escalated to {d.to_tier}: {d.reason}",
        )
        return s, out

    def reroute(
        self, s: RouteTicketState, team: str, reason: str, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        out: list[Emission] = []
        if s.assignee:
            out.append(ticket_event(s, Unassigned(agent_id=s.assignee, reason=reason), at, cause))
        s = evolve(s, team=team, assignee=None, assigned_at=None, accepted=False,
                                queued_since=None)
        if facts.is_open(s):
            s, more = self.route(s, at, cause)
            out += more
        return s, out

    def _views(self, team: str, also: str | None) -> list[AgentView]:
        return [
            AgentView(a, self.loads.get(a.agent_id) or NO_LOAD, self._shifts.get(a.agent_id))
            for a in self.agents.values() if team in a.teams or a.agent_id == also
        ]

    def decide(self, s: RouteTicketState, team: Team, at: datetime) -> Decision | None:
        need = Need(
            ticket_id=s.ticket_id, channel=s.channel, tier=s.tier, language=s.language,
            skills=frozenset((*s.tags, *([s.category] if s.category else []))),
            previous_agent=self.last_agent.get(s.customer_id),
            passed_over=frozenset(s.passed_over),
        )
        views = self._views(team.name, s.assign_to)
        if s.assign_to and s.assign_to in self.agents:
            requested = Team(name=team.name, strategy="least-loaded")
            pick = choose_agent(requested, need, [v for v in views if v.agent_id == s.assign_to],
                                at, default_capacity=self.cfg.default_capacity)
            if pick is not None:
                return Decision(pick.agent_id, "rule", "assigned by rule")
        return choose_agent(team, need, views, at, default_capacity=self.cfg.default_capacity,
                            last_round_robin=self.round_robin.get(team.name))

    def route(
        self, s: RouteTicketState, at: datetime, cause: str
    ) -> tuple[RouteTicketState, list[Emission]]:
        """Assign the ticket in its team, or put it in the team's queue."""
        tier_team = escalation.tier_team(self.cfg.escalation, s.tier)
        name = s.team or tier_team or self.cfg.team_for(None, s.department)
        team = self.cfg.teams.get(name) or Team(name=name)
        dept = s.department or team.department
        decision = self.decide(s, team, at)
        if decision is None:
            already = s.queued_since is not None and s.team == name
            s = evolve(s, team=name, department=dept,
                                    queued_since=s.queued_since if already else at)
            if already:
                return s, []
            queued = Queued(team=name, due_at=earliest_due(s.clocks), reason="no agent available")
            return s, [ticket_event(s, queued, at, cause)]
        self.round_robin[name] = decision.agent_id
        s = evolve(
            s, team=name, department=dept, assignee=decision.agent_id, assigned_at=at,
            accepted=False, queued_since=None,
        )
        payload = Assigned(agent_id=decision.agent_id, team=name, department=dept,
                           strategy=decision.strategy, reason=decision.reason)
        out: list[Emission] = [ticket_event(s, payload, at, cause)]
        agent = self.agents[decision.agent_id]
        if agent.email:
            out += notifications(
                self.cfg, s, "assignment", f"{s.ticket_id}:{cause}:assigned", at,
                [Address(address=agent.email)],
                {"agent": agent.agent_id, "strategy": decision.strategy},
                "Ticket assigned to you", reader=agent,
            )
        return s, out

    def drain(self, at: datetime, cause: str, teams: Iterable[str] | None = None) -> list[Emission]:
        """Assign queued tickets, earliest SLA due first, while agents have room."""
        names = set(self.dirty_teams if teams is None else teams)
        self.dirty_teams.difference_update(names)
        out: list[Emission] = []
        for name in sorted(n for n in names if self.queues.get(n)):
            waiting = sorted(
                (self.tickets[t] for t in self.queues[name]),
                key=lambda q: (earliest_due(q.clocks) or FAR, q.created_at, q.ticket_id),
            )[: self.cfg.queue_drain_limit]
            for q in waiting:
                old = self._detach(q.ticket_id)
                routed, more = self.route(q, at, f"{cause}:drain")
                if routed.assignee is None:
                    self._attach(old, None, q.ticket_id, persist=False)
                    continue
                self._attach(routed, old, q.ticket_id)
                out += more
        return out

    # ------------------------------------------------------------------ timers
    def tick(self, now: datetime, limit: int = 10_000) -> list[Emission]:
        out: list[Emission] = []
        for ticket_id in self.timers.pop_due(now, limit):
            out += self._fire(ticket_id, now)
        if self.dirty_teams:
            out += self.drain(now, f"tick:{now.isoformat()}")
        if self.next_queue_retry is None or now >= self.next_queue_retry:
            self.next_queue_retry = now + self.cfg.queue_retry
            out += self.drain(now, f"retry:{now.isoformat()}", teams=list(self.queues))
        return out

    def _fire(self, ticket_id: str, now: datetime) -> list[Emission]:
        old = self._detach(ticket_id)
        if old is None:
            return []
        try:
            s, more = fire_timers(self, old, now)
        except Exception:
            self._attach(old, None, ticket_id, persist=False)
            raise
        self._attach(s, old, ticket_id)
        return more

    def queue_view(self) -> dict[str, list[RouteTicketState]]:
        return {
            team: sorted((self.tickets[t] for t in ids),
                         key=lambda q: (earliest_due(q.clocks) or FAR, q.created_at))
            for team, ids in sorted(self.queues.items()) if ids
        }


__all__ = ["Emission", "Router"]
