"""The stage shell: topics of outputs, table restore, settings and the example config,
CLI reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from route.reports import escalation_report, live_queue
from route.settings import RouteSettings, routing_config
from route.stage import RouteStage, build_stage
from schemas.codec import decode, encode
from schemas.directory import Agent
from schemas.events import Actor
from schemas.route_events import Escalated, RouteTicketState
from schemas.stage import In, KafkaConnection, StageContext
from schemas.topics import AGENTS, NOTIFY_OUTBOX, ROUTE_STATE, TICKET_EVENTS
from tests.support.route_builders import T0, agent, at, classified, created, event

EXAMPLE = Path(__file__).resolve().parents[2] / "route" / "examples" / "routing.toml"


class _Sections:
    def __init__(self, route: RouteSettings) -> None:
        self.route = route


def stage(**settings) -> RouteStage:  # type: ignore[no-untyped-def]
    ctx = StageContext(kafka=KafkaConnection("127.0.0.1:1"),
                       sections=_Sections(RouteSettings(**settings)), signing_key=b"k")
    return build_stage(ctx)


def inputs(*events):  # type: ignore[no-untyped-def]
    return [In(TICKET_EVENTS, e.ticket_id.encode(), e) for e in events]


def test_outputs_go_to_events_outbox_and_state_table() -> None:
    st = stage(agents=[{"agent_id": "a1", "teams": ["support"], "presence": "online",
                        "email": "a1@example.com"}])
    outs = st.process(inputs(created("t1"), classified("t1", at(1))), at(1))
    topics = [o.topic.name for o in outs]
    assert topics.count(TICKET_EVENTS.name) == 2  # sla-applied, assigned
    assert topics.count(NOTIFY_OUTBOX.name) == 1  # assignment notice
    assert topics[-1] == ROUTE_STATE.name and topics.count(ROUTE_STATE.name) == 1
    state = outs[-1].value
    assert isinstance(state, RouteTicketState) and state.assignee == "a1"
    assert decode(RouteTicketState, encode(state)) == state  # survives the wire


def test_restore_rebuilds_the_router_from_tables() -> None:
    first = stage()
    outs = first.process(inputs(created("t1"), classified("t1", at(1))), at(1))
    (state,) = [o.value for o in outs if o.topic == ROUTE_STATE]
    second = stage()
    second.restore(AGENTS, b"a1", agent("a1", teams=("support",)))
    second.restore(ROUTE_STATE, b"t1", decode(RouteTicketState, encode(state)))
    assert second.router.queue_view()["support"][0].ticket_id == "t1"
    outs = second.tick(at(2))
    assert any(getattr(o.value, "kind", None) == "assigned" for o in outs)
    second.restore(ROUTE_STATE, b"t1", None)
    assert "t1" not in second.router.tickets
    second.restore(AGENTS, b"a1", None)
    assert "a1" not in second.router.agents


def test_settings_defaults_and_timeouts() -> None:
    cfg = routing_config(RouteSettings(accept_timeout_minutes=0, classify_wait_seconds=5))
    assert cfg.accept_timeout is None and cfg.classify_wait == timedelta(seconds=5)
    assert [p.name for p in cfg.sla_policies] == ["urgent", "high", "normal"]
    assert cfg.default_team in cfg.teams


def test_example_routing_file_loads_and_routes() -> None:
    cfg = routing_config(RouteSettings(config_file=str(EXAMPLE)))
    assert set(cfg.teams) >= {"support", "billing", "l2", "engineering"}
    assert cfg.escalation.tiers["L2"].team == "l2"
    assert {a.agent_id for a in cfg.agents} == {"alice", "bob", "carol"}
    paris = cfg.calendars["paris-office"]
    assert paris.holiday_country == "FR" and paris.timezone == "Europe/Paris"
    st = stage(config_file=str(EXAMPLE))
    outs = st.process(inputs(created("t1"), classified("t1", at(1), tags=("outage",))), at(1))
    kinds = [o.value.kind for o in outs if o.topic == TICKET_EVENTS]
    assert kinds == ["escalated", "assigned", "sla-applied"]  # escalation reroutes at once


def test_unknown_settings_key_is_rejected() -> None:
    with pytest.raises(ValueError):
        RouteSettings(no_such_key=1)  # type: ignore[call-arg]


def test_live_queue_orders_by_due_time() -> None:
    st = stage(agents=[])
    st.process(inputs(created("late"), classified("late", T0)), T0)
    st.process(inputs(created("soon", at(1), priority="urgent"), classified("soon", at(1))), at(1))
    view = live_queue(st.router.tickets.values())
    assert [e.ticket_id for e in view["support"]] == ["soon", "late"]


def test_escalation_report_by_tag_category_and_trigger() -> None:
    esc = Escalated(from_tier="L1", to_tier="L2", reason="tag outage", trigger="complexity")
    system = Actor(kind="system", id="route")
    e1 = event("t1", esc, at(2), system, event_id="e1")
    events = [
        classified("t1", at(1), tags=("outage", "vpn"), category="network"),
        e1, e1,  # a redelivery counts once
        classified("t2", at(1), category="billing"),
        event("t2", Escalated(from_tier="L2", to_tier="L3", reason="x", trigger="time"), at(3),
              system, event_id="e2"),
    ]
    report = escalation_report(events).as_dict()
    assert report["total"] == 2 and report["tickets"] == 2
    assert report["by_tag"] == {"outage": 1, "vpn": 1, "(none)": 1}
    assert report["by_category"] == {"network": 1, "billing": 1}
    assert report["by_trigger"] == {"complexity": 1, "time": 1}
    assert report["by_move"] == {"L1->L2": 1, "L2->L3": 1}


def test_agent_record_from_config_keeps_shift() -> None:
    cfg = routing_config(RouteSettings(config_file=str(EXAMPLE)))
    alice = next(a for a in cfg.agents if a.agent_id == "alice")
    assert isinstance(alice, Agent) and alice.working_hours is not None
    assert alice.working_hours.days["mon"] == ("09:00", "18:00")
    assert decode(Agent, encode(alice)) == alice


def test_unknown_calendar_or_team_reference_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        routing_config(RouteSettings(sla_policies=[{"name": "p", "calendar": "nope"}]))
    with pytest.raises(ValueError, match="unknown team"):
        routing_config(RouteSettings(teams={"support": {}},
                                     departments={"x": {"default_team": "typo"}}))


def test_backlog_replay_is_judged_on_event_time_not_the_clock() -> None:
    """Catching up on an old backlog (default policy: first response 4 h, resolution 24 h): a
    tick between two batches must not breach a ticket whose reply is in the next batch; a
    ticket left unanswered still breaches, at its due time."""
    from tests.support.route_builders import inbound, reply

    st = stage()
    wall = T0 + timedelta(days=200)
    st.process(inputs(created("answered"), created("ignored")), wall)
    assert st.timer_time(wall + timedelta(seconds=1)) == T0  # catching up: event time
    outs = st.tick(wall + timedelta(seconds=1))
    assert not [o for o in outs if getattr(o.value, "kind", "") == "sla-breached"]
    outs = st.process(inputs(reply("answered", at(10)), inbound("ignored", at(5 * 60))),
                      wall + timedelta(seconds=2))
    breached = [o.value for o in outs if getattr(o.value, "kind", "") == "sla-breached"]
    # the unanswered ticket's deadline passed before its next event: fired first, at due time
    assert [(b.ticket_id, b.at) for b in breached] == [("ignored", T0 + timedelta(hours=4))]
    # input idle: back on the wall clock
    assert st.timer_time(wall + timedelta(minutes=1)) == wall + timedelta(minutes=1)
    late = st.tick(wall + timedelta(minutes=1))
    breaches = {(o.value.ticket_id, o.value.payload.metric) for o in late
                if getattr(o.value, "kind", "") == "sla-breached"}
    # neither was solved within 24 h; the answered one never breached first response
    assert breaches == {("answered", "resolution"), ("ignored", "resolution")}


def test_a_failing_record_loses_nothing_of_the_others_in_its_batch(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The runner retries a failed batch record by record (the failing one goes to the
    dead-letter topic): records decided before the failure still get their outputs, once."""
    import route.engine
    from route import clocks

    real = clocks.apply_policy

    def apply_policy(s, cfg, at):  # type: ignore[no-untyped-def]
        if s.ticket_id == "bad":
            raise ValueError("broken policy")
        return real(s, cfg, at)

    monkeypatch.setattr(route.engine.clocks, "apply_policy", apply_policy)
    st = stage(classify_wait_seconds=0)  # creation alone then routes and announces the SLA
    batch = inputs(created("t1"), created("bad"), created("t3"))
    with pytest.raises(ValueError):
        st.process(batch, T0)
    emitted = []
    for record in batch:  # what the runner does next
        try:
            emitted += st.process([record], T0)
        except ValueError:
            continue
    decided = [(o.value.ticket_id, o.value.kind) for o in emitted if o.topic == TICKET_EVENTS]
    assert [t for t, _ in decided] == ["t1", "t1", "t3", "t3"]  # sla-applied + queued each
    assert len(set(decided)) == len(decided)  # once
    assert sorted(o.key for o in emitted if o.topic == ROUTE_STATE) == [b"t1", b"t3"]
    assert "bad" not in st.router.tickets
