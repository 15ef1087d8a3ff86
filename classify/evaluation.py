"""Measuring a classifier: the figures ``helpline model evaluate`` prints, as plain data."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from classify.model import Prediction, TicketClassifier


def read_labelled_csv(path: Path, text_cols: Sequence[str],
                      label_col: str | None) -> tuple[list[str], list[str]]:
    """Texts (the text columns joined by a newline) and labels; rows without a label skipped."""
    texts: list[str] = []
    labels: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (*text_cols, *([label_col] if label_col else [])) if
                   c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: no column {missing[0]!r} (has {reader.fieldnames})")
        for row in reader:
            label = (row[label_col] or "").strip() if label_col else ""
            if label_col and not label:
                continue
            texts.append("\n".join(row[c] or "" for c in text_cols))
            labels.append(label)
    return texts, labels


def score(predictions: Sequence[Prediction], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 of the top guess on every row, plus what abstention buys."""
    guesses = [p.best_guess for p in predictions]
    classes = sorted(set(labels) | set(guesses))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, guesses, labels=classes, zero_division=0
    )
    accepted = [(p, y) for p, y in zip(predictions, labels, strict=True) if not p.abstained]
    return {
        "rows": len(labels),
        "accuracy": round(float(accuracy_score(labels, guesses)), 4),
        "macro_f1": round(float(f1_score(labels, guesses, average="macro", zero_division=0)), 4),
        "abstention_rate": round(1 - len(accepted) / len(labels), 4) if labels else 0.0,
        "accuracy_when_confident": round(sum(p.label == y for p, y in accepted) / len(accepted), 4)
        if accepted else None,
        "per_class": {
            c: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                "f1": round(float(f), 4), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "rows_true_cols_predicted": confusion_matrix(labels, guesses, labels=classes).tolist(),
        },
    }


def abstention_on(model: TicketClassifier, texts: Sequence[str]) -> dict[str, Any]:
    """How often the model abstains on text from elsewhere (it should, mostly)."""
    predictions = model.predict(texts)
    reasons: dict[str, int] = {}
    for p in predictions:
        if p.abstained:
            reasons[p.reason] = reasons.get(p.reason, 0) + 1
    n = len(predictions)
    return {
        "rows": n,
        "abstention_rate": round(sum(p.abstained for p in predictions) / n, 4) if n else 0.0,
        "by_reason": reasons,
    }


def open_set(model: TicketClassifier, known: Sequence[str],
             unknown: Sequence[str]) -> dict[str, Any]:
    """How well the model's confidence tells text of its own labels (``known``) from text of
    labels it never saw (``unknown``): AUROC of confidence (1.0: every known ticket is more
    confident than every unknown one; 0.5: chance), and what the chosen operating point (the
    thresholds of the card) abstains on each side."""
    inside, outside = model.predict(known), model.predict(unknown)
    return open_set_figures([p.confidence for p in inside], [p.confidence for p in outside],
                            [p.abstained for p in inside], [p.abstained for p in outside])


def open_set_figures(known: Sequence[float], unknown: Sequence[float],
                     known_abstained: Sequence[bool], unknown_abstained: Sequence[bool],
                     ) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score, roc_curve

    if not known or not unknown:
        raise ValueError("open-set figures need known and unknown texts")
    truth = [1] * len(known) + [0] * len(unknown)
    scores = [*known, *unknown]
    fpr, tpr, _ = roc_curve(truth, scores)
    # share of unknown texts still accepted when 95 % of known ones are
    at95 = float(fpr[next(i for i, t in enumerate(tpr) if t >= 0.95)])
    return {
        "known": len(known), "unknown": len(unknown),
        "auroc": round(float(roc_auc_score(truth, scores)), 4),
        "fpr_at_95_tpr": round(at95, 4),
        "abstained_known": round(sum(known_abstained) / len(known), 4),
        "abstained_unknown": round(sum(unknown_abstained) / len(unknown), 4),
    }
