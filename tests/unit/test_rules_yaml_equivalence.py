"""The repo's TOML rules written as YAML compile to the same rules and classify a batch of
golden and corpus tickets identically."""

from __future__ import annotations

import csv
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from classify.classifier import Classifier
from classify.conditions import AllOf, AnyOf, Leaf, NoneOf
from classify.evaluation import read_labelled_csv
from classify.facts import CustomerFacts, TicketFacts
from classify.language import LanguageDetection
from classify.rules import Ruleset
from classify.rules_loader import load_rules
from classify.rules_yaml import parse_yaml
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from schemas.codec import from_primitive
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.events import TicketEvent
from schemas.stage import In
from schemas.topics import CUSTOMERS, RULES, TICKET_EVENTS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TOML = REPO / "classify" / "examples" / "rules.toml"
EXAMPLE_YAML = REPO / "classify" / "examples" / "rules.yaml"
TOML_RULES = [EXAMPLE_TOML, REPO / "runtime" / "demo" / "rules.toml"]
GOLDEN = REPO / "tests" / "golden" / "classify"
MULTILANG = (REPO.parent / "shared" / "corpus" / "tickets" / "multilang-tickets-v3"
             / "dataset-tickets-multi-lang3-4k.first1167.csv")
CORPUS_ROWS = 300


def condition_shape(cond: Any) -> Any:
    """A compiled condition as comparable data (leaves hold closures, equal only to
    themselves)."""
    if isinstance(cond, Leaf):
        return ("leaf", cond.field, cond.operator, cond.operand, cond.kind, cond.folds)
    if isinstance(cond, AllOf | AnyOf):
        return (type(cond).__name__, tuple(condition_shape(p) for p in cond.parts))
    if isinstance(cond, NoneOf):
        return ("not", condition_shape(cond.part))
    raise AssertionError(f"unknown condition {cond!r}")


def shape(ruleset: Ruleset) -> Any:
    """All of a ruleset but its version (a hash of the file's bytes) and the rules' lines."""
    return (ruleset.name, ruleset.mode, ruleset.business_hours,
            tuple((r.rule_id, r.name, r.then, condition_shape(r.when)) for r in ruleset.rules))


def compiled(source: str, fmt: str) -> Ruleset:
    checked = load_rules(source, fmt=fmt)
    assert checked.ruleset is not None, checked.errors
    return checked.ruleset


def as_yaml(toml_source: str) -> str:
    return str(yaml.safe_dump(tomllib.loads(toml_source), allow_unicode=True, sort_keys=False))


def test_the_example_yaml_is_the_example_toml() -> None:
    toml_source, yaml_source = EXAMPLE_TOML.read_text(), EXAMPLE_YAML.read_text()
    parsed = parse_yaml(yaml_source)
    assert not isinstance(parsed, tuple), parsed
    assert parsed.data == tomllib.loads(toml_source)
    from_toml, from_yaml = compiled(toml_source, "toml"), compiled(yaml_source, "yaml")
    assert len(from_toml.rules) == 9
    assert shape(from_yaml) == shape(from_toml)
    assert from_yaml.version != from_toml.version  # a hash of each file's own text
    lines = yaml_source.splitlines()
    assert all(lines[r.line - 1].lstrip().startswith(f"- id: {r.rule_id}")
               for r in from_yaml.rules if r.line is not None)


@pytest.mark.parametrize("path", TOML_RULES, ids=lambda p: p.parent.name)
def test_every_toml_rules_file_dumped_as_yaml_compiles_to_the_same_rules(path: Path) -> None:
    toml_source = path.read_text()
    yaml_source = as_yaml(toml_source)
    assert shape(compiled(yaml_source, "yaml")) == shape(compiled(toml_source, "toml"))


def tickets() -> list[TicketFacts]:
    """Golden tickets and the first corpus rows, spread over what the example rules look at:
    channel, customer title and tier, attachments, senders, sentiment, time, new or not."""
    texts, _ = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    rows = [(t[:40], t) for t in texts]
    rows += [("Le téléphone chauffe", "Bonjour, LE TELEPHONE CHAUFFE encore, c'est urgent"),
             ("Invoice attached", "Please find the facture attached, the site is down"),
             ("Phone", "my phone is overheating and I am angry, this is terrible")]
    if MULTILANG.is_file():  # ../shared beside the repo, as in CI
        with MULTILANG.open(newline="", encoding="utf-8") as handle:
            rows += [(r["subject"] or "", r["body"] or "")
                     for _, r in zip(range(CORPUS_ROWS), csv.DictReader(handle), strict=False)]
    customers = [CustomerFacts(), CustomerFacts(title="PDG"), CustomerFacts(tier="Gold"),
                 CustomerFacts(title="Managing Director", tier="VIP")]
    out = []
    for i, (subject, body) in enumerate(rows):
        out.append(TicketFacts(
            subject=subject, body=body, channel="chat" if i % 5 == 0 else "email",
            sender=f"user{i}@{'x.spam.example' if i % 11 == 0 else 'client.fr'}",
            customer=customers[i % len(customers)],
            attachments=("facture.pdf",) if i % 3 == 0 else (),
            priority=("low", "normal", "high")[i % 3], is_new=i % 4 != 1,
            tags=("vip",) if i % 7 == 0 else (), model_uncertain=i % 6 == 0,
            sentiment=("negative", "neutral", None)[i % 3]))
    return out


def test_both_forms_classify_a_batch_of_tickets_identically() -> None:
    batch = tickets()
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday; times walk through the week
    times = [start + timedelta(hours=7 * i) for i in range(len(batch))]
    classifier = Classifier(LanguageDetection())
    from_toml = compiled(EXAMPLE_TOML.read_text(), "toml")
    from_yaml = compiled(EXAMPLE_YAML.read_text(), "yaml")
    by_toml = classifier.classify(batch, times, from_toml)
    by_yaml = classifier.classify(batch, times, from_yaml)
    assert [replace(c, ruleset_version="") for c in by_yaml] == \
        [replace(c, ruleset_version="") for c in by_toml]
    # the rules alone, on the facts as given (the classifier has no model here, so
    # model.uncertain only comes from the facts this way)
    outcomes = [(from_toml.evaluate(t, now), from_yaml.evaluate(t, now))
                for t, now in zip(batch, times, strict=True)]
    assert all(a == b for a, b in outcomes)
    # the batch is worth comparing: every example rule matched at least once, and not always
    matched = [{m.rule_id for m in a.matched} for a, _ in outcomes]
    assert {r.rule_id for r in from_toml.rules} == set().union(*matched)
    assert any(not m for m in matched)
    assert any(c.matched_rules for c in by_toml)


def test_the_stage_classifies_the_golden_cases_the_same_from_a_yaml_ruleset() -> None:
    import orjson

    cases = sorted(p for p in (GOLDEN / "events").glob("*.json")
                   if not p.name.endswith(".expected.json"))
    assert cases
    for path in cases:
        case = orjson.loads(path.read_bytes())
        outs = []
        for fmt, rules in (("toml", EXAMPLE_TOML), ("yaml", EXAMPLE_YAML)):
            stage = ClassifyStage(Classifier(LanguageDetection()), ClassifySettings())
            stage.restore(RULES, b"default", RulesetRecord(
                name="default", version="v", source=rules.read_text(), format=fmt,  # type: ignore[arg-type]
                pushed_at=datetime(2030, 1, 1, tzinfo=UTC)))
            assert not stage.rules_errors
            for raw in case["customers"]:
                customer = from_primitive(CustomerRecord, raw)
                stage.restore(CUSTOMERS, customer.customer_id.encode(), customer)
            events = [from_primitive(TicketEvent, raw) for raw in case["events"]]
            now = datetime(2030, 1, 1, tzinfo=UTC)
            outs.append([(o.key, replace(o.value, payload=replace(o.value.payload,
                                                                  ruleset_version="")))
                         for o in stage.process([In(TICKET_EVENTS, e.ticket_id.encode(), e)
                                                 for e in events], now)])
        assert outs[0] == outs[1], path.name
        assert outs[0], path.name


def test_the_readme_shows_the_same_rules_in_both_forms() -> None:
    import re

    readme = (REPO / "classify" / "README.md").read_text()
    blocks = dict(re.findall(r"```(toml|yaml)\n(.*?)```", readme, re.DOTALL))
    assert set(blocks) == {"toml", "yaml"}
    assert shape(compiled(blocks["yaml"], "yaml")) == shape(compiled(blocks["toml"], "toml"))
