"""The light language guess: French and English (and neighbours) on support-sized texts."""

from __future__ import annotations

import pytest

from ingest.mime.language import guess_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Bonjour, je n'arrive pas à me connecter à mon compte. Merci de votre aide.", "fr"),
        ("Le lien ne marche pas", "fr"),
        ("Hello, I cannot log in to my account since yesterday, please help.", "en"),
        ("The invoice is wrong", "en"),
        ("Sehr geehrte Damen und Herren, ich kann mich nicht anmelden. Danke", "de"),
        ("Hola, no puedo entrar en mi cuenta. Gracias", "es"),
        ("Buongiorno, non riesco ad accedere al mio account. Grazie", "it"),
        ("Goedemorgen, ik kan niet inloggen met mijn account", "nl"),
    ],
)
def test_guesses(text: str, lang: str) -> None:
    assert guess_language(text) == lang


@pytest.mark.parametrize("text", ["", "ok", "12345 !!!", "Fusce bibendum quam hendrerit"])
def test_too_little_evidence(text: str) -> None:
    assert guess_language(text) is None
