"""The classify stage with plain lists: what it reads, what it emits, how it reloads rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.evaluation import read_labelled_csv
from classify.language import LanguageDetection
from classify.model import TicketClassifier, TrainingOptions, train_model
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage, classified_event_id
from schemas.classify_events import Classified
from schemas.codec import decode, encode
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.events import TicketEvent
from schemas.topics import CUSTOMERS, RULES, TICKET_EVENTS
from tests.support.classify_events import T0, message, opened, records

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "classify" / "examples" / "rules.toml").read_text()
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def language() -> LanguageDetection:
    return LanguageDetection()


def stage_with(language: LanguageDetection, models: tuple[TicketClassifier, ...] = (),
               source: str = EXAMPLE, **settings: object) -> ClassifyStage:
    stage = ClassifyStage(Classifier(language, models), ClassifySettings(**settings))  # type: ignore[arg-type]
    stage.restore(RULES, b"default", RulesetRecord(name="default", version="v1", source=source,
                                                   pushed_at=T0))
    return stage


def classified(stage: ClassifyStage, events: list[TicketEvent]) -> list[TicketEvent]:
    outs = stage.process(records(events), NOW)
    assert all(o.topic is TICKET_EVENTS for o in outs)
    assert all(o.key == o.value.ticket_id.encode() for o in outs)
    return [o.value for o in outs]


def payload(event: TicketEvent) -> Classified:
    assert isinstance(event.payload, Classified)
    return event.payload


def test_a_new_ticket_is_classified_once_with_reasons(language: LanguageDetection) -> None:
    stage = stage_with(language)
    stage.restore(CUSTOMERS, b"c1", CustomerRecord(customer_id="c1", title="PDG", tier="Gold"))
    (event,) = classified(stage, opened("t1", "LE TELEPHONE CHAUFFE",
                                        "Bonjour, mon téléphone chauffe énormément."))
    c = payload(event)
    assert isinstance(c, Classified)
    assert event.causation_id == "e-t1-msg-1"
    assert event.event_id == classified_event_id("t1", "e-t1-msg-1")
    assert event.at == T0  # the message's time, not the processing time
    assert (c.team, c.priority, c.category, c.language) == (
        "Senior management", "high", "hardware", "fr")
    assert [m.rule_id for m in c.matched_rules] == ["phone-overheating", "ceo", "vip-plan"]
    assert c.matched_rules[1].reasons == (
        'customer.title in ["CEO", "PDG", "Directeur général", "Managing Director"] '
        '(is "PDG")',)
    assert c.model_status == "absent" and c.predictions == () and not c.uncertain
    assert c.ruleset_version is not None


def test_replay_gives_identical_events(language: LanguageDetection) -> None:
    events = opened("t1", "Colis perdu", "Mon colis n'est jamais arrivé, c'est inadmissible !!")
    first = classified(stage_with(language), events)
    again = classified(stage_with(language), events)
    assert [encode(e) for e in first] == [encode(e) for e in again]
    assert decode(TicketEvent, encode(first[0])) == first[0]


def test_only_inbound_human_messages_are_classified(language: LanguageDetection) -> None:
    stage = stage_with(language)
    events = [
        *opened("t1", "Hello", "My order is late"),
        message("t1", 2, "We are looking into it", direction="outbound"),
        message("t1", 3, "Note to self", direction="note"),
        message("t1", 4, "I am out of the office", auto_reply=True),
    ]
    out = classified(stage, events)
    assert len(out) == 1
    # its own classified events come back on the same topic and are ignored
    assert classified(stage, out) == []


def test_follow_ups_are_classified_as_updates_unless_disabled(
    language: LanguageDetection,
) -> None:
    rules = ('[[rule]]\nid = "new"\nwhen = { field = "ticket.is_new", equals = true }\n'
             'then = { tags = ["new"] }\n')
    stage = stage_with(language, source=rules)
    first = classified(stage, opened("t1", "Hello", "My order is late"))
    follow = classified(stage, [message("t1", 2, "Any news?")])
    assert payload(first[0]).tags == ("new",)
    assert payload(follow[0]).tags == ()
    quiet = stage_with(language, source=rules, classify_follow_ups=False)
    classified(quiet, opened("t2", "Hello", "My order is late"))
    assert classified(quiet, [message("t2", 2, "Any news?")]) == []


def test_a_bad_ruleset_is_reported_and_the_running_one_kept(language: LanguageDetection) -> None:
    stage = stage_with(language)
    version = stage.ruleset.version
    stage.restore(RULES, b"default", RulesetRecord(
        name="default", version="v2", pushed_at=T0,
        source='[[rule]]\nid = "x"\nwhen = { field = "subjet", equals = "a" }\n'
               'then = { tags = ["x"] }\n'))
    assert stage.ruleset.version == version
    assert stage.rules_errors and stage.rules_errors[0].line == 3
    # another ruleset name is not this stage's
    stage.restore(RULES, b"other", RulesetRecord(name="other", version="v3", pushed_at=T0,
                                                 source='[[rule]]\nthen = { tags = ["o"] }\n'))
    assert stage.ruleset.version == version


def test_hot_reload_changes_the_next_decisions(language: LanguageDetection) -> None:
    stage = stage_with(language, source='[[rule]]\nthen = { team = "A" }\n')
    assert payload(classified(stage, opened("t1", "x", "hello there"))[0]).team == "A"
    stage.restore(RULES, b"default", RulesetRecord(name="default", version="v2", pushed_at=T0,
                                                   source='[[rule]]\nthen = { team = "B" }\n'))
    assert payload(classified(stage, opened("t2", "x", "hello there"))[0]).team == "B"


def test_deleted_customers_are_forgotten(language: LanguageDetection) -> None:
    stage = stage_with(language)
    stage.restore(CUSTOMERS, b"c1", CustomerRecord(customer_id="c1", title="CEO"))
    stage.restore(CUSTOMERS, b"c1", None)
    (event,) = classified(stage, opened("t1", "Question", "Where is my invoice please"))
    assert "ceo" not in [m.rule_id for m in payload(event).matched_rules]


def test_with_a_model_the_prediction_and_its_abstention_are_in_the_event(
    language: LanguageDetection,
) -> None:
    texts, labels = read_labelled_csv(REPO / "tests" / "golden" / "classify" / "tickets.csv",
                                      ["text"], "category")
    model = train_model(texts, labels, TrainingOptions(target="category"))
    stage = stage_with(language, models=(model,))
    unrelated, _ = read_labelled_csv(REPO / "tests" / "golden" / "classify" / "out_of_scope.csv",
                                     ["text"], None)
    events = opened("t0", "Invoice", "I was charged twice, please refund the double payment")
    for i, text in enumerate(unrelated):
        events += opened(f"u{i}", "Hello", text)
    sure, *others = (payload(e) for e in classified(stage, events))
    assert (sure.category, sure.uncertain, sure.model_status) == ("billing", False, "applied")
    assert sure.predictions[0].target == "category" and sure.confidence is not None
    unsure = [c for c in others if c.uncertain]
    assert len(unsure) >= len(others) // 2
    for c in unsure:
        assert c.category is None
        assert c.predictions[0].abstained and c.predictions[0].best_guess
        # the example rules send uncertain tickets to triage
        assert c.team == "Triage"
        assert "uncertain-to-triage" in [m.rule_id for m in c.matched_rules]


class _BrokenFeatures:
    def transform(self, texts: object) -> object:
        raise ValueError("vocabulary corrupted")


def test_a_failing_model_leaves_rules_working_and_says_so(language: LanguageDetection) -> None:
    texts, labels = read_labelled_csv(REPO / "tests" / "golden" / "classify" / "tickets.csv",
                                      ["text"], "category")
    model = train_model(texts, labels)
    model.features = _BrokenFeatures()  # a real object that fails the way a bad file would
    (event,) = classified(stage_with(language, models=(model,)),
                          opened("t1", "LE TELEPHONE CHAUFFE", "help"))
    c = payload(event)
    assert c.model_status == "failed" and c.predictions == ()
    assert c.team == "Replacements"


def test_models_do_not_reclassify_follow_ups(language: LanguageDetection) -> None:
    texts, labels = read_labelled_csv(REPO / "tests" / "golden" / "classify" / "tickets.csv",
                                      ["text"], "category")
    stage = stage_with(language, models=(train_model(texts, labels),))
    first = payload(classified(stage, opened("t1", "Invoice", "I was charged twice, refund "
                                                             "the double payment please"))[0])
    again = payload(classified(stage, [message("t1", 2, "Any news? The weather is nice.")])[0])
    assert first.category == "billing" and first.model_status == "applied"
    assert again.model_status == "follow-up" and again.predictions == ()
    assert (again.category, again.uncertain, again.team) == (None, False, None)


def test_a_yaml_ruleset_with_errors_is_refused_with_a_reason(language: LanguageDetection) -> None:
    stage = stage_with(language)
    version = stage.ruleset.version
    stage.restore(RULES, b"default", RulesetRecord(name="default", version="y", pushed_at=T0,
                                                   source="rules: []", format="yaml"))
    assert stage.ruleset.version == version
    assert "unknown section 'rules'" in stage.rules_errors[0].message
    assert stage.rules_errors[0].line == 1


def test_the_worker_factory_reads_its_settings_section(tmp_path: Path) -> None:
    from classify.model import save_model
    from classify.stage import build_stage
    from runtime.settings import Settings
    from schemas.stage import KafkaConnection, StageContext

    texts, labels = read_labelled_csv(REPO / "tests" / "golden" / "classify" / "tickets.csv",
                                      ["text"], "category")
    save_model(train_model(texts, labels), tmp_path / "category")
    settings = Settings(classify=ClassifySettings(model_dirs=(str(tmp_path / "category"),),
                                                  triage_team="Tri"))
    ctx = StageContext(kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1"), sections=settings,
                       signing_key=b"k")
    stage = build_stage(ctx)
    assert stage.name == "classify" and stage.settings.triage_team == "Tri"
    assert [m.card.target for m in stage.classifier.models] == ["category"]
    assert build_stage(StageContext(kafka=ctx.kafka, sections=Settings(),
                                    signing_key=b"k")).classifier.models == ()


def test_form_fields_and_the_ticket_type_reach_the_rules(language: LanguageDetection) -> None:
    rules = ('[[rule]]\nid = "returns"\nwhen = [ { field = "form.product", equals = "X200" }, '
             '{ field = "ticket.type", equals = "return" } ]\nthen = { team = "Returns" }\n')
    stage = stage_with(language, source=rules)
    created, added = opened("t1", "Retour", "Je renvoie mon X200")
    added = replace(added, payload=replace(added.payload, extra={
        "form": {"product": "X200", "type": "Return"}}))
    (event,) = classified(stage, [created, added])
    assert payload(event).team == "Returns"
    assert payload(event).matched_rules[0].reasons == (
        'form.product equals "X200" (is "X200")', 'ticket.type equals "return" (is "Return")')


def test_chat_text_is_classified_like_mail_with_the_demo_rules(
    language: LanguageDetection,
) -> None:
    from ingest.chat.normalize import subject_from_text

    demo = (REPO / "runtime" / "demo" / "rules.toml").read_text()
    stage = stage_with(language, source=demo)
    text = "Hi! My order #1234 has not arrived."
    (by_chat,) = classified(stage, opened("t1", subject_from_text(text), text, channel="chat"))
    (by_mail,) = classified(stage, opened("t2", "Order 1234", "My order #1234 has not arrived."))
    assert payload(by_chat).category == payload(by_mail).category == "delivery"
    assert payload(by_chat).team == "chat"  # the chat rule still routes it
    (fr_chat,) = classified(stage, opened("t3", "", "Bonjour, ma facture est fausse",
                                          channel="chat"))
    assert payload(fr_chat).category == "billing"
