"""Agents' corrections become labelled tickets: priority changed, another team, a merge into a
ticket of another category, an escalation; nothing for the classifier's own decisions, and the
classify stage emits them on the model.examples topic."""

from __future__ import annotations

from datetime import timedelta

from classify.classifier import Classifier
from classify.corrections import Corrections
from classify.learning import drift
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from schemas.classify_events import Classified
from schemas.directory import LabelledExample
from schemas.events import Actor, TicketEvent
from schemas.route_events import Assigned, Escalated
from schemas.ticket_events import Merged, PriorityChanged
from schemas.topics import MODEL_EXAMPLES
from tests.support.classify_events import T0, opened, records

AGENT = Actor(kind="agent", id="alice")
RULE = Actor(kind="rule", id="classify")


def event(ticket: str, n: int, payload: object, actor: Actor = AGENT) -> TicketEvent:
    return TicketEvent(event_id=f"e-{ticket}-{n}", ticket_id=ticket, ticket_number=ticket,
                       at=T0 + timedelta(minutes=n), actor=actor,
                       payload=payload)  # type: ignore[arg-type]


def decided(ticket: str, **fields: str) -> TicketEvent:
    return event(ticket, 2, Classified(**fields), RULE)  # type: ignore[arg-type]


def test_each_kind_of_correction_is_a_labelled_ticket() -> None:
    fold = Corrections()
    for t, category in (("t1", "billing"), ("t2", "delivery")):
        for e in opened(t, "Subject", f"text of {t}"):
            assert fold.observe(e) == []
        assert fold.observe(decided(t, category=category, team="support",
                                    priority="normal")) == []
    got = [*fold.observe(event("t1", 3, PriorityChanged(from_priority="normal",
                                                        to_priority="urgent"))),
           *fold.observe(event("t1", 4, Assigned(agent_id="bob", team="finance"))),
           *fold.observe(event("t1", 5, Escalated(from_tier="L1", to_tier="L2",
                                                  reason="legal threat", trigger="agent"))),
           *fold.observe(event("t1", 6, Merged(into_ticket_id="t2", into_number="t2")))]
    assert [(x.target, x.label, x.previous, x.source) for x in got] == [
        ("priority", "urgent", "normal", "priority-changed"),
        ("team", "finance", "support", "assigned"),
        ("escalation", "legal threat", None, "escalated"),
        ("category", "delivery", "billing", "merged")]
    assert all(x.text == "Subject\ntext of t1" and x.ticket_id == "t1" for x in got)


def test_the_classifiers_own_decisions_and_agreeing_changes_teach_nothing() -> None:
    fold = Corrections()
    for e in opened("t1", "S", "body"):
        fold.observe(e)
    fold.observe(decided("t1", category="billing", team="support", priority="high"))
    assert fold.observe(event("t1", 3, Assigned(agent_id="alice", team="support"))) == []
    assert fold.observe(event("t1", 4, Assigned(agent_id="bob", team="finance"),
                              Actor(kind="system"))) == []  # routing, not an agent
    assert fold.observe(event("t1", 5, PriorityChanged(from_priority="normal",
                                                       to_priority="high"))) == []
    # an agent's re-classification: each changed field
    again = fold.observe(event("t1", 6, Classified(category="refund", team="support")))
    assert [(x.target, x.label, x.previous) for x in again] == [("category", "refund", "billing")]


def test_memory_is_bounded() -> None:
    fold = Corrections(max_tickets=2)
    for t in ("a", "b", "c"):
        for e in opened(t, "S", t):
            fold.observe(e)
        fold.observe(decided(t, priority="normal"))
    assert fold.observe(event("a", 3, PriorityChanged(from_priority="normal",
                                                      to_priority="high"))) == []
    assert len(fold.observe(event("c", 3, PriorityChanged(from_priority="normal",
                                                          to_priority="high")))) == 1


def test_the_stage_writes_corrections_of_its_own_decisions_to_the_examples_topic() -> None:
    stage = ClassifyStage(Classifier(None), ClassifySettings())
    first = stage.process(records(opened("t1", "Invoice", "charged twice")), T0)
    assert [o.topic.name for o in first] == ["ticket.events"]
    out = stage.process(records([event("t1", 9, PriorityChanged(from_priority="normal",
                                                                to_priority="urgent"))]), T0)
    assert [(o.topic, o.key) for o in out] == [(MODEL_EXAMPLES, b"t1/priority")]
    assert out[0].value.label == "urgent" and "charged twice" in out[0].value.text


def test_drift_per_class() -> None:
    examples = [LabelledExample(ticket_id=str(i), target="category", label=label,
                                previous=prev, text="x", source="merged")
                for i, (label, prev) in enumerate([("refund", "billing"), ("refund", "billing"),
                                                   ("delivery", "login")])]
    d = drift(["billing", "billing", "login", "delivery"], examples)
    assert d["desk_examples"] == 3 and d["by_source"] == {"merged": 3}
    assert d["per_class"]["billing"]["corrected_away"] == 2
    assert d["per_class"]["refund"] == {"cold_start_share": 0.0, "desk_share": 0.6667,
                                        "corrected_to": 2, "corrected_away": 0,
                                        "new_class": True}
