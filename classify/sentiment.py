"""Negative-sentiment detection for French and English, lexicon-based: small, offline, fast.

A ticket's words are folded (no accents, lower case) and scored against a hand-written lexicon
of support-desk words (-3 … +3), with negation ("not happy", "pas content") flipping the next
few words, intensifiers ("very", "vraiment") and shouting (!!, CAPITALS) amplifying, and a few
phrases that say "this customer is fed up" ("third time", "toujours pas", "ras le bol").
The sum is squashed into [-1, 1] the way VADER does. Good enough to flag angry customers for
routing and escalation; it is not a general-purpose sentiment model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from classify.text import fold

Sentiment = Literal["negative", "neutral", "positive"]

_NEGATIVE = {
    # English
    "angry": 3, "furious": 3, "outraged": 3, "disgusted": 3, "unacceptable": 3, "worst": 3,
    "scam": 3, "fraud": 3, "ridiculous": 3, "pathetic": 3, "useless": 3, "terrible": 3,
    "awful": 3, "horrible": 3, "disgraceful": 3, "incompetent": 3, "shameful": 3, "hate": 3,
    "lawyer": 2, "lawsuit": 3, "sue": 2, "complaint": 2, "complain": 2, "disappointed": 2,
    "disappointing": 2, "frustrated": 2, "frustrating": 2, "annoyed": 2, "annoying": 2,
    "upset": 2, "unhappy": 2, "dissatisfied": 2, "poor": 2, "bad": 2, "rude": 2, "broken": 1,
    "waste": 2, "wasted": 2, "nightmare": 3, "joke": 2, "ignored": 2, "ignoring": 2, "never": 1,
    "failed": 1, "fail": 1, "fails": 1, "wrong": 1, "problem": 1, "issue": 1, "error": 1,
    "damaged": 1, "defective": 2, "faulty": 2, "missing": 1, "late": 1, "delay": 1, "delayed": 1,
    "stolen": 1, "lost": 1, "overcharged": 2, "refund": 1, "cancel": 1, "sick": 2, "tired": 1,
    "mad": 2, "fucking": 3, "fuck": 3, "bloody": 2, "wtf": 3, "reclamation": 2,
    "crap": 3, "shit": 3, "damn": 2, "stupid": 3, "liar": 3, "lied": 3,
    # French (folded)
    "colere": 3, "furieux": 3, "furieuse": 3, "inadmissible": 3, "inacceptable": 3,
    "scandaleux": 3, "scandale": 3, "honteux": 3, "honte": 3, "arnaque": 3, "escroquerie": 3,
    "escrocs": 3, "nul": 2, "nulle": 2, "lamentable": 3, "pire": 3, "deplorable": 3,
    "inutile": 2, "incompetents": 3, "plainte": 2, "avocat": 2,
    "decu": 2, "decue": 2, "decevant": 2, "decevante": 2, "mecontent": 2, "mecontente": 2,
    "insatisfait": 2, "insatisfaite": 2, "enerve": 2, "enervee": 2, "agace": 2, "agacee": 2,
    "frustre": 2, "frustree": 2, "inquiet": 1, "inquiete": 1, "mauvais": 2, "mauvaise": 2,
    "impoli": 2, "casse": 1, "cassee": 1, "defectueux": 2, "defectueuse": 2, "panne": 1,
    "probleme": 1, "erreur": 1, "retard": 1, "perdu": 1, "perdue": 1, "vole": 1, "jamais": 1,
    "annuler": 1, "rembourser": 1, "remboursement": 1, "marre": 3, "inadmissibles": 3,
    "putain": 3, "merde": 3, "bordel": 2, "reclamer": 1,
    "catastrophe": 3, "catastrophique": 3, "affreux": 3, "cauchemar": 3,
}
_POSITIVE = {
    "thanks": 1, "thank": 1, "great": 2, "excellent": 3, "perfect": 3, "happy": 2, "love": 3,
    "awesome": 3, "amazing": 3, "good": 1, "wonderful": 3, "appreciate": 2, "helpful": 2,
    "pleased": 2, "satisfied": 2, "glad": 2, "fantastic": 3, "resolved": 1, "quick": 1,
    "merci": 1, "super": 2, "parfait": 3, "parfaite": 3, "genial": 3, "content": 2,
    "contente": 2, "satisfait": 2, "satisfaite": 2, "ravi": 2, "ravie": 2, "bravo": 2,
    "formidable": 3, "top": 1, "efficace": 2, "rapide": 1, "bon": 1, "bonne": 1, "aime": 2,
}
_LEXICON = {**{w: -v for w, v in _NEGATIVE.items()}, **_POSITIVE}
_PHRASES = {
    "third time": -2, "second time": -1, "once again": -1, "still not": -2, "still no": -2,
    "still waiting": -2, "no one": -1, "nobody": -1, "fed up": -3, "sick of": -3,
    "rip off": -3, "claim against": -2, "complaint against": -2, "ripped off": -3,
    "not acceptable": -3, "last time": -1,
    "toujours pas": -2, "toujours rien": -2, "troisieme fois": -2, "encore une fois": -2,
    "personne ne": -1, "ras le bol": -3, "en ai marre": -3, "pas normal": -2,
    "se moque": -3, "se moquer": -3, "foutage de gueule": -3, "pas acceptable": -3,
}
_NEGATORS = frozenset({
    "not", "no", "never", "dont", "doesnt", "didnt", "isnt", "wasnt", "cant", "cannot", "wont",
    "pas", "ni", "aucun", "aucune", "sans",
})
_INTENSIFIERS = frozenset({
    "very", "really", "so", "extremely", "totally", "absolutely", "completely", "too",
    "tres", "vraiment", "trop", "completement", "absolument", "totalement", "tellement",
})
_TOKEN = re.compile(r"[a-z0-9]+")
# bytes.translate table: [a-z0-9] kept, every other byte a separator (apostrophes are deleted)
_ASCII_TOKENS = bytes(c if (48 <= c <= 57 or 97 <= c <= 122) else 32 for c in range(256))
_NEGATOR = "negator"
_INTENSIFIER = "intensifier"
# token -> its weight, or one of the two markers above
_KIND: dict[str, float | str] = {
    **{w: float(v) for w, v in _LEXICON.items()},
    **dict.fromkeys(_INTENSIFIERS, _INTENSIFIER), **dict.fromkeys(_NEGATORS, _NEGATOR),
}
_PHRASE = re.compile("|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)))


def _after_first_space(phrases: list[str]) -> str:
    """An alternation of each phrase's words after the first, grouped by their first letter
    (a branch is tried only when its letter is there), each checked by a look-behind for the
    whole phrase."""
    by_letter: dict[str, list[str]] = {}
    for phrase in sorted(phrases):
        rest = phrase.partition(" ")[2]
        by_letter.setdefault(rest[0], []).append(
            f"{re.escape(rest[1:])}(?<={re.escape(phrase)})")
    return "(?:" + "|".join(f"{re.escape(letter)}(?:{'|'.join(tails)})"
                            for letter, tails in by_letter.items()) + ")"


# Does any phrase occur at all? Most tickets hold none, and a substring test per phrase is the
# slow way to say so. A phrase of several words occurs exactly when, after some space,
# its words from the second on follow and the whole phrase ends there (the look-behind): the
# regex starts with a literal space, so it is only tried at spaces.
_MULTI_WORD = re.compile(" " + _after_first_space([p for p in _PHRASES if " " in p]))
_ONE_WORD = tuple(p for p in _PHRASES if " " not in p)
_NEGATION_SPAN = 3
_NEGATION_FLIP = -0.75  # "not happy" is less negative than "unhappy" is; VADER uses -0.74
_ALPHA = 15.0  # VADER's normalisation constant


@dataclass(frozen=True, slots=True)
class SentimentScore:
    label: Sentiment
    score: float  # -1 (angry) … +1 (delighted)


def score_sentiment(text: str, negative_below: float = -0.3,
                    positive_above: float = 0.5) -> SentimentScore:
    """Score one ticket's text. Labels use the two thresholds (named settings in the stage)."""
    return score_folded(fold(text), text, negative_below, positive_above)


def words_of(folded: str) -> list[str]:
    """Runs of ``[a-z0-9]`` once apostrophes are dropped ("don't" -> "dont")."""
    if folded.isascii():  # most folded text: the same words as the regex, ~2x cheaper
        return folded.encode().translate(_ASCII_TOKENS, b"'").decode().split()
    return _TOKEN.findall(folded.replace("'", "") if "'" in folded else folded)


def score_folded(folded: str, text: str, negative_below: float = -0.3,
                 positive_above: float = 0.5) -> SentimentScore:
    """:func:`score_sentiment` when the caller already has ``fold(text)``."""
    tokens = words_of(folded)
    total = 0.0
    last_negator = last_intensifier = -10
    # only the few tokens the lexicon knows are looked at (one dict lookup per token)
    for i, kind in [(i, _KIND[t]) for i, t in enumerate(tokens) if t in _KIND]:
        if isinstance(kind, str):
            if kind is _NEGATOR:
                last_negator = i
            else:
                last_intensifier = i
        else:
            value = kind * (1.5 if last_intensifier == i - 1 else 1.0)
            total += _NEGATION_FLIP * value if i - last_negator <= _NEGATION_SPAN else value
    # the phrase regex tries every phrase at every position (costly on an email): only run
    # when a phrase occurs somewhere
    if _MULTI_WORD.search(folded) or any(phrase in folded for phrase in _ONE_WORD):
        for phrase in set(_PHRASE.findall(folded)):
            total += _PHRASES[phrase]
    if total < 0:
        shouting = text.count("!") >= 2 or sum(
            1 for w in filter(str.isupper, text.split()) if len(w) > 3
        ) >= 2
        if shouting:
            total -= 1.5
    score = total / math.sqrt(total * total + _ALPHA)
    if score <= negative_below:
        return SentimentScore("negative", round(score, 3))
    if score >= positive_above:
        return SentimentScore("positive", round(score, 3))
    return SentimentScore("neutral", round(score, 3))
