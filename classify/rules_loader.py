"""Reading a rules file: TOML or YAML text in, a compiled :class:`Ruleset` or a list of errors out.

Nothing is applied half-way: a file with any error yields no ruleset, so the stage keeps running
the version it had. Syntax errors carry the parser's line and column; semantic errors (an
unknown field, operator or action, a bad regex, a bad priority) name the rule and the key path and,
where the text can be found, its line and column too.

Both formats describe the same document and go through the same checks here: the YAML reader
(:mod:`classify.rules_yaml`) only turns YAML into the Python values ``tomllib`` gives for the TOML
form, and finds lines in its own node tree.

The TOML file::

    [ruleset]
    mode = "all"                    # or "first"

    [business_hours]
    timezone = "Europe/Paris"
    mon = ["09:00", "18:00"]        # … one line per working day

    [[rule]]
    id = "phone-overheating"
    name = "Overheating phones go to Replacements"
    when = { any = [ { field = ["subject", "body"], contains = "le téléphone chauffe" } ] }
    then = { priority = "high", team = "Replacements", tags = ["overheating"] }
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import PurePath
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from classify.conditions import ALWAYS, ConditionError, compile_condition
from classify.facts import WEEKDAYS, BusinessHours
from classify.rule_file import Locating, Parsed, RuleFileError
from classify.rules import ACTIONS, LIST_ACTIONS, PRIORITIES, SCALAR_ACTIONS, Actions, Rule, Ruleset

__all__ = [
    "FORMATS", "Checked", "Locating", "Parsed", "RuleFileError", "RuleFormat", "content_version",
    "format_of", "load_rules",
]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]", re.MULTILINE)
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
_TOP_KEYS = ("ruleset", "business_hours", "rule")
_RULESET_KEYS = ("name", "mode", "description")
_RULE_KEYS = ("id", "name", "description", "enabled", "when", "then")

RuleFormat = Literal["toml", "yaml"]
FORMATS: tuple[RuleFormat, ...] = ("toml", "yaml")
_YAML_SUFFIXES = (".yaml", ".yml")
# the few messages that spell out a format's own syntax; every other message is shared
_WORDING: dict[RuleFormat, dict[str, str]] = {
    "toml": {"ruleset": "[ruleset] must be a table",
             "business_hours": "[business_hours] must be a table",
             "rule": "'rule' must be an array of tables: [[rule]]"},
    "yaml": {"ruleset": "'ruleset' must be a mapping (ruleset: {mode: all})",
             "business_hours": "'business_hours' must be a mapping (mon: [\"09:00\", \"18:00\"])",
             "rule": "'rule' must be a list of rules (rule: [{id: ..., then: {...}}])"},
}


@dataclass(frozen=True, slots=True)
class Checked:
    ruleset: Ruleset | None
    errors: tuple[RuleFileError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.ruleset is not None


def content_version(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def format_of(path: str | PurePath) -> RuleFormat:
    """A file's format by its name: ``.yaml``/``.yml`` is YAML, anything else TOML (as before)."""
    return "yaml" if PurePath(path).suffix.lower() in _YAML_SUFFIXES else "toml"


def load_rules(source: str, name: str = "default", fmt: str = "toml") -> Checked:
    """Parse and compile a rules file in ``fmt`` ("toml" or "yaml"); never raises on bad input."""
    parsed: Parsed | tuple[RuleFileError, ...]
    if fmt == "toml":
        parsed = _parse_toml(source)
    elif fmt == "yaml":
        from classify.rules_yaml import parse_yaml  # PyYAML loads only for a YAML file

        parsed = parse_yaml(source)
    else:
        return Checked(None, (RuleFileError(
            f"unknown rules format {fmt!r} (known: {', '.join(FORMATS)})"),))
    if not isinstance(parsed, Parsed):
        return Checked(None, parsed)
    try:
        return _compile(parsed, source, name, _WORDING["yaml" if fmt == "yaml" else "toml"])
    except RecursionError:  # the parsers bound nesting; this is the backstop, not the check
        return Checked(None, (RuleFileError("conditions are nested too deeply"),))


def _parse_toml(source: str) -> Parsed | tuple[RuleFileError, ...]:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        pos = _TOML_POSITION.search(text)
        message = _TOML_POSITION.sub("", text)
        if pos is None:
            return (RuleFileError(message),)
        return (RuleFileError(message, "", int(pos[1]), int(pos[2])),)
    except RecursionError:
        return (RuleFileError("the file nests too deeply"),)
    return Parsed(data, _TomlLocator(source))


def _compile(parsed: Parsed, source: str, name: str, wording: Mapping[str, str]) -> Checked:
    data, locator = parsed.data, parsed.locator
    errors: list[RuleFileError] = []
    for key in data:
        if key not in _TOP_KEYS:
            errors.append(locator.error(f"unknown section '{key}' (known: {', '.join(_TOP_KEYS)})",
                                        key, None, key, key))
    header = data.get("ruleset", {})
    mode = "all"
    if not isinstance(header, Mapping):
        errors.append(locator.error(wording["ruleset"], "ruleset", None, "ruleset", "ruleset"))
    else:
        for key in header:
            if key not in _RULESET_KEYS:
                errors.append(locator.error(f"unknown key '{key}'", f"ruleset.{key}", None, key,
                                            f"ruleset.{key}"))
        mode = header.get("mode", "all")
        if mode not in ("first", "all"):
            errors.append(locator.error(f"mode must be \"first\" or \"all\", not {mode!r}",
                                        "ruleset.mode", None, "mode", "ruleset.mode"))
        name = str(header.get("name", name))
    hours = _business_hours(data.get("business_hours", {}), locator, errors, wording)
    rules = _rules(data.get("rule", []), locator, errors, wording)
    if errors:
        return Checked(None, tuple(errors))
    return Checked(Ruleset(name=name, version=content_version(source),
                           mode="first" if mode == "first" else "all",
                           business_hours=hours, rules=rules))


def _business_hours(spec: Any, locator: Locating, errors: list[RuleFileError],
                    wording: Mapping[str, str]) -> BusinessHours:
    if not isinstance(spec, Mapping):
        errors.append(locator.error(wording["business_hours"], "business_hours", None,
                                    "business_hours", "business_hours"))
        return BusinessHours()
    zone = spec.get("timezone", "UTC")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(locator.error(f"unknown timezone {zone!r}", "business_hours.timezone",
                                    None, str(zone), "business_hours.timezone"))
        zone = "UTC"
    days: dict[str, tuple[time, time]] = {}
    for key, span in spec.items():
        if key == "timezone":
            continue
        path = f"business_hours.{key}"
        if key not in WEEKDAYS:
            errors.append(locator.error(f"unknown day '{key}' (use {', '.join(WEEKDAYS)})", path,
                                        None, key, path))
            continue
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(x, str) and _HHMM.fullmatch(x) for x in span)):
            errors.append(locator.error("a day takes [\"HH:MM\", \"HH:MM\"]", path, None, key,
                                        path))
            continue
        opens, closes = (_hhmm(x) for x in span)
        days[key] = (opens, closes)
    return BusinessHours(timezone=str(zone), days=days)


def _hhmm(text: str) -> time:
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _rules(spec: Any, locator: Locating, errors: list[RuleFileError],
           wording: Mapping[str, str]) -> tuple[Rule, ...]:
    if not isinstance(spec, list):
        errors.append(locator.error(wording["rule"], "rule", None, "rule", "rule"))
        return ()
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(spec):
        if not isinstance(raw, Mapping):
            errors.append(locator.error("a rule must be a table", f"rule[{index}]", index, None))
            continue
        rule_id = str(raw.get("id") or f"rule-{index + 1}")
        label = f"rule[{index}] ({rule_id})"
        try:
            rule = _rule(raw, rule_id, locator.rule_line(index))
        except ConditionError as exc:
            errors.append(locator.error(exc.reason, f"{label}.{exc.path}", index, exc.token,
                                        exc.path))
            continue
        if rule_id in seen:
            errors.append(locator.error(f"duplicate rule id '{rule_id}'", f"{label}.id", index,
                                        rule_id, "id"))
            continue
        seen.add(rule_id)
        if raw.get("enabled", True):
            rules.append(rule)
    return tuple(rules)


def _rule(raw: Mapping[str, Any], rule_id: str, line: int | None) -> Rule:
    for key in raw:
        if key not in _RULE_KEYS:
            raise ConditionError(key, f"unknown key '{key}' (known: {', '.join(_RULE_KEYS)})", key)
    if not isinstance(raw.get("enabled", True), bool):
        raise ConditionError("enabled", "must be true or false", "enabled")
    when = compile_condition(raw["when"], "when") if "when" in raw else ALWAYS
    then = raw.get("then")
    if not isinstance(then, Mapping) or not then:
        raise ConditionError("then", "a rule needs a non-empty 'then' table of actions", "then")
    return Rule(rule_id=rule_id, name=str(raw.get("name", rule_id)), when=when,
                then=_actions(then), line=line)


def _actions(spec: Mapping[str, Any]) -> Actions:
    values: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"then.{key}"
        if key not in ACTIONS:
            raise ConditionError(path, f"unknown action '{key}' (known: {', '.join(ACTIONS)})", key)
        if key == "stop":
            if not isinstance(value, bool):
                raise ConditionError(path, "'stop' takes true or false", key)
            values["stop"] = value
        elif key in LIST_ACTIONS:
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(x, str) and x for x in items):
                raise ConditionError(path, f"'{key}' takes a name or a list of names", key)
            values[key] = tuple(items)
        elif not isinstance(value, str) or not value:
            raise ConditionError(path, f"'{key}' takes a non-empty string", key)
        elif key == "priority" and value not in PRIORITIES:
            raise ConditionError(path, f"priority must be one of {', '.join(PRIORITIES)}", value)
        elif key == "assign_role":
            if "assign_to" in spec:
                raise ConditionError(path, "use assign_to or assign_role, not both", key)
            values["assign_to"] = f"role:{value}"
        else:
            assert key in SCALAR_ACTIONS
            values[key] = value
    return Actions(**values)


class _TomlLocator:
    """Finds where a key or value sits in a TOML file, by its text (tomllib keeps no positions)."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.rule_starts = [source.count("\n", 0, m.start()) for m in _RULE_HEADER.finditer(source)]

    def rule_line(self, index: int) -> int | None:
        return self.rule_starts[index] + 1 if index < len(self.rule_starts) else None

    def error(self, message: str, path: str, rule: int | None, token: str | None,
              inner: str = "") -> RuleFileError:
        first, last = 0, len(self.lines)
        if rule is not None:
            if rule >= len(self.rule_starts):
                return RuleFileError(message, path)
            first = self.rule_starts[rule]
            if rule + 1 < len(self.rule_starts):
                last = self.rule_starts[rule + 1]
        if token is None:
            line = first + 1 if rule is not None else None
            return RuleFileError(message, path, line, 1 if line else None)
        for number in range(first, last):
            text = self.lines[number]
            code = text.split("#", 1)[0] if "#" in text and '"' not in text else text
            for candidate in (f'"{token}"', f"'{token}'", f"{token} =", f"{token}=", token):
                column = code.find(candidate)
                if column >= 0:
                    return RuleFileError(message, path, number + 1, column + 1)
        line = first + 1 if rule is not None else None
        return RuleFileError(message, path, line, 1 if line else None)
