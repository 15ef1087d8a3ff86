"""How the router reacts to a status change under a blueprint and to supervisor rules that
came true (called from the engine on events and from the timers)."""

from __future__ import annotations

from datetime import datetime

from route import supervisor
from route.alerts import notifications, supervisors_of
from route.blueprint import blueprint_for
from route.decisions import Decisions, Emission
from route.escalation import EscalationDecision
from route.facts import mark_fired
from route.model import next_tier
from schemas.route_events import RouteTicketState


def on_transition(
    r: Decisions, before: RouteTicketState, s: RouteTicketState, at: datetime, cause: str
) -> tuple[RouteTicketState, list[Emission]]:
    bp = blueprint_for(r.cfg.blueprints, s.type)
    if bp is None:
        return s, []
    out: list[Emission] = []
    sups = supervisors_of(r.cfg, r.agents, s.team, s.department)
    if not bp.allows(before.status, s.status):
        out += notifications(
            r.cfg, s, "supervisor-alert", cause + ":transition", at, sups,
            {"reason": f"transition {before.status} -> {s.status} not in blueprint",
             "blueprint": bp.ticket_type}, "Blueprint transition not allowed",
        )
    step = bp.step(s.status)
    if step is None:
        return s, out
    if step.owner_team and step.owner_team != s.team:
        s, more = r.reroute(s, step.owner_team, f"blueprint owner of {s.status}", at, cause)
        out += more
    if step.notify_on_entry:
        owners = supervisors_of(r.cfg, r.agents, s.team, s.department)
        out += notifications(
            r.cfg, s, "assignment", cause + ":entry", at, owners,
            {"reason": f"ticket entered {s.status}", "blueprint": bp.ticket_type},
            f"Ticket entered {s.status}",
        )
    return s, out

def apply_rules(
    r: Decisions, s: RouteTicketState, at: datetime, cause: str
) -> tuple[RouteTicketState, list[Emission]]:
    out: list[Emission] = []
    for rule in supervisor.due_rules(r.cfg.supervisor_rules, s, at):
        key = supervisor.firing_key(rule, s)
        s = mark_fired(s, key)
        if rule.action == "escalate":
            to = rule.to_tier or next_tier(s.tier)
            if to is not None and to != s.tier:
                decision = EscalationDecision(to, f"rule {rule.name}", "rule")  # type: ignore[arg-type]
                s, more = r.escalate(s, decision, at, key)
                out += more
        else:
            sups = supervisors_of(r.cfg, r.agents, s.team, s.department)
            out += notifications(
                r.cfg, s, "supervisor-alert", f"{s.ticket_id}:{key}", at, sups,
                {"rule": rule.name, "exchanges": s.exchanges}, f"Rule: {rule.name}",
            )
    return s, out
