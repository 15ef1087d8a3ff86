"""The router through ticket events and a fake clock: assignment, queue, reclaim, timers
that fire once across a restart, and the capacity invariant."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from route.config import RoutingConfig
from route.engine import Router
from route.model import Team
from route.sla import SlaPolicy
from schemas.events import Actor, TicketEvent
from schemas.notification import Notification
from schemas.route_events import Assigned, Queued, SlaApplied, SlaBreached, Unassigned
from tests.support.route_builders import (
    T0,
    agent,
    at,
    classified,
    created,
    event,
    kinds,
    reply,
    status,
)

H = timedelta(hours=1)
POLICY = SlaPolicy("default", first_response=H, resolution=8 * H,
                   warn_before=timedelta(minutes=15))


def router(*agents, **cfg) -> Router:  # type: ignore[no-untyped-def]
    return Router(RoutingConfig(sla_policies=(POLICY,), agents=agents, **cfg))


def open_ticket(r: Router, t: str, minute: float = 0, **classification) -> list[object]:  # type: ignore[no-untyped-def]
    r.handle(created(t, at(minute)), at(minute))
    return r.handle(classified(t, at(minute), **classification), at(minute))


def payloads(out, cls):  # type: ignore[no-untyped-def]
    return [e.payload for e in out if isinstance(e, TicketEvent) and isinstance(e.payload, cls)]


def test_classified_ticket_is_assigned_with_a_notification_to_the_agent() -> None:
    r = router(agent("a1"))
    out = open_ticket(r, "t1")
    (assigned,) = payloads(out, Assigned)
    assert (assigned.agent_id, assigned.team, assigned.strategy) == ("a1", "support",
                                                                     "least-loaded")
    (note,) = [n for n in out if isinstance(n, Notification)]
    assert note.kind == "assignment" and note.recipient is not None
    assert note.recipient.address == "a1@support.example.com"


def test_unclassified_ticket_is_routed_after_the_classify_wait() -> None:
    r = router(agent("a1"), classify_wait=timedelta(seconds=60))
    # The SLA is not announced before classification had its chance to change the priority.
    assert kinds(r.handle(created("t1"), T0)) == []
    assert r.tick(at(0.5)) == []
    fired = kinds(r.tick(at(1.5)))
    assert fired[0] == "sla-applied" and "assigned" in fired


def test_sla_is_announced_once_classified_with_the_classified_priority() -> None:
    high = SlaPolicy("high", H, 2 * H, 8 * H, priorities=frozenset({"high"}))
    standard = SlaPolicy("standard", 4 * H, 8 * H, 24 * H)
    r = Router(RoutingConfig(sla_policies=(high, standard), agents=(agent("a1"),),
                             classify_wait=timedelta(seconds=60)))
    assert kinds(r.handle(created("t1"), T0)) == []
    out = r.handle(classified("t1", at(0.1), priority="high"), at(0.1))
    (applied,) = payloads(out, SlaApplied)
    assert applied.policy == "high"
    assert applied.first_response_due == T0 + H  # counted from creation, not classification


def test_a_late_classification_that_changes_nothing_announces_no_second_sla() -> None:
    # A classify outage: the classify-wait timer announced the SLA; the classification that
    # arrives later (same priority, same policy, same due times) must not announce it again
    # under another event id (issue #17 item 5: 165 such copies after an outage).
    r = router(agent("a1"), classify_wait=timedelta(seconds=60))
    r.handle(created("t1"), T0)
    (first,) = payloads(r.tick(at(1.5)), SlaApplied)
    late = r.handle(classified("t1", at(30)), at(30))
    assert first.policy == "default" and payloads(late, SlaApplied) == []


def test_a_changed_sla_is_announced_again() -> None:
    high = SlaPolicy("high", H, 2 * H, 8 * H, priorities=frozenset({"high"}))
    standard = SlaPolicy("standard", 4 * H, 8 * H, 24 * H)
    r = Router(RoutingConfig(sla_policies=(high, standard), agents=(agent("a1"),),
                             classify_wait=timedelta(seconds=60)))
    r.handle(created("t1"), T0)
    (waited,) = payloads(r.tick(at(1.5)), SlaApplied)
    assert waited.policy == "standard"
    (late,) = payloads(r.handle(classified("t1", at(30), priority="high"), at(30)), SlaApplied)
    assert late.policy == "high"


def test_classification_team_and_department_default() -> None:
    from route.model import Department

    r = router(agent("b1", teams=("billing",)), agent("s1"),
               departments={"finance": Department("finance", "billing")})
    (a,) = payloads(open_ticket(r, "t1", department="finance"), Assigned)
    assert (a.agent_id, a.team, a.department) == ("b1", "billing", "finance")


def test_full_team_queues_by_due_time_and_drains_when_capacity_frees() -> None:
    r = router(agent("a1", capacity=1))
    open_ticket(r, "t1")
    (q,) = payloads(open_ticket(r, "t2", minute=5), Queued)
    assert q.team == "support" and q.due_at == at(5) + H
    r.handle(created("t3", at(6), priority="urgent"), at(6))
    r.handle(classified("t3", at(6)), at(6))
    # t2 is due first (same policy, created earlier), so it goes first
    assert [t.ticket_id for t in r.queue_view()["support"]] == ["t2", "t3"]
    out = r.handle(status("t1", "new", "solved", at(10), "a1"), at(10))
    (a,) = payloads(out, Assigned)
    assert a.agent_id == "a1"
    assert [e.ticket_id for e in out if isinstance(e, TicketEvent)
            and isinstance(e.payload, Assigned)] == ["t2"]
    assert [t.ticket_id for t in r.queue_view()["support"]] == ["t3"]


def test_agent_coming_online_drains_the_queue_on_the_next_tick() -> None:
    r = router(agent("a1", presence="offline"))
    assert payloads(open_ticket(r, "t1"), Queued)
    r.set_agent("a1", agent("a1", presence="online"))
    assert payloads(r.tick(at(1)), Assigned)[0].agent_id == "a1"


def test_unaccepted_assignment_is_reclaimed_and_rerouted() -> None:
    r = router(agent("a1"), agent("a2"), accept_timeout=timedelta(minutes=10))
    (first,) = payloads(open_ticket(r, "t1"), Assigned)
    out = r.tick(at(11))
    (un,) = payloads(out, Unassigned)
    (second,) = payloads(out, Assigned)
    assert un.agent_id == first.agent_id and "not accepted" in un.reason
    assert second.agent_id != first.agent_id
    assert out[0].at == at(10)  # event time: when it was due, not when the tick ran


def test_agent_reply_accepts_the_assignment() -> None:
    r = router(agent("a1"), accept_timeout=timedelta(minutes=10))
    open_ticket(r, "t1")
    r.handle(reply("t1", at(5), "a1"), at(5))
    assert payloads(r.tick(at(30)), Unassigned) == []


def test_status_open_by_the_assignee_accepts() -> None:
    r = router(agent("a1"), accept_timeout=timedelta(minutes=10))
    open_ticket(r, "t1")
    r.handle(status("t1", "new", "open", at(2), agent="a1"), at(2))
    assert payloads(r.tick(at(30)), Unassigned) == []


def test_own_events_and_redeliveries_are_ignored() -> None:
    r = router(agent("a1"))
    out = open_ticket(r, "t1")
    for e in out:
        if isinstance(e, TicketEvent):
            assert r.handle(e, at(1)) == []
    ev = status("t1", "new", "pending", at(2))
    r.handle(ev, at(2))
    assert r.handle(ev, at(3)) == []


def test_sla_warning_then_breach_each_fire_once() -> None:
    r = router(agent("a1", email=None, roles=()), alert_webhook="ops")
    open_ticket(r, "t1")
    assert "sla-warning" not in kinds(r.tick(at(44)))
    warned = r.tick(at(46))
    assert "sla-warning" in kinds(warned)
    (alert,) = [n for n in warned if isinstance(n, Notification)]
    assert (alert.kind, alert.channel, alert.webhook) == ("sla-warning", "webhook", "ops")
    assert "sla-warning" not in kinds(r.tick(at(50)))
    breached = r.tick(at(61))
    (b,) = payloads(breached, SlaBreached)
    assert b.metric == "first-response" and b.due_at == at(60)
    assert payloads(r.tick(at(120)), SlaBreached) == []


def test_timer_fires_once_across_a_restart_and_again_with_the_same_id_after_a_crash() -> None:
    r = router(agent("a1"))
    open_ticket(r, "t1")
    persisted = dict(r.take_changed())
    fired = r.tick(at(61))
    (b,) = [e for e in fired if isinstance(e, TicketEvent) and e.kind == "sla-breached"]
    # crash before the state record was written: the restarted router fires the same event id
    crashed = router(agent("a1"))
    for tid, s in persisted.items():
        crashed.restore(s, tid)
    (again,) = [e for e in crashed.tick(at(62)) if isinstance(e, TicketEvent)
                and e.kind == "sla-breached"]
    assert again.event_id == b.event_id and again == b
    # clean restart after the state record was written: nothing fires twice
    persisted.update(r.take_changed())
    restarted = router(agent("a1"))
    for tid, s in persisted.items():
        restarted.restore(s, tid)
    assert payloads(restarted.tick(at(62)), SlaBreached) == []


def test_restored_state_rebuilds_loads_and_queue() -> None:
    r = router(agent("a1", capacity=1))
    open_ticket(r, "t1")
    open_ticket(r, "t2")
    restarted = router(agent("a1", capacity=1))
    for tid, s in r.take_changed():
        restarted.restore(s, tid)
    assert restarted.loads["a1"]["email"] == 1
    assert [t.ticket_id for t in restarted.queue_view()["support"]] == ["t2"]


def test_manual_assignment_by_an_agent_counts_against_capacity() -> None:
    r = router(agent("a1", capacity=1), agent("a2", capacity=1))
    r.handle(created("t1"), T0)
    r.handle(event("t1", Assigned(agent_id="a2", team="support"), at(1),
                   actor=Actor(kind="agent", id="sup")), at(1))
    assert r.loads["a2"]["email"] == 1
    (a,) = payloads(open_ticket(r, "t2", 2), Assigned)
    assert a.agent_id == "a1"


def test_round_robin_team_spreads_tickets() -> None:
    r = router(agent("a1", capacity=5), agent("a2", capacity=5), agent("a3", capacity=5),
               teams={"support": Team("support", strategy="round-robin")})
    picks = [payloads(open_ticket(r, f"t{i}", i), Assigned)[0].agent_id for i in range(6)]
    assert picks == ["a1", "a2", "a3", "a1", "a2", "a3"]


def test_round_robin_goes_on_after_a_restart() -> None:
    team = {"support": Team("support", strategy="round-robin")}
    agents = [agent(f"a{i}", capacity=5) for i in (1, 2, 3)]
    r = router(*agents, teams=team)
    picks = [payloads(open_ticket(r, f"t{i}", i), Assigned)[0].agent_id for i in range(2)]
    assert picks == ["a1", "a2"]
    restarted = router(*agents, teams=team)
    for tid, s in reversed(r.take_changed()):  # a compacted table's order is not time's
        restarted.restore(s, tid)
    picks = [payloads(open_ticket(restarted, f"u{i}", 10 + i), Assigned)[0].agent_id
             for i in range(4)]
    assert picks == ["a3", "a1", "a2", "a3"]


ops = st.lists(st.tuples(st.sampled_from(["open", "solve", "online", "offline", "tick"]),
                         st.integers(0, 9)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops=ops, caps=st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_no_agent_ever_exceeds_capacity(ops, caps) -> None:  # type: ignore[no-untyped-def]
    agents = [agent(f"a{i}", capacity=c) for i, c in enumerate(caps)]
    r = router(*agents, accept_timeout=timedelta(minutes=5))
    minute = 0
    opened: list[str] = []
    for op, n in ops:
        minute += 1
        now = at(minute)
        if op == "open":
            tid = f"t{minute}"
            opened.append(tid)
            open_ticket(r, tid, minute)
        elif op == "solve" and opened:
            tid = opened[n % len(opened)]
            r.handle(status(tid, r.tickets[tid].status, "solved", now), now)
        elif op in ("online", "offline"):
            i = n % len(agents)
            r.set_agent(f"a{i}", agent(f"a{i}", capacity=caps[i],
                                      presence="online" if op == "online" else "offline"))
        else:
            r.tick(now + timedelta(minutes=n))
        held: dict[str, int] = {}
        for s in r.tickets.values():
            if s.assignee and s.status not in ("solved", "closed"):
                held[s.assignee] = held.get(s.assignee, 0) + 1
        for i, c in enumerate(caps):
            assert held.get(f"a{i}", 0) <= c
            assert r.loads.get(f"a{i}", {}).get("email", 0) == held.get(f"a{i}", 0)


def test_closed_ticket_is_forgotten_but_its_agent_stays_sticky() -> None:
    r = router(agent("a1"), agent("a2"), teams={"support": Team("support", sticky=True)})
    (first,) = payloads(open_ticket(r, "t1"), Assigned)
    r.handle(status("t1", "new", "closed", at(5)), at(5))
    assert "t1" not in r.tickets and ("t1", None) in r.take_changed()
    r.handle(created("t2", at(6)), at(6))
    (again,) = payloads(r.handle(classified("t2", at(6)), at(6)), Assigned)
    assert again.agent_id == first.agent_id and again.strategy == "sticky"


def test_evolve_equals_dataclasses_replace() -> None:
    import dataclasses

    import pytest

    from route.facts import evolve

    r = router(agent("a1"))
    open_ticket(r, "t1")
    s = r.tickets["t1"]
    assert evolve(s, tier="L2", tags=("x",)) == dataclasses.replace(s, tier="L2", tags=("x",))
    assert evolve(s) == s and evolve(s) is not s
    with pytest.raises(TypeError):
        evolve(s, no_such_field=1)


def test_agent_unassigning_gets_the_ticket_rerouted_to_someone_else() -> None:
    r = router(agent("a1"), agent("a2"))
    (first,) = payloads(open_ticket(r, "t1"), Assigned)
    out = r.handle(event("t1", Unassigned(agent_id=first.agent_id, reason="on leave"), at(3),
                         actor=Actor(kind="agent", id=first.agent_id)), at(3))
    (second,) = payloads(out, Assigned)
    assert second.agent_id != first.agent_id


def test_created_after_a_later_event_fills_in_the_ticket() -> None:
    r = router(agent("a1"))
    r.handle(status("t1", "new", "open", at(5)), at(5))
    r.handle(created("t1", T0, channel="chat", customer="c9"), at(6))
    s = r.tickets["t1"]
    assert (s.channel, s.customer_id, s.created_at, s.status) == ("chat", "c9", T0, "open")


def test_late_classification_moves_unaccepted_work_to_the_new_team() -> None:
    r = router(agent("s1"), agent("b1", teams=("billing",)), classify_wait=timedelta(0))
    r.handle(created("t1"), T0)  # routed at once to the default team
    assert r.tickets["t1"].assignee == "s1"
    out = r.handle(classified("t1", at(1), team="billing"), at(1))
    assert [p.agent_id for p in payloads(out, Unassigned)] == ["s1"]
    assert [(p.agent_id, p.team) for p in payloads(out, Assigned)] == [("b1", "billing")]


def test_late_classification_leaves_accepted_work_with_its_agent() -> None:
    r = router(agent("s1"), agent("b1", teams=("billing",)), classify_wait=timedelta(0))
    r.handle(created("t1"), T0)
    r.handle(reply("t1", at(1), "s1"), at(1))
    out = r.handle(classified("t1", at(2), team="billing"), at(2))
    assert payloads(out, Unassigned) == [] and r.tickets["t1"].team == "support"


def test_late_classification_requeues_in_the_new_team() -> None:
    r = router(classify_wait=timedelta(0))
    (q1,) = payloads(r.handle(created("t1"), T0), Queued)
    (q2,) = payloads(r.handle(classified("t1", at(1), team="billing"), at(1)), Queued)
    assert (q1.team, q2.team) == ("support", "billing")
    assert list(r.queue_view()) == ["billing"]


def test_the_assignment_notice_carries_what_the_agent_needs() -> None:
    from tests.support.route_builders import shift

    r = router(agent("a1", languages=("fr", "en"), working_hours=shift("Europe/Paris")))
    out = open_ticket(r, "t1", priority="high")
    (note,) = [n for n in out if isinstance(n, Notification)]
    c = note.context
    assert (c["ticket_subject"], c["customer_address"], c["priority"]) == (
        "help", "c1@example.org", "high")
    assert c["sla_due"] == (T0 + H).isoformat() and c["sla_metric"] == "first-response"
    assert (note.language, c["reader_timezone"]) == ("fr", "Europe/Paris")


def test_an_out_of_office_answer_starts_no_clock_a_customer_message_does() -> None:
    import dataclasses

    from route.sla import clock_for
    from schemas.message import MessageFlags
    from tests.support.route_builders import inbound

    policy = SlaPolicy("p", first_response=H, next_response=2 * H, resolution=8 * H)
    r = Router(RoutingConfig(sla_policies=(policy,), agents=(agent("a1"),)))
    open_ticket(r, "t1")
    r.handle(reply("t1", at(10)), at(10))
    ooo = inbound("t1", at(11))
    ooo = dataclasses.replace(ooo, payload=dataclasses.replace(
        ooo.payload, flags=MessageFlags(auto_reply=True, auto_reply_reason="x-autoreply")))
    r.handle(ooo, at(11))
    s = r.tickets["t1"]
    assert clock_for(s.clocks, "next-response") is None and s.awaiting_since is None
    r.handle(inbound("t1", at(20)), at(20))
    s = r.tickets["t1"]
    nxt = clock_for(s.clocks, "next-response")
    assert nxt is not None and nxt.due_at == at(20) + 2 * H and s.awaiting_since == at(20)
