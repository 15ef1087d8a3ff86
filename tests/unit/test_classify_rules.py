"""The rules engine: operators, nesting, first/all modes, stop, explanations, clock fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classify.facts import CustomerFacts, TicketFacts
from classify.rules import Ruleset
from classify.rules_loader import load_rules

REPO = Path(__file__).resolve().parents[2]
# Wednesday 2026-11-25 10:00 in Paris
OPEN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


def ruleset(body: str, header: str = "") -> Ruleset:
    checked = load_rules(header + body)
    assert checked.errors == ()
    assert checked.ruleset is not None
    return checked.ruleset


def one_rule(when: str) -> Ruleset:
    return ruleset(f'[[rule]]\nid = "r"\nwhen = {when}\nthen = {{ tags = ["hit"] }}\n')


def hits(when: str, facts: TicketFacts, at: datetime = OPEN) -> bool:
    return one_rule(when).evaluate(facts, at).tags == ("hit",)


SUBJECT = TicketFacts(subject="LE TELEPHONE CHAUFFE depuis hier", body="Bonjour, aidez-moi.")


@pytest.mark.parametrize(
    ("when", "facts", "expected"),
    [
        ('{ field = "subject", contains = "le téléphone chauffe" }', SUBJECT, True),
        ('{ field = "subject", contains = "téléphone", case_sensitive = true }', SUBJECT, False),
        ('{ field = "subject", contains = "TELEPHONE", case_sensitive = true }', SUBJECT, True),
        ('{ field = ["subject", "body"], contains = "aidez-moi" }', SUBJECT, True),
        ('{ field = "text", contains_all = ["chauffe", "bonjour"] }', SUBJECT, True),
        ('{ field = "text", contains_all = ["chauffe", "batterie"] }', SUBJECT, False),
        ('{ field = "subject", contains_any = ["batterie", "chauffe"] }', SUBJECT, True),
        ('{ field = "subject", starts_with = "le tele" }', SUBJECT, True),
        ('{ field = "subject", ends_with = "hier" }', SUBJECT, True),
        ('{ field = "subject", regex = "t[ée]l[ée]phone\\\\s+chauffe" }', SUBJECT, True),
        ('{ field = "subject", regex = "^telephone" }', SUBJECT, False),
        ('{ field = "subject", equals = "le téléphone chauffe depuis hier" }', SUBJECT, True),
        ('{ field = "channel", equals = "chat" }', TicketFacts(channel="chat"), True),
        ('{ field = "channel", not_equals = "chat" }', TicketFacts(channel="chat"), False),
        ('{ field = "channel", in = ["email", "api"] }', TicketFacts(channel="chat"), False),
        ('{ field = "channel", not_in = ["email", "api"] }', TicketFacts(channel="chat"), True),
        ('{ field = "sender_domain", equals = "ACME.fr" }', TicketFacts(sender="a@acme.fr"), True),
        ('{ field = "customer.title", in = ["CEO", "PDG"] }',
         TicketFacts(customer=CustomerFacts(title="Pdg")), True),
        ('{ field = "customer.plan", equals = "vip" }',
         TicketFacts(customer=CustomerFacts(attributes={"plan": "VIP"})), True),
        ('{ field = "customer.tier", exists = false }', TicketFacts(), True),
        ('{ field = "form.product", equals = "X200" }',
         TicketFacts(form={"product": "x200"}), True),
        ('{ field = "ticket.exchanges", gte = 3 }', TicketFacts(exchanges=3), True),
        ('{ field = "ticket.exchanges", gt = 3 }', TicketFacts(exchanges=3), False),
        ('{ field = "ticket.exchanges", between = [1, 2] }', TicketFacts(exchanges=3), False),
        ('{ field = "sentiment_score", lt = -0.5 }', TicketFacts(sentiment_score=-0.7), True),
        ('{ field = "sentiment_score", lt = -0.5 }', TicketFacts(), False),  # unknown: no match
        ('{ field = "has_attachments", equals = true }', TicketFacts(attachments=("a.pdf",)), True),
        ('{ field = "attachments.names", ends_with = ".PDF" }',
         TicketFacts(attachments=("facture.pdf",)), True),
        ('{ field = "ticket.tags", contains = "vip" }', TicketFacts(tags=("VIP",)), True),
        ('{ field = "ticket.tags", not_in = ["vip"] }', TicketFacts(tags=("gold",)), True),
        ('{ field = "model.uncertain", equals = true }', TicketFacts(model_uncertain=True), True),
        ('{ not = { field = "channel", equals = "chat" } }', TicketFacts(channel="email"), True),
        ('{ any = [ { field = "channel", equals = "chat" }, { field = "language", equals = "fr" }'
         ' ] }', TicketFacts(channel="email", language="fr"), True),
        ('{ all = [ { field = "channel", equals = "chat" }, { field = "language", equals = "fr" }'
         ' ] }', TicketFacts(channel="email", language="fr"), False),
        ('[ { field = "channel", equals = "email" }, { field = "language", equals = "fr" } ]',
         TicketFacts(channel="email", language="fr"), True),
    ],
)
def test_operators(when: str, facts: TicketFacts, expected: bool) -> None:
    assert hits(when, facts) is expected


HOURS = """
[business_hours]
timezone = "Europe/Paris"
wed = ["09:00", "18:00"]
"""


def test_time_fields_use_the_desks_timezone() -> None:
    rs = ruleset('[[rule]]\nid = "open"\nwhen = { field = "time.business_hours", equals = true }\n'
                 'then = { tags = ["open"] }\n'
                 '[[rule]]\nid = "evening"\nwhen = { field = "time.of_day", between = '
                 '["18:00", "23:59"] }\nthen = { tags = ["evening"] }\n', HOURS)
    assert rs.evaluate(TicketFacts(), OPEN).tags == ("open",)  # 10:00 in Paris
    assert rs.evaluate(TicketFacts(), NIGHT).tags == ("evening",)  # 23:30 in Paris


def test_age_is_measured_from_creation_to_the_given_time() -> None:
    rs = one_rule('{ field = "ticket.age_hours", gt = 48 }')
    facts = TicketFacts(created_at=OPEN - timedelta(days=3))
    assert rs.evaluate(facts, OPEN).tags == ("hit",)
    assert rs.evaluate(facts, OPEN - timedelta(days=2)).tags == ()


THREE = """
[[rule]]
id = "a"
when = { field = "channel", equals = "chat" }
then = { team = "Chat", tags = ["chat"], priority = "normal" }

[[rule]]
id = "b"
when = { field = "language", equals = "fr" }
then = { team = "French", tags = ["fr"], priority = "high" }

[[rule]]
id = "c"
then = { tags = ["always"], notify = ["role:supervisor"] }
"""
FR_CHAT = TicketFacts(channel="chat", language="fr")


def test_all_mode_applies_every_match_in_order_later_values_win() -> None:
    out = ruleset(THREE).evaluate(FR_CHAT, OPEN)
    assert [m.rule_id for m in out.matched] == ["a", "b", "c"]
    assert (out.team, out.priority) == ("French", "high")
    assert out.tags == ("chat", "fr", "always")
    assert out.notify == ("role:supervisor",)
    assert out.matched[2].reasons == ("always",)


def test_first_mode_applies_only_the_first_match() -> None:
    out = ruleset(THREE, '[ruleset]\nmode = "first"\n').evaluate(FR_CHAT, OPEN)
    assert [m.rule_id for m in out.matched] == ["a"]
    assert (out.team, out.tags, out.stopped_by) == ("Chat", ("chat",), "a")


def test_stop_ends_processing() -> None:
    rs = ruleset(THREE.replace('priority = "normal" }', 'priority = "normal", stop = true }'))
    out = rs.evaluate(FR_CHAT, OPEN)
    assert [m.rule_id for m in out.matched] == ["a"]
    assert out.stopped_by == "a"


def test_disabled_rules_do_not_run() -> None:
    rs = ruleset(THREE.replace('id = "a"', 'id = "a"\nenabled = false'))
    assert [m.rule_id for m in rs.evaluate(FR_CHAT, OPEN).matched] == ["b", "c"]


def test_explanations_give_one_line_per_condition_and_hide_message_text() -> None:
    rs = one_rule('{ all = [ { field = "subject", contains = "chauffe" }, '
                  '{ field = "customer.tier", in = ["VIP", "Gold"] }, '
                  '{ not = { field = "channel", equals = "chat" } } ] }')
    facts = TicketFacts(subject="Mon téléphone chauffe", channel="email",
                        customer=CustomerFacts(tier="vip"))
    (match,) = rs.evaluate(facts, OPEN).matched
    assert match.reasons == (
        'subject contains "chauffe"',
        'customer.tier in ["VIP", "Gold"] (is "vip")',
        'not (channel equals "chat")',
    )


def test_any_explains_only_the_branches_that_held() -> None:
    rs = one_rule('{ any = [ { field = "channel", equals = "chat" }, '
                  '{ field = "ticket.exchanges", gte = 5 } ] }')
    (match,) = rs.evaluate(TicketFacts(channel="email", exchanges=7), OPEN).matched
    assert match.reasons == ("ticket.exchanges gte 5 (is 7)",)


def test_assign_role_becomes_a_role_reference() -> None:
    rs = ruleset('[[rule]]\nid = "r"\nthen = { assign_role = "on-call" }\n')
    assert rs.evaluate(TicketFacts(), OPEN).assign_to == "role:on-call"


def test_the_example_rules_file_compiles_and_routes_an_overheating_phone() -> None:
    checked = load_rules((REPO / "classify" / "examples" / "rules.toml").read_text())
    assert checked.ruleset is not None, checked.errors
    out = checked.ruleset.evaluate(SUBJECT, OPEN)
    assert (out.team, out.priority, out.category) == ("Replacements", "high", "hardware")
    assert out.matched[0].rule_id == "phone-overheating"
