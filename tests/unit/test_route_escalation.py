"""Escalation tiers (time, complexity, sentiment, VIP), supervisor rules and blueprints."""

from __future__ import annotations

from datetime import timedelta

from route.blueprint import Blueprint, BlueprintState
from route.config import RoutingConfig
from route.engine import Router
from route.escalation import EscalationPolicy, TierSpec
from route.model import Team
from route.sla import SlaPolicy
from route.supervisor import SupervisorRule
from schemas.directory import CustomerRecord
from schemas.events import TicketEvent
from schemas.notification import Notification
from schemas.route_events import Assigned, Escalated, SlaBreached, Unassigned
from tests.support.route_builders import (
    T0,
    agent,
    at,
    classified,
    created,
    inbound,
    reply,
    status,
)

H = timedelta(hours=1)
TIERS = EscalationPolicy(
    tiers={"L1": TierSpec("L1", timedelta(minutes=20)),
           "L2": TierSpec("L2", 4 * H, team="l2"), "L3": TierSpec("L3", None, team="eng")},
    on_tags={"outage": "L2", "security": "L3"},
    on_categories={"data-loss": "L3"},
    negative_sentiment_tier="L2",
    vip_customer_tiers=frozenset({"vip"}),
    vip_tier="L2",
)


def router(**cfg) -> Router:  # type: ignore[no-untyped-def]
    base = dict(
        sla_policies=(SlaPolicy("default", first_response=H, resolution=8 * H),),
        escalation=TIERS,
        agents=(agent("l1a"), agent("l2a", teams=("l2",), tier="L2"),
                agent("boss", teams=("support",), roles=("supervisor",), capacity=0)),
        teams={"support": Team("support", supervisors=("lead@example.com",)),
               "l2": Team("l2", supervisors=("l2lead@example.com",))},
    )
    return Router(RoutingConfig(**{**base, **cfg}))


def escalations(out):  # type: ignore[no-untyped-def]
    return [e.payload for e in out if isinstance(e, TicketEvent)
            and isinstance(e.payload, Escalated)]


def alerts(out, kind):  # type: ignore[no-untyped-def]
    return [n for n in out if isinstance(n, Notification) and n.kind == kind]


def test_complexity_tag_escalates_and_routes_to_the_tier_team() -> None:
    r = router()
    r.handle(created("t1"), T0)
    out = r.handle(classified("t1", at(1), tags=("outage",)), at(1))
    (e,) = escalations(out)
    assert (e.from_tier, e.to_tier, e.trigger, e.reason) == ("L1", "L2", "complexity",
                                                             "tag outage")
    (a,) = [x.payload for x in out if isinstance(x, TicketEvent)
            and isinstance(x.payload, Assigned)]
    assert (a.agent_id, a.team) == ("l2a", "l2")
    sent_to = {n.recipient.address for n in alerts(out, "escalation-alert") if n.recipient}
    assert sent_to == {"l2lead@example.com"}  # it never was in support


def test_highest_requested_tier_wins() -> None:
    r = router()
    r.handle(created("t1"), T0)
    (e,) = escalations(r.handle(classified("t1", at(1), tags=("outage", "security")), at(1)))
    assert e.to_tier == "L3"


def test_negative_sentiment_escalates() -> None:
    r = router()
    r.handle(created("t1"), T0)
    (e,) = escalations(r.handle(classified("t1", at(1), sentiment="negative"), at(1)))
    assert (e.to_tier, e.trigger) == ("L2", "sentiment")


def test_vip_customer_escalates() -> None:
    r = router()
    r.set_customer("c1", CustomerRecord(customer_id="c1", tier="VIP"))
    r.handle(created("t1"), T0)
    (e,) = escalations(r.handle(classified("t1", at(1)), at(1)))
    assert (e.to_tier, e.trigger) == ("L2", "vip")


def test_no_response_within_tier_target_climbs_one_tier_once() -> None:
    r = router()
    r.handle(created("t1"), T0)
    r.handle(inbound("t1", T0), T0)
    r.handle(classified("t1", T0), T0)
    assert escalations(r.tick(at(19))) == []
    out = r.tick(at(21))
    (e,) = escalations(out)
    assert (e.to_tier, e.trigger) == ("L2", "time") and "20 min" in e.reason
    assert out[0].at == at(20)
    assert escalations(r.tick(at(25))) == []
    # the L1 agent's assignment is released to the L2 team
    assert [x.payload.agent_id for x in out if isinstance(x, TicketEvent)
            and isinstance(x.payload, Unassigned)] == ["l1a"]
    sent_to = {n.recipient.address for n in alerts(out, "escalation-alert") if n.recipient}
    assert sent_to == {"boss@support.example.com", "lead@example.com", "l2lead@example.com"}


def test_a_response_stops_the_tier_clock() -> None:
    r = router()
    r.handle(created("t1"), T0)
    r.handle(inbound("t1", T0), T0)
    r.handle(classified("t1", T0), T0)
    r.handle(reply("t1", at(10), "l1a"), at(10))
    assert escalations(r.tick(at(40))) == []


def test_supervisor_rule_exchanges_and_resolution_overdue() -> None:
    rule = SupervisorRule("long and late", min_exchanges=3, overdue=frozenset({"resolution"}))
    r = router(supervisor_rules=(rule,), escalation=EscalationPolicy())
    r.handle(created("t1"), T0)
    r.handle(classified("t1", T0), T0)
    for i in range(2):
        r.handle(inbound("t1", at(10 * i)), at(10 * i))
        r.handle(reply("t1", at(10 * i + 5), "l1a"), at(10 * i + 5))
    out = r.tick(at(8 * 60 + 1))  # resolution breached; exchanges 4 > 3
    assert [x.payload.metric for x in out if isinstance(x, TicketEvent)
            and isinstance(x.payload, SlaBreached)] == ["resolution"]
    (alert,) = [n for n in alerts(out, "supervisor-alert")
                if n.recipient and n.recipient.address == "lead@example.com"]
    assert alert.context["rule"] == "long and late"
    assert alerts(r.tick(at(9 * 60)), "supervisor-alert") == []


def test_supervisor_rule_no_response_escalates_to_l2() -> None:
    rule = SupervisorRule("L1 silent", action="escalate", to_tier="L2", tiers=frozenset({"L1"}),
                          no_response_for=timedelta(minutes=20))
    r = router(supervisor_rules=(rule,), escalation=EscalationPolicy())
    r.handle(created("t1"), T0)
    r.handle(inbound("t1", T0), T0)
    r.handle(classified("t1", T0), T0)
    (e,) = escalations(r.tick(at(21)))
    assert (e.to_tier, e.trigger, e.reason) == ("L2", "rule", "rule L1 silent")


def test_blueprint_owner_time_limit_and_disallowed_transition() -> None:
    bp = Blueprint(
        "refund",
        states={"pending": BlueprintState("pending", owner_team="l2", notify_on_entry=True,
                                          time_limit=2 * H)},
        transitions={"new": frozenset({"open"}), "open": frozenset({"pending", "solved"})},
    )
    r = router(blueprints=(bp,), escalation=EscalationPolicy())
    r.handle(created("t1"), T0)
    r.handle(classified("t1", T0, type="refund"), T0)
    out = r.handle(status("t1", "new", "pending", at(5)), at(5))
    assert next(n.context["reason"] for n in alerts(out, "supervisor-alert")).startswith(
        "transition new -> pending")
    assert [x.payload.team for x in out if isinstance(x, TicketEvent)
            and isinstance(x.payload, Assigned)] == ["l2"]
    assert alerts(out, "assignment")
    expired = r.tick(at(5 + 121))
    (b,) = [x.payload for x in expired if isinstance(x, TicketEvent)
            and isinstance(x.payload, SlaBreached)]
    assert (b.metric, b.policy, b.due_at) == ("state-time", "blueprint:refund", at(125))
    assert not [x for x in r.tick(at(300)) if isinstance(x, TicketEvent)
                and x.kind == "sla-breached"]


def test_rule_for_another_tier_sets_no_timer() -> None:
    from route import supervisor
    from route.facts import evolve

    rule = SupervisorRule("L1 silent", action="escalate", tiers=frozenset({"L1"}),
                          no_response_for=timedelta(minutes=20))
    r = router(supervisor_rules=(rule,), escalation=EscalationPolicy())
    r.handle(created("t1"), T0)
    r.handle(inbound("t1", T0), T0)
    r.handle(classified("t1", T0), T0)
    on_l1 = r.tickets["t1"]
    assert supervisor.wakeup(rule, on_l1) == at(20)
    assert supervisor.wakeup(rule, evolve(on_l1, tier="L2", tier_since=at(1))) is None
