"""Character n-grams within words (scikit-learn's ``char_wb``), computed once per distinct word.

scikit-learn builds every n-gram of every document in Python, which costs ~1 ms for an email-
length ticket. Words repeat (Zipf), so this vectoriser keeps, per word, the vocabulary indices
of its n-grams; a document is then the sum of its words' vectors, assembled with numpy for the
whole batch. Same features, TF-IDF weighting and L2 norm as ``TfidfVectorizer(analyzer=
"char_wb", sublinear_tf=True)``; input must already be folded (:func:`classify.text.fold`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize

_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class WordCharNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, ngram_range: tuple[int, int] = (2, 5), min_df: int = 2,
                 max_features: int | None = 300_000, cache_words: int = 200_000) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.cache_words = cache_words

    def _grams(self, word: str) -> Counter[str]:
        padded = f" {word} "
        low, high = self.ngram_range
        grams: Counter[str] = Counter()
        for n in range(low, high + 1):
            if n > len(padded):
                break
            for i in range(len(padded) - n + 1):
                grams[padded[i:i + n]] += 1
            if n == len(padded):
                break
        return grams

    def fit(self, docs: Iterable[str], y: Any = None) -> WordCharNgrams:
        df: Counter[str] = Counter()
        per_word: dict[str, Counter[str]] = {}
        n_docs = 0
        for doc in docs:
            n_docs += 1
            seen: set[str] = set()
            for word in set(doc.split()):
                grams = per_word.get(word)
                if grams is None:
                    grams = per_word[word] = self._grams(word)
                seen.update(grams)
            df.update(seen)
        kept = [(g, c) for g, c in df.items() if c >= self.min_df]
        kept.sort(key=lambda gc: (-gc[1], gc[0]))
        if self.max_features is not None:
            kept = kept[: self.max_features]
        kept.sort()
        self.vocabulary_: dict[str, int] = {g: i for i, (g, _) in enumerate(kept)}
        self.idf_ = np.array([math.log((1 + n_docs) / (1 + c)) + 1 for _, c in kept],
                             dtype=np.float32)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        return self

    def _word(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        cache = self.__dict__.setdefault("_cache", {})
        hit: tuple[np.ndarray, np.ndarray] | None = cache.get(word)
        if hit is not None:
            return hit
        vocab = self.vocabulary_
        pairs = [(vocab[g], c) for g, c in self._grams(word).items() if g in vocab]
        entry = (np.array([p[0] for p in pairs], dtype=np.int32),
                 np.array([p[1] for p in pairs], dtype=np.float32)) if pairs else _EMPTY
        if len(cache) >= self.cache_words:
            cache.clear()
        cache[word] = entry
        return entry

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        repeats: list[int] = []  # how often the word occurs in its document
        sizes: list[int] = []  # n-grams of the word
        doc_sizes = np.zeros(len(docs), dtype=np.int64)
        word = self._word
        for r, doc in enumerate(docs):
            total = 0
            for w, count in Counter(doc.split()).items():
                idx, cnt = word(w)
                cols.append(idx)
                vals.append(cnt)
                repeats.append(count)
                sizes.append(idx.size)
                total += idx.size
            doc_sizes[r] = total
        shape = (len(docs), len(self.vocabulary_))
        if not cols or not doc_sizes.sum():
            return sparse.csr_matrix(shape, dtype=np.float32)
        data = np.concatenate(vals) * np.repeat(np.asarray(repeats, dtype=np.float32), sizes)
        rows = np.repeat(np.arange(len(docs), dtype=np.int32), doc_sizes)
        # tocsr sums the n-grams that several words of a document share
        matrix = sparse.coo_matrix((data, (rows, np.concatenate(cols))), shape=shape).tocsr()
        matrix.data = np.log(matrix.data) + 1  # sublinear tf
        matrix.data *= self.idf_[matrix.indices]
        result: sparse.csr_matrix = normalize(matrix)
        return result

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(sorted(self.vocabulary_, key=self.vocabulary_.__getitem__), dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # rebuilt on use; keeps the saved model small
        return state
