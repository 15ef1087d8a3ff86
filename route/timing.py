"""What a ticket's due timers do when they fire (called from :meth:`Router.tick`).

Every firing is recorded in the ticket's state (a clock's ``warned`` / ``breached`` flag, or a
key in ``fired``) and its events carry ``at`` = the instant it was due and an id derived from
the firing key: a worker that restarts late fires what fell due while it was down, once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from route import clocks, escalation, facts, reactions
from route.alerts import SCHEDULER, notifications, supervisors_of, ticket_event
from route.blueprint import blueprint_for, expiry_key
from route.clocks import policy_of
from route.decisions import Decisions, Emission
from route.facts import evolve
from route.sla import warn_at
from schemas.message import Address
from schemas.route_events import RouteTicketState, SlaBreached, SlaWarning, Unassigned


def _people(r: Decisions, s: RouteTicketState, with_supervisors: bool) -> list[Address]:
    out = []
    agent = r.agents.get(s.assignee or "")
    if agent is not None and agent.email:
        out.append(Address(address=agent.email))
    if with_supervisors or not out:
        out += supervisors_of(r.cfg, r.agents, s.team, s.department)
    return list({a.address: a for a in out}.values())


def _sla(
    r: Decisions, s: RouteTicketState, now: datetime
) -> tuple[RouteTicketState, list[Emission]]:
    policy = policy_of(s, r.cfg)
    if policy is None:
        return s, []
    out: list[Emission] = []
    new = []
    for c in s.clocks:
        warn = warn_at(c, policy)
        if c.due_at is not None and not c.breached and c.due_at <= now:
            key = f"sla:{c.metric}:{c.cycle}"
            out.append(ticket_event(s, SlaBreached(policy=policy.name, metric=c.metric,
                                                   due_at=c.due_at), c.due_at, key, SCHEDULER))
            out += notifications(
                r.cfg, s, "sla-breach", f"{s.ticket_id}:{key}:breach", c.due_at,
                _people(r, s, True), {"metric": c.metric, "due_at": c.due_at.isoformat(),
                                      "policy": policy.name}, f"SLA breached: {c.metric}",
            )
            c = dataclasses.replace(c, breached=True, warned=True)
        elif warn is not None and c.due_at is not None and warn <= now:
            key = f"sla:{c.metric}:{c.cycle}"
            out.append(ticket_event(s, SlaWarning(policy=policy.name, metric=c.metric,
                                                  due_at=c.due_at), warn, key, SCHEDULER))
            out += notifications(
                r.cfg, s, "sla-warning", f"{s.ticket_id}:{key}:warning", warn,
                _people(r, s, False), {"metric": c.metric, "due_at": c.due_at.isoformat(),
                                       "policy": policy.name}, f"SLA due soon: {c.metric}",
            )
            c = dataclasses.replace(c, warned=True)
        new.append(c)
    return evolve(s, clocks=tuple(new)), out


def fire_timers(
    r: Decisions, s: RouteTicketState, now: datetime
) -> tuple[RouteTicketState, list[Emission]]:
    if not facts.is_open(s):
        return s, []
    cfg = r.cfg
    s, out = _sla(r, s, now)
    timeout = cfg.accept_timeout
    if s.assignee and not s.accepted and s.assigned_at and timeout is not None:
        due = s.assigned_at + timeout
        if due <= now:
            key = f"accept:{s.assignee}:{s.assigned_at.isoformat()}"
            minutes = int(timeout.total_seconds() // 60)
            reason = f"assignment not accepted within {minutes} min"
            out.append(ticket_event(s, Unassigned(agent_id=s.assignee, reason=reason), due,
                                    key, SCHEDULER))
            s = evolve(
                s, passed_over=(*s.passed_over, s.assignee), assignee=None, assigned_at=None,
                accepted=False, queued_since=None,
            )
            s, more = r.route(s, due, key)
            out += more
    due = s.created_at + cfg.classify_wait
    if not s.classified and s.assignee is None and s.queued_since is None and due <= now:
        # no classification came: the SLA as it stands
        s, applied = clocks.announcement(s, cfg, due)
        if applied is not None:
            out.append(ticket_event(s, applied, due, "classify-wait"))
        s, more = r.route(s, due, "classify-wait")
        out += more
    decision = escalation.on_time(s, cfg.escalation, now)
    deadline = escalation.response_deadline(s, cfg.escalation)
    if decision is not None and deadline is not None:
        key = escalation.time_firing_key(s)
        s = facts.mark_fired(s, key)
        s, more = r.escalate(s, decision, deadline, key)
        out += more
    s, more = reactions.apply_rules(r, s, now, "tick")
    out += more
    bp = blueprint_for(cfg.blueprints, s.type)
    if bp is not None and s.state_since is not None:
        limit_at = bp.deadline(s.status, s.state_since)
        key = expiry_key(s.status, s.state_since)
        if limit_at is not None and limit_at <= now and key not in s.fired:
            s = facts.mark_fired(s, key)
            payload = SlaBreached(policy=f"blueprint:{bp.ticket_type}", metric="state-time",
                                  due_at=limit_at)
            out.append(ticket_event(s, payload, limit_at, key, SCHEDULER))
            out += notifications(
                cfg, s, "sla-breach", f"{s.ticket_id}:{key}", limit_at, _people(r, s, True),
                {"metric": "state-time", "state": s.status, "due_at": limit_at.isoformat()},
                f"Time limit in state {s.status} expired",
            )
    return s, out
