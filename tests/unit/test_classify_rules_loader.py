"""Bad rules files are rejected with a position and a reason, and nothing half-applied."""

from __future__ import annotations

import pytest

from classify.rules_loader import RuleFileError, load_rules


def errors(source: str) -> tuple[RuleFileError, ...]:
    checked = load_rules(source)
    assert checked.ruleset is None
    return checked.errors


def test_toml_syntax_errors_carry_line_and_column() -> None:
    (error,) = errors('[[rule]]\nid = "a"\nwhen = { field = "subject" contains = "x" }\n')
    assert (error.line, error.column) == (3, 28)
    assert "inline table" in error.message.lower()
    assert str(error).startswith("3:28: ")


BAD = """\
[ruleset]
mode = "first"

[[rule]]
id = "typo"
when = { field = "subjet", contains = "x" }
then = { priority = "high" }

[[rule]]
id = "regex"
when = { field = "subject", regex = "([unclosed" }
then = { priority = "high" }

[[rule]]
id = "operator"
when = { any = [ { field = "body", matches = "x" } ] }
then = { priority = "high" }

[[rule]]
id = "action"
then = { colour = "red" }

[[rule]]
id = "priority"
then = { priority = "highest" }

[[rule]]
id = "numeric"
when = { field = "subject", gt = 3 }
then = { tags = ["x"] }
"""


def test_every_semantic_error_names_rule_key_path_and_line() -> None:
    found = {e.path: e for e in errors(BAD)}
    assert set(found) == {
        "rule[0] (typo).when.field",
        "rule[1] (regex).when.regex",
        "rule[2] (operator).when.any[0].matches",
        "rule[3] (action).then.colour",
        "rule[4] (priority).then.priority",
        "rule[5] (numeric).when.gt",
    }
    assert "unknown field 'subjet'" in found["rule[0] (typo).when.field"].message
    assert found["rule[0] (typo).when.field"].line == 6
    assert "bad regex" in found["rule[1] (regex).when.regex"].message
    assert found["rule[1] (regex).when.regex"].line == 11
    assert "unknown operator 'matches'" in found["rule[2] (operator).when.any[0].matches"].message
    assert found["rule[2] (operator).when.any[0].matches"].line == 16
    assert found["rule[3] (action).then.colour"].line == 21
    assert found["rule[4] (priority).then.priority"].line == 25
    assert "needs a numeric field" in found["rule[5] (numeric).when.gt"].message


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('[ruleset]\nmode = "some"\n', 'mode must be "first" or "all"'),
        ('[rulez]\n', "unknown section 'rulez'"),
        ('[business_hours]\ntimezone = "Mars/Olympus"\n', "unknown timezone"),
        ('[business_hours]\nmonday = ["09:00", "17:00"]\n', "unknown day 'monday'"),
        ('[business_hours]\nmon = ["9h", "17:00"]\n', 'a day takes ["HH:MM", "HH:MM"]'),
        ('[[rule]]\nid = "a"\nthen = { tags = ["x"] }\n[[rule]]\nid = "a"\n'
         'then = { tags = ["y"] }\n', "duplicate rule id 'a'"),
        ('[[rule]]\nid = "a"\nwhen = { field = "channel", equals = "chat" }\n',
         "needs a non-empty 'then'"),
        ('[[rule]]\nid = "a"\nwhen = { field = "channel", equals = "chat", in = ["x"] }\n'
         'then = { tags = ["x"] }\n', "exactly one operator"),
        ('[[rule]]\nid = "a"\nwhen = { field = "has_attachments", contains = "x" }\n'
         'then = { tags = ["x"] }\n', "true/false"),
        ('[[rule]]\nid = "a"\nwhen = { field = "time.of_day", gt = "7pm" }\n'
         'then = { tags = ["x"] }\n', "HH:MM"),
        ('[[rule]]\nid = "a"\nwhen = { all = [] }\nthen = { tags = ["x"] }\n', "non-empty list"),
        ('[[rule]]\nid = "a"\nthen = { assign_to = "u1", assign_role = "x" }\n', "not both"),
        ('[[rule]]\nid = "a"\ncolor = 1\nthen = { tags = ["x"] }\n', "unknown key 'color'"),
    ],
)
def test_semantic_errors(source: str, fragment: str) -> None:
    assert any(fragment in e.message for e in errors(source)), errors(source)


def test_a_good_file_compiles_with_a_content_version() -> None:
    source = '[[rule]]\nid = "a"\nthen = { tags = ["x"] }\n'
    first, second = load_rules(source), load_rules(source + "\n# comment\n")
    assert first.ruleset is not None and second.ruleset is not None
    assert first.ruleset.version != second.ruleset.version
    assert [r.rule_id for r in first.ruleset.rules] == ["a"]
    assert first.ruleset.rules[0].line == 1


def test_rules_without_id_are_numbered() -> None:
    checked = load_rules('[[rule]]\nthen = { tags = ["x"] }\n[[rule]]\nthen = { tags = ["y"] }\n')
    assert checked.ruleset is not None
    assert [r.rule_id for r in checked.ruleset.rules] == ["rule-1", "rule-2"]
