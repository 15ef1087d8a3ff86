"""The rules engine: ordered condition → action rules, as helpdesk triggers run them.

Pure: a compiled :class:`Ruleset` and the facts of one ticket in, an :class:`Outcome` out.
``mode = "first"`` applies the first matching rule only; ``mode = "all"`` applies every matching
rule in file order (a later rule's value wins, tags and notifications add up) until a rule with
``stop = true`` matches. Each matched rule is reported with one reason line per condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from classify.conditions import Condition
from classify.facts import BusinessHours, FactView, TicketFacts
from schemas.classify_events import RuleMatch

Mode = Literal["first", "all"]
PRIORITIES = ("low", "normal", "high", "urgent")
SCALAR_ACTIONS = (
    "category", "type", "priority", "department", "team", "language", "assign_to", "sla_policy",
)
LIST_ACTIONS = ("tags", "notify")
ACTIONS = (*SCALAR_ACTIONS, "assign_role", *LIST_ACTIONS, "stop")


@dataclass(frozen=True, slots=True)
class Actions:
    """What a rule does. ``None`` / empty leaves the value as it is."""

    category: str | None = None
    type: str | None = None
    priority: str | None = None
    department: str | None = None
    team: str | None = None
    language: str | None = None
    assign_to: str | None = None  # agent id, or "role:<name>" (from ``assign_role``)
    sla_policy: str | None = None
    tags: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()  # agent ids, "role:<name>" or addresses
    stop: bool = False  # stop processing further rules
    # the scalar actions this rule sets, as (name, value), found once per ruleset
    scalars: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scalars", tuple(
            (name, value) for name in SCALAR_ACTIONS
            if (value := getattr(self, name)) is not None))


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    name: str
    when: Condition
    then: Actions
    line: int | None = None  # where the rule starts in its file


@dataclass(frozen=True, slots=True)
class Outcome:
    category: str | None = None
    type: str | None = None
    priority: str | None = None
    department: str | None = None
    team: str | None = None
    language: str | None = None
    assign_to: str | None = None
    sla_policy: str | None = None
    tags: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    matched: tuple[RuleMatch, ...] = ()
    stopped_by: str | None = None

    def apply(self, actions: Actions) -> Outcome:
        values: dict[str, Any] = {}
        _apply(values, actions)
        if self.tags or self.notify:
            values["tags"] = (*self.tags, *values.get("tags", ()))
            values["notify"] = (*self.notify, *values.get("notify", ()))
        return replace(self, **_final(values)) if values else self


def _apply(values: dict[str, Any], actions: Actions) -> None:
    """Fold one rule's actions into ``values``: scalars overwrite, lists accumulate."""
    values.update(actions.scalars)
    if actions.tags:
        values["tags"] = (*values.get("tags", ()), *actions.tags)
    if actions.notify:
        values["notify"] = (*values.get("notify", ()), *actions.notify)


def _final(values: dict[str, Any]) -> dict[str, Any]:
    for name in ("tags", "notify"):
        if name in values:
            values[name] = tuple(dict.fromkeys(values[name]))  # first occurrence wins
    return values



@dataclass(frozen=True, slots=True)
class Ruleset:
    name: str
    version: str  # content hash of the source
    mode: Mode = "all"
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    rules: tuple[Rule, ...] = ()

    def evaluate(self, facts: TicketFacts, now: datetime,
                 folded: Mapping[str, str] | None = None,
                 known: Mapping[str, Any] | None = None) -> Outcome:
        """Run the rules in order over one ticket's facts. ``folded`` may carry text fields
        the caller already folded, ``known`` field values it computed after building ``facts``
        (the signals: language, sentiment, models); see :meth:`FactView.seed`."""
        view = FactView(facts, now, self.business_hours)
        if folded or known:
            view.seed(folded or {}, known)
        values: dict[str, Any] = {}
        matched: list[RuleMatch] = []
        stopped_by: str | None = None
        for rule in self.rules:
            if not rule.when.test(view):
                continue
            reasons = tuple(rule.when.explain(view)) or ("always",)
            matched.append(RuleMatch(rule_id=rule.rule_id, name=rule.name, reasons=reasons))
            _apply(values, rule.then)
            if self.mode == "first" or rule.then.stop:
                stopped_by = rule.rule_id
                break
        return Outcome(matched=tuple(matched), stopped_by=stopped_by, **_final(values))


EMPTY = Ruleset(name="(none)", version="none")
