"""YAML rules files: the TOML form's checks and error quality, plus YAML's own pitfalls
(YAML 1.1 booleans and base-60 times, duplicate keys, tags, aliases) refused or handled."""

from __future__ import annotations

import textwrap
import tracemalloc
from datetime import time
from pathlib import Path

import pytest
import yaml

from classify import rules_yaml
from classify.rules_loader import RuleFileError, format_of, load_rules


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test with libyaml's parser (when the wheel has it) and with PyYAML's own."""
    if request.param == "pure-python":
        monkeypatch.setattr(rules_yaml, "_RulesLoader", rules_yaml.rules_loader_on(yaml.SafeLoader))
    else:
        assert yaml.__with_libyaml__, "this PyYAML wheel has no libyaml"
    return str(request.param)


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def errors(source: str) -> tuple[RuleFileError, ...]:
    checked = load_rules(source, fmt="yaml")
    assert checked.ruleset is None, "expected errors"
    return checked.errors


def only_error(source: str) -> RuleFileError:
    found = errors(source)
    assert len(found) == 1, found
    return found[0]


# -- syntax ---------------------------------------------------------------------------------


def test_syntax_errors_carry_line_and_column() -> None:
    error = only_error(y("""
        rule:
          - id: a
            when: {field: subject contains: x}
            then: {tags: [x]}
        """))
    assert (error.line, error.column) == (3, 35)  # where libyaml gives up: at ": x}"
    assert "expected ',' or '}'" in error.message and "flow mapping at 3:11" in error.message
    assert str(error).startswith("3:35: ")


def test_bad_indentation_and_control_characters_are_positioned() -> None:
    error = only_error("rule:\n  - id: a\n   then: {tags: [x]}\n")
    assert error.line == 3 and error.column is not None
    error = only_error("ruleset:\n  name: a\x07b\n")
    assert (error.line, error.column) == (2, 10)
    assert "#x0007" in error.message


def test_one_document_per_file() -> None:
    error = only_error("ruleset: {mode: all}\n---\nrule: []\n")
    assert "another document" in error.message and error.line == 2


def test_the_file_is_a_mapping_and_an_empty_file_has_no_rules() -> None:
    assert "mapping of sections" in only_error("- id: a\n").message
    for empty in ("", "# nothing yet\n"):
        checked = load_rules(empty, fmt="yaml")
        assert checked.ruleset is not None and checked.ruleset.rules == ()


# -- semantic errors: the TOML checks, with YAML lines ---------------------------------------

BAD = y("""
    ruleset:
      mode: first

    rule:
      - id: typo
        when: {field: subjet, contains: x}
        then: {priority: high}

      - id: regex
        when: {field: subject, regex: "([unclosed"}
        then: {priority: high}

      - id: operator
        when:
          any:
            - {field: body, matches: x}
        then: {priority: high}

      - id: action
        then: {colour: red}

      - id: priority
        then:
          priority: highest

      - id: numeric
        when: {field: subject, gt: 3}
        then: {tags: [x]}
    """)


def test_every_semantic_error_names_rule_key_path_line_and_column() -> None:
    found = {e.path: e for e in errors(BAD)}
    assert set(found) == {
        "rule[0] (typo).when.field",
        "rule[1] (regex).when.regex",
        "rule[2] (operator).when.any[0].matches",
        "rule[3] (action).then.colour",
        "rule[4] (priority).then.priority",
        "rule[5] (numeric).when.gt",
    }
    where = {path: (e.line, e.column) for path, e in found.items()}
    assert where == {
        "rule[0] (typo).when.field": (6, 19),  # the value 'subjet'
        "rule[1] (regex).when.regex": (10, 35),  # the pattern
        "rule[2] (operator).when.any[0].matches": (16, 25),  # the key 'matches'
        "rule[3] (action).then.colour": (20, 12),
        "rule[4] (priority).then.priority": (24, 17),  # the value 'highest'
        "rule[5] (numeric).when.gt": (27, 28),
    }
    assert "unknown field 'subjet'" in found["rule[0] (typo).when.field"].message
    assert "bad regex" in found["rule[1] (regex).when.regex"].message
    assert "needs a numeric field" in found["rule[5] (numeric).when.gt"].message


@pytest.mark.parametrize(
    ("source", "fragment", "line"),
    [
        ("ruleset: {mode: some}\n", 'mode must be "first" or "all"', 1),
        ("rulez: {}\n", "unknown section 'rulez'", 1),
        ("ruleset: [a]\n", "'ruleset' must be a mapping", 1),
        ("rule: {id: a, then: {tags: [x]}}\n", "'rule' must be a list of rules", 1),
        ("business_hours: {timezone: Mars/Olympus}\n", "unknown timezone", 1),
        ("business_hours:\n  monday: ['09:00', '17:00']\n", "unknown day 'monday'", 2),
        ("business_hours:\n  mon: [9h, '17:00']\n", 'a day takes ["HH:MM", "HH:MM"]', 2),
        ("business_hours:\n  mon: ['9:00', '17:00']\n", 'a day takes ["HH:MM", "HH:MM"]', 2),
        ("rule:\n  - {id: a, then: {tags: [x]}}\n  - {id: a, then: {tags: [y]}}\n",
         "duplicate rule id 'a'", 3),
        ("rule:\n  - id: a\n    when: {field: channel, equals: chat}\n",
         "needs a non-empty 'then'", 2),
        ("rule:\n  - id: a\n    when: {field: channel, equals: chat, in: [x]}\n"
         "    then: {tags: [x]}\n", "exactly one operator", 3),
        ("rule:\n  - id: a\n    when: {field: has_attachments, contains: x}\n"
         "    then: {tags: [x]}\n", "true/false", 3),
        ("rule:\n  - id: a\n    when: {field: time.of_day, gt: 7pm}\n    then: {tags: [x]}\n",
         "HH:MM", 3),
        ("rule:\n  - id: a\n    when: {all: []}\n    then: {tags: [x]}\n", "non-empty list", 3),
        ("rule:\n  - id: a\n    then: {assign_to: u1, assign_role: x}\n", "not both", 3),
        ("rule:\n  - id: a\n    color: 1\n    then: {tags: [x]}\n", "unknown key 'color'", 3),
        ("rule:\n  - id: a\n    then: {tags: [2024]}\n", "takes a name or a list", 3),
    ],
)
def test_semantic_errors(source: str, fragment: str, line: int) -> None:
    found = [e for e in errors(source) if fragment in e.message]
    assert found, errors(source)
    assert found[0].line == line


# -- YAML 1.1 pitfalls ------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off"])
def test_yaml11_booleans_are_refused_unquoted(word: str) -> None:
    error = only_error(f"rule:\n  - id: a\n    then: {{tags: [x], stop: {word}}}\n")
    assert (error.line, error.column, error.path) == (3, 29, "rule[0] (a).then.stop")
    assert "YAML 1.1" in error.message and "true or false" in error.message


def test_the_norway_problem_language_no_is_refused_and_quoted_no_is_text() -> None:
    rule = "rule:\n  - id: a\n    when: {{field: customer.language, in: [{}, fr]}}\n" \
           "    then: {{tags: [x]}}\n"
    assert "quote \"no\"" in only_error(rule.format("no")).message
    checked = load_rules(rule.format('"no"'), fmt="yaml")
    assert checked.ruleset is not None
    assert checked.ruleset.rules[0].when.operand == ["no", "fr"]  # type: ignore[attr-defined]


def test_true_and_false_are_booleans() -> None:
    checked = load_rules("rule:\n  - id: a\n    enabled: false\n    then: {tags: [x]}\n"
                         "  - id: b\n    then: {tags: [y], stop: True}\n", fmt="yaml")
    assert checked.ruleset is not None
    assert [(r.rule_id, r.then.stop) for r in checked.ruleset.rules] == [("b", True)]


def test_unquoted_times_are_times_not_base60_numbers() -> None:
    source = y("""
        business_hours:
          timezone: Europe/Paris
          mon: [09:00, 18:00]
          fri: ["09:00", 17:30]
        rule:
          - id: evening
            when: {field: time.of_day, gte: 19:00}
            then: {tags: [evening]}
        """)
    # what a YAML 1.1 reader makes of it: 18:00 is 18 * 60 = 1080
    assert yaml.safe_load(source)["business_hours"]["mon"] == ["09:00", 1080]
    checked = load_rules(source, fmt="yaml")
    assert checked.ruleset is not None, checked.errors
    days = checked.ruleset.business_hours.days
    assert days == {"mon": (time(9), time(18)), "fri": (time(9), time(17, 30))}
    assert checked.ruleset.rules[0].when.operand == "19:00"  # type: ignore[attr-defined]


def test_dates_stay_text_and_leading_zero_numbers_are_refused() -> None:
    checked = load_rules("rule:\n  - id: a\n    when: {field: form.since, equals: 2024-01-31}\n"
                         "    then: {tags: [x]}\n", fmt="yaml")
    assert checked.ruleset is not None
    error = only_error("rule:\n  - id: a\n    when: {field: customer.zip, equals: 01234}\n"
                       "    then: {tags: [x]}\n")
    assert (error.line, error.column) == (3, 41) and "leading zero" in error.message
    assert load_rules("rule:\n  - id: a\n    when: {field: customer.zip, equals: '01234'}\n"
                      "    then: {tags: [x]}\n", fmt="yaml").ok


@pytest.mark.parametrize(
    ("source", "line", "first"),
    [
        ("ruleset: {mode: all}\nrule: []\nruleset: {mode: first}\n", 3, 1),
        ("rule:\n  - id: a\n    then: {tags: [x]}\n    id: b\n", 4, 2),
        ("rule:\n  - id: a\n    when: {field: subject, field: body, contains: x}\n"
         "    then: {tags: [x]}\n", 3, 3),
        ("business_hours:\n  mon: ['09:00', '18:00']\n  'mon': ['10:00', '18:00']\n", 3, 2),
    ],
)
def test_duplicate_keys_are_refused(source: str, line: int, first: int) -> None:
    # PyYAML itself keeps the last value without a word
    assert yaml.safe_load(source) is not None
    error = only_error(source)
    assert error.line == line and "duplicate key" in error.message
    assert f"first at line {first}" in error.message


def test_empty_values_are_refused() -> None:
    error = only_error("rule:\n  - id: a\n    then:\n      team:\n      tags: [x]\n")
    assert (error.line, error.path) == (4, "rule[0] (a).then.team")
    assert "empty value" in error.message
    assert "empty value" in only_error("ruleset:\n").message


def test_keys_must_be_text() -> None:
    assert "a key must be text" in only_error("rule:\n  - id: a\n    1: x\n    then: {tags: [x]}\n"
                                              ).message
    assert "a key must be text" in only_error("? [a, b]\n: x\n").message


@pytest.mark.parametrize(
    "value", ["!!binary aGVsbG8=", "!!set {a, b}", "!custom x", "!!timestamp 2024-01-01"],
)
def test_tags_other_than_plain_data_are_refused(value: str) -> None:
    found = errors(f"rule:\n  - id: a\n    then: {{team: {value}}}\n")
    assert any("is not allowed" in e.message and e.line == 3 for e in found), found


def test_python_tags_are_refused_before_anything_is_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    source = (f"rule: !!python/object/apply:pathlib.Path.touch "
              f"[!!python/object/apply:pathlib.Path ['{marker}']]\n")
    error = errors(source)[0]
    assert "!!python/object/apply:pathlib.Path.touch is not allowed" in error.message
    assert not marker.exists()


# -- anchors and aliases: allowed, bounded ----------------------------------------------------


def test_anchors_aliases_and_merge_keys_share_parts_of_rules() -> None:
    source = y("""
        rule:
          - &vip
            id: vip-email
            when:
              all:
                - &is_vip {field: customer.tier, in: [VIP, Gold]}
                - {field: channel, equals: email}
            then: {team: VIP, priority: high}
          - <<: *vip
            id: vip-chat
            when: {all: [*is_vip, {field: channel, equals: chat}]}
            then: {team: VIP chat}
        """)
    checked = load_rules(source, fmt="yaml")
    assert checked.ruleset is not None, checked.errors
    first, second = checked.ruleset.rules
    assert (second.rule_id, second.then.team, second.then.priority) == ("vip-chat", "VIP chat",
                                                                        None)
    assert first.when.parts[0].operand == second.when.parts[0].operand  # type: ignore[attr-defined]


def _laughs(levels: int, fan_out: int, leaf: str) -> str:
    lines = [f"l0: &l0 {leaf}"]
    for n in range(1, levels + 1):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_without_being_expanded() -> None:
    source = _laughs(9, 10, '"lol"')  # 10^9 strings once expanded
    tracemalloc.start()
    try:
        found = errors(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "expands to more than 100,000 nodes" in found[0].message
    assert found[0].line is not None
    assert peak < 10 * 2**20


def test_the_expansion_bound_holds_inside_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 levels of 8: 4,096 copies of one condition, ~5,000 nodes in all
    conditions = _laughs(4, 8, "{field: subject, contains: x}").replace("[", "{any: [").replace(
        "]", "]}")
    source = "x-shared:\n" + textwrap.indent(conditions, "  ") + \
        "rule:\n  - id: a\n    when: *l4\n    then: {tags: [x]}\n"
    source = source.replace("x-shared:", "business_hours: {}\nx-shared:")
    found = errors(source)  # the fixture itself compiles except for its unknown section
    assert [e.message.split(" (")[0] for e in found] == ["unknown section 'x-shared'"]
    monkeypatch.setattr(rules_yaml, "MAX_NODES", 1_000)
    error = errors(source)[0]
    assert "expands to" in error.message and "1,000" in error.message


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    error = only_error("rule: &r\n  - id: a\n    then: {tags: [x]}\n  - *r\n")
    assert "refers to a node that contains it" in error.message
    assert (error.line, error.column) == (1, 7)  # the anchor (PyYAML keeps no alias positions)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    for depth in (70, 990):
        when = "{not: " * depth + "{field: subject, contains: x}" + "}" * depth
        error = errors(f"rule:\n  - id: a\n    when: {when}\n    then: {{tags: [x]}}\n")[0]
        assert "nest" in error.message and error.line is not None
    assert load_rules("rule:\n  - id: a\n    when: " + "{not: " * 20 + "{field: subject, "
                      "contains: x}" + "}" * 20 + "\n    then: {tags: [x]}\n", fmt="yaml").ok


# -- formats ----------------------------------------------------------------------------------


def test_the_format_follows_the_file_name() -> None:
    assert [format_of(n) for n in ("a.yaml", "b.YML", "c.toml", "rules")] == [
        "yaml", "yaml", "toml", "toml"]
    assert "unknown rules format 'json'" in load_rules("{}", fmt="json").errors[0].message


def test_the_same_text_is_a_different_version_per_byte_not_per_format() -> None:
    source = "rule:\n  - id: a\n    then: {tags: [x]}\n"
    first, second = load_rules(source, fmt="yaml"), load_rules(source + "# c\n", fmt="yaml")
    assert first.ruleset is not None and second.ruleset is not None
    assert first.ruleset.version != second.ruleset.version
    assert first.ruleset.rules[0].line == 2


def test_nesting_through_aliases_counts_as_expanded() -> None:
    chain = ["x-chain:", "  c0: &c0 {field: subject, contains: x}"]
    chain += [f"  c{n}: &c{n} {{not: *c{n - 1}}}" for n in range(1, 80)]
    source = "\n".join(chain) + "\nrule:\n  - id: a\n    when: *c79\n    then: {tags: [x]}\n"
    error = only_error(source)
    assert "nests more than 64 levels deep" in error.message and error.line is not None
