"""Rule conditions: compiled once from the rules file, then tested against many tickets.

A condition table is one of::

    { field = "subject", contains = "le téléphone chauffe" }     # a leaf: field + one operator
    { all = [ ... ] }   { any = [ ... ] }   { not = { ... } }     # nesting

Text comparisons are accent- and case-insensitive unless the leaf says ``case_sensitive = true``
(then they are exact). Needles are folded and regexes compiled here, once per ruleset.
Every condition can say why it held, one line per leaf, for the ``classified`` event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Protocol

from classify.facts import FactView, FieldKind, field_kind, known_fields
from classify.text import fold, fold_needle
from schemas.errors import HelplineError

TEXT_OPERATORS = (
    "equals", "not_equals", "in", "not_in", "contains", "contains_any", "contains_all",
    "starts_with", "ends_with", "regex",
)
NUMBER_OPERATORS = ("gt", "gte", "lt", "lte", "between")
OPERATORS = (*TEXT_OPERATORS, *NUMBER_OPERATORS, "exists")
_LEAF_OPTIONS = ("field", "case_sensitive")
_SHOWN_VALUE_MAX = 60
_HIDDEN_VALUES = frozenset({"subject", "body", "text"})  # long or personal: never echoed


class ConditionError(HelplineError, ValueError):
    """A condition the engine cannot run. ``path`` is the key path inside the rule and ``token``
    the offending text (used to find its line in the file)."""

    def __init__(self, path: str, message: str, token: str | None = None) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message
        self.token = token


class Condition(Protocol):
    def test(self, view: FactView) -> bool: ...

    def explain(self, view: FactView) -> list[str]: ...


def _quote(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_quote(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True, slots=True)
class Leaf:
    field: str
    operator: str
    operand: Any  # as written in the file, for explanations
    kind: FieldKind
    check: Callable[[Any], bool]  # gets the folded or raw value, see ``folds``
    folds: bool
    # "field operator operand", written once per ruleset rather than once per match
    head: str = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "head",
                           f"{self.field} {self.operator} {_quote(self.operand)}")

    def test(self, view: FactView) -> bool:
        if self.kind == "list":
            return self.check(view.value(self.field))
        return self.check(view.folded(self.field) if self.folds else view.value(self.field))

    def explain(self, view: FactView) -> list[str]:
        line = self.head
        if self.field not in _HIDDEN_VALUES:
            shown = view.value(self.field)
            text = _quote(list(shown) if isinstance(shown, tuple) else shown)
            if len(text) > _SHOWN_VALUE_MAX:
                text = text[: _SHOWN_VALUE_MAX - 1] + "…"
            line += f" (is {text})"
        return [line]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]

    def test(self, view: FactView) -> bool:
        return all(p.test(view) for p in self.parts)

    def explain(self, view: FactView) -> list[str]:
        return [line for p in self.parts for line in p.explain(view)]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def test(self, view: FactView) -> bool:
        return any(p.test(view) for p in self.parts)

    def explain(self, view: FactView) -> list[str]:
        return [line for p in self.parts if p.test(view) for line in p.explain(view)]


@dataclass(frozen=True, slots=True)
class NoneOf:
    part: Condition
    reason: str = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", f"not ({_describe(self.part)})")

    def test(self, view: FactView) -> bool:
        return not self.part.test(view)

    def explain(self, view: FactView) -> list[str]:
        return [self.reason]


def _describe(cond: Condition) -> str:
    if isinstance(cond, Leaf):
        return cond.head
    if isinstance(cond, AllOf):
        return " and ".join(_describe(p) for p in cond.parts)
    if isinstance(cond, AnyOf):
        return " or ".join(_describe(p) for p in cond.parts)
    if isinstance(cond, NoneOf):
        return cond.reason
    return repr(cond)


ALWAYS = AllOf(())


def compile_condition(spec: Any, path: str) -> Condition:
    """Compile one condition table (or a list of them, meaning ``all``)."""
    if isinstance(spec, list):
        return AllOf(tuple(compile_condition(s, f"{path}[{i}]") for i, s in enumerate(spec)))
    if not isinstance(spec, Mapping):
        raise ConditionError(path, f"a condition must be a table, not {type(spec).__name__}")
    groups = [k for k in ("all", "any", "not") if k in spec]
    if groups:
        if len(spec) != 1:
            extra = sorted(set(spec) - {groups[0]})
            raise ConditionError(
                path, f"'{groups[0]}' must stand alone in its table (also found {extra})",
                extra[0] if extra else groups[0],
            )
        key = groups[0]
        inner = spec[key]
        if key == "not":
            return NoneOf(compile_condition(inner, f"{path}.not"))
        if not isinstance(inner, list) or not inner:
            raise ConditionError(f"{path}.{key}", f"'{key}' takes a non-empty list", key)
        parts = tuple(compile_condition(s, f"{path}.{key}[{i}]") for i, s in enumerate(inner))
        return AllOf(parts) if key == "all" else AnyOf(parts)
    return _compile_leaf(spec, path)


def _compile_leaf(spec: Mapping[str, Any], path: str) -> Condition:
    fields = spec.get("field")
    if fields is None:
        raise ConditionError(path, "a condition needs 'field' (or all/any/not)")
    ops = [k for k in spec if k not in _LEAF_OPTIONS]
    unknown = [k for k in ops if k not in OPERATORS]
    if unknown:
        raise ConditionError(
            f"{path}.{unknown[0]}",
            f"unknown operator '{unknown[0]}' (known: {', '.join(OPERATORS)})", unknown[0],
        )
    if len(ops) != 1:
        raise ConditionError(path, f"a condition takes exactly one operator, found {ops or 'none'}",
                             ops[1] if len(ops) > 1 else None)
    case_sensitive = spec.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        raise ConditionError(f"{path}.case_sensitive", "must be true or false", "case_sensitive")
    op = ops[0]
    names = fields if isinstance(fields, list) else [fields]
    if not names or not all(isinstance(n, str) for n in names):
        raise ConditionError(f"{path}.field", "'field' must be a name or a list of names")
    leaves: list[Condition] = []
    for name in names:
        kind = field_kind(name)
        if kind is None:
            raise ConditionError(
                f"{path}.field", f"unknown field '{name}' (known: {', '.join(known_fields())})",
                name,
            )
        leaves.append(_leaf(name, kind, op, spec[op], case_sensitive, f"{path}.{op}"))
    # several fields: "subject or body contains …", as helpdesk trigger screens offer
    return leaves[0] if len(leaves) == 1 else AnyOf(tuple(leaves))


def _texts(operand: Any, path: str, op: str) -> list[str]:
    items = operand if isinstance(operand, list) else [operand]
    if not items or not all(isinstance(x, str | int | float | bool) for x in items):
        raise ConditionError(path, f"'{op}' takes a value or a non-empty list of values", op)
    return [str(x).lower() if isinstance(x, bool) else str(x) for x in items]


def _number(value: Any, path: str, op: str, kind: FieldKind) -> Any:
    if kind == "time":
        if not isinstance(value, str) or not re.fullmatch(r"[0-2]\d:[0-5]\d", value):
            raise ConditionError(path, f"'{op}' on a time of day takes \"HH:MM\", not {value!r}",
                                 op)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(path, f"'{op}' takes a number, got {value!r}", op)
    return value


def _leaf(name: str, kind: FieldKind, op: str, operand: Any, exact: bool, path: str) -> Leaf:
    if op == "exists":
        if not isinstance(operand, bool):
            raise ConditionError(path, "'exists' takes true or false", op)
        present: Callable[[Any], bool] = lambda v: (v is not None and v != "") is operand  # noqa: E731
        return Leaf(name, op, operand, kind, present, False)
    if op in NUMBER_OPERATORS:
        return _numeric_leaf(name, kind, op, operand, path)
    if kind == "bool":
        if op not in ("equals", "not_equals") or not isinstance(operand, bool):
            raise ConditionError(path, f"'{name}' is true/false: use equals = true|false", op)
        want = operand if op == "equals" else not operand
        return Leaf(name, op, operand, kind, lambda v: bool(v) is want, False)
    if kind == "number":
        if op in ("equals", "not_equals", "in", "not_in"):
            nums = [_number(x, path, op, kind) for x in
                    (operand if isinstance(operand, list) else [operand])]
            members = frozenset(nums)
            positive = op in ("equals", "in")
            return Leaf(name, op, operand, kind,
                        lambda v: v is not None and (v in members) is positive, False)
        raise ConditionError(path, f"'{name}' is a number: '{op}' does not apply", op)
    return _text_leaf(name, kind, op, operand, exact, path)


def _numeric_leaf(name: str, kind: FieldKind, op: str, operand: Any, path: str) -> Leaf:
    if kind not in ("number", "time"):
        raise ConditionError(path, f"'{op}' needs a numeric field; '{name}' is {kind}", op)
    if op == "between":
        if not isinstance(operand, list) or len(operand) != 2:
            raise ConditionError(path, "'between' takes [low, high]", op)
        low, high = (_number(x, path, op, kind) for x in operand)
        return Leaf(name, op, operand, kind, lambda v: v is not None and low <= v <= high, False)
    bound = _number(operand, path, op, kind)
    compare: dict[str, Callable[[Any], bool]] = {
        "gt": lambda v: v > bound, "gte": lambda v: v >= bound,
        "lt": lambda v: v < bound, "lte": lambda v: v <= bound,
    }
    test = compare[op]
    return Leaf(name, op, operand, kind, lambda v: v is not None and test(v), False)


def _text_leaf(name: str, kind: FieldKind, op: str, operand: Any, exact: bool, path: str) -> Leaf:
    raw = _texts(operand, path, op)
    if op == "regex":
        if len(raw) != 1:
            raise ConditionError(path, "'regex' takes one pattern", op)
        try:
            pattern = re.compile(raw[0], 0 if exact else re.IGNORECASE)
        except re.error as exc:
            raise ConditionError(path, f"bad regex {raw[0]!r}: {exc}", raw[0]) from None
        return _make(name, kind, op, operand, exact, lambda v: pattern.search(v) is not None)
    needles = raw if exact else [fold_needle(x) for x in raw]
    if op in ("equals", "not_equals") and len(needles) != 1:
        raise ConditionError(path, f"'{op}' takes one value (use 'in' for a list)", op)
    positive = not op.startswith("not_")
    if op in ("equals", "not_equals", "in", "not_in"):
        members = frozenset(needles)
        return _make(name, kind, op, operand, exact, lambda v: (v in members) is positive,
                     membership=True)
    if op == "starts_with":
        prefixes = tuple(needles)
        return _make(name, kind, op, operand, exact, lambda v: v.startswith(prefixes))
    if op == "ends_with":
        suffixes = tuple(needles)
        return _make(name, kind, op, operand, exact, lambda v: v.endswith(suffixes))
    if op == "contains_all":
        return _make(name, kind, op, operand, exact, lambda v: all(n in v for n in needles))
    # contains / contains_any: any of the needles
    return _make(name, kind, op, operand, exact, lambda v: any(n in v for n in needles))


def _make(name: str, kind: FieldKind, op: str, operand: Any, exact: bool,
          check: Callable[[str], bool], membership: bool = False) -> Leaf:
    if kind == "list":
        # a list field (tags, attachment names): the operator holds for one of its items;
        # "not_in" / "not_equals" hold when it holds for every item
        def on_items(items: Sequence[str] | None) -> bool:
            folded = [i if exact else fold(i) for i in items or ()]
            if membership and op.startswith("not_"):
                return all(check(i) for i in folded)
            return any(check(i) for i in folded)

        return Leaf(name, op, operand, kind, on_items, True)
    if exact and membership and op.startswith("not_"):
        return Leaf(name, op, operand, kind, lambda v: v is None or check(str(v)), False)
    if exact:
        return Leaf(name, op, operand, kind,
                    lambda v: v is not None and check(str(v)), False)
    if membership and op.startswith("not_"):
        return Leaf(name, op, operand, kind, lambda v: v is None or check(v), True)
    return Leaf(name, op, operand, kind, lambda v: v is not None and check(v), True)
