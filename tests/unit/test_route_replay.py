"""Property: a router restarted from its persisted state at any point emits exactly the events
and notifications (same ids, same content) that an uninterrupted router emits."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from route.config import RoutingConfig
from route.engine import Router
from route.escalation import EscalationPolicy, TierSpec
from route.sla import SlaPolicy
from route.supervisor import SupervisorRule
from schemas.events import TicketEvent
from schemas.notification import Notification
from tests.support.route_builders import agent, at, classified, created, inbound, reply, status

H = timedelta(hours=1)
CFG = RoutingConfig(
    sla_policies=(SlaPolicy("p", first_response=H, next_response=2 * H, resolution=6 * H,
                            warn_before=timedelta(minutes=10)),),
    escalation=EscalationPolicy(tiers={"L1": TierSpec("L1", timedelta(minutes=45))},
                                on_tags={"outage": "L2"}),
    supervisor_rules=(SupervisorRule("chatty", min_exchanges=1),),
    agents=(agent("a1", capacity=1), agent("a2", capacity=2)),
    accept_timeout=timedelta(minutes=20),
    classify_wait=timedelta(minutes=1),
    alert_webhook="ops",
)

op = st.tuples(st.sampled_from(["open", "tagged", "inbound", "reply", "inbound", "reply",
                                "pending", "open-again", "solve", "close", "tick", "tick"]),
               st.integers(0, 2), st.integers(1, 90))


def _run(ops, router: Router, start_minute: int = 0):  # type: ignore[no-untyped-def]
    emitted: list[TicketEvent | Notification] = []
    minute = start_minute
    for kind, n, step in ops:
        minute += step
        now = at(minute)
        tid = f"t{n}"
        s = router.tickets.get(tid)
        if kind in ("open", "tagged"):
            if s is not None:
                continue
            events = [created(tid, now), classified(tid, now, tags=("outage",) if
                                                    kind == "tagged" else ())]
        elif s is None:
            continue
        elif kind == "inbound":
            events = [inbound(tid, now)]
        elif kind == "reply":
            events = [reply(tid, now, s.assignee or "a1")]
        elif kind == "tick":
            events = []
            emitted += router.tick(now)
        else:
            to = {"pending": "pending", "open-again": "open", "solve": "solved",
                  "close": "closed"}[kind]
            events = [status(tid, s.status, to, now)]
        for e in events:
            emitted += router.handle(e, now)
    return emitted, minute


@settings(max_examples=100, deadline=None)
@given(tail=st.lists(op, min_size=1, max_size=40), data=st.data())
def test_restart_from_persisted_state_changes_nothing(tail, data) -> None:  # type: ignore[no-untyped-def]
    ops = [("open", 0, 1), ("tagged", 1, 1), ("open", 2, 1), ("inbound", 0, 1), *tail]
    cut = data.draw(st.integers(1, len(ops) - 1), label="restart after op")
    # the builders number events with a global counter: build each sequence's events once
    import tests.support.route_builders as b

    counter = b._seq
    b._seq = itertools.count()
    whole, _ = _run(ops, Router(CFG))
    b._seq = itertools.count()
    first = Router(CFG)
    before, minute = _run(ops[:cut], first)
    restarted = Router(CFG)
    for ticket_id, state in first.take_changed():
        restarted.restore(state, ticket_id)
    after, _ = _run(ops[cut:], restarted, minute)
    b._seq = counter
    assert [_ident(e) for e in before + after] == [_ident(e) for e in whole]


def _ident(e: TicketEvent | Notification) -> tuple[str, object]:
    return (e.event_id if isinstance(e, TicketEvent) else e.notification_id, e)
