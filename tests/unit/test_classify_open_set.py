"""Open-set figures: AUROC of confidence between texts of known labels and of unseen ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from classify.evaluation import open_set, open_set_figures, read_labelled_csv
from classify.model import TrainingOptions, train_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"


def test_perfect_chance_and_inverted_separation() -> None:
    none = [False] * 3
    assert open_set_figures([0.9, 0.8, 0.7], [0.1, 0.2, 0.3], none, none)["auroc"] == 1.0
    assert open_set_figures([0.5, 0.5], [0.5, 0.5], none[:2], none[:2])["auroc"] == 0.5
    flipped = open_set_figures([0.1, 0.2], [0.8, 0.9], [True, True], [False, True])
    assert flipped["auroc"] == 0.0 and flipped["fpr_at_95_tpr"] == 1.0
    assert flipped["abstained_known"] == 1.0 and flipped["abstained_unknown"] == 0.5
    with pytest.raises(ValueError, match="known and unknown"):
        open_set_figures([], [0.1], [], [False])


def test_a_label_held_out_of_training_is_less_confident_than_the_known_ones() -> None:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    known = [(t, y) for t, y in zip(texts, labels, strict=True) if y != "login"]
    model = train_model([t for t, _ in known], [y for _, y in known],
                        TrainingOptions(seed=13))
    unseen = [t for t, y in zip(texts, labels, strict=True) if y == "login"]
    figures = open_set(model, [t for t, _ in known], unseen)
    assert figures["auroc"] > 0.8 and figures["unknown"] == len(unseen)
