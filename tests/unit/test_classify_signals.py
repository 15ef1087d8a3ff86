"""Language and sentiment signals, French and English."""

from __future__ import annotations

import pytest

from classify.language import LanguageDetection
from classify.sentiment import score_sentiment


@pytest.fixture(scope="module")
def detector() -> LanguageDetection:
    return LanguageDetection()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bonjour, mon téléphone chauffe beaucoup depuis la mise à jour.", "fr"),
        ("Hello, my phone gets very hot since the last update.", "en"),
        ("Hallo, mein Telefon wird seit dem Update sehr heiß.", "de"),
        ("Hola, mi teléfono se calienta mucho desde la actualización.", "es"),
        ("ok", None),  # too short to tell
    ],
)
def test_language(detector: LanguageDetection, text: str, code: str | None) -> None:
    assert detector.detect(text).code == code


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("C'est la troisième fois que je vous écris, c'est INADMISSIBLE !!", "negative"),
        ("Je ne suis pas content du tout de votre service", "negative"),
        ("This is the worst service ever, I want my money back", "negative"),
        ("I am not happy, still waiting for my refund", "negative"),
        ("Bonjour, je voudrais changer mon adresse de livraison", "neutral"),
        ("Hello, where can I download my invoice?", "neutral"),
        ("Merci beaucoup, c'est parfait !", "positive"),
        ("Thanks a lot, great and quick help", "positive"),
    ],
)
def test_sentiment(text: str, label: str) -> None:
    assert score_sentiment(text).label == label


def test_sentiment_scores_are_bounded() -> None:
    angry = score_sentiment("terrible awful horrible scam fraud worst " * 20)
    assert -1.0 <= angry.score < -0.9
