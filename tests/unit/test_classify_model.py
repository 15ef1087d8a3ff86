"""The ML classifier on the small golden set (always runs): it learns, abstains on unrelated
text, picks its threshold from validation data, and refuses tampered weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classify.evaluation import abstention_on, read_labelled_csv, score
from classify.model import (
    ModelLoadError,
    TicketClassifier,
    TrainingOptions,
    choose_confidence_threshold,
    load_model,
    save_model,
    train_model,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "classify"


@pytest.fixture(scope="module")
def model() -> TicketClassifier:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    return train_model(texts, labels, TrainingOptions(seed=13))


def test_it_learns_billing_delivery_and_login_in_english_and_french(
    model: TicketClassifier,
) -> None:
    predictions = model.predict([
        "I was charged twice on my invoice",
        "mon colis est perdu, le livreur ne répond pas",
        "j'ai oublié mon mot de passe",
    ])
    assert [p.best_guess for p in predictions] == ["billing", "delivery", "login"]
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)
    assert model.card.labels == ("billing", "delivery", "login")
    assert model.card.validation["rows"] > 0


def test_out_of_scope_text_mostly_abstains(model: TicketClassifier) -> None:
    unrelated, _ = read_labelled_csv(GOLDEN / "out_of_scope.csv", ["text"], None)
    result = abstention_on(model, unrelated)
    assert result["abstention_rate"] >= 0.7, result
    for p in model.predict(unrelated):
        assert (p.label is None) == p.abstained
        if p.abstained:
            assert p.reason in ("low-confidence", "out-of-scope")


def test_threshold_is_the_lowest_reaching_the_target_precision() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    correct = np.array([True, True, True, False, True, False])
    assert choose_confidence_threshold(confidence, correct, 0.99, 0.1) == 0.7
    assert choose_confidence_threshold(confidence, correct, 0.8, 0.1) == 0.5
    # unreachable target: best precision that still keeps min_coverage
    mostly_wrong = np.array([False, False, True, True, False, False])
    assert choose_confidence_threshold(confidence, mostly_wrong, 0.9, 0.5) == 0.6


def test_save_and_load_round_trip(model: TicketClassifier, tmp_path: Path) -> None:
    card = save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.card == card
    assert len(card.version) == 16
    texts = ["refund my double payment", "where is my parcel"]
    assert loaded.predict(texts) == model.predict(texts)


def test_tampered_or_missing_weights_are_refused(model: TicketClassifier, tmp_path: Path) -> None:
    save_model(model, tmp_path / "m")
    weights = tmp_path / "m" / "model.joblib"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelLoadError, match=r"no model\.json"):
        load_model(tmp_path / "nothing-here")


def test_score_reports_what_evaluate_prints(model: TicketClassifier) -> None:
    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    report = score(model.predict(texts), labels)
    assert set(report) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix",
                           "abstention_rate", "accuracy_when_confident"}
    assert report["accuracy"] > 0.8  # training data: a sanity check, not a measurement
    matrix = report["confusion_matrix"]["rows_true_cols_predicted"]
    assert sum(map(sum, matrix)) == len(labels)
    assert set(report["per_class"]) == {"billing", "delivery", "login"}


def test_an_empty_batch_predicts_nothing(model: TicketClassifier) -> None:
    assert model.predict([]) == []


def test_hashed_ngrams_equal_scikit_learns_word_and_char_wb_tfidf() -> None:
    """Same features, weights and norms as the two TfidfVectorizers it replaces: each
    scikit-learn feature name is mapped to our column by the pure-Python reference hash
    (24 bits: no two of these n-grams share a bucket, checked below)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classify.features import HashedNgrams, hash_text
    from classify.text import fold

    texts, _ = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    docs = [fold(t) for t in texts]
    ours = HashedNgrams(bits=24, max_char_features=None).fit(docs)
    options = {"sublinear_tf": True, "min_df": 2, "lowercase": False, "dtype": np.float32}
    words = TfidfVectorizer(ngram_range=(1, 2), **options).fit(docs)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **options).fit(docs)
    names = [(n, "bigram" if " " in n else "word") for n in words.get_feature_names_out()]
    names += [(n, str(len(n))) for n in chars.get_feature_names_out()]
    buckets = [hash_text(n, kind, 24) for n, kind in names]
    assert len(set(buckets)) == len(names)
    assert sorted(buckets) == ours.buckets_.tolist()
    column = {b: i for i, b in enumerate(ours.buckets_.tolist())}
    order = [column[b] for b in buckets]
    unseen = [fold("Mon colis est arrivé abîmé, je veux un remboursement"), "", "zzz", "a b"]
    for batch in (docs, unseen, docs[:1]):
        mine = ours.transform(batch)[:, order].toarray()
        theirs = np.hstack([words.transform(batch).toarray(), chars.transform(batch).toarray()])
        assert np.abs(mine - theirs).max() < 1e-5


def test_hashed_ngrams_batches_and_chunks_do_not_change_a_row() -> None:
    from classify.features import HashedNgrams
    from classify.text import fold

    texts, _ = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    docs = [fold(t) for t in texts]
    whole = HashedNgrams(bits=20).fit(docs).transform(docs)
    chunked = HashedNgrams(bits=20, chunk_docs=7).fit(docs)
    assert np.array_equal(chunked.buckets_, HashedNgrams(bits=20).fit(docs).buckets_)
    assert abs(chunked.transform(docs) - whole).max() == 0
    one_by_one = [chunked.transform([d]).toarray() for d in docs]
    assert np.abs(np.vstack(one_by_one) - whole.toarray()).max() == 0


def test_a_model_saved_by_an_older_format_is_refused_with_a_reason(
        model: TicketClassifier, tmp_path: Path) -> None:
    import json

    save_model(model, tmp_path / "m")
    card = tmp_path / "m" / "model.json"
    meta = json.loads(card.read_text())
    card.write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(ModelLoadError, match=r"format 1.*retrain"):
        load_model(tmp_path / "m")


def test_empty_texts_anywhere_in_a_batch_abstain_as_out_of_scope(model: TicketClassifier) -> None:
    texts = ["", "I was charged twice on my invoice", "", "!!!", ""]
    predictions = model.predict(texts)
    assert [p.reason for p in predictions][::2] == ["out-of-scope"] * 3
    assert predictions[1] == model.predict([texts[1]])[0]


def test_models_sharing_features_predict_as_each_would_alone(model: TicketClassifier) -> None:
    from datetime import UTC, datetime

    from classify.classifier import Classifier
    from classify.facts import TicketFacts
    from classify.rules import EMPTY

    texts, labels = read_labelled_csv(GOLDEN / "tickets.csv", ["text"], "category")
    # trained on the same tickets: the same features, so one matrix and one centroid product
    # (other labels: other centroids, so a mix-up of the two models' columns would show)
    kinds = ["question" if label == "login" else "problem" for label in labels]
    other = train_model(texts, kinds, TrainingOptions(seed=13, target="type"))
    assert other.card.features_id == model.card.features_id
    sample = [*texts[:25], "", "the weather in Lisbon is lovely this week", "!!!"]
    out = Classifier(None, [model, other]).classify(
        [TicketFacts(body=t) for t in sample], [datetime(2026, 1, 5, tzinfo=UTC)] * len(sample),
        EMPTY)
    for classified, text in zip(out, sample, strict=True):
        alone = [(m.card.target, p.label, round(p.confidence, 4), p.abstained, p.reason)
                 for m in (model, other) for p in m.predict([text])]
        shared = [(p.target, p.label, p.confidence, p.abstained, p.reason)
                  for p in classified.predictions]
        assert shared == alone
    assert {p.reason for c in out for p in c.predictions} >= {"", "out-of-scope"}
