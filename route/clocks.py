"""A ticket's SLA clocks through its life (pure): policy applied, responses, pauses, reopens.

first-response runs from creation to the first agent reply; next-response from each customer
message that follows a reply to the next reply; resolution from creation to solved, continuing
with its banked time on reopen. All of them pause in the policy's pause statuses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from route.calendar import opening_hours
from route.config import RoutingConfig
from route.facts import evolve
from route.sla import (
    PolicyFacts,
    SlaPolicy,
    calendar_of,
    clock_for,
    meet_clock,
    pause_clock,
    reopen_clock,
    replace_clock,
    resume_clock,
    retarget_clock,
    select_policy,
    start_clock,
)
from schemas.route_events import RouteTicketState, SlaApplied, SlaClock, SlaMetric

DONE = frozenset({"solved", "closed"})


def policy_of(state: RouteTicketState, cfg: RoutingConfig) -> SlaPolicy | None:
    for p in cfg.sla_policies:
        if p.name == state.sla_policy:
            return p
    return None


Dues = tuple[str | None, datetime | None, datetime | None, datetime | None]


def dues(state: RouteTicketState) -> Dues:
    def due(metric: SlaMetric) -> datetime | None:
        c = clock_for(state.clocks, metric)
        return c.due_at if c else None

    return (state.sla_policy, due("first-response"), due("next-response"), due("resolution"))


def applied(
    state: RouteTicketState, cfg: RoutingConfig | None = None, at: datetime | None = None
) -> SlaApplied | None:
    """The SLA as announced; with ``cfg``, it carries the calendar's hours and the closed days
    up to the first due time (from ``at``), so the ack quotes what computed the due time."""
    if state.sla_policy is None:
        return None
    _, first, nxt, resolution = dues(state)
    policy = policy_of(state, cfg) if cfg is not None else None
    hours = None
    if policy is not None and cfg is not None:
        since = at or state.created_at
        hours = opening_hours(calendar_of(policy, cfg.calendars), since, first or nxt)
    return SlaApplied(
        policy=state.sla_policy, first_response_due=first, next_response_due=nxt,
        resolution_due=resolution, hours=hours,
    )


def announcement(
    state: RouteTicketState, cfg: RoutingConfig | None = None, at: datetime | None = None
) -> tuple[RouteTicketState, SlaApplied | None]:
    """``sla-applied`` for the SLA as it stands, unless this very SLA (policy and due times)
    was the last one announced; the state remembers what it announced. A classify outage
    made the classify-wait timer announce the SLA and the late classification announce the
    same one again, under another event id (issue #17 item 5)."""
    payload = applied(state, cfg, at)
    if payload is None:
        return state, None
    fact = "|".join((payload.policy, *(d.isoformat() if d else "-" for d in dues(state)[1:])))
    if fact == state.sla_announced:
        return state, None
    return evolve(state, sla_announced=fact), payload


def _set(state: RouteTicketState, clock: SlaClock) -> RouteTicketState:
    return evolve(state, clocks=replace_clock(state.clocks, clock))


def apply_policy(state: RouteTicketState, cfg: RoutingConfig, at: datetime) -> RouteTicketState:
    """Select the policy for the ticket's current facts; keep banked time of existing clocks."""
    facts = PolicyFacts(state.priority, state.customer_tier, state.channel, state.category)
    policy = select_policy(cfg.sla_policies, facts, state.sla_policy_hint)
    if policy is None:
        return state
    cal = calendar_of(policy, cfg.calendars)
    s = evolve(state, sla_policy=policy.name)
    starts: dict[SlaMetric, tuple[timedelta | None, bool]] = {
        "first-response": (policy.first_response, state.outbound_count == 0),
        "resolution": (policy.resolution, state.status not in DONE),
    }
    for metric, (target, wanted) in starts.items():
        existing = clock_for(s.clocks, metric)
        if target is None:
            if existing is not None:
                s = evolve(s, clocks=tuple(c for c in s.clocks if c is not existing))
        elif existing is not None:
            s = _set(s, retarget_clock(cal, existing, target))
        elif wanted:
            clock = start_clock(cal, metric, target, state.created_at)
            if state.status in policy.pause_statuses:
                clock = pause_clock(cal, clock, at)
            s = _set(s, clock)
    nxt = clock_for(s.clocks, "next-response")
    if nxt is not None and policy.next_response is not None:
        s = _set(s, retarget_clock(cal, nxt, policy.next_response))
    return s


def _each(
    state: RouteTicketState, cfg: RoutingConfig, change: str, at: datetime
) -> RouteTicketState:
    policy = policy_of(state, cfg)
    if policy is None:
        return state
    cal = calendar_of(policy, cfg.calendars)
    out = []
    for c in state.clocks:
        if change == "pause":
            out.append(pause_clock(cal, c, at))
        elif change == "resume":
            out.append(resume_clock(cal, c, at))
        elif change == "reopen" and c.metric == "resolution":
            out.append(reopen_clock(cal, c, at))
        elif change == "stop":
            out.append(meet_clock(c, at))
        else:
            out.append(c)
    return evolve(state, clocks=tuple(out))


def on_status(
    before: RouteTicketState, after: RouteTicketState, cfg: RoutingConfig, at: datetime
) -> RouteTicketState:
    policy = policy_of(after, cfg)
    if policy is None or before.status == after.status:
        return after
    paused_before = before.status in policy.pause_statuses
    paused_after = after.status in policy.pause_statuses
    s = after
    if after.status in DONE:
        return _each(s, cfg, "stop", at)
    if before.status in DONE:
        s = _each(s, cfg, "reopen", at)
    if paused_after and not paused_before:
        s = _each(s, cfg, "pause", at)
    elif paused_before and not paused_after:
        s = _each(s, cfg, "resume", at)
    return s


def on_customer_message(
    state: RouteTicketState, cfg: RoutingConfig, at: datetime
) -> RouteTicketState:
    """A customer wrote after having been answered: the next-response clock starts."""
    policy = policy_of(state, cfg)
    if policy is None or policy.next_response is None or state.outbound_count == 0:
        return state
    current = clock_for(state.clocks, "next-response")
    if current is not None and current.met_at is None:
        return state  # already waiting for a reply
    cycle = current.cycle + 1 if current is not None else 1
    cal = calendar_of(policy, cfg.calendars)
    clock = start_clock(cal, "next-response", policy.next_response, at, cycle)
    if state.status in policy.pause_statuses:
        clock = pause_clock(cal, clock, at)
    return _set(state, clock)


def on_response(state: RouteTicketState, at: datetime) -> RouteTicketState:
    out = tuple(
        meet_clock(c, at) if c.metric in ("first-response", "next-response") else c
        for c in state.clocks
    )
    return evolve(state, clocks=out)


def new_deadlines(before: RouteTicketState | None, after: RouteTicketState) -> bool:
    """Whether ``sla-applied`` is due: another policy, or a due time set or moved (stopping or
    pausing a clock is not news; resuming is, with its new due time)."""
    if after.sla_policy is None:
        return False
    if before is None or before.sla_policy != after.sla_policy:
        return True
    old, new = dues(before), dues(after)
    return any(n is not None and n != o for o, n in zip(old[1:], new[1:], strict=True))
