"""A small, fast, offline language guess for support mail. Pure.

Counts the most frequent function words of each language in the new text. That is enough for
routing and reply templates in the languages helpdesks meet most, costs microseconds and loads
nothing (lingua, measured on this machine, needs ~0.5 s and its models on the first detection;
see benchmarks/bench_normalizer.py). Returns ISO 639-1 codes, or None when the evidence is thin.
"""

from __future__ import annotations

import re

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were you your i my we our it this that to of in for on with have "
        "has had not be can could would will please thanks thank hello hi from at as but if "
        "do does did an there what when how which about".split()
    ),
    "fr": frozenset(
        "le la les et est sont je j vous votre vos nous notre il elle ce cette que qu qui de "
        "des du un une pour avec dans sur pas ne n merci bonjour madame monsieur mais ou "
        "au aux mon ma mes c ai avez été être bien cordialement suis".split()
    ),
    "de": frozenset(
        "der die das und ist sind ich sie wir nicht mit für auf ein eine einen dem den zu "
        "von bitte danke hallo ihr ihre mein meine haben hat war aber oder wie auch noch "
        "grüße freundlichen sehr geehrte".split()
    ),
    "es": frozenset(
        "el la los las y es son yo usted ustedes nosotros que de del un una para con en por "
        "no gracias hola mi mis su sus pero como muy está estoy tengo saludos favor".split()
    ),
    "it": frozenset(
        "il lo la gli le e è sono io lei noi che di del della un una per con in non grazie "
        "buongiorno ciao mio mia ma come anche ho ha saluti cordiali".split()
    ),
    "nl": frozenset(
        "de het een en is zijn ik u jij wij niet met voor op van dat die bedankt hallo mijn "
        "maar ook heb heeft graag groet vriendelijke".split()
    ),
    "pt": frozenset(
        "o a os as e é são eu você nós que de do da um uma para com em não obrigado obrigada "
        "olá meu minha mas como muito estou tenho atenciosamente".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# word -> the languages it is a function word of, so each word is looked up once
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPWORDS.items():
    for _w in _words:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)


def guess_language(text: str, sample_chars: int = 4000, min_hits: int = 2) -> str | None:
    """The most likely language of ``text`` (ISO 639-1), or None when unsure."""
    sample = text[:sample_chars].lower()
    if not sample:
        return None
    scores = dict.fromkeys(_STOPWORDS, 0)
    langs_of = _LANGS_OF
    for word in _WORD.findall(sample):
        for lang in langs_of.get(word, ()):
            scores[lang] += 1
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < min_hits or top <= second:
        return None
    # a clear winner only: shared words ("de", "la", "a") must not decide alone
    if top < second * 1.25:
        return None
    return best
