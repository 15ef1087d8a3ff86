"""Measurements on the labelled corpora in ``../shared/corpus/tickets`` (skipped when absent).

Thresholds sit a little under the figures measured when this was written, so a regression
fails while noise does not: banking77 test accuracy 0.905, macro-F1 0.906, abstention on
out-of-domain IT tickets 0.98; language 0.99 on the multilingual tickets; the bitext
``complaint`` intent flagged negative 0.83 against 0.03 for the other intents.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from classify.evaluation import abstention_on, read_labelled_csv, score
from classify.language import LanguageDetection
from classify.model import TicketClassifier, train_model
from classify.sentiment import score_sentiment

MULTILANG = "multilang-tickets-v3/dataset-tickets-multi-lang3-4k.first1167.csv"
BITEXT = "bitext-customer-support/Bitext_Sample_Customer_Support_Training_Dataset.csv"


@pytest.fixture(scope="module")
def tickets() -> Path:
    path = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tickets"
    if not path.is_dir():
        pytest.skip("../shared/corpus not present")
    return path


@pytest.fixture(scope="module")
def banking_model(tickets: Path) -> TicketClassifier:
    texts, labels = read_labelled_csv(tickets / "banking77" / "train.csv", ["text"], "category")
    return train_model(texts, labels)


def test_banking77_held_out_test_split(tickets: Path, banking_model: TicketClassifier) -> None:
    texts, labels = read_labelled_csv(tickets / "banking77" / "test.csv", ["text"], "category")
    report = score(banking_model.predict(texts), labels)
    assert report["accuracy"] >= 0.88
    assert report["macro_f1"] >= 0.88
    # when it does not abstain it is right more often than overall
    assert report["accuracy_when_confident"] > report["accuracy"]
    assert report["abstention_rate"] < 0.25


def test_out_of_domain_tickets_mostly_abstain(tickets: Path,
                                              banking_model: TicketClassifier) -> None:
    texts, _ = read_labelled_csv(tickets / MULTILANG, ["subject", "body"], None)
    assert abstention_on(banking_model, texts)["abstention_rate"] >= 0.9


def test_language_detection_on_multilingual_tickets(tickets: Path) -> None:
    detector = LanguageDetection()
    with (tickets / MULTILANG).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    texts = [f"{r['subject']}\n{r['body']}" for r in rows]
    right = sum(detector.detect(t).code == r["language"] for t, r in zip(texts, rows, strict=True))
    assert right / len(rows) >= 0.995  # 99.91 % measured (lingua alone: 99.83 %)
    # the function-word pass decides most tickets (95 % measured) and is then right
    first = [(detector.by_function_words(t[: detector.sample_chars]), r["language"])
             for t, r in zip(texts, rows, strict=True)]
    decided = [(d.code, label) for d, label in first if d is not None]
    assert len(decided) / len(rows) >= 0.9
    assert sum(code == label for code, label in decided) / len(decided) >= 0.998


def test_negative_sentiment_flags_complaints(tickets: Path) -> None:
    with (tickets / BITEXT).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def negative_rate(intent_is_complaint: bool) -> float:
        chosen = [r for r in rows if (r["intent"] == "complaint") is intent_is_complaint]
        return sum(score_sentiment(r["instruction"]).label == "negative"
                   for r in chosen) / len(chosen)

    assert negative_rate(True) >= 0.7
    assert negative_rate(False) <= 0.08
