"""The metrics layer without servers: the Meter port's catalogue and its bounded labels, the
domain counters derived from produced ticket events, the IMAP board as gauges, /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.testclient import TestClient

from ingest.chat.metered import route_name, status_class
from ingest.imap.status import StatusBoard
from notify.dispatch import outcome_reason
from runtime.http import health_app
from runtime.metrics import CATALOGUE, NOTIFY_REASONS, PromMeter, StageMetrics
from schemas.classify_events import RuleMatch
from schemas.events import (
    Actor,
    Classified,
    Created,
    Escalated,
    EventPayload,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketEvent,
)
from schemas.message import Address
from schemas.notification import NotificationResult
from schemas.stage import NO_METER, Out
from schemas.topics import MESSAGES, TICKET_EVENTS

T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def event(payload: EventPayload, n: int = 0) -> Out:
    ev = TicketEvent(event_id=f"e{n}", ticket_id="t1", ticket_number="HL-1", at=T0,
                     actor=Actor(kind="system"), payload=payload)
    return Out(TICKET_EVENTS, b"t1", ev)


# -- the Meter port ------------------------------------------------------------------------


def test_meter_counts_declared_metrics_with_their_labels() -> None:
    r = CollectorRegistry()
    meter = PromMeter(r)
    meter.count("smtp_receiver_messages", protocol="lmtp", outcome="accepted")
    meter.count("smtp_receiver_messages", 2, protocol="lmtp", outcome="accepted")
    meter.observe("notify_send", 0.2, channel="email", outcome="ok")
    assert sample(r, "helpline_smtp_receiver_messages_total", protocol="lmtp",
                  outcome="accepted") == 3
    assert sample(r, "helpline_notify_send_seconds_count", channel="email", outcome="ok") == 1
    assert sample(r, "helpline_notify_send_seconds_sum", channel="email", outcome="ok") == 0.2


def test_meter_maps_a_label_value_outside_its_set_to_other() -> None:
    r = CollectorRegistry()
    meter = PromMeter(r)
    meter.count("notify_notifications", kind="auto-ack", channel="email", outcome="suppressed",
                reason="ada@example.org said so")
    text = generate_latest(r).decode()
    assert "ada@example.org" not in text
    assert sample(r, "helpline_notify_notifications_total", kind="auto-ack", channel="email",
                  outcome="suppressed", reason="other") == 1


@pytest.mark.parametrize("call", [
    lambda m: m.count("no_such_metric"),
    lambda m: m.count("notify_send", channel="email", outcome="ok"),  # a histogram
    lambda m: m.count("notify_retries", channel="email", ticket="t1"),  # undeclared label
    lambda m: m.observe("notify_send", 1.0, channel="email"),  # a label missing
])
def test_meter_refuses_what_the_catalogue_does_not_declare(call: object) -> None:
    with pytest.raises(KeyError):
        call(PromMeter(CollectorRegistry()))  # type: ignore[operator]
    with pytest.raises(KeyError):  # also when metrics are off: wiring bugs show in unit tests
        call(PromMeter(None))  # type: ignore[operator]


def test_no_meter_is_the_default_and_does_nothing() -> None:
    NO_METER.count("anything", 1, whatever="x")
    NO_METER.observe("anything", 1.0)


def test_catalogue_names_are_prometheus_style() -> None:
    for name, spec in CATALOGUE.items():
        assert name == name.lower() and " " not in name
        assert not name.endswith(("_total", "_seconds")), "the runtime adds the suffix"
        assert spec.kind in ("counter", "histogram")
        for label, values in spec.values:
            assert label not in ("address", "ticket_id", "message_id", "email")
            assert values is None or len(values) < 40


# -- domain counters from produced events --------------------------------------------------


def test_domain_counters_follow_the_events_a_stage_produced() -> None:
    r = CollectorRegistry()
    m = StageMetrics.create(r)
    created = Created(number="HL-1", subject="s", channel="chat", mailbox="support",
                      customer_id="c1", requester=Address(address="ada@example.org"))
    outs = [
        event(created, 1),
        event(StatusChanged(from_status="solved", to_status="open"), 2),
        event(StatusChanged(from_status="new", to_status="open"), 3),  # not a reopen
        event(SlaWarning(policy="p", metric="first-response", due_at=T0), 4),
        event(SlaBreached(policy="p", metric="resolution", due_at=T0), 5),
        event(Escalated(from_tier="L1", to_tier="L2", reason="x", trigger="time"), 6),
        event(Escalated(from_tier="L2", to_tier="L3", reason="x", trigger="free text"), 7),
        event(Classified(matched_rules=(RuleMatch(rule_id="r"),), model_status="applied"), 8),
        event(Classified(model_status="applied"), 9),
        event(Classified(uncertain=True, model_status="applied"), 10),
        event(Classified(model_status="failed"), 11),
        Out(MESSAGES, b"m", object()),  # other topics are not looked into
    ]
    m.outputs("tickets", outs)
    assert sample(r, "helpline_ticket_events_total", stage="tickets", kind="status-changed") == 2
    assert sample(r, "helpline_tickets_created_total", channel="chat") == 1
    assert sample(r, "helpline_tickets_reopened_total") == 1
    assert sample(r, "helpline_sla_warnings_total", metric="first-response") == 1
    assert sample(r, "helpline_sla_breaches_total", metric="resolution") == 1
    assert sample(r, "helpline_escalations_total", tier="L2", trigger="time") == 1
    assert sample(r, "helpline_escalations_total", tier="L3", trigger="other") == 1
    for source, n in (("rule", 1), ("model", 1), ("abstained", 1), ("none", 1)):
        assert sample(r, "helpline_tickets_classified_total", source=source) == n
    assert sample(r, "helpline_classify_model_total", status="failed") == 1


def test_consumer_lag_is_the_sum_of_the_replicas_partitions() -> None:
    r = CollectorRegistry()
    m = StageMetrics.create(r)
    m.lag("tickets", "messages", 0, 10)
    m.lag("tickets", "messages", 1, 5)
    m.lag("tickets", "messages", 0, 0)
    assert sample(r, "helpline_consumer_lag", stage="tickets", topic="messages") == 5


class _Consumer:
    """What ``fetched`` reads of an aiokafka consumer: high-water marks and the assignment."""

    def __init__(self, ends: dict[Any, int]) -> None:
        self.ends = ends

    def highwater(self, tp: Any) -> int | None:
        return self.ends.get(tp)

    def assignment(self) -> set[Any]:
        return set(self.ends)


@dataclass(frozen=True)
class _Msg:
    offset: int


def test_lag_after_a_fetch_and_after_a_rebalance() -> None:
    from aiokafka import TopicPartition

    r = CollectorRegistry()
    m = StageMetrics.create(r)
    specs = {"p.messages": MESSAGES}
    p0, p1 = TopicPartition("p.messages", 0), TopicPartition("p.messages", 1)
    m.fetched("tickets", _Consumer({p0: 100, p1: 50}), {p0: [_Msg(89)], p1: [_Msg(49)]}, specs)
    assert sample(r, "helpline_consumer_lag", stage="tickets", topic="messages") == 10
    m.fetched("tickets", _Consumer({p1: 60}), {p1: [_Msg(54)]}, specs)  # p0 went elsewhere
    assert sample(r, "helpline_consumer_lag", stage="tickets", topic="messages") == 5


# -- notify's reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "detail", "reason"), [
    ("suppressed", "recipient-cap", "recipient-cap"),
    ("failed", "gave up after 5 attempts: 451 later", "retries-exhausted"),
    ("failed", "in-doubt: worker stopped during the send", "in-doubt"),
    ("failed", "recipient refused", "permanent"),
    ("sent", "digested into d1", "digested"),
    ("sent", "", "none"),
])
def test_notify_outcome_reasons_are_a_fixed_set(outcome: str, detail: str, reason: str) -> None:
    r = NotificationResult(notification_id="n", ticket_id="t", outcome=outcome,  # type: ignore[arg-type]
                           at=T0, detail=detail)
    assert outcome_reason(r) == reason
    assert reason in NOTIFY_REASONS


# -- tickets' intake decisions -------------------------------------------------------------


def test_intake_labels_name_each_decision() -> None:
    from schemas.message import Bounce
    from tickets.stage import intake_labels
    from tickets.threading import Attach, DeliveryFailure, Duplicate, NewTicket

    assert intake_labels(NewTicket()) == {"decision": "new", "via": "none"}
    assert intake_labels(NewTicket(follow_up_of="t0")) == {"decision": "follow-up",
                                                          "via": "none"}
    assert intake_labels(Attach("t1", "reply-token")) == {"decision": "threaded",
                                                          "via": "reply-token"}
    assert intake_labels(Attach("t1", "subject-number", reopen=True)) == {
        "decision": "reopened", "via": "subject-number"}
    assert intake_labels(Duplicate("t1")) == {"decision": "duplicate", "via": "none"}
    bounce = DeliveryFailure("t1", Bounce())
    assert intake_labels(bounce) == {"decision": "bounce", "via": "none"}
    spec = CATALOGUE["tickets_intake"]
    for labels in (intake_labels(d) for d in (NewTicket(), Attach("t", "conversation"))):
        assert all(spec.bound(k, v) == v for k, v in labels.items())


# -- chat routes ---------------------------------------------------------------------------


def test_chat_route_names_never_carry_the_path() -> None:
    assert route_name("POST", "/v1/sites/s1/conversations/c-42/messages") == "messages"
    assert route_name("GET", "/v1/sites/s1/conversations/c-42/events") == "events"
    assert route_name("OPTIONS", "/v1/sites/s1/conversations") == "preflight"
    assert route_name("GET", "/wp-admin/ada@example.org") == "other"
    assert status_class(429) == "429" and status_class(201) == "2xx"


# -- IMAP board and the HTTP app -----------------------------------------------------------


def test_imap_folders_are_gauges_read_at_scrape_time() -> None:
    board = StatusBoard()
    r = CollectorRegistry()
    m = StageMetrics.create(r)
    m.watch(board.report)
    board.transition("support", "INBOX", "idle", T0)
    board.update("support", "INBOX", ingested=3)
    assert sample(r, "helpline_imap_folder_state", mailbox="support", folder="INBOX",
                  state="idle") == 1
    assert sample(r, "helpline_imap_ingested_total", mailbox="support", folder="INBOX") == 3
    board.transition("support", "INBOX", "auth_failed", T0, "NO [AUTHENTICATIONFAILED]")
    assert sample(r, "helpline_imap_folder_state", mailbox="support", folder="INBOX",
                  state="idle") == 0
    assert sample(r, "helpline_imap_folder_state", mailbox="support", folder="INBOX",
                  state="auth_failed") == 1
    assert sample(r, "helpline_imap_failures_total", mailbox="support", folder="INBOX") == 1


def test_a_scrape_refreshes_readiness() -> None:
    r = CollectorRegistry()
    m = StageMetrics.create(r)
    state = {"ready": False}

    def status() -> dict[str, object]:
        m.ready("route", state["ready"])
        return {"ready": state["ready"]}

    client = TestClient(health_app(r, status))
    assert 'helpline_stage_ready{stage="route"} 0.0' in client.get("/metrics").text
    state["ready"] = True
    assert 'helpline_stage_ready{stage="route"} 1.0' in client.get("/metrics").text
    assert client.get("/readyz").status_code == 200
