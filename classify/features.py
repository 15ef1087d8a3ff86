"""Word 1-2-grams and in-word character 2-5-grams (scikit-learn's ``word`` and ``char_wb``
analysers), hashed and counted with numpy over a whole batch at once.

scikit-learn builds every n-gram of every document as a Python string (~1 ms for an email-length
ticket), and even a per-word cache leaves a Python loop over every word. Here a batch becomes one
array of code points; each n-gram is a polynomial hash computed with a few array operations, the
hash picks a bucket, and a table built at training time maps the buckets seen in at least
``min_df`` training tickets to columns (the vocabulary, as bucket numbers). Unknown n-grams are
dropped, as a vocabulary drops them, except for the rare one that shares a bucket with a known
one. Weighting is scikit-learn's: sublinear tf, smoothed idf, and each block (words, chars)
L2-normalised on its own, as ``FeatureUnion`` of the two ``TfidfVectorizer`` did.

Input must already be folded (:func:`classify.text.fold`): single spaces, no leading or
trailing space. Words are runs of at least two word characters (``\\w\\w+``), bigrams are
neighbouring words; character n-grams are taken inside each word padded with one space.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

_U32 = np.uint32  # hashes are 32-bit: arrays of them are half the work of 64-bit ones
_MASK = (1 << 32) - 1
_P = 0x01000193  # per-character multiplier of the n-gram hash (odd)
_MIX = 0x9E3779B1  # Fibonacci hashing: the top bits of key * _MIX pick the bucket
_BIGRAM = 0x85EBCA6B  # first word's multiplier in a bigram's hash
_TAGS = {name: (i + 1) * 0x632BE59B & _MASK
         for i, name in enumerate(("word", "bigram", "2", "3", "4", "5", "6", "7", "8"))}
_SPACE = 32
_BMP = 1 << 16
# \w as Python's re sees it (alphanumeric or underscore), for the Basic Multilingual Plane
_WORD_CHAR = np.array([chr(c).isalnum() or c == 95 for c in range(_BMP)], dtype=bool)
CHUNK_DOCS = 128  # documents hashed together: temporary arrays that stay in the CPU caches


def _bucket(keys: np.ndarray, bits: int, tag: int = 0) -> np.ndarray:
    """Bucket of each key (plus ``tag``), computed in place: ``keys`` is overwritten."""
    if tag:
        keys += _U32(tag)
    keys *= _U32(_MIX)
    keys >>= _U32(32 - bits)
    return keys


_POWERS: dict[int, np.ndarray] = {}


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 … base**(n-1) modulo 2**32; kept and grown, since every batch needs them."""
    known = _POWERS.get(base)
    if known is None or known.size < n:
        out = np.full(max(n, 1 << 16, 0 if known is None else 2 * known.size), base, dtype=_U32)
        out[0] = 1
        known = _POWERS[base] = np.cumprod(out, dtype=_U32)  # wraps modulo 2**32
    return known[:n]


def hash_text(text: str, kind: str, bits: int) -> int:
    """The bucket of one n-gram (a word, ``"first second"`` bigram, or a character n-gram of
    kind ``"2"``…``"5"``), computed without numpy: the reference the tests check against."""

    def poly(s: str) -> int:
        h = 0
        for ch in s:
            h = (h * _P + ord(ch)) & _MASK
        return h

    if kind == "bigram":
        first, second = text.split(" ")
        key = (poly(first) * _BIGRAM + poly(second) + _TAGS[kind]) & _MASK
    else:
        key = (poly(text) + _TAGS[kind]) & _MASK
    bucket = ((key * _MIX) & _MASK) >> (32 - bits)
    return int(bucket) | ((1 << bits) if kind in ("word", "bigram") else 0)


class HashedNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF of hashed word 1-2-grams (``words=True``) and character n-grams in
    ``char_range`` (``None``: none). Buckets ``[0, 2**bits)`` hold characters, the next
    ``2**bits`` words."""

    def __init__(self, words: bool = True, char_range: tuple[int, int] | None = (2, 5),
                 bits: int = 22, min_df: int = 2, max_char_features: int | None = 300_000,
                 chunk_docs: int = CHUNK_DOCS) -> None:
        self.words = words
        self.char_range = char_range
        self.bits = bits
        self.min_df = min_df
        self.max_char_features = max_char_features
        self.chunk_docs = chunk_docs

    # -- hashing ------------------------------------------------------------------------------

    def _pairs(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document index, bucket) of every n-gram occurrence in ``docs``."""
        lengths = np.fromiter((len(d) + 2 for d in docs), dtype=np.int64, count=len(docs))
        # each document padded with a space: "  " between two documents stops every n-gram
        codes = np.frombuffer("".join([f" {d} " for d in docs]).encode("utf-32-le"),
                              dtype=_U32)
        doc_of = np.repeat(np.arange(len(docs), dtype=np.uint32), lengths)
        rows: list[np.ndarray] = []
        buckets: list[np.ndarray] = []
        if self.char_range is not None and codes.size:
            space = codes == _SPACE
            spaces_before = np.concatenate(([0], np.cumsum(space, dtype=np.int32)))
            low, high = self.char_range
            h = codes
            for n in range(2, high + 1):
                h = h[:-1] * _U32(_P) + codes[n - 1:]
                if n < low:
                    continue
                size = h.size
                if n == 2:
                    ok = ~(space[:-1] & space[1:])
                else:  # no space inside: the n-gram stays within one padded word
                    ok = spaces_before[n - 1:n - 1 + size] == spaces_before[1:1 + size]
                rows.append(doc_of[:size][ok])
                buckets.append(_bucket(h[ok], self.bits, _TAGS[str(n)]))
        if self.words and codes.size:
            rows_w, buckets_w = self._words(codes, doc_of)
            rows += rows_w
            buckets += buckets_w
        if not rows:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=_U32)
        return np.concatenate(rows), np.concatenate(buckets)

    def _words(self, codes: np.ndarray, doc_of: np.ndarray,
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        word = _WORD_CHAR[np.minimum(codes, _BMP - 1)]
        edges = np.flatnonzero(np.diff(word.astype(np.int8)))  # buffer starts/ends with spaces
        starts, ends = edges[0::2] + 1, edges[1::2] + 1
        long = ends - starts >= 2
        starts, ends = starts[long], ends[long]
        if not starts.size:
            return [], []
        # a word's hash is sum(codes[t] * P**(e-1-t)) over its span [s, e): with the prefix
        # sums g[k] = sum(codes[t] * P**-t for t < k), that is (g[e] - g[s]) * P**(e-1)
        inverse = pow(_P, -1, 1 << 32)
        down = _powers(inverse, codes.size + 1)
        g = np.concatenate((np.zeros(1, dtype=_U32), np.cumsum(codes * down[:-1], dtype=_U32)))
        up = _powers(_P, codes.size + 1)
        h = (g[ends] - g[starts]) * up[ends - 1]
        doc = doc_of[starts]
        high = _U32(1 << self.bits)
        rows = [doc]
        buckets = [_bucket(h + _U32(_TAGS["word"]), self.bits) | high]
        same = doc[:-1] == doc[1:]
        if same.any():
            pair = h[:-1][same] * _U32(_BIGRAM) + h[1:][same]
            rows.append(doc[:-1][same])
            buckets.append(_bucket(pair, self.bits, _TAGS["bigram"]) | high)
        return rows, buckets

    def _chunks(self, docs: Sequence[str]) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
        for first in range(0, len(docs), self.chunk_docs):
            rows, buckets = self._pairs(docs[first:first + self.chunk_docs])
            yield first, rows, buckets

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, docs: Sequence[str], y: Any = None) -> HashedNgrams:
        docs = list(docs)
        size = 2 << self.bits
        df = np.zeros(size, dtype=np.int64)
        for _, rows, buckets in self._chunks(docs):
            keys = np.unique((rows.astype(np.uint64) << np.uint64(self.bits + 1))
                             | buckets.astype(np.uint64))
            df += np.bincount((keys & np.uint64(size - 1)).astype(np.intp), minlength=size)
        kept = np.flatnonzero(df >= self.min_df)
        chars = kept[kept < (1 << self.bits)]
        if self.max_char_features is not None and chars.size > self.max_char_features:
            # the most frequent, ties to the lower bucket (stable sort)
            top = chars[np.argsort(-df[chars], kind="stable")[: self.max_char_features]]
            kept = np.union1d(np.sort(top), kept[kept >= (1 << self.bits)])
        self.buckets_ = kept.astype(np.int64)
        self.idf_ = (np.log((1 + len(docs)) / (1 + df[kept])) + 1).astype(np.float32)
        self.first_word_column_ = int(np.searchsorted(kept, 1 << self.bits))
        self._lut: np.ndarray | None = None
        return self

    def _table(self) -> np.ndarray:
        lut: np.ndarray | None = self.__dict__.get("_lut")
        if lut is None:
            lut = np.full(2 << self.bits, self.buckets_.size, dtype=_U32)
            lut[self.buckets_] = np.arange(self.buckets_.size, dtype=_U32)
            self._lut = lut
        return lut

    # -- transforming -------------------------------------------------------------------------

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        docs = list(docs)
        parts = [self._transform_chunk(len(docs[first:first + self.chunk_docs]), rows, buckets)
                 for first, rows, buckets in self._chunks(docs)]
        if not parts:
            return sparse.csr_matrix((0, self.buckets_.size), dtype=np.float32)
        if len(parts) == 1:
            return parts[0]
        result: sparse.csr_matrix = sparse.vstack(parts, format="csr")
        return result

    def _transform_chunk(self, n_docs: int, rows: np.ndarray,
                         buckets: np.ndarray) -> sparse.csr_matrix:
        width = self.buckets_.size
        shape = (n_docs, width)
        if not rows.size:
            return sparse.csr_matrix(shape, dtype=np.float32)
        # one sortable key per occurrence, (document, column), 32 bits when they fit; an
        # unknown n-gram has column ``width`` (sorts last in its document, dropped below)
        shift = (width + 1).bit_length()
        kind: Any = _U32 if shift + max(1, n_docs.bit_length()) <= 32 else np.uint64
        keys = rows.astype(kind)
        keys <<= kind(shift)
        keys |= self._table()[buckets]
        keys.sort()
        first = np.empty(keys.size, dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        at = np.flatnonzero(first)
        counts = np.diff(np.append(at, keys.size))
        unique = keys[at]
        col = (unique & kind((1 << shift) - 1)).astype(np.int32)
        known = col < width
        if not known.all():
            unique, col, counts = unique[known], col[known], counts[known]
        data = (np.log(counts.astype(np.float32)) + np.float32(1)) * self.idf_[col]
        # each document's columns: characters first, then words (buckets are ordered so), so
        # the two blocks are contiguous runs and each one's norm is a difference of cumsums
        starts = np.arange(n_docs, dtype=kind) << kind(shift)
        bounds = np.searchsorted(unique, np.stack(
            [starts, starts | kind(self.first_word_column_)], axis=1).ravel())
        bounds = np.append(bounds, unique.size)
        squares = np.concatenate(([0.0], np.cumsum(np.square(data, dtype=np.float64))))
        norms = np.sqrt(squares[bounds[1:]] - squares[bounds[:-1]])
        sizes = np.diff(bounds)
        data *= np.repeat((1.0 / np.where(sizes > 0, norms, 1.0)).astype(np.float32), sizes)
        matrix = sparse.csr_matrix((data, col, bounds[::2].astype(np.int64)), shape=shape)
        matrix.has_sorted_indices = True
        return matrix

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lut", None)  # rebuilt on first use; keeps the saved model small
        return state
