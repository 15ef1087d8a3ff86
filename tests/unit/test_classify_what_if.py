"""What-if on history: two classify stages read the same ticket events, one as configured now
and one with a candidate ruleset or model; every classification that would differ is counted
by field, with examples."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.evaluation import read_labelled_csv
from classify.model import TrainingOptions, train_model
from classify.rules_loader import load_rules
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from classify.what_if import compare, parse_span, with_model
from tests.support.classify_events import opened

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"
NOW_RULES = '[[rule]]\nid = "inv"\nwhen = { field = "body", contains = "invoice" }\n' \
            'then = { team = "billing", priority = "high" }\n'
NEW_RULES = '[[rule]]\nid = "inv"\nwhen = { field = "body", contains = "invoice" }\n' \
            'then = { team = "finance", priority = "high" }\n'


def stage(source: str) -> ClassifyStage:
    s = ClassifyStage(Classifier(None), ClassifySettings(learn_from_agents=False))
    checked = load_rules(source)
    assert checked.ruleset is not None
    s.ruleset = checked.ruleset
    return s


def history() -> list:  # type: ignore[type-arg]
    return [*opened("t1", "Invoice", "where is my invoice"),
            *opened("t2", "Hello", "my parcel is late"),
            *opened("t3", "Invoice", "second invoice question")]


def test_a_changed_rule_changes_the_team_of_the_tickets_it_matches() -> None:
    result = compare(stage(NOW_RULES), stage(NEW_RULES), history(), batch=2).as_dict()
    assert result["classifications"] == 3 and result["would_change"] == 2
    assert result["by_field"] == {"category": 0, "team": 2, "priority": 0}
    assert result["examples"][0] == {"ticket": "HL-t1",
                                     "team": {"now": "billing", "would_be": "finance"}}


def test_the_same_rules_change_nothing() -> None:
    assert compare(stage(NOW_RULES), stage(NOW_RULES), history()).changed_tickets == 0


def test_a_candidate_model_changes_categories_where_rules_do_not_set_them() -> None:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    model = train_model(texts, labels, TrainingOptions(seed=13))
    candidate = stage(NOW_RULES)
    with_model(candidate, model)
    result = compare(stage(NOW_RULES), candidate, history())
    assert result.tickets == 3 and result.changed["category"] >= 1
    assert all("category" in x for x in result.examples)


def test_spans() -> None:
    assert parse_span("30d") == timedelta(days=30)
    assert parse_span(" 12h") == timedelta(hours=12)
    assert parse_span("90m") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="30d"):
        parse_span("a month")
