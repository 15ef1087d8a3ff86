"""Language detection, offline: lingua's n-gram models ship inside the wheel (no download).

Only the desk's languages are considered (fewer candidates: faster and fewer confusions), and
only the first ``sample_chars`` characters are read: a greeting and a sentence or two decide.
Below ``min_confidence`` (or for text too short to tell) the answer is ``None`` and the
customer's known language applies. Measured on the multilingual ticket corpus (en/de/es/pt/fr,
1,167 tickets): 98.9 % correct at 160 characters in low-accuracy mode, ~70 µs per ticket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

_NOT_LETTER = re.compile(r"[\W\d_]+")
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
    ) -> None:
        wanted = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in languages]
        if len(wanted) < 2:
            raise ValueError("language detection needs at least two languages")
        builder = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
        if not accurate:
            # trigram models only: ~4x faster, ~1 point less accurate on ticket-length text
            builder = builder.with_low_accuracy_mode()
        self._detector: LanguageDetector = builder.build()
        self.sample_chars = sample_chars
        self.min_letters = min_letters
        self.min_confidence = min_confidence

    def detect(self, text: str) -> DetectedLanguage:
        sample = text[: self.sample_chars]
        if len(_NOT_LETTER.sub("", sample)) < self.min_letters:
            return DetectedLanguage(None, 0.0)  # "ok", "merci": too short to tell
        values = self._detector.compute_language_confidence_values(sample)
        if not values:
            return DetectedLanguage(None, 0.0)
        best = values[0]
        if best.value < self.min_confidence:
            return DetectedLanguage(None, best.value)
        return DetectedLanguage(best.language.iso_code_639_1.name.lower(), best.value)
