"""What both rules-file readers share: the error a file gets, and a parsed file with where its
values came from. The loader (:mod:`classify.rules_loader`: reads TOML, checks and compiles
both formats) and the YAML reader (:mod:`classify.rules_yaml`) import this module;
``rules_loader`` calls ``rules_yaml.parse_yaml`` for a YAML file, and that is the only edge
between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RuleFileError:
    """One thing wrong with a rules file, in the operator's terms."""

    message: str
    path: str = ""  # key path, e.g. "rule[2] (vip).when.any[0].contains"
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}:{self.column or 1}: " if self.line else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


class Locating(Protocol):
    """Where things are in one parsed file, to put a line and column on a semantic error.
    ``inner`` is the key path below the rule (or below the file, when ``rule`` is None)."""

    def rule_line(self, index: int) -> int | None: ...

    def error(self, message: str, path: str, rule: int | None, token: str | None,
              inner: str = "") -> RuleFileError: ...


@dataclass(frozen=True, slots=True)
class Parsed:
    """A file read by its format's parser: plain Python values (what ``tomllib`` gives) and
    where they came from."""

    data: dict[str, Any]
    locator: Locating
