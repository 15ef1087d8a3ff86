"""Reading a YAML rules file: the document of the TOML form, read with PyYAML's safe loader.

The document is the TOML one written in YAML::

    ruleset: {mode: all}
    business_hours:
      timezone: Europe/Paris
      mon: ["09:00", "18:00"]
    rule:
      - id: phone-overheating
        when: {field: [subject, body], contains: le téléphone chauffe}
        then: {priority: high, team: Replacements}

This module only turns YAML text into the plain values ``tomllib`` would give for the same rules
(dicts with text keys, lists, text, numbers, booleans) and keeps the node tree to put a line on
errors; :func:`classify.rules_loader.load_rules` checks and compiles both formats with one code
path. The error type and the parsed-file shape it shares with that module are in
:mod:`classify.rule_file`, so ``rules_loader`` imports this module and not the other way round.

Where a YAML 1.1 reader (PyYAML's ``safe_load``, most linters) and the intent of a rules file
part ways, the file is read as below rather than silently changing what a rule means:

* Scalars resolve as in YAML 1.2's core schema: only ``true``/``false`` are booleans and
  ``18:00`` is the text "18:00" (YAML 1.1 reads it as the base-60 number 1080), so business hours
  and ``time.of_day`` work quoted or not; ``2024-01-01`` stays text.
* ``yes``/``no``/``on``/``off`` (any case PyYAML reads as booleans) are refused unquoted:
  ``language: no`` would be ``false`` to YAML 1.1 tools and "no" to a reader; quote the text or
  write true/false.
* Numbers with a leading zero (``010``, ``01234``) are refused: octal 8 in YAML 1.1, 10 in 1.2.
* Duplicate keys are refused (PyYAML keeps the last one without a word).
* Empty values (``null``, ``~``, nothing after the colon) are refused: TOML has no null, and a
  rule must mean the same in both formats.
* Only plain data: any other tag (``!!python/…``, ``!!binary``, ``!!set``, ``!custom``) is
  refused before anything is constructed.
* Anchors, aliases and ``<<`` merge keys are allowed, bounded: the document as its aliases
  expand may hold at most :data:`MAX_NODES` nodes and nest :data:`MAX_DEPTH` deep. The check
  runs on the compact node graph (each shared node once), so a "billion laughs" file is refused
  without being expanded; an alias inside its own anchor is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from classify.rule_file import Parsed, RuleFileError

try:  # libyaml's parser when the wheel has it; same results, several times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - pure-Python PyYAML
    from yaml import SafeLoader as _SafeLoader

MAX_NODES = 100_000  # values, keys not counted: 2,000 rules like the example ones are ~30,000
MAX_DEPTH = 64  # conditions nested 30 deep are already unreadable

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP, _MERGE = f"{_TAG}seq", f"{_TAG}map", f"{_TAG}merge"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL})
_YAML11_BOOLEANS = frozenset(
    v for word in ("yes", "no", "on", "off") for v in (word, word.title(), word.upper()))
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_SEGMENT = re.compile(r"([^\[\]]*)((?:\[\d+\])*)")


_CORE_SCHEMA = (  # YAML 1.2's core schema: how a plain scalar is read
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$"),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    (_FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    (_NULL, r"^(?:~|null|Null|NULL|)$"),
    (_MERGE, r"^<<$"),
)


def rules_loader_on(base: type[Any]) -> type[Any]:
    """``base`` (a PyYAML safe loader class) reading scalars by the core schema; public so
    tests can check the pure-Python loader reads files as libyaml's does."""

    class RulesLoader(base):  # type: ignore[misc]  # PyYAML ships no type hints
        yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}

    for tag, pattern in _CORE_SCHEMA:
        RulesLoader.add_implicit_resolver(tag, re.compile(pattern), None)
    return RulesLoader


_RulesLoader = rules_loader_on(_SafeLoader)


def parse_yaml(source: str) -> Parsed | tuple[RuleFileError, ...]:
    """YAML text to the values the TOML form would give, or the errors; never raises."""
    loader: Any = None
    try:
        deep = _too_deep(source)
        if deep is not None:
            return (deep,)
        loader = _RulesLoader(source)
        root = loader.get_single_node()
        if root is None:  # an empty file, like an empty TOML file: no rules
            return Parsed({}, _YamlLocator(None))
        errors = _Walk().check(root)
        if errors:
            return tuple(errors)
        if not isinstance(root, yaml.MappingNode):
            return (_at(root, "a rules file is a mapping of sections: ruleset, business_hours, "
                              "rule"),)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        return (_syntax_error(exc, source),)
    except RecursionError:  # pure-Python PyYAML on deep nesting; libyaml stops at 1,000 levels
        return (RuleFileError(f"the file nests more than {MAX_DEPTH} levels deep"),)
    finally:
        if loader is not None:
            loader.dispose()
    return Parsed(data, _YamlLocator(root))


def _too_deep(source: str) -> RuleFileError | None:
    """Nesting past :data:`MAX_DEPTH`, found from the parser's events (a loop, where composing
    recurses once per level)."""
    depth = 0
    for event in yaml.parse(source, Loader=_RulesLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _at(event, f"the file nests more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _at(node: yaml.Node | yaml.Event, message: str, path: str = "") -> RuleFileError:
    mark = node.start_mark
    return RuleFileError(message, path, mark.line + 1, mark.column + 1)


def _syntax_error(exc: yaml.YAMLError, source: str) -> RuleFileError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "not YAML"
        context = exc.context_mark
        if exc.problem and exc.context:
            where = (f" at {context.line + 1}:{context.column + 1}"
                     if context is not None and context is not mark else "")
            message = f"{exc.problem} ({exc.context}{where})"
        if mark is None:
            return RuleFileError(message)
        return RuleFileError(message, "", mark.line + 1, mark.column + 1)
    if isinstance(exc, yaml.reader.ReaderError):
        before = source[:exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return RuleFileError(f"unacceptable character #x{ord(char):04x}: {exc.reason}", "",
                             line, column)
    return RuleFileError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@dataclass(frozen=True, slots=True)
class _Size:
    nodes: int
    depth: int


class _Walk:
    """Checks the node graph before anything is constructed: each distinct node once, with the
    size and depth it has once its aliases are expanded."""

    def __init__(self) -> None:
        self.errors: list[RuleFileError] = []
        self.sizes: dict[int, _Size] = {}
        self.open: set[int] = set()

    def check(self, root: yaml.Node) -> list[RuleFileError]:
        try:
            size = self._node(root, "", 0)
        except _TooBig as exc:
            return [exc.error]
        if size.nodes > MAX_NODES:
            return [_at(root, f"the document expands to {size.nodes:,} nodes through its aliases "
                              f"(at most {MAX_NODES:,})")]
        return self.errors

    def _node(self, node: yaml.Node, path: str, depth: int) -> _Size:
        if depth > MAX_DEPTH:
            raise _TooBig(_at(node, f"the document nests more than {MAX_DEPTH} levels deep", path))
        key = id(node)
        if key in self.open:
            raise _TooBig(_at(node, "an alias refers to a node that contains it", path))
        known = self.sizes.get(key)
        if known is None:
            self.open.add(key)
            known = self._fresh(node, path, depth)
            self.open.discard(key)
            self.sizes[key] = known
        if depth + known.depth > MAX_DEPTH:
            raise _TooBig(_at(node, f"the document nests more than {MAX_DEPTH} levels deep", path))
        if known.nodes > MAX_NODES:
            raise _TooBig(_at(node, f"this part expands to more than {MAX_NODES:,} nodes "
                                    "through its aliases", path))
        return known

    def _fresh(self, node: yaml.Node, path: str, depth: int) -> _Size:
        if isinstance(node, yaml.ScalarNode):
            self._scalar(node, path)
            return _Size(1, 0)
        children: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.errors.append(_at(node, f"YAML tag {_short(node.tag)} is not allowed", path))
            children = [(item, _item_label(path, i, item)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.errors.append(_at(node, f"YAML tag {_short(node.tag)} is not allowed", path))
            children = self._mapping(node, path)
        nodes, deepest = 1, 0
        for child, child_path in children:
            size = self._node(child, child_path, depth + 1)
            nodes += size.nodes
            deepest = max(deepest, size.depth + 1)
            if nodes > MAX_NODES:
                break
        return _Size(nodes, deepest)

    def _mapping(self, node: yaml.MappingNode, path: str) -> list[tuple[yaml.Node, str]]:
        seen: dict[str, int] = {}
        children: list[tuple[yaml.Node, str]] = []
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE:
                children.append((value, path))
                continue
            if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
                shown = key.value if isinstance(key, yaml.ScalarNode) else key.id
                self.errors.append(_at(key, f"a key must be text: quote {shown!r}", path))
                continue
            name = key.value
            here = f"{path}.{name}" if path else name
            if name in seen:
                self.errors.append(_at(key, f"duplicate key '{name}' (first at line "
                                            f"{seen[name]}); YAML would keep only the last",
                                       here))
            else:
                seen[name] = key.start_mark.line + 1
            children.append((value, here))
        return children

    def _scalar(self, node: yaml.ScalarNode, path: str) -> None:
        plain = not node.style  # None from PyYAML's composer, "" from libyaml's
        if node.tag == _NULL:
            self.errors.append(_at(node, "empty value: write a value (quote \"\" for empty "
                                         "text) or leave the key out", path))
        elif node.tag not in _SCALAR_TAGS:
            self.errors.append(_at(node, f"YAML tag {_short(node.tag)} is not allowed", path))
        elif plain and node.tag == _STR and node.value in _YAML11_BOOLEANS:
            self.errors.append(_at(node, f"'{node.value}' is true/false to YAML 1.1 readers: "
                                         f"write true or false, or quote \"{node.value}\" "
                                         "for the text", path))
        elif plain and _LEADING_ZERO.fullmatch(node.value):
            self.errors.append(_at(node, f"'{node.value}' has a leading zero (octal in YAML "
                                         f"1.1): quote \"{node.value}\" for the text, or drop "
                                         "the zero", path))


class _TooBig(Exception):
    def __init__(self, error: RuleFileError) -> None:
        super().__init__(str(error))
        self.error = error


def _item_label(path: str, index: int, item: yaml.Node) -> str:
    """A list item's path as the compiler names it: ``rule[2] (vip)`` for a rule."""
    if path != "rule":
        return f"{path}[{index}]"
    pairs = item.value if isinstance(item, yaml.MappingNode) else []
    ids = [v.value for k, v in pairs if k.value == "id" and isinstance(v, yaml.ScalarNode)]
    return f"rule[{index}] ({ids[-1] if ids else f'rule-{index + 1}'})"


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class _YamlLocator:
    """Puts a line on a semantic error by following its key path through the node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def _rule(self, index: int) -> yaml.Node | None:
        _, rules = _follow(self.root, "rule") if self.root is not None else (None, None)
        if isinstance(rules, yaml.SequenceNode) and index < len(rules.value):
            item: yaml.Node = rules.value[index]
            return item
        return None

    def rule_line(self, index: int) -> int | None:
        node = self._rule(index)
        return node.start_mark.line + 1 if node is not None else None

    def error(self, message: str, path: str, rule: int | None, token: str | None,
              inner: str = "") -> RuleFileError:
        scope = self.root if rule is None else self._rule(rule)
        if scope is None:
            return RuleFileError(message, path)
        key, node = _follow(scope, inner)
        found: yaml.Node | None = None
        if token is not None:
            found = key if key is not None and key.value == token else _find(node, token)
        return _at(found or key or node, message, path)


def _follow(node: yaml.Node, inner: str) -> tuple[yaml.ScalarNode | None, yaml.Node]:
    """As far down ``inner`` ("when.any[0].contains") as the tree goes: the last key node
    passed (None after a list index) and the node reached."""
    key: yaml.ScalarNode | None = None
    for part in inner.split(".") if inner else ():
        match = _SEGMENT.fullmatch(part)
        if match is None:
            break
        name, indexes = match[1], [int(i) for i in re.findall(r"\d+", match[2])]
        if name:
            pairs = [(k, v) for k, v in (node.value if isinstance(node, yaml.MappingNode)
                                         else ()) if k.value == name]
            if not pairs:
                break
            key, node = pairs[-1]
        for index in indexes:
            if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
                return key, node
            key, node = None, node.value[index]
    return key, node


def _find(node: yaml.Node, token: str) -> yaml.Node | None:
    """The first scalar (key or value) reading ``token`` under ``node``, in document order."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            if current.value == token:
                return current
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))
        elif isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in reversed(current.value) for n in reversed(pair))
    return None
