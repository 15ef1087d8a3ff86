"""Language detection: the function-word first pass, and lingua behind it."""

from __future__ import annotations

import pytest

from classify.function_words import FUNCTION_WORDS
from classify.language import DEFAULT_LANGUAGES, LanguageDetection


@pytest.fixture(scope="module")
def detector() -> LanguageDetection:
    return LanguageDetection()


@pytest.fixture(scope="module")
def lingua_only() -> LanguageDetection:
    return LanguageDetection(function_word_min_hits=0)


CLEAR = [
    ("Hello, my order has not arrived yet and I would like to know when it will be here.", "en"),
    ("Bonjour, je n'arrive pas à accéder à mon compte depuis hier, pouvez-vous m'aider ?", "fr"),
    ("BONJOUR, JE N'ARRIVE PAS À ACCÉDER À MON COMPTE DEPUIS HIER, POUVEZ-VOUS M'AIDER ?", "fr"),
    ("Madame, Monsieur, la facture que vous m'avez envoyée est fausse : le montant n'est pas "
     "celui de ma commande.", "fr"),
    ("Sehr geehrte Damen und Herren, ich habe eine Frage zu meiner Rechnung, die ich gestern "
     "bekommen habe.", "de"),
    ("Hola, el pedido que hice la semana pasada no ha llegado todavía y necesito saber cuándo "
     "llegará.", "es"),
    ("Olá, o meu pedido ainda não chegou e gostaria de saber quando vai ser entregue.", "pt"),
    ("Buongiorno, il mio ordine non è ancora arrivato e vorrei sapere quando sarà consegnato.",
     "it"),
    ("Goedemiddag, mijn bestelling is nog niet aangekomen en ik wil graag weten wanneer die "
     "wordt geleverd.", "nl"),
]


@pytest.mark.parametrize(("text", "code"), CLEAR, ids=[c for _, c in CLEAR])
def test_function_words_decide_clear_text(detector: LanguageDetection,
                                          lingua_only: LanguageDetection,
                                          text: str, code: str) -> None:
    first = detector.by_function_words(text)
    assert first is not None and first.code == code
    assert 0.5 <= first.confidence <= 1.0
    assert detector.detect(text) == first
    # the first pass agrees with what lingua alone says about the same text
    assert lingua_only.detect(text).code == code


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, the printer is broken. Merci",  # mixed: no language has a clear lead
        "Cisco ISR4331 router down, MySQL 8.0.30 crashes",  # product names, no function words
        "Problema con Dell XPS 13",  # too few function words
    ],
)
def test_unclear_text_is_left_to_lingua(detector: LanguageDetection, text: str) -> None:
    assert detector.by_function_words(text) is None


def test_lingua_decides_what_the_first_pass_leaves(detector: LanguageDetection,
                                                   lingua_only: LanguageDetection) -> None:
    text = "Urgent: Router Down\nOur router has experienced a critical software failure."
    assert detector.by_function_words(text) is None
    both, alone = detector.detect(text), lingua_only.detect(text)
    assert both.code == alone.code == "en"
    assert both.confidence == pytest.approx(alone.confidence)


@pytest.mark.parametrize("text", ["ok", "merci", "Danke!", "123 456 789 000 !!", ""])
def test_too_short_is_none(detector: LanguageDetection, text: str) -> None:
    detected = detector.detect(text)
    assert detected.code is None and detected.confidence == 0.0


def test_only_the_sample_is_read(detector: LanguageDetection) -> None:
    text = ("Hello, I have a question about the invoice that you sent to me last week: the "
            "amount is not the one of my order and I would like to know why it is different. ") + (
        "Je ne comprends pas pourquoi le montant est différent de celui de la commande. " * 5)
    assert len(text) > 3 * detector.sample_chars
    assert detector.detect(text).code == "en"
    assert detector.detect(text[detector.sample_chars:]).code == "fr"


def test_a_wide_margin_is_required() -> None:
    strict = LanguageDetection(function_word_min_hits=4, function_word_ratio=10.0)
    # "the" and "le"/"la" both count: English leads, but not ten to one
    assert strict.by_function_words("The Paris office: le service de la facturation, "
                                    "the billing team, the invoice and the order") is None


def test_first_pass_is_off_when_a_language_has_no_list() -> None:
    assert "sv" not in FUNCTION_WORDS
    detector = LanguageDetection(("en", "fr", "sv"))
    assert detector.by_function_words("Hello, my order has not arrived yet and I would "
                                      "like to know when it will be here.") is None
    assert detector.detect("Hello, my order has not arrived yet and I would like to know "
                           "when it will be here.").code == "en"


def test_first_pass_only_picks_configured_languages() -> None:
    detector = LanguageDetection(("en", "fr"))
    first = detector.by_function_words("Sehr geehrte Damen und Herren, ich habe eine Frage "
                                       "zu meiner Rechnung, the invoice of my order.")
    assert first is None or first.code in ("en", "fr")


def test_off_switch() -> None:
    assert LanguageDetection(function_word_min_hits=0).by_function_words(CLEAR[0][0]) is None


def test_every_default_language_has_a_list() -> None:
    for code in DEFAULT_LANGUAGES:
        words = FUNCTION_WORDS[code]
        assert len(words) >= 60
        assert all(w == w.lower() and w.isalpha() for w in words)


def test_settings_reach_the_detector() -> None:
    from classify.settings import ClassifySettings
    from classify.stage import build_classifier

    default = build_classifier(ClassifySettings()).language
    assert default is not None and default.by_function_words(CLEAR[0][0]) is not None
    off = build_classifier(ClassifySettings(language_function_word_min_hits=0)).language
    assert off is not None and off.by_function_words(CLEAR[0][0]) is None
    assert off.detect(CLEAR[0][0]).code == "en"
