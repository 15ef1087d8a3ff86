"""Trained models on the compacted ``models`` topic: cut into signed chunks by
``helpline model push``, put back together and verified by every classify worker.

The weights are joblib, that is pickle: loading them runs code. So nothing read from the topic
is unpickled before its HMAC (a key only the operators' machines hold, ``[classify]
model_signing_key`` or one derived from ``secret_key``) is checked over the exact card text and
the exact weights, and the card's format and library versions are checked against this worker's
own. A model that fails any check is refused with a reason, and the worker keeps the model it
had. Pure: no I/O, no clock.

Keys on the topic: chunks ``<version>/<index>`` (content-addressed, so a shadow push never
overwrites the active model's bytes), manifests ``<name>`` (active) or ``<name>:shadow``.
Manifests are written after their chunks on the topic's single partition, so a reader that
replays the topic from its start always has a model's chunks when its manifest arrives.

What the signature does not cover: the slot name and the active/shadow mode (so that
``helpline model promote`` needs no key), and freshness. Whoever may write to the topic
without the key can therefore move a model that *was* signed into another slot, or put back
an older signed version; never run a model nobody signed. Restrict writes to the topic
(Kafka ACLs) to the operators' push.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from classify.model import (
    ModelCard,
    ModelLoadError,
    TicketClassifier,
    library_versions,
    model_from_bytes,
    read_card,
)
from schemas.directory import ModelMode, ModelPart
from schemas.errors import HelplineError

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024  # base64 in JSON makes it ~700 KB: under the broker's 1 MiB default
SHADOW_SUFFIX = ":shadow"
_KEY_CONTEXT = b"helpline model signing v1"
# Libraries whose pickles must come from the same release line as the reader's: scikit-learn
# warns (and may misbehave) across any version; numpy/scipy/joblib across minor versions.
_EXACT = ("scikit-learn",)
_SAME_MINOR = ("numpy", "scipy", "joblib")


class ModelRefused(HelplineError):
    """A pushed model that this worker will not load; the message says why."""


def signing_key(configured: str | None, deployment_key: bytes) -> bytes:
    """The HMAC key for models: ``[classify] model_signing_key`` when set, else one derived
    from the deployment's secret (so it differs from the key that signs reply tokens)."""
    if configured:
        return hashlib.sha256(_KEY_CONTEXT + b"\0" + configured.encode()).digest()
    return hmac.new(deployment_key, _KEY_CONTEXT, hashlib.sha256).digest()


def signature(key: bytes, card: bytes, weights: bytes) -> str:
    mac = hmac.new(key, card, hashlib.sha256)
    mac.update(b"\0")
    mac.update(weights)
    return mac.hexdigest()


def manifest_key(name: str, mode: ModelMode) -> bytes:
    return (name + (SHADOW_SUFFIX if mode == "shadow" else "")).encode()


def chunk_key(version: str, index: int) -> bytes:
    return f"{version}/{index}".encode()


def compatibility_problems(card: ModelCard, ours: Mapping[str, str] | None = None) -> list[str]:
    """Why this worker should not unpickle weights described by ``card`` (empty: it may)."""
    mine = dict(library_versions() if ours is None else ours)
    if not card.libraries:
        return ["the card lists no library versions; retrain it with `helpline model train`"]
    problems: list[str] = []
    for lib in (*_EXACT, *_SAME_MINOR):
        theirs, have = card.libraries.get(lib), mine.get(lib)
        if theirs is None or have is None:
            problems.append(f"{lib}: card says {theirs}, worker has {have}")
            continue
        same = (theirs == have if lib in _EXACT
                else theirs.split(".")[:2] == have.split(".")[:2])
        if not same:
            problems.append(f"{lib} {theirs} in the card, {have} on this worker")
    return problems


def model_parts(name: str, card_text: str, weights: bytes, key: bytes, mode: ModelMode,
                pushed_at: datetime, chunk_bytes: int = CHUNK_BYTES,
                ) -> list[tuple[bytes, ModelPart]]:
    """The records of one push, in the order they must be written: chunks, then manifest."""
    card = read_card(card_text, "model.json")
    if hashlib.sha256(weights).hexdigest() != card.weights_sha256:
        raise ModelLoadError("model.joblib: sha256 differs from model.json; refusing to push")
    problems = compatibility_problems(card)
    if problems:
        raise ModelLoadError("model.json: " + "; ".join(problems))
    pieces = [weights[i:i + chunk_bytes] for i in range(0, len(weights), chunk_bytes)] or [b""]
    count = len(pieces)
    out = [(chunk_key(card.version, i), ModelPart(name=name, version=card.version, index=i,
                                                  count=count, data=piece, mode=mode,
                                                  pushed_at=pushed_at))
           for i, piece in enumerate(pieces)]
    manifest = ModelPart(name=name, version=card.version, index=count, count=count,
                         card=card_text, mode=mode, pushed_at=pushed_at,
                         signature=signature(key, card_text.encode(), weights))
    out.append((manifest_key(name, mode), manifest))
    return out


@dataclass(frozen=True, slots=True)
class Slot:
    """What a manifest key holds now: a model (or nothing, after a tombstone)."""

    name: str
    mode: ModelMode
    model: TicketClassifier | None


class ModelShelf:
    """Chunks and manifests read from the topic, in topic order; hands back each model once
    its manifest arrives and everything about it checks out."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._chunks: dict[str, dict[int, bytes]] = {}

    def put(self, key: bytes, part: ModelPart | None) -> Slot | None:
        """Take one record of the topic. Returns the slot a manifest (or a manifest's
        tombstone) changes; raises :class:`ModelRefused` for a manifest it will not load."""
        text = key.decode(errors="replace")
        if part is None:
            if "/" in text:  # a chunk's tombstone (push cleans superseded versions)
                version, _, index = text.partition("/")
                self._chunks.get(version, {}).pop(int(index) if index.isdigit() else -1, None)
                return None
            name, shadow, _ = text.partition(SHADOW_SUFFIX)
            return Slot(name, "shadow" if shadow else "active", None)
        if not part.is_manifest:
            self._chunks.setdefault(part.version, {})[part.index] = bytes(part.data)
            return None
        return Slot(part.name, part.mode, self._assemble(part))

    def _assemble(self, manifest: ModelPart) -> TicketClassifier:
        where = f"model {manifest.name!r} version {manifest.version}"
        chunks = self._chunks.get(manifest.version, {})
        missing = [i for i in range(manifest.count) if i not in chunks]
        if missing:
            raise ModelRefused(f"{where}: {len(missing)} of {manifest.count} chunks missing")
        weights = b"".join(chunks[i] for i in range(manifest.count))
        # the signature first: nothing below (not even the card's JSON) is trusted before it
        expected = signature(self._key, manifest.card.encode(), weights)
        if not hmac.compare_digest(expected, manifest.signature):
            raise ModelRefused(f"{where}: bad signature (pushed with another model signing "
                               "key, or altered on the way); not loaded")
        try:
            card = read_card(manifest.card, where)
        except ModelLoadError as exc:
            raise ModelRefused(str(exc)) from None
        if card.version != manifest.version:
            raise ModelRefused(f"{where}: the card says version {card.version}")
        problems = compatibility_problems(card)
        if problems:
            raise ModelRefused(f"{where}: does not match this worker: {'; '.join(problems)}")
        try:
            return model_from_bytes(card, weights, where)
        except ModelLoadError as exc:
            raise ModelRefused(str(exc)) from None
        except Exception as exc:  # a signed pickle that still fails: refuse, keep running
            raise ModelRefused(f"{where}: could not be loaded: {type(exc).__name__}: {exc}"
                               ) from None


def superseded_chunks(parts: Sequence[tuple[bytes, ModelPart | None]]) -> list[bytes]:
    """Chunk keys no current manifest refers to, from the topic's records in order: what a
    push tombstones so the compacted topic does not keep every version ever pushed."""
    manifests: dict[bytes, str | None] = {}
    chunks: dict[bytes, str] = {}
    for key, part in parts:
        if b"/" in key:
            if part is None:
                chunks.pop(key, None)
            else:
                chunks[key] = part.version
        else:
            manifests[key] = part.version if part is not None else None
    live = {v for v in manifests.values() if v is not None}
    return [k for k, version in chunks.items() if version not in live]
