"""The ML classifier: TF-IDF word and character n-grams, a linear SVM with calibrated
confidence, and two ways to say "I don't know":

* **confidence** below a threshold chosen on validation data (the lowest threshold at which the
  accepted predictions reach ``target_precision``), and
* **out of scope**: the text is unlike every label's training tickets (cosine similarity to the
  nearest label centroid below a low quantile of what validation tickets score).

Either way the prediction is ``abstained`` and the ticket is marked uncertain: the rules' default
or the triage queue applies. Batch prediction amortises the vectoriser's per-call overhead.

Storage: ``model.json`` (labels, thresholds, metrics, sha256 of the weights) next to
``model.joblib`` (the fitted scikit-learn pipeline). joblib is pickle: loading runs code from
the file. :func:`load_model` checks the weights against the sha256 recorded at training time,
which catches corruption and accidental swaps, not a malicious directory: only load models from
a directory you trust (your own ``helpline model train`` output).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from classify.features import HashedNgrams
from classify.text import fold
from schemas.errors import HelplineError

WEIGHTS = "model.joblib"
METADATA = "model.json"
FORMAT_VERSION = 2  # 2: hashed n-grams (classify.features); 1: scikit-learn vocabularies
TARGETS = ("category", "department", "priority", "type")  # ticket fields a model can set


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    target: str = "category"  # which ticket field the model predicts: category, department, …
    validation_fraction: float = 0.15
    target_precision: float = 0.95  # of the predictions the model does not abstain on
    min_coverage: float = 0.1  # never abstain on more than 90 % of validation tickets
    scope_quantile: float = 0.05  # in-scope validation tickets flagged out of scope
    max_chars: int = 2000  # of each ticket's text
    svm_c: float = 0.5
    seed: int = 13
    # "words+chars": word 1-2-grams and in-word character 2-5-grams (the most accurate);
    # "words": word 1-2-grams only (several times faster on email-length text, less accurate)
    features: str = "words+chars"


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str | None  # None when abstained
    confidence: float
    abstained: bool
    best_guess: str  # the top label even when abstaining, for triage screens
    reason: str = ""  # "low-confidence" / "out-of-scope" when abstained


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What ``model.json`` says about a trained model."""

    target: str
    labels: tuple[str, ...]
    confidence_threshold: float
    scope_threshold: float
    max_chars: int
    version: str  # sha256 of the weights, first 16 hex digits
    weights_sha256: str
    sklearn_version: str
    trained_rows: int
    validation: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # Models trained on the same texts with the same feature options share this id, and the
    # classifier vectorises a ticket once for all of them.
    features_id: str = ""


class TicketClassifier:
    """A trained model plus its abstention thresholds."""

    def __init__(self, card: ModelCard, features: HashedNgrams,
                 classifier: CalibratedClassifierCV, centroids: np.ndarray) -> None:
        self.card = card
        self.features = features
        self.classifier = classifier
        # (labels, features), rows L2-normalised. Fortran order, like the SVM weights below,
        # so that ``matrix @ weights.T`` reads a C-contiguous array: otherwise scipy copies the
        # whole (features, labels) transpose on every call (tens of MB per batch).
        self.centroids = np.asfortranarray(centroids)
        _serving_weights(classifier)
        self.labels: list[str] = [str(x) for x in classifier.classes_]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.predict_prepared(prepare(texts, self.card.max_chars))

    def predict_prepared(self, texts: Sequence[str]) -> list[Prediction]:
        """Predict on texts already passed through :func:`prepare` (several models can share
        the work)."""
        if not texts:
            return []
        return self.predict_features(self.features.transform(texts))

    def predict_features(self, matrix: sparse.spmatrix,
                         scope: np.ndarray | None = None) -> list[Prediction]:
        """Predict from this model's own feature matrix (``self.features.transform``).
        ``scope``: each row's similarity to its nearest centroid, when the caller computed it
        for several models at once (:func:`nearest_centroids`)."""
        probabilities = self.classifier.predict_proba(matrix)
        if scope is None:
            scope = _nearest_centroid(matrix, self.centroids)
        out: list[Prediction] = []
        for row, similarity in zip(probabilities, scope, strict=True):
            best = int(row.argmax())
            confidence = float(row[best])
            label = self.labels[best]
            if similarity < self.card.scope_threshold:
                out.append(Prediction(None, confidence, True, label, "out-of-scope"))
            elif confidence < self.card.confidence_threshold:
                out.append(Prediction(None, confidence, True, label, "low-confidence"))
            else:
                out.append(Prediction(label, confidence, False, label))
        return out


FEATURE_SETS = ("words+chars", "words")


def _serving_weights(classifier: CalibratedClassifierCV) -> None:
    """The SVM weights as float32 in Fortran order: ``features @ weights.T`` then multiplies
    float32 by float32 (no float64 copy of the batch) and reads a C-contiguous transpose (no
    copy of the weights). Done right after fitting, so the thresholds chosen on validation
    data and every evaluation see the weights the stage uses."""
    for calibrated in getattr(classifier, "calibrated_classifiers_", ()):
        linear: Any = getattr(calibrated, "estimator", None)
        if isinstance(getattr(linear, "coef_", None), np.ndarray):
            linear.coef_ = np.asfortranarray(linear.coef_, dtype=np.float32)


def _features(kind: str, max_features: int = 300_000) -> HashedNgrams:
    # Input is folded once (accents, case) by the caller, so the vectoriser does not redo it.
    if kind not in FEATURE_SETS:
        raise ValueError(f"features must be one of {FEATURE_SETS}, not {kind!r}")
    return HashedNgrams(words=True, char_range=(2, 5) if kind == "words+chars" else None,
                        min_df=2, max_char_features=max_features)


def _features_id(kind: str, features: HashedNgrams) -> str:
    digest = hashlib.sha256(kind.encode())
    digest.update(repr(sorted(features.get_params().items())).encode())
    digest.update(features.buckets_.tobytes())
    digest.update(features.idf_.tobytes())
    return digest.hexdigest()[:16]


def prepare(texts: Sequence[str], max_chars: int) -> list[str]:
    """What the model reads of each ticket: its first ``max_chars`` characters, folded."""
    return [fold(t[:max_chars]) for t in texts]


def stack_centroids(models: Sequence[TicketClassifier]) -> np.ndarray:
    """The centroids of models sharing one feature space, side by side as (features, labels
    of all models), C order: the operand of :func:`nearest_centroids`."""
    return np.ascontiguousarray(np.hstack([m.centroids.T for m in models]))


def nearest_centroids(matrix: sparse.spmatrix, stacked: np.ndarray,
                      sizes: Sequence[int]) -> list[np.ndarray]:
    """For models sharing ``matrix`` (their centroids stacked, ``sizes`` labels each): the
    cosine similarity of each row to each model's nearest centroid. One sparse product for all
    of them and the row norms once; each column of the product is computed as it would be
    alone, so the figures are those of one model at a time."""
    csr = sparse.csr_matrix(matrix)
    row_sizes = np.diff(csr.indptr)
    # reduceat gives an empty row the next row's first value, and wants indices < nnz
    squares = np.add.reduceat(np.append(np.square(csr.data), 0), csr.indptr[:-1])
    norms = np.sqrt(np.where(row_sizes > 0, squares, 0))
    divisor = np.where(norms > 0, norms, 1.0)
    products = np.asarray(csr @ stacked)
    out: list[np.ndarray] = []
    start = 0
    for size in sizes:
        out.append(products[:, start:start + size].max(axis=1) / divisor)
        start += size
    return out


def _nearest_centroid(matrix: sparse.spmatrix, centroids: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row to its nearest centroid (centroid rows have norm 1)."""
    return nearest_centroids(matrix, centroids.T, [centroids.shape[0]])[0]


def _centroids(matrix: sparse.spmatrix, labels: Sequence[str], classes: Sequence[str]) -> Any:
    rows = normalize(matrix)
    y = np.asarray(labels)
    means = np.vstack([np.asarray(rows[y == c].mean(axis=0)).ravel() for c in classes])
    return normalize(means).astype(np.float32)


def choose_confidence_threshold(confidence: np.ndarray, correct: np.ndarray,
                                target_precision: float, min_coverage: float) -> float:
    """The lowest threshold whose accepted predictions reach ``target_precision``; when none
    does, the threshold with the best precision that still accepts ``min_coverage``."""
    order = np.sort(np.unique(confidence))
    best_t, best_p = 0.0, -1.0
    for t in order:
        accepted = confidence >= t
        coverage = float(accepted.mean())
        if coverage < min_coverage:
            break
        precision = float(correct[accepted].mean())
        if precision >= target_precision:
            return float(t)
        if precision > best_p:
            best_t, best_p = float(t), precision
    return best_t


def train_model(texts: Sequence[str], labels: Sequence[str],
                options: TrainingOptions = TrainingOptions()) -> TicketClassifier:
    """Fit on ``texts``/``labels``; a stratified validation split picks the thresholds."""
    if options.target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {options.target!r}")
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two different labels")
    texts = prepare(texts, options.max_chars)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    stratify = list(labels) if min(counts.values()) >= 2 else None
    x_fit, x_val, y_fit, y_val = train_test_split(
        list(texts), list(labels), test_size=options.validation_fraction,
        random_state=options.seed, stratify=stratify,
    )
    features = _features(options.features)
    # TF-IDF is fitted on every text (no labels involved), so that models trained on the same
    # tickets for other targets share one vectoriser
    features.fit([*x_fit, *x_val])
    matrix = features.transform(x_fit)
    folds = max(2, min(3, min(y_fit.count(c) for c in set(y_fit))))
    classifier = CalibratedClassifierCV(LinearSVC(C=options.svm_c), cv=folds, ensemble=False)
    classifier.fit(matrix, y_fit)
    _serving_weights(classifier)
    classes = [str(c) for c in classifier.classes_]
    centroids = _centroids(matrix, y_fit, classes)
    val_matrix = features.transform(x_val)
    proba = classifier.predict_proba(val_matrix)
    confidence = proba.max(axis=1)
    correct = np.asarray(classifier.classes_[proba.argmax(axis=1)] == np.asarray(y_val))
    threshold = choose_confidence_threshold(confidence, correct, options.target_precision,
                                            options.min_coverage)
    scope = _nearest_centroid(val_matrix, centroids)
    scope_threshold = float(np.quantile(scope, options.scope_quantile))
    accepted = (confidence >= threshold) & (scope >= scope_threshold)
    validation = {
        "rows": len(y_val),
        "accuracy": round(float(correct.mean()), 4),
        "coverage": round(float(accepted.mean()), 4),
        "precision_when_confident": round(float(correct[accepted].mean()), 4)
        if accepted.any() else None,
        "target_precision": options.target_precision,
    }
    card = ModelCard(
        target=options.target, labels=tuple(classes), confidence_threshold=round(threshold, 6),
        scope_threshold=round(scope_threshold, 6), max_chars=options.max_chars, version="",
        weights_sha256="", sklearn_version=sklearn.__version__, trained_rows=len(y_fit),
        validation=validation, features_id=_features_id(options.features, features),
    )
    return TicketClassifier(card, features, classifier, centroids)


def save_model(model: TicketClassifier, directory: Path) -> ModelCard:
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    joblib.dump({"features": model.features, "classifier": model.classifier,
                 "centroids": model.centroids}, weights, compress=3)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = ModelCard(**{**asdict(model.card), "labels": model.card.labels,
                        "version": digest[:16], "weights_sha256": digest})
    (directory / METADATA).write_text(json.dumps(asdict(card), indent=2, sort_keys=True) + "\n")
    model.card = card
    return card


class ModelLoadError(HelplineError):
    """The model directory is missing, incomplete, or its weights do not match ``model.json``."""


def load_model(directory: Path) -> TicketClassifier:
    """Load a model written by :func:`save_model`. Runs pickled code: trusted directories only."""
    meta_path, weights = directory / METADATA, directory / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise ModelLoadError(f"{directory}: no {METADATA} and {WEIGHTS} here")
    try:
        meta = json.loads(meta_path.read_text())
        meta["labels"] = tuple(meta["labels"])
        card = ModelCard(**meta)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelLoadError(f"{meta_path}: unreadable model card: {exc}") from None
    if card.format_version != FORMAT_VERSION:
        raise ModelLoadError(f"{meta_path}: model format {card.format_version}, this helpline "
                             f"reads format {FORMAT_VERSION}; retrain it with "
                             "`helpline model train`")
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != card.weights_sha256:
        raise ModelLoadError(f"{weights}: sha256 differs from {METADATA}; refusing to load")
    parts = joblib.load(weights)
    return TicketClassifier(card, parts["features"], parts["classifier"], parts["centroids"])
