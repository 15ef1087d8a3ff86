"""Accent- and case-insensitive folding, the basis of every text condition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classify.text import fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("LE TELEPHONE CHAUFFE", "le telephone chauffe"),
        ("le téléphone chauffe", "le telephone chauffe"),
        ("  Ça   ne\tmarche\npas ", "ca ne marche pas"),
        ("Œuvre, cœur, Straße", "oeuvre, coeur, strasse"),
        ("ÉLÈVE À L'ÉCOLE", "eleve a l'ecole"),
        ("ﬁchier", "fichier"),  # compatibility ligature
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèêàçùôîï ", max_size=40))
def test_case_never_matters_for_french_letters(text: str) -> None:
    assert fold(text.upper()) == fold(text)


def _fold_by_substitution(text: str) -> str:
    """The folding rule spelled out: NFKD, combining marks removed, case folded, the few
    letters NFKD keeps replaced, whitespace collapsed (``fold`` takes shortcuts)."""
    import unicodedata

    from classify.text import _AFTER, _COMBINING

    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()
    for special, plain in _AFTER:
        text = text.replace(special, plain)
    return " ".join(text.split())


@given(st.text() | st.text(alphabet="aeEouScçéèÉÀàâêîôûëïüÿñãõß œæøł\u2019\u00a0\u0301\u200b\t",
                           max_size=40))
def test_fold_shortcuts_agree_with_the_rule(text: str) -> None:
    assert fold(text) == _fold_by_substitution(text)
