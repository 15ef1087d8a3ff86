"""Accent- and case-insensitive text folding, so "le téléphone chauffe" matches "LE TELEPHONE
CHAUFFE": Unicode compatibility decomposition, combining marks dropped, case folded, runs of
whitespace collapsed. French ligatures (œ, æ) and the German ß expand as a reader expects."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")
# Letters that NFKD does not decompose but that readers treat as two plain letters.
_EXPAND = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o"})
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """The matching form of ``text``: no accents, case folded, single spaces, trimmed."""
    if text.isascii():
        return _SPACES.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXPAND))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped.casefold()).strip()


@lru_cache(maxsize=4096)
def fold_needle(text: str) -> str:
    """:func:`fold` for rule needles, cached: a ruleset folds each needle once."""
    return fold(text)


def words(folded: str) -> frozenset[str]:
    """The set of words of an already folded text (for whole-word matching)."""
    return frozenset(_WORD.findall(folded))
