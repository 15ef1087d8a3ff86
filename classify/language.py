"""Language detection, offline: a count of function words first, lingua when that is unsure.

Only the desk's languages are considered (fewer candidates: faster and fewer confusions), and
only the first ``sample_chars`` characters are read: a greeting and a sentence or two decide.

1. **Function words** (:mod:`classify.function_words`, cheap): when the sample holds at least
   ``function_word_min_hits`` function words of one language and at least
   ``function_word_ratio`` times as many as of any other, that language is the answer, with
   confidence ``best / (best + runner-up)``. It is only used when every configured language
   has a word list, and ``function_word_min_hits = 0`` turns it off.
2. **lingua** (about ten times the cost, n-gram models shipped inside the wheel, low-accuracy
   mode) decides the rest. Figures: benchmarks/README.md.

Below ``min_confidence`` (or for text too short to tell) the answer is ``None`` and the
customer's known language applies. Measured on the multilingual ticket corpus (en/de/es/pt/fr,
1,167 tickets, 160 characters): lingua alone 99.83 % correct; with the function words first,
95 % of the tickets are decided by them, none wrongly, and 99.91 % are correct overall.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from classify.function_words import FUNCTION_WORDS

_WORD = re.compile(r"[^\W\d_]+")
DEFAULT_LANGUAGES = ("en", "fr", "de", "es", "pt", "it", "nl")


@dataclass(frozen=True, slots=True)
class DetectedLanguage:
    code: str | None  # ISO 639-1, or None when unsure
    confidence: float


class LanguageDetection:
    """Detects the language of a ticket's text among a fixed set of ISO 639-1 codes."""

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        sample_chars: int = 160,
        min_confidence: float = 0.5,
        min_letters: int = 12,
        accurate: bool = False,
        function_word_min_hits: int = 4,
        function_word_ratio: float = 2.0,
    ) -> None:
        wanted = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in languages]
        if len(wanted) < 2:
            raise ValueError("language detection needs at least two languages")
        builder = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
        if not accurate:
            # trigram models only: faster, about a point less accurate on ticket-length text
            builder = builder.with_low_accuracy_mode()
        self._detector: LanguageDetector = builder.build()
        self.sample_chars = sample_chars
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        self.function_word_min_hits = function_word_min_hits
        self.function_word_ratio = function_word_ratio
        codes = tuple(code.lower() for code in languages)
        # word -> indices of the configured languages it belongs to; empty (no first pass)
        # unless every configured language has a list: a language without one would never win
        self._codes = codes
        self._owners: dict[str, tuple[int, ...]] = {}
        if function_word_min_hits > 0 and all(code in FUNCTION_WORDS for code in codes):
            for i, code in enumerate(codes):
                for word in FUNCTION_WORDS[code]:
                    self._owners[word] = (*self._owners.get(word, ()), i)

    def detect(self, text: str) -> DetectedLanguage:
        sample = text[: self.sample_chars]
        words = _WORD.findall(sample)  # runs of letters: the words, and what counts as letters
        if sum(map(len, words)) < self.min_letters:
            return DetectedLanguage(None, 0.0)  # "ok", "merci": too short to tell
        counted = self._count(words)
        if counted is not None:
            return counted
        values = self._detector.compute_language_confidence_values(sample)
        if not values:
            return DetectedLanguage(None, 0.0)
        best = values[0]
        if best.value < self.min_confidence:
            return DetectedLanguage(None, best.value)
        return DetectedLanguage(best.language.iso_code_639_1.name.lower(), best.value)

    def by_function_words(self, sample: str) -> DetectedLanguage | None:
        """The clear winner of the function-word count in ``sample``, or None: lingua decides
        (also None when the first pass is off)."""
        return self._count(_WORD.findall(sample))

    def _count(self, words: list[str]) -> DetectedLanguage | None:
        owners = self._owners
        if not owners:
            return None
        hits = [0] * len(self._codes)
        for word in " ".join(words).lower().split():
            for i in owners.get(word, ()):
                hits[i] += 1
        best = max(hits)
        if best < self.function_word_min_hits:
            return None
        winner = hits.index(best)
        hits[winner] = 0
        runner_up = max(hits)
        if best < self.function_word_ratio * runner_up:
            return None
        confidence = best / (best + runner_up)
        if confidence < self.min_confidence:
            return None
        return DetectedLanguage(self._codes[winner], confidence)
